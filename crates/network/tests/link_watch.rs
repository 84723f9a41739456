//! Links the kernel deletes by itself, in a sandbox: a veth pair goes with the network namespace
//! of its container end once the namespace's last process exits, and `LinkWatch::wait_gone`
//! returns once the host end is gone; a host end whose namespace lives on past the wait is
//! deleted explicitly.

use std::time::Duration;

use xcompose_network::ipam::{Ipam, SubnetRequest};
use xcompose_network::link::{self, Attachment, Netns};
use xcompose_network::link_watch::LinkWatch;
use xcompose_testkit::Sandbox;

mod common;
use common::container;

const NETWORK: &str = "fedcba9876543210fedcba9876543210";
const ENDPOINTS: [&str; 2] = ["cccccccccccccccc3333", "dddddddddddddddd4444"];

/// The sandbox's links, as `ip -o link` shows them.
fn links(sb: &Sandbox) -> anyhow::Result<String> {
    sb.run_ok("ip", &["-o", "link"])
}

#[test]
fn veth_pairs_go_with_their_namespace_and_the_wait_ends_when_they_are_gone() -> anyhow::Result<()> {
    let sb = Sandbox::new()?;
    let ipam = Ipam::open(sb.root().join("ipam"))?;
    let subnet = sb.in_net(|| ipam.create_network(NETWORK, &SubnetRequest::default()))??;
    let bridge = link::bridge_name(NETWORK)?;
    sb.in_net(|| link::ensure_bridge(NETWORK, &bridge, subnet.gateway_net(), None))??;
    let mut containers = [container(&sb)?, container(&sb)?];
    let mut hosts = Vec::new();
    for (container, endpoint) in containers.iter().zip(ENDPOINTS) {
        let address = ipam.allocate(NETWORK, endpoint, None)?;
        let attachment = Attachment { bridge: bridge.clone(), endpoint_id: endpoint.into(), netns: Netns::Pid(container.id()), address, gateway: None, mtu: None, ipv6: None, settings: Default::default() };
        hosts.push(sb.in_net(|| link::attach(&attachment))??.host_ifname);
    }
    assert!(hosts.iter().all(|h| links(&sb).is_ok_and(|l| l.contains(h.as_str()))), "both host ends exist");

    // The first container's only process exits: its namespace dies and takes the pair along.
    let watch = sb.in_net(LinkWatch::open)??;
    containers[0].kill()?;
    containers[0].wait()?;
    sb.in_net(|| watch.wait_gone(std::slice::from_ref(&hosts[0]), Duration::from_secs(10)))??;
    let after = links(&sb)?;
    assert!(!after.contains(hosts[0].as_str()), "the dead namespace's host end is gone when the wait returns: {after}");
    assert!(after.contains(hosts[1].as_str()), "the other pair is untouched: {after}");

    // The second namespace lives on (its process runs): past the wait, the pair is deleted.
    let watch = sb.in_net(LinkWatch::open)??;
    sb.in_net(|| watch.wait_gone(std::slice::from_ref(&hosts[1]), Duration::from_millis(200)))??;
    let after = links(&sb)?;
    assert!(!after.contains(hosts[1].as_str()), "a host end still there after the wait is deleted: {after}");
    // Nothing to wait for: returns at once.
    sb.in_net(|| watch.wait_gone(&hosts, Duration::from_secs(10)))??;

    containers[1].kill()?;
    containers[1].wait()?;
    sb.in_net(|| link::delete_bridge(&bridge))??;
    Ok(())
}
