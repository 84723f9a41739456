//! Names the container's networks do not know go to the upstream resolvers of a resolv.conf, asked
//! from the host's namespace: a fake upstream on the sandbox's own 127.0.0.x:53 (not the
//! container's loopback) answers, and its answer reaches the client unchanged; SERVFAIL when no
//! upstream answers; a container with resolvers of its own has them asked instead.

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
        host_loopback()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let records = dir.path().join("records.json");
        save_records(&records, &[("local-web", &[Ipv4Addr::new(10, 89, 0, 2)])])?;
        let upstream = fake_upstream("127.0.0.3:53".parse().unwrap(), true)?;
        // Nothing listens on 127.0.0.2: the server moves on to the next upstream.
        let upstreams = resolv_conf(dir.path(), &["127.0.0.2", "127.0.0.3"])?;
        check(upstreams.len() == 2, || format!("{upstreams:?}"))?;
        let _project = start(&records, upstreams)?;

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
        host_loopback()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let records = dir.path().join("records.json");
        // 127.0.0.4 takes queries and never answers.
        let silent = fake_upstream("127.0.0.4:53".parse().unwrap(), false)?;
        let upstreams = resolv_conf(dir.path(), &["127.0.0.4"])?;
        let _project = start(&records, upstreams)?;

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

#[test]
fn a_container_with_resolvers_of_its_own_is_forwarded_to_them_and_only_it() {
    in_forked_sandbox(|| {
        host_loopback()?;
        let project = Project::new()?;
        let records = project.dir.path().join("records.json");
        save_records(&records, &[("web", &[Ipv4Addr::new(10, 89, 0, 2)])])?;
        let default_upstream = fake_upstream("127.0.0.3:53".parse().unwrap(), true)?;
        let own_upstream = fake_upstream("127.0.0.4:53".parse().unwrap(), true)?;
        let own = project.container("own", &[&records], &["127.0.0.4:53".parse().unwrap()])?;
        let plain = project.container("plain", &[&records], &[])?;
        project.start(vec!["127.0.0.3:53".parse().unwrap()])?;

        in_netns(&own, || ask_udp("far-away.example.test", RecordType::A))??;
        check(own_upstream.recv_timeout(Duration::from_secs(1)).is_ok(), || "the container's own resolver got nothing".into())?;
        check(default_upstream.try_recv().is_err(), || "the host's resolver was asked for the container with its own".into())?;
        in_netns(&plain, || ask_udp("far-away.example.test", RecordType::A))??;
        check(default_upstream.recv_timeout(Duration::from_secs(1)).is_ok(), || "another container's query did not reach the host's resolver".into())?;
        check(own_upstream.try_recv().is_err(), || "another container's query went to the first one's resolver".into())?;
        // Its own names still answer from its network.
        let reply = in_netns(&own, || ask_udp("web", RecordType::A))??;
        check(addresses(&reply) == vec![Ipv4Addr::new(10, 89, 0, 2)], || format!("{reply:?}"))?;
        Ok(())
    });
}
