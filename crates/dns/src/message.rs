//! What to do with one DNS packet: answer it from the client's networks, forward it, or ignore it.

use std::net::IpAddr;

use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, ResponseCode, DEFAULT_MAX_PAYLOAD_LEN};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};

/// TTL of the answers: 0, so that no resolver caches a container's address past its restart and
/// every query sees the round-robin rotation.
const TTL: u32 = 0;

/// The largest UDP reply to a client without EDNS (RFC 1035).
const PLAIN_UDP_LIMIT: usize = 512;

/// How a query arrived, which bounds the size of its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// A datagram: 512 bytes, or what the client's EDNS allows up to 1232; a longer reply is
    /// truncated (TC) so that the client asks again over TCP.
    Udp,
    /// A TCP stream: up to 65535 bytes.
    Tcp,
}

/// What to do with a packet.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Send this reply.
    Reply(Vec<u8>),
    /// An unknown name: pass the packet, unchanged, to the upstream resolvers and relay their
    /// answer; send `servfail` if none answers.
    Forward {
        /// The reply when no upstream answers.
        servfail: Vec<u8>,
    },
    /// Not a well-formed query: say nothing.
    Ignore,
}

/// Decides what to do with `packet`. `forwarding` says whether there are upstream resolvers for
/// names `lookup` does not know (without, those get NXDOMAIN); `lookup` gives the addresses of a
/// name its client's networks know: A records for its IPv4 ones, AAAA for its IPv6 ones (a known
/// name without an address of the asked family gets an empty NOERROR answer, as Docker's
/// embedded DNS gives).
pub(crate) fn handle(lookup: impl FnOnce(&str) -> Option<Vec<IpAddr>>, packet: &[u8], forwarding: bool, transport: Transport) -> Outcome {
    let Ok(request) = Message::from_vec(packet) else {
        return Outcome::Ignore;
    };
    if request.metadata.message_type != MessageType::Query {
        return Outcome::Ignore;
    }
    let limit = reply_limit(&request, transport);
    let reply = |message: Message| match encode(&message, limit) {
        Some(bytes) => Outcome::Reply(bytes),
        None => Outcome::Ignore,
    };
    if request.metadata.op_code != OpCode::Query {
        return reply(response(&request, ResponseCode::NotImp, forwarding));
    }
    let [query] = request.queries.as_slice() else {
        return reply(response(&request, ResponseCode::FormErr, forwarding));
    };
    match lookup(&query.name().to_ascii()) {
        Some(addresses) => {
            let mut message = response(&request, ResponseCode::NoError, forwarding);
            message.metadata.authoritative = true;
            let internet = matches!(query.query_class(), DNSClass::IN | DNSClass::ANY);
            let wants_a = internet && matches!(query.query_type(), RecordType::A | RecordType::ANY);
            let wants_aaaa = internet && matches!(query.query_type(), RecordType::AAAA | RecordType::ANY);
            for address in addresses {
                let data = match address {
                    IpAddr::V4(v4) if wants_a => RData::A(A(v4)),
                    IpAddr::V6(v6) if wants_aaaa => RData::AAAA(AAAA(v6)),
                    _ => continue,
                };
                message.add_answer(Record::from_rdata(query.name().clone(), TTL, data));
            }
            reply(message)
        }
        None if forwarding => match encode(&response(&request, ResponseCode::ServFail, forwarding), limit) {
            Some(servfail) => Outcome::Forward { servfail },
            None => Outcome::Ignore,
        },
        None => {
            let mut message = response(&request, ResponseCode::NXDomain, forwarding);
            message.metadata.authoritative = true;
            reply(message)
        }
    }
}

/// An empty response to `request` with `code`: same id, opcode, RD and CD bits and question, an
/// OPT record if the request had one, RA if the server forwards.
fn response(request: &Message, code: ResponseCode, forwarding: bool) -> Message {
    let mut message = Message::response(request.metadata.id, request.metadata.op_code);
    message.metadata = Metadata::response_from_request(&request.metadata);
    message.metadata.response_code = code;
    message.metadata.recursion_available = forwarding;
    message.add_queries(request.queries.iter().cloned());
    if request.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(DEFAULT_MAX_PAYLOAD_LEN);
        message.set_edns(edns);
    }
    message
}

/// The longest reply the client takes over `transport`.
fn reply_limit(request: &Message, transport: Transport) -> usize {
    match (transport, &request.edns) {
        (Transport::Tcp, _) => usize::from(u16::MAX),
        (Transport::Udp, None) => PLAIN_UDP_LIMIT,
        (Transport::Udp, Some(edns)) => {
            usize::from(edns.max_payload().min(DEFAULT_MAX_PAYLOAD_LEN)).max(PLAIN_UDP_LIMIT)
        }
    }
}

