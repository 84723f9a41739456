//! Bridges and veth pairs inside a sandbox: two "containers" (processes in network namespaces of
//! their own) on one bridge reach each other and the gateway; detach and delete clean up.

use std::time::{Duration, Instant};

use xcompose_network::ipam::{Ipam, SubnetRequest};
use xcompose_network::link::{self, Attachment, Netns};
use xcompose_testkit::Sandbox;

mod common;
use common::container;

const NETWORK: &str = "0123456789abcdef0123456789abcdef";
const ENDPOINTS: [&str; 2] = ["aaaaaaaaaaaaaaaa1111", "bbbbbbbbbbbbbbbb2222"];

fn in_container(sb: &Sandbox, pid: u32, args: &[&str]) -> anyhow::Result<String> {
    let pid = pid.to_string();
    let mut full = vec!["-t", pid.as_str(), "-n"];
    full.extend_from_slice(args);
    sb.run_ok("nsenter", &full)
}

#[test]
fn containers_on_a_bridge_reach_each_other_and_cleanup_is_complete() -> anyhow::Result<()> {
    let sb = Sandbox::new()?;
    let links_before = sb.run_ok("ip", &["-o", "link"])?;
    let ipam = Ipam::open(sb.root().join("ipam"))?;
    let subnet = sb.in_net(|| ipam.create_network(NETWORK, &SubnetRequest::default()))??;
    let bridge = sb.in_net(|| link::ensure_bridge(NETWORK, &link::bridge_name(NETWORK)?, subnet.gateway_net(), Some(1400)))??;
    assert_eq!(bridge, "xc-0123456789ab");
    // Idempotent: a second call reuses the bridge.
    assert_eq!(
        sb.in_net(|| link::ensure_bridge(NETWORK, &link::bridge_name(NETWORK)?, subnet.gateway_net(), Some(1400)))??,
        bridge
    );
    let shown = sb.run_ok("ip", &["-o", "addr", "show", "dev", &bridge])?;
    assert!(
        shown.contains(&format!("inet {}", subnet.gateway_net())),
        "{shown}"
    );
    let shown = sb.run_ok("ip", &["-o", "link", "show", "dev", &bridge])?;
    assert!(
        shown.contains("mtu 1400") && shown.contains(",UP"),
        "{shown}"
    );

    let containers = [container(&sb)?, container(&sb)?];
    let mut addresses = Vec::new();
    for (container, endpoint) in containers.iter().zip(ENDPOINTS) {
        let address = ipam.allocate(NETWORK, endpoint, None)?;
        let attached = sb.in_net(|| {
            link::attach(&Attachment {
                bridge: link::bridge_name(NETWORK)?,
                endpoint_id: endpoint.to_string(),
                netns: Netns::Pid(container.id()),
                address,
                gateway: Some(subnet.gateway),
                mtu: Some(1400),
                ipv6: None,
                settings: Default::default(),
            })
        })??;
        assert_eq!(attached.container_ifname, "eth0");
        assert_eq!(attached.host_ifname, link::host_veth_name(endpoint)?);
        let host_end = sb.run_ok("ip", &["-o", "link", "show", "dev", &attached.host_ifname])?;
        assert!(
            host_end.contains(&format!("master {bridge}")) && host_end.contains(",UP"),
            "{host_end}"
        );
        let inside = in_container(
            &sb,
            container.id(),
            &["ip", "-o", "addr", "show", "dev", "eth0"],
        )?;
        assert!(inside.contains(&format!("inet {address}")), "{inside}");
        let route = in_container(&sb, container.id(), &["ip", "route", "show", "default"])?;
        assert!(
            route.contains(&format!("default via {}", subnet.gateway)),
            "{route}"
        );
        let lo = in_container(
            &sb,
            container.id(),
            &["ip", "-o", "link", "show", "dev", "lo"],
        )?;
        assert!(lo.contains(",UP"), "{lo}");
        addresses.push(address.addr().to_string());
    }
    let gateway = subnet.gateway.to_string();
    for (from, to) in [(0, 1), (1, 0)] {
        in_container(
            &sb,
            containers[from].id(),
            &["busybox", "ping", "-c1", "-W2", &addresses[to]],
        )?;
    }
    in_container(
        &sb,
        containers[0].id(),
        &["busybox", "ping", "-c1", "-W2", &gateway],
    )?;

    // Detach removes both veth ends.
    sb.in_net(|| link::detach(ENDPOINTS[0]))??;
    sb.in_net(|| link::detach(ENDPOINTS[0]))??;
    let links = sb.run_ok("ip", &["-o", "link"])?;
    assert!(
        !links.contains(&link::host_veth_name(ENDPOINTS[0])?),
        "{links}"
    );
    let inside = in_container(&sb, containers[0].id(), &["ip", "-o", "link"])?;
    assert!(!inside.contains("eth0"), "{inside}");
    ipam.release(NETWORK, addresses[0].parse()?)?;

    sb.in_net(|| link::detach(ENDPOINTS[1]))??;
    sb.in_net(|| link::delete_bridge(&link::bridge_name(NETWORK)?))??;
    sb.in_net(|| link::delete_bridge(&link::bridge_name(NETWORK)?))??;
    ipam.release(NETWORK, addresses[1].parse()?)?;
    ipam.remove_network(NETWORK)?;
    assert_eq!(sb.run_ok("ip", &["-o", "link"])?, links_before);
    Ok(())
}

