//! Network attach + detach of one container: an address from IPAM, a veth pair with its peer in
//! the container's (pinned) network namespace, configured (address, up, default route), then
//! removed and the address released. The README sets it beside the runtime's start cost.
//!
//! The bench first moves itself into fresh mount and network namespaces (it runs as root), so
//! nothing it creates reaches the host. The bridge and the container's namespace are made once.

use criterion::{criterion_group, criterion_main, Criterion};
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use xcompose_network::ipam::{Ipam, SubnetRequest};
use xcompose_network::link::{self, Attachment, Netns};
use xcompose_network::netns;

const NETWORK: &str = "0123456789abcdef0123456789abcdef";
const ENDPOINT: &str = "abcdefabcdef0123456789";

fn bench(c: &mut Criterion) {
    unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET).expect("the bench needs root: unshare");
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>).expect("making mounts private");
    link::loopback_up().expect("loopback up");
    let dir = tempfile::tempdir().unwrap();
    let ipam = Ipam::open(dir.path().join("ipam")).unwrap();
    let subnet = ipam.create_network(NETWORK, &SubnetRequest::default()).unwrap();
    link::ensure_bridge(NETWORK, &link::bridge_name(NETWORK).unwrap(), subnet.gateway_net(), None).unwrap();
    let ns = dir.path().join("netns");
    netns::create(&ns).unwrap();

    let mut group = c.benchmark_group("network");
    group.sample_size(50);
    group.bench_function("attach + detach", |b| {
        b.iter(|| {
            let address = ipam.allocate(NETWORK, "bench", None).unwrap();
            let attachment = Attachment {
                bridge: link::bridge_name(NETWORK).unwrap(),
                endpoint_id: ENDPOINT.into(),
                netns: Netns::Path(ns.clone()),
                address,
                gateway: Some(subnet.gateway),
                mtu: None,
                ipv6: None,
                settings: Default::default(),
            };
            link::attach(&attachment).unwrap();
            link::detach(ENDPOINT).unwrap();
            ipam.release(NETWORK, address.addr()).unwrap();
        })
    });
    group.bench_function("namespace create + remove", |b| {
        let other = dir.path().join("netns-bench");
        b.iter(|| {
            netns::create(&other).unwrap();
            netns::remove(&other).unwrap();
        })
    });
    group.finish();
    netns::remove(&ns).unwrap();
}

criterion_group!(benches, bench);
criterion_main!(benches);
