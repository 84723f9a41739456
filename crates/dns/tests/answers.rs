//! Answers from the records file, served on 127.0.0.11 inside a container's network namespace in
//! a sandbox: addresses of known names (UDP, TCP and a real client), round robin, live updates,
//! empty NOERROR for other types, NXDOMAIN without upstreams, and resilience to malformed
//! packets.

mod common;

use std::net::{Ipv4Addr, UdpSocket};
use std::time::Duration;

use common::*;
use hickory_proto::op::{MessageType, ResponseCode};
use hickory_proto::rr::RecordType;
use xcompose_dns::Records;
use xcompose_testkit::in_forked_sandbox;

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 89, 0, last)
}

#[test]
fn known_names_answer_with_all_their_addresses_over_udp_tcp_and_to_busybox() {
    in_forked_sandbox(|| {
        host_loopback()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let records = dir.path().join("records.json");
        save_records(&records, &[("web", &[ip(2), ip(3)]), ("myproj-web-1", &[ip(2)]), ("Alias1", &[ip(3)]), ("dotted.", &[ip(4)])])?;
        let _project = start(&records, Vec::new())?;

        for name in ["web", "web.", "WeB."] {
            let reply = ask_udp(name, RecordType::A)?;
            check(reply.metadata.response_code == ResponseCode::NoError, || format!("{name}: {reply:?}"))?;
            check(reply.metadata.message_type == MessageType::Response && reply.metadata.authoritative, || format!("{reply:?}"))?;
            let mut got = addresses(&reply);
            got.sort();
            check(got == vec![ip(2), ip(3)], || format!("{name}: {got:?}"))?;
            check(reply.answers.iter().all(|r| r.ttl == 0), || format!("TTL not 0: {reply:?}"))?;
        }
        let reply = ask_udp("myproj-web-1", RecordType::A)?;
        check(addresses(&reply) == vec![ip(2)], || format!("{reply:?}"))?;
        let reply = ask_udp("alias1", RecordType::A)?;
        check(addresses(&reply) == vec![ip(3)], || format!("{reply:?}"))?;
        // A name written with its trailing dot in the records file is the same name.
        let reply = ask_udp("dotted", RecordType::A)?;
        check(addresses(&reply) == vec![ip(4)], || format!("{reply:?}"))?;
        let reply = ask_tcp("myproj-web-1.", RecordType::A)?;
        check(addresses(&reply) == vec![ip(2)], || format!("over tcp: {reply:?}"))?;

        // A real client: busybox's nslookup asks for A and AAAA and prints the addresses.
        let out = sh("busybox", &["nslookup", "myproj-web-1", &SERVER.ip().to_string()])?;
        check(out.contains(&format!("Address: {}", ip(2))), || format!("busybox nslookup printed:\n{out}"))?;
        Ok(())
    });
}

#[test]
fn the_first_address_rotates_round_robin_over_queries() {
    in_forked_sandbox(|| {
        host_loopback()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let records = dir.path().join("records.json");
        save_records(&records, &[("web", &[ip(2), ip(3), ip(4)])])?;
        let _project = start(&records, Vec::new())?;

        let mut firsts = Vec::new();
        for _ in 0..6 {
            let reply = ask_udp("web", RecordType::A)?;
            let got = addresses(&reply);
            let mut sorted = got.clone();
            sorted.sort();
            check(sorted == vec![ip(2), ip(3), ip(4)], || format!("not all addresses: {got:?}"))?;
            firsts.push(got[0]);
        }
        let expected = [firsts[0], firsts[1], firsts[2]].repeat(2);
        check(firsts == expected, || format!("first addresses {firsts:?}"))?;
        let mut cycle = firsts[..3].to_vec();
        cycle.sort();
        check(cycle == vec![ip(2), ip(3), ip(4)], || format!("first addresses {firsts:?} do not go round"))?;
        Ok(())
    });
}

#[test]
fn names_added_to_and_removed_from_the_file_answer_without_a_restart() {
    in_forked_sandbox(|| {
        host_loopback()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("records.json");
        // The server starts before the orchestrator has written any name.
        let _project = start(&path, Vec::new())?;
        let reply = ask_udp("live-db", RecordType::A)?;
        check(reply.metadata.response_code == ResponseCode::NXDomain, || format!("before: {reply:?}"))?;

        let mut records = Records::default();
        records.insert("live-db", ip(7));
        records.save(&path).map_err(|e| e.to_string())?;
        let reply = ask_udp("live-db", RecordType::A)?;
        check(addresses(&reply) == vec![ip(7)], || format!("after adding: {reply:?}"))?;

        // A second save at once (same size, perhaps the same mtime tick) is seen too.
        records.remove_address(ip(7));
        records.insert("live-db", ip(8));
        records.save(&path).map_err(|e| e.to_string())?;
        let reply = ask_udp("live-db", RecordType::A)?;
        check(addresses(&reply) == vec![ip(8)], || format!("after moving: {reply:?}"))?;

        records.remove_address(ip(8));
        records.save(&path).map_err(|e| e.to_string())?;
        let reply = ask_udp("live-db", RecordType::A)?;
        check(
            reply.metadata.response_code == ResponseCode::NXDomain && reply.answers.is_empty(),
            || format!("after removing: {reply:?}"),
        )?;
        Ok(())
    });
}