/// `message` on the wire, or, if longer than `limit`, its header and question with TC set.
fn encode(message: &Message, limit: usize) -> Option<Vec<u8>> {
    let bytes = message.to_vec().ok()?;
    if bytes.len() <= limit {
        return Some(bytes);
    }
    message.truncate().to_vec().ok().filter(|bytes| bytes.len() <= limit)
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::Query;
    use hickory_proto::rr::Name;
    use proptest::prelude::*;

    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::zone::Zone;
    use crate::Records;

    fn zone_with(names: &[(&str, &[IpAddr])]) -> (tempfile::TempDir, Zone) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.json");
        let mut records = Records::default();
        for (name, addresses) in names {
            for address in *addresses {
                records.insert(name, *address);
            }
        }
        records.save(&path).unwrap();
        (dir, Zone::new(path))
    }

    fn query(name: &str, kind: RecordType) -> Message {
        let mut message = Message::query();
        message.metadata.recursion_desired = true;
        message.add_query(Query::query(Name::from_ascii(name).unwrap(), kind));
        message
    }

    fn reply(outcome: Outcome) -> Message {
        match outcome {
            Outcome::Reply(bytes) => Message::from_vec(&bytes).unwrap(),
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn a_query_for_a_known_name_gets_its_addresses() {
        let ip = Ipv4Addr::new(172, 18, 0, 2);
        let (_dir, mut zone) = zone_with(&[("web", &[ip.into()])]);
        let request = query("WEB.", RecordType::A);
        let answer = reply(handle(|name| zone.lookup(name), &request.to_vec().unwrap(), true, Transport::Udp));
        assert_eq!(answer.metadata.id, request.metadata.id);
        assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
        assert!(answer.metadata.authoritative && answer.metadata.recursion_desired && answer.metadata.recursion_available);
        assert_eq!(answer.queries, request.queries);
        let addresses: Vec<_> = answer.answers.iter().map(|r| (r.data.clone(), r.ttl)).collect();
        assert_eq!(addresses, vec![(RData::A(A(ip)), 0)]);
    }

    #[test]
    fn a_and_aaaa_queries_get_the_addresses_of_their_family() {
        let (v4, v6) = (Ipv4Addr::new(172, 18, 0, 2), "fd00:1::2".parse::<Ipv6Addr>().unwrap());
        let (_dir, mut zone) = zone_with(&[("web", &[v4.into(), v6.into()]), ("old", &[v4.into()])]);
        let mut ask = |name: &str, kind| {
            let answer = reply(handle(|name| zone.lookup(name), &query(name, kind).to_vec().unwrap(), false, Transport::Udp));
            assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
            answer.answers.iter().map(|r| r.data.clone()).collect::<Vec<_>>()
        };
        assert_eq!(ask("web.", RecordType::A), vec![RData::A(A(v4))]);
        assert_eq!(ask("web.", RecordType::AAAA), vec![RData::AAAA(AAAA(v6))]);
        assert_eq!(ask("web.", RecordType::ANY).len(), 2);
        assert_eq!(ask("old.", RecordType::AAAA), vec![]);
    }

    #[test]
    fn unknown_names_are_forwarded_or_nxdomain_without_upstreams() {
        let (_dir, mut zone) = zone_with(&[]);
        let request = query("db.", RecordType::A).to_vec().unwrap();
        let Outcome::Forward { servfail } = handle(|name| zone.lookup(name), &request, true, Transport::Udp) else {
            panic!("not forwarded")
        };
        assert_eq!(Message::from_vec(&servfail).unwrap().metadata.response_code, ResponseCode::ServFail);
        let answer = reply(handle(|name| zone.lookup(name), &request, false, Transport::Udp));
        assert_eq!(answer.metadata.response_code, ResponseCode::NXDomain);
    }

    #[test]
    fn too_many_addresses_for_udp_are_truncated_but_not_over_tcp() {
        let addresses: Vec<IpAddr> = (1..=60).map(|i| Ipv4Addr::new(10, 0, 0, i).into()).collect();
        let (_dir, mut zone) = zone_with(&[("big", &addresses)]);
        let request = query("big.", RecordType::A).to_vec().unwrap();
        let udp = reply(handle(|name| zone.lookup(name), &request, false, Transport::Udp));
        assert!(udp.metadata.truncation && udp.answers.is_empty());
        let tcp = reply(handle(|name| zone.lookup(name), &request, false, Transport::Tcp));
        assert!(!tcp.metadata.truncation);
        assert_eq!(tcp.answers.len(), 60);
    }

    #[test]
    fn responses_and_other_opcodes_are_not_answered_as_queries() {
        let (_dir, mut zone) = zone_with(&[]);
        let mut response = query("web.", RecordType::A);
        response.metadata.message_type = MessageType::Response;
        assert_eq!(handle(|name| zone.lookup(name), &response.to_vec().unwrap(), true, Transport::Udp), Outcome::Ignore);
        let mut notify = query("web.", RecordType::SOA);
        notify.metadata.op_code = OpCode::Notify;
        let answer = reply(handle(|name| zone.lookup(name), &notify.to_vec().unwrap(), true, Transport::Udp));
        assert_eq!(answer.metadata.response_code, ResponseCode::NotImp);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(packet in proptest::collection::vec(any::<u8>(), 0..600)) {
            let (_dir, mut zone) = zone_with(&[("web", &[Ipv4Addr::new(10, 0, 0, 1).into()])]);
            let _ = handle(|name| zone.lookup(name), &packet, true, Transport::Udp);
        }

        #[test]
        fn corrupted_queries_never_panic(flips in proptest::collection::vec((0usize..64, any::<u8>()), 1..8)) {
            let (_dir, mut zone) = zone_with(&[("web", &[Ipv4Addr::new(10, 0, 0, 1).into()])]);
            let mut packet = query("web.", RecordType::A).to_vec().unwrap();
            for (at, byte) in flips {
                let at = at % packet.len();
                packet[at] = byte;
            }
            let _ = handle(|name| zone.lookup(name), &packet, true, Transport::Tcp);
        }
    }
}
