//! Names the network does not know go to the upstream resolvers of a resolv.conf: a fake upstream
//! on 127.0.0.x:53 inside the sandbox answers, and its answer reaches the client unchanged;
//! SERVFAIL when no upstream answers.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, TXT};
use hickory_proto::rr::{RData, Record, RecordType};
use xcompose_dns::resolv;
use xcompose_testkit::in_forked_sandbox;

/// A query an upstream got and the reply it sent (empty if none).
type Exchange = (Vec<u8>, Vec<u8>);

/// A fake upstream resolver on `addr`: it passes every query it gets to the returned channel and,
/// if `answers`, replies with an answer of its own making (an A record with TTL 1234, an
/// additional TXT record), sent to the channel as well.
fn fake_upstream(addr: SocketAddr, answers: bool) -> Result<mpsc::Receiver<Exchange>, String> {
    let socket = UdpSocket::bind(addr).map_err(|e| format!("binding the fake upstream to {addr}: {e}"))?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((len, client)) = socket.recv_from(&mut buf) {
            let query = buf[..len].to_vec();
            let mut reply = Vec::new();
            if answers {
                if let Ok(request) = Message::from_vec(&query) {
                    let mut message = Message::response(request.metadata.id, request.metadata.op_code);
                    message.metadata.recursion_desired = request.metadata.recursion_desired;
                    message.metadata.recursion_available = true;
                    message.add_queries(request.queries.iter().cloned());
                    let name = request.queries[0].name().clone();
                    message.add_answer(Record::from_rdata(name.clone(), 1234, RData::A(A(Ipv4Addr::new(192, 0, 2, 7)))));
                    message.add_additional(Record::from_rdata(name, 99, RData::TXT(TXT::new(vec!["from upstream".into()]))));
                    reply = message.to_vec().expect("encoding the fake answer");
                    let _ = socket.send_to(&reply, client);
                }
            }
            if tx.send((query, reply)).is_err() {
                return;
            }
        }
    });
    Ok(rx)
}

/// Writes a resolv.conf naming `nameservers` in `dir`; the upstreams it names.
fn resolv_conf(dir: &std::path::Path, nameservers: &[&str]) -> Result<Vec<SocketAddr>, String> {
    let path = dir.join("resolv.conf");
    let text: String = nameservers.iter().map(|ns| format!("nameserver {ns}\n")).collect();
    std::fs::write(&path, format!("search example.test\n{text}options ndots:0\n")).map_err(|e| e.to_string())?;
    resolv::read_upstreams(&path).map_err(|e| e.to_string())
}

#[test]
fn unknown_names_are_answered_by_the_first_upstream_that_answers_relayed_unchanged() {
    in_forked_sandbox(|| {
        network()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let records = dir.path().join("records.json");
        save_records(&records, &[("local-web", &[Ipv4Addr::new(10, 89, 0, 2)])])?;
        let upstream = fake_upstream("127.0.0.3:53".parse().unwrap(), true)?;
        // Nothing listens on 127.0.0.2: the server moves on to the next upstream.
        let upstreams = resolv_conf(dir.path(), &["127.0.0.2", "127.0.0.3"])?;
        check(upstreams.len() == 2, || format!("{upstreams:?}"))?;
        start(&records, upstreams)?;

        let request = query("far-away.example.test", RecordType::A).to_vec().map_err(|e| e.to_string())?;
        let started = Instant::now();
        let reply = ask_udp_raw(&request)?;
        let elapsed = started.elapsed();
        let (forwarded, sent) = upstream.recv_timeout(Duration::from_secs(1)).map_err(|e| format!("the upstream got nothing: {e}"))?;
        check(forwarded == request, || "the query reached the upstream changed".into())?;
        check(reply == sent, || format!("the reply was not relayed unchanged: {reply:?} vs {sent:?}"))?;
        let decoded = Message::from_vec(&reply).map_err(|e| e.to_string())?;
        check(addresses(&decoded) == vec![Ipv4Addr::new(192, 0, 2, 7)] && decoded.additionals.len() == 1, || format!("{decoded:?}"))?;
        check(elapsed < Duration::from_secs(2), || format!("a refused upstream held the query up for {elapsed:?}"))?;

        // Over TCP too, and the network's own names are never forwarded.
        let reply = ask_tcp("far-away-too.example.test", RecordType::A)?;
        check(addresses(&reply) == vec![Ipv4Addr::new(192, 0, 2, 7)], || format!("over tcp: {reply:?}"))?;
        upstream.recv_timeout(Duration::from_secs(1)).map_err(|e| format!("the upstream got nothing over tcp: {e}"))?;
        let reply = ask_udp("local-web", RecordType::A)?;
        check(addresses(&reply) == vec![Ipv4Addr::new(10, 89, 0, 2)], || format!("{reply:?}"))?;
        check(
            reply.metadata.recursion_available && upstream.recv_timeout(Duration::from_millis(300)).is_err(),
            || "a local name was forwarded".into(),
        )?;
        Ok(())
    });
}

