//! The few nftables messages the resolver's redirect needs, sent to the kernel as one
//! transaction over a netfilter netlink socket: no `nft` or `iptables-restore` process.
//!
//! Hand-written (about as long as the glue a library would need): the pure-Rust `rustables` is
//! GPL-3.0 (this project is Apache-2.0) and `nftnl` binds the C libnftnl. The messages are those
//! `nft` sends (libnftnl's layout): a batch of NEWTABLE, DELTABLE, NEWCHAIN and NEWRULE messages
//! between BATCH_BEGIN and BATCH_END, every one acknowledged.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;

use nix::sys::socket::{self, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType};
use nix::sys::time::TimeVal;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_APPEND: u16 = 0x800;
const NLMSG_ERROR: u16 = 0x2;
const NLA_F_NESTED: u16 = 0x8000;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_DELTABLE: u16 = 2;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_NEWRULE: u16 = 6;
const NFPROTO_IPV4: u8 = 2;
const NF_INET_LOCAL_OUT: u32 = 3;
/// `NF_IP_PRI_NAT_DST`: where iptables' nat OUTPUT chain hooks in too.
const NAT_DST_PRIORITY: i32 = -100;
const NFT_REG_1: u32 = 1;
const NFT_REG_2: u32 = 2;
const NFT_PAYLOAD_NETWORK_HEADER: u32 = 1;
const NFT_PAYLOAD_TRANSPORT_HEADER: u32 = 2;
const NFT_META_L4PROTO: u32 = 16;
const NFT_CMP_EQ: u32 = 0;
const NFT_NAT_DNAT: u32 = 1;

/// What a DNAT rule of an IPv4 `nat` chain on the local output hook matches and where it leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dnat {
    /// IP protocol number (17 UDP, 6 TCP).
    pub(crate) protocol: u8,
    /// The destination matched.
    pub(crate) from: (Ipv4Addr, u16),
    /// The destination it is rewritten to.
    pub(crate) to: (Ipv4Addr, u16),
}

/// Replaces the IPv4 table `table` of the calling thread's network namespace, in one
/// transaction, by one with a `nat` chain `chain` on the local output hook holding `rules`.
/// A table of that name made before (by an earlier resolver) goes with all its rules.
pub(crate) fn replace_output_dnat(table: &str, chain: &str, rules: &[Dnat]) -> io::Result<()> {
    let batch = replace_output_dnat_batch(table, chain, rules);
    send_and_wait_for_acks(&batch.bytes, batch.last_acknowledged)
}

/// The batch [`replace_output_dnat`] sends.
fn replace_output_dnat_batch(table: &str, chain: &str, rules: &[Dnat]) -> Batch {
    let mut batch = Batch::begin();
    // Made first, so that deleting it never fails: nft's "add table; delete table" idiom.
    batch.message(NFT_MSG_NEWTABLE, NLM_F_CREATE, |m| m.string(1, table));
    batch.message(NFT_MSG_DELTABLE, 0, |m| m.string(1, table));
    batch.message(NFT_MSG_NEWTABLE, NLM_F_CREATE, |m| m.string(1, table));
    batch.message(NFT_MSG_NEWCHAIN, NLM_F_CREATE, |m| {
        m.string(1, table); // NFTA_CHAIN_TABLE
        m.string(3, chain); // NFTA_CHAIN_NAME
        m.nested(4, |hook| {
            // NFTA_CHAIN_HOOK
            hook.u32_be(1, NF_INET_LOCAL_OUT); // NFTA_HOOK_HOOKNUM
            hook.u32_be(2, NAT_DST_PRIORITY as u32); // NFTA_HOOK_PRIORITY
        });
        m.string(7, "nat"); // NFTA_CHAIN_TYPE
    });
    for rule in rules {
        batch.message(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, |m| {
            m.string(1, table); // NFTA_RULE_TABLE
            m.string(2, chain); // NFTA_RULE_CHAIN
            m.nested(4, |exprs| dnat_expressions(exprs, rule)); // NFTA_RULE_EXPRESSIONS
        });
    }
    batch.end()
}

