//! The firewall's part of a network's life: rules of a network added, a port published and
//! unpublished, the network's rules removed (with the last network, xcompose's chains too): four
//! changes, each one `iptables-restore`. Measured as xcompose runs it (the rules known from the
//! record in /run) and, for comparison, with the record removed before every change, so that each
//! change first reads the rules with `iptables-save` (what every change cost before the record).
//!
//! The bench moves itself into fresh mount and network namespaces with a private /run (it runs as
//! root), so nothing it creates reaches the host.

use criterion::{criterion_group, criterion_main, Criterion};
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use xcompose_network::firewall::{self, NetworkRules, PortMapping, Protocol};

const BRIDGE: &str = "xc-0123456789ab";

fn life(forget_record: bool) {
    let n = NetworkRules { bridge: BRIDGE.into(), subnet: "172.31.0.0/24".parse().unwrap(), subnet6: None, internal: false, masquerade: true, icc: true };
    let port = [PortMapping { protocol: Protocol::Tcp, host_ip: None, host_port: 8080, container_ip: "172.31.0.2".parse().unwrap(), container_port: 80, bridge: BRIDGE.into() }];
    let forget = || {
        if forget_record {
            let _ = std::fs::remove_file("/run/xcompose-firewall/iptables.rules");
        }
    };
    forget();
    firewall::add_network(&n).unwrap();
    forget();
    firewall::publish(&port).unwrap();
    forget();
    firewall::unpublish(&port).unwrap();
    forget();
    firewall::remove_network(&n).unwrap();
}

fn bench(c: &mut Criterion) {
    unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET).expect("the bench needs root: unshare");
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>).expect("making mounts private");
    mount(Some("tmpfs"), "/run", Some("tmpfs"), MsFlags::empty(), None::<&str>).expect("a private /run");
    let created = std::process::Command::new("ip").args(["link", "add", BRIDGE, "type", "bridge"]).status().expect("running ip");
    assert!(created.success(), "ip link add {BRIDGE} type bridge failed");

    let mut group = c.benchmark_group("firewall");
    group.sample_size(20);
    group.bench_function("network rules + one port, up and down (from the record)", |b| b.iter(|| life(false)));
    group.bench_function("the same, rules read back before each change (no record)", |b| b.iter(|| life(true)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