#[test]
fn unknown_names_get_servfail_when_no_upstream_answers() {
    in_forked_sandbox(|| {
        network()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let records = dir.path().join("records.json");
        // 127.0.0.4 takes queries and never answers.
        let silent = fake_upstream("127.0.0.4:53".parse().unwrap(), false)?;
        let upstreams = resolv_conf(dir.path(), &["127.0.0.4"])?;
        start(&records, upstreams)?;

        let started = Instant::now();
        let reply = ask_udp("nowhere.example.test", RecordType::A)?;
        let elapsed = started.elapsed();
        check(
            reply.metadata.response_code == ResponseCode::ServFail && reply.answers.is_empty(),
            || format!("{reply:?}"),
        )?;
        silent.recv_timeout(Duration::from_secs(1)).map_err(|e| format!("the upstream got nothing: {e}"))?;
        check(
            (Duration::from_millis(1900)..Duration::from_secs(4)).contains(&elapsed),
            || format!("SERVFAIL after {elapsed:?}, not after the 2 s upstream timeout"),
        )?;
        Ok(())
    });
}

/// Sends `request` to the server from `source` over UDP; the raw reply.
fn ask_from(source: Ipv4Addr, request: &[u8]) -> Result<Vec<u8>, String> {
    let socket = UdpSocket::bind((source, 0)).map_err(|e| e.to_string())?;
    socket.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    socket.send_to(request, SERVER).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 65535];
    let len = socket.recv(&mut buf).map_err(|e| format!("no reply to {source}: {e}"))?;
    buf.truncate(len);
    Ok(buf)
}

#[test]
fn a_client_with_resolvers_of_its_own_is_forwarded_to_them_and_only_it() {
    in_forked_sandbox(|| {
        network()?;
        let own_client = Ipv4Addr::new(GATEWAY.octets()[0], GATEWAY.octets()[1], GATEWAY.octets()[2], 5);
        sh("ip", &["addr", "add", &format!("{own_client}/24"), "dev", "xc-dnstest"])?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let records_path = dir.path().join("records.json");
        let mut records = save_records(&records_path, &[("web", &[own_client])])?;
        let default_upstream = fake_upstream("127.0.0.3:53".parse().unwrap(), true)?;
        let own_upstream = fake_upstream("127.0.0.4:53".parse().unwrap(), true)?;
        records.set_upstreams(own_client, &["127.0.0.4:53".parse().unwrap()]);
        records.save(&records_path).map_err(|e| e.to_string())?;
        start(&records_path, vec!["127.0.0.3:53".parse().unwrap()])?;

        let request = query("far-away.example.test", RecordType::A).to_vec().map_err(|e| e.to_string())?;
        ask_from(own_client, &request)?;
        check(own_upstream.recv_timeout(Duration::from_secs(1)).is_ok(), || "the client's own resolver got nothing".into())?;
        check(default_upstream.try_recv().is_err(), || "the network's resolver was asked for the client with its own".into())?;
        ask_from(GATEWAY, &request)?;
        check(default_upstream.recv_timeout(Duration::from_secs(1)).is_ok(), || "another client's query did not reach the network's resolver".into())?;
        check(own_upstream.try_recv().is_err(), || "another client's query went to the first one's resolver".into())?;

        // The container leaves: its resolvers go with its address.
        records.remove_address(own_client);
        check(records.upstreams.is_empty(), || format!("{:?}", records.upstreams))?;
        records.save(&records_path).map_err(|e| e.to_string())?;
        ask_from(own_client, &request)?;
        check(default_upstream.recv_timeout(Duration::from_secs(1)).is_ok(), || "after it left, its address uses the network's resolver".into())?;
        Ok(())
    });
}