/// `ip daddr FROM_IP meta l4proto PROTOCOL th dport FROM_PORT dnat to TO_IP:TO_PORT`.
fn dnat_expressions(exprs: &mut Attributes, rule: &Dnat) {
    // IPv4 destination address: offset 16 of the network header.
    expression(exprs, "payload", |e| payload(e, NFT_PAYLOAD_NETWORK_HEADER, 16, 4));
    expression(exprs, "cmp", |e| compare_equal(e, &rule.from.0.octets()));
    expression(exprs, "meta", |e| {
        e.u32_be(1, NFT_REG_1); // NFTA_META_DREG
        e.u32_be(2, NFT_META_L4PROTO); // NFTA_META_KEY
    });
    expression(exprs, "cmp", |e| compare_equal(e, &[rule.protocol]));
    // Destination port: offset 2 of the UDP and the TCP header.
    expression(exprs, "payload", |e| payload(e, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2));
    expression(exprs, "cmp", |e| compare_equal(e, &rule.from.1.to_be_bytes()));
    expression(exprs, "immediate", |e| immediate(e, NFT_REG_1, &rule.to.0.octets()));
    expression(exprs, "immediate", |e| immediate(e, NFT_REG_2, &rule.to.1.to_be_bytes()));
    expression(exprs, "nat", |e| {
        e.u32_be(1, NFT_NAT_DNAT); // NFTA_NAT_TYPE
        e.u32_be(2, NFPROTO_IPV4.into()); // NFTA_NAT_FAMILY
        e.u32_be(3, NFT_REG_1); // NFTA_NAT_REG_ADDR_MIN
        e.u32_be(5, NFT_REG_2); // NFTA_NAT_REG_PROTO_MIN
    });
}

/// One element of a rule's expression list: its name and its data.
fn expression(exprs: &mut Attributes, name: &str, data: impl FnOnce(&mut Attributes)) {
    exprs.nested(1, |elem| {
        // NFTA_LIST_ELEM
        elem.string(1, name); // NFTA_EXPR_NAME
        elem.nested(2, data); // NFTA_EXPR_DATA
    });
}

/// Loads `len` bytes at `offset` of header `base` into register 1.
fn payload(e: &mut Attributes, base: u32, offset: u32, len: u32) {
    e.u32_be(1, NFT_REG_1); // NFTA_PAYLOAD_DREG
    e.u32_be(2, base); // NFTA_PAYLOAD_BASE
    e.u32_be(3, offset); // NFTA_PAYLOAD_OFFSET
    e.u32_be(4, len); // NFTA_PAYLOAD_LEN
}

/// Ends the rule unless register 1 holds `value`.
fn compare_equal(e: &mut Attributes, value: &[u8]) {
    e.u32_be(1, NFT_REG_1); // NFTA_CMP_SREG
    e.u32_be(2, NFT_CMP_EQ); // NFTA_CMP_OP
    e.nested(3, |data| data.bytes(1, value)); // NFTA_CMP_DATA { NFTA_DATA_VALUE }
}

/// Puts `value` in register `register`.
fn immediate(e: &mut Attributes, register: u32, value: &[u8]) {
    e.u32_be(1, register); // NFTA_IMMEDIATE_DREG
    e.nested(2, |data| data.bytes(1, value)); // NFTA_IMMEDIATE_DATA { NFTA_DATA_VALUE }
}

/// Netlink attributes being written (type, length, value, padded to 4 bytes).
struct Attributes<'a>(&'a mut Vec<u8>);

impl Attributes<'_> {
    fn bytes(&mut self, kind: u16, value: &[u8]) {
        let len = u16::try_from(4 + value.len()).expect("attributes are small");
        self.0.extend_from_slice(&len.to_ne_bytes());
        self.0.extend_from_slice(&kind.to_ne_bytes());
        self.0.extend_from_slice(value);
        pad(self.0);
    }

    fn string(&mut self, kind: u16, value: &str) {
        let mut nul_terminated = value.as_bytes().to_vec();
        nul_terminated.push(0);
        self.bytes(kind, &nul_terminated);
    }

    fn u32_be(&mut self, kind: u16, value: u32) {
        self.bytes(kind, &value.to_be_bytes());
    }

    fn nested(&mut self, kind: u16, inner: impl FnOnce(&mut Attributes)) {
        let start = self.0.len();
        self.0.extend_from_slice(&[0; 4]);
        inner(&mut Attributes(self.0));
        let len = u16::try_from(self.0.len() - start).expect("attributes are small");
        self.0[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self.0[start + 2..start + 4].copy_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
    }
}