#[test]
fn aaaa_and_other_types_for_a_known_name_are_an_empty_noerror() {
    in_forked_sandbox(|| {
        host_loopback()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let records = dir.path().join("records.json");
        save_records(&records, &[("six", &[ip(2)])])?;
        let _project = start(&records, Vec::new())?;
        for kind in [RecordType::AAAA, RecordType::MX, RecordType::TXT] {
            let reply = ask_udp("six", kind)?;
            check(
                reply.metadata.response_code == ResponseCode::NoError && reply.answers.is_empty(),
                || format!("{kind}: {reply:?}"),
            )?;
        }
        let reply = ask_tcp("six", RecordType::AAAA)?;
        check(reply.metadata.response_code == ResponseCode::NoError && reply.answers.is_empty(), || format!("tcp: {reply:?}"))?;
        Ok(())
    });
}

#[test]
fn unknown_names_without_upstreams_are_nxdomain() {
    in_forked_sandbox(|| {
        host_loopback()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let records = dir.path().join("records.json");
        save_records(&records, &[("known", &[ip(2)])])?;
        let _project = start(&records, Vec::new())?;
        for name in ["unknown-name", "known.example.test", "known-not"] {
            let reply = ask_udp(name, RecordType::A)?;
            check(
                reply.metadata.response_code == ResponseCode::NXDomain && reply.answers.is_empty(),
                || format!("{name}: {reply:?}"),
            )?;
        }
        Ok(())
    });
}

/// A small deterministic generator of test bytes (xorshift64).
struct Bytes(u64);

impl Bytes {
    fn next(&mut self) -> u8 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 24) as u8
    }
}

#[test]
fn malformed_datagrams_are_ignored_and_do_not_stop_the_server() {
    in_forked_sandbox(|| {
        host_loopback()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let records = dir.path().join("records.json");
        save_records(&records, &[("sturdy", &[ip(2)])])?;
        let _project = start(&records, Vec::new())?;

        let socket = UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
        socket.connect(SERVER).map_err(|e| e.to_string())?;
        let valid = query("sturdy", RecordType::A).to_vec().map_err(|e| e.to_string())?;
        let mut bytes = Bytes(0x9e37_79b9_7f4a_7c15);
        for round in 0..3000 {
            let packet: Vec<u8> = if round % 2 == 0 {
                // Random bytes of random length, empty datagrams included.
                let len = usize::from(bytes.next()) * 2;
                (0..len).map(|_| bytes.next()).collect()
            } else {
                // A valid query with a few bytes overwritten, or cut short.
                let mut packet = valid.clone();
                for _ in 0..1 + bytes.next() % 4 {
                    let at = usize::from(bytes.next()) % packet.len();
                    packet[at] = bytes.next();
                }
                packet.truncate(usize::from(bytes.next()) % (packet.len() + 1));
                packet
            };
            socket.send(&packet).map_err(|e| e.to_string())?;
        }
        // Garbage gets no reply at all.
        let quiet = UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
        quiet.connect(SERVER).map_err(|e| e.to_string())?;
        quiet.set_read_timeout(Some(Duration::from_millis(300))).map_err(|e| e.to_string())?;
        quiet.send(&[0xde, 0xad, 0xbe]).map_err(|e| e.to_string())?;
        let mut buf = [0u8; 512];
        check(quiet.recv(&mut buf).is_err(), || "a 3-byte datagram was answered".into())?;
        // A TCP client sending garbage is disconnected, not answered.
        {
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(SERVER).map_err(|e| e.to_string())?;
            stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
            stream.write_all(&[0, 4, 1, 2, 3, 4]).map_err(|e| e.to_string())?;
            let mut rest = Vec::new();
            let read = stream.read_to_end(&mut rest);
            check(matches!(read, Ok(0)), || format!("garbage over tcp got {read:?} {rest:?}"))?;
        }

        let reply = ask_udp("sturdy", RecordType::A)?;
        check(addresses(&reply) == vec![ip(2)], || format!("after the garbage: {reply:?}"))?;
        let reply = ask_tcp("sturdy", RecordType::A)?;
        check(addresses(&reply) == vec![ip(2)], || format!("after the garbage, over tcp: {reply:?}"))?;
        Ok(())
    });
}