#[test]
fn internal_network_has_no_default_route_and_second_attachment_is_eth1() -> anyhow::Result<()> {
    let sb = Sandbox::new()?;
    let ipam = Ipam::open(sb.root().join("ipam"))?;
    let networks = ["1111111111111111aaaa", "2222222222222222bbbb"];
    let container = container(&sb)?;
    let mut names = Vec::new();
    for (i, network) in networks.iter().enumerate() {
        let request = SubnetRequest {
            subnet: Some(format!("10.9{i}.0.0/24").parse()?),
            ..Default::default()
        };
        let subnet = ipam.create_network(network, &request)?;
        sb.in_net(|| link::ensure_bridge(network, &link::bridge_name(network)?, subnet.gateway_net(), None))??;
        let address = ipam.allocate(network, "c", Some(format!("10.9{i}.0.50").parse()?))?;
        let attached = sb.in_net(|| {
            link::attach(&Attachment {
                bridge: link::bridge_name(network)?,
                endpoint_id: format!("{i}cccccccccccccccc"),
                netns: Netns::Pid(container.id()),
                address,
                gateway: None,
                mtu: None,
                ipv6: None,
                settings: Default::default(),
            })
        })??;
        names.push(attached.container_ifname);
    }
    assert_eq!(names, ["eth0", "eth1"]);
    let routes = in_container(&sb, container.id(), &["ip", "route"])?;
    assert!(!routes.contains("default"), "{routes}");
    assert!(routes.contains("10.91.0.0/24 dev eth1"), "{routes}");
    // Attaching to a bridge that does not exist fails and leaves no veth behind.
    let error = sb
        .in_net(|| {
            link::attach(&Attachment {
                bridge: link::bridge_name("ffffffffffff0000")?,
                endpoint_id: "dddddddddddddddd".to_string(),
                netns: Netns::Pid(container.id()),
                address: "10.99.0.2/24".parse().unwrap(),
                gateway: None,
                mtu: None,
                ipv6: None,
                settings: Default::default(),
            })
        })?
        .unwrap_err();
    assert!(error.to_string().contains("does not exist"), "{error}");
    let links = sb.run_ok("ip", &["-o", "link"])?;
    assert!(
        !links.contains("xvddd") && !links.contains("xtddd"),
        "{links}"
    );
    Ok(())
}

/// As Docker: the container's MAC is `02:42` and its address, the same on every attach; and
/// the container announces itself once its address is up (gratuitous ARP), so neighbours (the
/// host and a peer) holding a stale entry for the address (the container before a restart)
/// update it at once.
#[test]
fn the_mac_follows_the_address_and_neighbours_learn_it_at_once() -> anyhow::Result<()> {
    let sb = Sandbox::new()?;
    let ipam = Ipam::open(sb.root().join("ipam"))?;
    let subnet = sb.in_net(|| ipam.create_network(NETWORK, &SubnetRequest::default()))??;
    let bridge = sb.in_net(|| link::ensure_bridge(NETWORK, &link::bridge_name(NETWORK)?, subnet.gateway_net(), None))??;
    let attach = |endpoint: &str, pid: u32, address| {
        sb.in_net(|| {
            link::attach(&Attachment {
                bridge: link::bridge_name(NETWORK)?,
                endpoint_id: endpoint.to_string(),
                netns: Netns::Pid(pid),
                address,
                gateway: Some(subnet.gateway),
                mtu: None,
                ipv6: None,
                settings: Default::default(),
            })
        })
    };
    // A peer stays on the network throughout (and keeps the bridge up).
    let mut peer = container(&sb)?;
    attach(ENDPOINTS[1], peer.id(), ipam.allocate(NETWORK, ENDPOINTS[1], None)?)??;
    let address = ipam.allocate(NETWORK, ENDPOINTS[0], None)?;
    let ip = address.addr().to_string();
    let [a, b, c, d] = address.addr().octets();
    let mac = format!("02:42:{a:02x}:{b:02x}:{c:02x}:{d:02x}");
    assert_eq!(link::container_mac(address.addr()), [0x02, 0x42, a, b, c, d]);
    for attempt in 0..2 {
        // What the host and the peer remember of the address from before: another MAC.
        let stale = ["neigh", "replace", ip.as_str(), "lladdr", "02:00:00:00:00:01", "nud", "stale", "dev"];
        sb.run_ok("ip", &[&stale[..], &[bridge.as_str()]].concat())?;
        in_container(&sb, peer.id(), &[&["ip"], &stale[..], &["eth0"]].concat())?;
        let mut container = container(&sb)?;
        attach(ENDPOINTS[0], container.id(), address)??;
        let inside = in_container(&sb, container.id(), &["ip", "-o", "link", "show", "dev", "eth0"])?;
        assert!(inside.contains(&format!("link/ether {mac} ")), "attach {attempt}: {inside}");
        let deadline = Instant::now() + Duration::from_secs(2);
        let entries = || -> anyhow::Result<(String, String)> {
            Ok((sb.run_ok("ip", &["neigh", "show", &ip, "dev", &bridge])?, in_container(&sb, peer.id(), &["ip", "neigh", "show", &ip, "dev", "eth0"])?))
        };
        let mut seen = entries()?;
        while !(seen.0.contains(&mac) && seen.1.contains(&mac)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            seen = entries()?;
        }
        assert!(seen.0.contains(&format!("lladdr {mac}")), "attach {attempt}: the host's entry was not updated: {}", seen.0);
        assert!(seen.1.contains(&format!("lladdr {mac}")), "attach {attempt}: the peer's entry was not updated: {}", seen.1);
        sb.in_net(|| link::detach(ENDPOINTS[0]))??;
        container.kill()?;
        container.wait()?;
    }
    peer.kill()?;
    peer.wait()?;
    Ok(())
}