fn pad(buf: &mut Vec<u8>) {
    buf.resize(buf.len().next_multiple_of(4), 0);
}

/// A transaction's messages, numbered from 1.
struct Batch {
    bytes: Vec<u8>,
    /// The number of the last message.
    last_seq: u32,
    /// The number of the last message the kernel acknowledges.
    last_acknowledged: u32,
}

impl Batch {
    fn begin() -> Batch {
        let mut batch = Batch { bytes: Vec::new(), last_seq: 0, last_acknowledged: 0 };
        batch.header(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, 0, NFNL_SUBSYS_NFTABLES);
        batch
    }

    /// Appends an nftables message of type `kind` (IPv4, acknowledged) with its attributes.
    fn message(&mut self, kind: u16, flags: u16, attributes: impl FnOnce(&mut Attributes)) {
        let start = self.header((NFNL_SUBSYS_NFTABLES << 8) | kind, NLM_F_REQUEST | NLM_F_ACK | flags, NFPROTO_IPV4, 0);
        attributes(&mut Attributes(&mut self.bytes));
        self.set_length(start);
        self.last_acknowledged = self.last_seq;
    }

    fn end(mut self) -> Batch {
        self.header(NFNL_MSG_BATCH_END, NLM_F_REQUEST, 0, NFNL_SUBSYS_NFTABLES);
        self
    }

    /// Appends a netlink header and the netfilter one (`nfgenmsg`); where the message starts.
    fn header(&mut self, kind: u16, flags: u16, family: u8, resource: u16) -> usize {
        let start = self.bytes.len();
        self.last_seq += 1;
        self.bytes.extend_from_slice(&20u32.to_ne_bytes());
        self.bytes.extend_from_slice(&kind.to_ne_bytes());
        self.bytes.extend_from_slice(&flags.to_ne_bytes());
        self.bytes.extend_from_slice(&self.last_seq.to_ne_bytes());
        self.bytes.extend_from_slice(&0u32.to_ne_bytes());
        self.bytes.extend_from_slice(&[family, 0]);
        self.bytes.extend_from_slice(&resource.to_be_bytes());
        start
    }

    fn set_length(&mut self, start: usize) {
        let len = u32::try_from(self.bytes.len() - start).expect("messages are small");
        self.bytes[start..start + 4].copy_from_slice(&len.to_ne_bytes());
    }
}

/// Sends `batch` and waits until the kernel has answered the message numbered
/// `last_acknowledged` (the last change, before BATCH_END): the transaction is then committed. The first
/// error the kernel reports fails it (and the kernel has applied none of it).
fn send_and_wait_for_acks(batch: &[u8], last_acknowledged: u32) -> io::Result<()> {
    let fd = socket::socket(AddressFamily::Netlink, SockType::Raw, SockFlag::SOCK_CLOEXEC, SockProtocol::NetlinkNetFilter)?;
    // The kernel answers at once; a bound on the wait keeps a surprise from hanging a container.
    socket::setsockopt(&fd, socket::sockopt::ReceiveTimeout, &TimeVal::new(5, 0))?;
    socket::sendto(fd.as_raw_fd(), batch, &NetlinkAddr::new(0, 0), MsgFlags::empty())?;
    let mut buf = vec![0u8; 8192];
    loop {
        let len = socket::recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty())?;
        for answer in answers(&buf[..len]) {
            match answer {
                Answer { error: 0, seq } if seq == last_acknowledged => return Ok(()),
                Answer { error: 0, .. } => {}
                Answer { error, .. } => return Err(io::Error::from_raw_os_error(-error)),
            }
        }
    }
}

/// The kernel's answer to one message: 0 (acknowledged) or a negative errno.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    error: i32,
    seq: u32,
}

