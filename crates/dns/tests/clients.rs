//! Which containers the resolver serves, and with which names: each in its own network
//! namespace, with the names of all its networks (each from the first of its networks that knows
//! it); containers added, changed and removed through their client files and the control socket;
//! and what a resolver started again finds.

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use xcompose_dns::client::client_file;
use xcompose_dns::{control, Client};
use xcompose_testkit::in_forked_sandbox;

fn front(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 89, 0, last)
}

fn back(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 90, 0, last)
}

#[test]
fn a_container_on_two_networks_resolves_the_names_of_both_and_others_only_theirs() {
    in_forked_sandbox(|| {
        host_loopback()?;
        let project = Project::new()?;
        let (front_records, back_records) = (project.dir.path().join("front.json"), project.dir.path().join("back.json"));
        // `api` is on both networks; `web` on the front one, `db` on the back one.
        save_records(&front_records, &[("web", &[front(2)]), ("api", &[front(3)])])?;
        save_records(&back_records, &[("db", &[back(2)]), ("api", &[back(3)])])?;
        let api = project.container("api", &[&front_records, &back_records], &[])?;
        let web = project.container("web", &[&front_records], &[])?;
        let db = project.container("db", &[&back_records], &[])?;
        project.start(Vec::new())?;

        let resolve = |netns: &std::path::Path, name: &'static str| -> Result<(ResponseCode, Vec<Ipv4Addr>), String> {
            let reply = in_netns(netns, || ask_udp(name, RecordType::A))??;
            Ok((reply.metadata.response_code, addresses(&reply)))
        };
        check(resolve(&api, "web")? == (ResponseCode::NoError, vec![front(2)]), || "api resolves web".into())?;
        check(resolve(&api, "db")? == (ResponseCode::NoError, vec![back(2)]), || "api resolves db".into())?;
        // Each asker gets the address on the network it shares with the name.
        check(resolve(&web, "api")? == (ResponseCode::NoError, vec![front(3)]), || "web resolves api on the front network".into())?;
        check(resolve(&db, "api")? == (ResponseCode::NoError, vec![back(3)]), || "db resolves api on the back network".into())?;
        check(resolve(&web, "db")?.0 == ResponseCode::NXDomain, || "web resolves db of another network".into())?;
        check(resolve(&db, "web")?.0 == ResponseCode::NXDomain, || "db resolves web of another network".into())?;
        Ok(())
    });
}

#[test]
fn containers_are_served_changed_and_dropped_as_their_client_files_say() {
    in_forked_sandbox(|| {
        host_loopback()?;
        let project = Project::new()?;
        let (one, two) = (project.dir.path().join("one.json"), project.dir.path().join("two.json"));
        save_records(&one, &[("on-one", &[front(2)])])?;
        save_records(&two, &[("on-two", &[back(2)])])?;
        project.start(Vec::new())?;

        // Written after the start: served once synced.
        let netns = project.container("late", &[&one], &[])?;
        control::sync(&project.control(), "late").map_err(|e| e.to_string())?;
        let reply = in_netns(&netns, || ask_udp("on-one", RecordType::A))??;
        check(addresses(&reply) == vec![front(2)], || format!("{reply:?}"))?;

        // Moved to the other network: the same sockets answer from it.
        let path = client_file(&project.clients(), "late").map_err(|e| e.to_string())?;
        Client { netns: netns.clone(), networks: vec![two.clone()], upstreams: Vec::new(), aliases: Default::default() }.save(&path).map_err(|e| e.to_string())?;
        control::sync(&project.control(), "late").map_err(|e| e.to_string())?;
        let reply = in_netns(&netns, || ask_udp("on-one", RecordType::A))??;
        check(reply.metadata.response_code == ResponseCode::NXDomain, || format!("still on one: {reply:?}"))?;
        let reply = in_netns(&netns, || ask_tcp("on-two", RecordType::A))??;
        check(addresses(&reply) == vec![back(2)], || format!("{reply:?}"))?;

        // Gone: nothing listens there any more.
        std::fs::remove_file(&path).map_err(|e| e.to_string())?;
        control::sync(&project.control(), "late").map_err(|e| e.to_string())?;
        let mut closed = false;
        for _ in 0..50 {
            if in_netns(&netns, || std::net::TcpStream::connect(SERVER).is_err())? {
                closed = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        check(closed, || "the resolver still listens in a removed container's namespace".into())?;

        // A container whose namespace is not there is refused with the reason.
        Client { netns: project.dir.path().join("nowhere"), networks: vec![one.clone()], upstreams: Vec::new(), aliases: Default::default() }
            .save(&client_file(&project.clients(), "broken").map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        let err = control::sync(&project.control(), "broken").err().ok_or("a container without a namespace was served")?.to_string();
        check(err.starts_with("the resolver could not serve container broken: entering the network namespace"), || err.clone())?;
        let err = control::sync(&project.control(), "../x").err().ok_or("a path was taken for an id")?.to_string();
        check(err.contains("is not a container id"), || err.clone())?;
        Ok(())
    });
}

#[test]
fn a_resolver_started_again_serves_every_container_that_is_still_there() {
    in_forked_sandbox(|| {
        host_loopback()?;
        let project = Project::new()?;
        let records = project.dir.path().join("records.json");
        save_records(&records, &[("kept", &[front(2)])])?;
        let alive = project.container("alive", &[&records], &[])?;
        // A container removed while no resolver ran left its file but not its namespace.
        Client { netns: project.dir.path().join("gone.netns"), networks: vec![records.clone()], upstreams: Vec::new(), aliases: Default::default() }
            .save(&client_file(&project.clients(), "gone").map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        project.start(Vec::new())?;
        let reply = in_netns(&alive, || ask_udp("kept", RecordType::A))??;
        check(addresses(&reply) == vec![front(2)], || format!("{reply:?}"))?;
        Ok(())
    });
}

#[test]
fn the_containers_own_programs_may_listen_on_port_53_of_every_address() {
    in_forked_sandbox(|| {
        host_loopback()?;
        let project = Project::new()?;
        let records = project.dir.path().join("records.json");
        save_records(&records, &[("web", &[front(2)])])?;
        let netns = project.container("pihole", &[&records], &[])?;
        project.start(Vec::new())?;
        in_netns(&netns, || -> Result<(), String> {
            // A DNS server of the container's own, as pihole runs one.
            let udp = std::net::UdpSocket::bind("0.0.0.0:53").map_err(|e| format!("binding udp 0.0.0.0:53 in the container: {e}"))?;
            let tcp = std::net::TcpListener::bind("0.0.0.0:53").map_err(|e| format!("binding tcp 0.0.0.0:53 in the container: {e}"))?;
            let reply = ask_udp("web", RecordType::A)?;
            check(addresses(&reply) == vec![front(2)], || format!("{reply:?}"))?;
            let reply = ask_tcp("web", RecordType::A)?;
            check(addresses(&reply) == vec![front(2)], || format!("over tcp: {reply:?}"))?;
            // Its own port 53 is its own: a datagram to the loopback reaches it, not the resolver.
            let client = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            client.send_to(b"mine", "127.0.0.1:53").map_err(|e| e.to_string())?;
            udp.set_read_timeout(Some(Duration::from_secs(2))).map_err(|e| e.to_string())?;
            let mut buf = [0u8; 16];
            let (len, _) = udp.recv_from(&mut buf).map_err(|e| format!("the container's own server got nothing: {e}"))?;
            check(&buf[..len] == b"mine", || format!("{:?}", &buf[..len]))?;
            drop(tcp);
            Ok(())
        })?
    });
}
