//! What the DNS tests share: a network gateway address inside the sandbox, a server on it, and a
//! client.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, RecordType};
use xcompose_dns::{Records, Server};

/// The gateway address of the test network, on a bridge inside the sandbox.
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 89, 0, 1);

/// The server's address: the gateway, port 53.
pub const SERVER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(GATEWAY), 53);

/// Runs a command in the sandbox, failing with its output unless it exits 0; its stdout.
pub fn sh(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program).args(args).output().map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {args:?}: {}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Brings loopback up and puts [`GATEWAY`]/24 on a bridge, as the network crate does for a
/// compose network (run inside `in_forked_sandbox`, whose network namespace is fresh).
pub fn network() -> Result<(), String> {
    sh("ip", &["link", "set", "lo", "up"])?;
    sh("ip", &["link", "add", "xc-dnstest", "type", "bridge"])?;
    sh("ip", &["addr", "add", &format!("{GATEWAY}/24"), "dev", "xc-dnstest"])?;
    sh("ip", &["link", "set", "xc-dnstest", "up"])?;
    Ok(())
}

/// Records giving each name its addresses, saved at `path`.
pub fn save_records(path: &Path, names: &[(&str, &[Ipv4Addr])]) -> Result<Records, String> {
    let mut records = Records::default();
    for (name, addresses) in names {
        for address in *addresses {
            records.insert(name, *address);
        }
    }
    records.save(path).map_err(|e| e.to_string())?;
    Ok(records)
}

/// Starts a server on [`SERVER`] for the records file `records`, serving on a thread of its own
/// until the scenario ends.
pub fn start(records: &Path, upstreams: Vec<SocketAddr>) -> Result<(), String> {
    let server = Server::bind(SERVER, records.to_path_buf(), upstreams).map_err(|e| e.to_string())?;
    std::thread::spawn(move || server.run(std::future::pending()));
    Ok(())
}

/// A recursive query for `name` of type `kind` (on the wire a name always ends at the root:
/// `web` is sent as `web.`).
pub fn query(name: &str, kind: RecordType) -> Message {
    let mut message = Message::query();
    message.metadata.recursion_desired = true;
    let mut name = Name::from_ascii(name).expect("a valid test name");
    name.set_fqdn(true);
    message.add_query(Query::query(name, kind));
    message
}

/// Sends `query` to [`SERVER`] over UDP and returns the raw reply (5 s at most).
pub fn ask_udp_raw(query: &[u8]) -> Result<Vec<u8>, String> {
    let socket = UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
    socket.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    socket.connect(SERVER).map_err(|e| e.to_string())?;
    socket.send(query).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 65535];
    let len = socket.recv(&mut buf).map_err(|e| format!("no reply from {SERVER}: {e}"))?;
    buf.truncate(len);
    Ok(buf)
}

/// Asks [`SERVER`] for `name` of type `kind` over UDP; the decoded reply, checked to answer the
/// query (same id and question).
pub fn ask_udp(name: &str, kind: RecordType) -> Result<Message, String> {
    let request = query(name, kind);
    let reply = ask_udp_raw(&request.to_vec().map_err(|e| e.to_string())?)?;
    decode_reply(&request, &reply)
}

/// Asks [`SERVER`] for `name` of type `kind` over TCP.
pub fn ask_tcp(name: &str, kind: RecordType) -> Result<Message, String> {
    let request = query(name, kind);
    let bytes = request.to_vec().map_err(|e| e.to_string())?;
    let mut stream = TcpStream::connect_timeout(&SERVER, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    stream.write_all(&framed).map_err(|e| e.to_string())?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).map_err(|e| format!("no reply over tcp: {e}"))?;
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut reply).map_err(|e| e.to_string())?;
    decode_reply(&request, &reply)
}

fn decode_reply(request: &Message, reply: &[u8]) -> Result<Message, String> {
    let reply = Message::from_vec(reply).map_err(|e| format!("undecodable reply: {e}"))?;
    if reply.metadata.id != request.metadata.id || reply.queries != request.queries {
        return Err(format!("the reply does not answer the query: {reply:?}"));
    }
    Ok(reply)
}

/// The A addresses of a reply, in order.
pub fn addresses(reply: &Message) -> Vec<Ipv4Addr> {
    reply
        .answers
        .iter()
        .filter_map(|record| match record.data {
            RData::A(A(address)) => Some(address),
            _ => None,
        })
        .collect()
}

/// Fails with `what` unless `condition` holds.
pub fn check(condition: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(what())
    }
}