/// The NLMSG_ERROR messages (acknowledgements and errors) in what the kernel sent.
fn answers(mut buf: &[u8]) -> Vec<Answer> {
    let mut found = Vec::new();
    while buf.len() >= 16 {
        let len = u32::from_ne_bytes(buf[0..4].try_into().expect("4 bytes")) as usize;
        let kind = u16::from_ne_bytes(buf[4..6].try_into().expect("2 bytes"));
        if len < 16 || len > buf.len() {
            break;
        }
        if kind == NLMSG_ERROR && len >= 20 {
            let error = i32::from_ne_bytes(buf[16..20].try_into().expect("4 bytes"));
            // The answered message's header follows: its sequence number at offset 8.
            let seq = buf.get(28..32).map_or(0, |s| u32::from_ne_bytes(s.try_into().expect("4 bytes")));
            found.push(Answer { error, seq });
        }
        buf = &buf[len.next_multiple_of(4).min(buf.len())..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const DNS: Dnat = Dnat { protocol: 17, from: (Ipv4Addr::new(127, 0, 0, 11), 53), to: (Ipv4Addr::new(127, 0, 0, 11), 40000) };

    /// The messages of a batch: (type, flags, seq, payload after the netfilter header).
    fn messages(mut buf: &[u8]) -> Vec<(u16, u16, u32, Vec<u8>)> {
        let mut found = Vec::new();
        while !buf.is_empty() {
            let len = u32::from_ne_bytes(buf[0..4].try_into().unwrap()) as usize;
            assert_eq!(len % 4, 0, "messages are padded");
            let kind = u16::from_ne_bytes(buf[4..6].try_into().unwrap());
            let flags = u16::from_ne_bytes(buf[6..8].try_into().unwrap());
            let seq = u32::from_ne_bytes(buf[8..12].try_into().unwrap());
            found.push((kind, flags, seq, buf[20..len].to_vec()));
            buf = &buf[len..];
        }
        found
    }

    #[test]
    fn the_batch_replaces_the_table_in_one_transaction_every_message_acknowledged() {
        let batch = replace_output_dnat_batch("t", "c", &[DNS, DNS]);
        let found = messages(&batch.bytes);
        let kinds: Vec<u16> = found.iter().map(|m| m.0).collect();
        let nft = |kind| (NFNL_SUBSYS_NFTABLES << 8) | kind;
        assert_eq!(
            kinds,
            [NFNL_MSG_BATCH_BEGIN, nft(NFT_MSG_NEWTABLE), nft(NFT_MSG_DELTABLE), nft(NFT_MSG_NEWTABLE), nft(NFT_MSG_NEWCHAIN), nft(NFT_MSG_NEWRULE), nft(NFT_MSG_NEWRULE), NFNL_MSG_BATCH_END]
        );
        let seqs: Vec<u32> = found.iter().map(|m| m.2).collect();
        assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
        assert!(found[1..7].iter().all(|m| m.1 & NLM_F_ACK != 0), "every change is acknowledged");
        assert_eq!(found[0].1 & NLM_F_ACK, 0);
        assert_eq!((batch.last_seq, batch.last_acknowledged), (8, 7));
        // The table's name, NUL-terminated and padded: len 6, NFTA_TABLE_NAME.
        assert_eq!(found[2].3, [6, 0, 1, 0, b't', 0, 0, 0]);
    }

    #[test]
    fn a_rule_matches_address_protocol_and_port_and_rewrites_both() {
        let mut buf = Vec::new();
        dnat_expressions(&mut Attributes(&mut buf), &DNS);
        let text = buf.iter().map(|b| format!("{b:02x}")).collect::<String>();
        for (what, bytes) in [("the address", "7f00000b"), ("the new port", "9c40"), ("the old port", "0035")] {
            assert!(text.contains(bytes), "{what} is in the rule: {text}");
        }
        let names: Vec<&str> = ["payload", "cmp", "meta", "immediate", "nat"].into_iter().filter(|n| buf.windows(n.len()).any(|w| w == n.as_bytes())).collect();
        assert_eq!(names.len(), 5, "{names:?}");
        assert_eq!(buf.len() % 4, 0);
    }

    #[test]
    fn answers_are_read_from_acknowledgements_and_errors() {
        let answer = |error: i32, seq: u32| {
            let mut m = Vec::new();
            m.extend_from_slice(&36u32.to_ne_bytes());
            m.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
            m.extend_from_slice(&[0; 10]);
            m.extend_from_slice(&error.to_ne_bytes());
            m.extend_from_slice(&[0; 8]);
            m.extend_from_slice(&seq.to_ne_bytes());
            m.extend_from_slice(&[0; 4]);
            m
        };
        let mut buf = answer(0, 2);
        buf.extend(answer(-2, 3));
        assert_eq!(answers(&buf), [Answer { error: 0, seq: 2 }, Answer { error: -2, seq: 3 }]);
        assert_eq!(answers(&buf[..20]), [], "a cut message is not read");
    }
}
