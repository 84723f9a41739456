//! What happens inside a sandbox stays there: links, mounts, /run, the hostname.

mod common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::{host_links, host_mountinfo, link_names, wait_until, Proc};
use xcompose_testkit::Sandbox;

fn links_in_sandbox(sb: &Sandbox) -> std::collections::BTreeSet<String> {
    link_names(&sb.run_ok("ip", &["-o", "link"]).unwrap())
}

#[test]
fn bridge_and_veth_stay_inside_and_vanish_on_drop() {
    xcompose_testkit::require_root().unwrap();
    let before = host_links();
    // The observer holds the far end of a veth made inside `sb`: a veth pair is deleted when
    // either end's namespace is freed, so the end vanishing proves the namespace is gone.
    let observer = Sandbox::new().unwrap();
    let sb = Sandbox::new().unwrap();
    sb.run_ok("ip", &["link", "add", "xtkbr0", "type", "bridge"])
        .unwrap();
    sb.run_ok(
        "ip",
        &[
            "link", "add", "xtkva", "type", "veth", "peer", "name", "xtkvb",
        ],
    )
    .unwrap();
    sb.run_ok("ip", &["link", "set", "xtkva", "master", "xtkbr0"])
        .unwrap();
    sb.run_ok("ip", &["link", "set", "xtkbr0", "up"]).unwrap();
    let observer_pid = observer.pid().to_string();
    sb.run_ok(
        "ip",
        &[
            "link",
            "add",
            "xtkwa",
            "type",
            "veth",
            "peer",
            "name",
            "xtkwb",
            "netns",
            &observer_pid,
        ],
    )
    .unwrap();

    let inside = links_in_sandbox(&sb);
    for name in [
        "lo",
        "xtkbr0",
        "xtkva",
        "xtkvb",
        "xtkwa",
        sb.uplink_ifname(),
    ] {
        assert!(
            inside.contains(name),
            "{name} missing inside the sandbox: {inside:?}"
        );
    }
    assert!(
        !inside.contains(sb.peer_ifname()),
        "the peer's end is in the peer: {inside:?}"
    );
    assert!(links_in_sandbox(&observer).contains("xtkwb"));
    assert!(sb
        .run_in_peer_ok("ip", &["-o", "link"])
        .unwrap()
        .contains(sb.peer_ifname()));

    let during = host_links();
    for name in [
        "xtkbr0",
        "xtkva",
        "xtkvb",
        "xtkwa",
        "xtkwb",
        sb.uplink_ifname(),
        sb.peer_ifname(),
    ] {
        assert!(
            !during.contains(name),
            "{name} is visible on the host: {during:?}"
        );
    }
    assert_eq!(
        during, before,
        "the host's links changed while the sandbox was up"
    );

    let holders = [Proc::of(sb.pid()), Proc::of(sb.peer_pid())];
    let temp_dir = sb.temp_dir().to_path_buf();
    assert!(temp_dir.is_dir());
    drop(sb);

    assert!(
        wait_until(Duration::from_secs(10), || !links_in_sandbox(&observer)
            .contains("xtkwb")),
        "the sandbox's network namespace outlived the drop (its veth end is still in the observer)"
    );
    for holder in holders {
        assert!(
            !holder.alive(),
            "holder {} still runs after drop",
            holder.pid
        );
    }
    assert!(!temp_dir.exists(), "{} left behind", temp_dir.display());
    drop(observer);
    assert_eq!(host_links(), before, "the host's links changed");
}

#[test]
fn two_sandboxes_can_create_a_bridge_with_the_same_name_at_once() {
    xcompose_testkit::require_root().unwrap();
    let barrier = Arc::new(Barrier::new(2));
    let threads: Vec<_> = ["203.0.113.1/24", "203.0.113.2/24"]
        .into_iter()
        .map(|address| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let sb = Sandbox::new().unwrap();
                barrier.wait();
                sb.run_ok("ip", &["link", "add", "br-same", "type", "bridge"])
                    .unwrap();
                sb.run_ok("ip", &["addr", "add", address, "dev", "br-same"])
                    .unwrap();
                barrier.wait(); // both bridges exist now
                let addresses = sb
                    .run_ok("ip", &["-o", "-4", "addr", "show", "dev", "br-same"])
                    .unwrap();
                (sb.id().to_string(), address, addresses)
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_ne!(results[0].0, results[1].0, "both sandboxes got the same id");
    for (id, address, addresses) in &results {
        assert!(
            addresses.contains(address),
            "sandbox {id}: {address} missing: {addresses}"
        );
        let other = if *address == "203.0.113.1/24" {
            "203.0.113.2/24"
        } else {
            "203.0.113.1/24"
        };
        assert!(
            !addresses.contains(other),
            "sandbox {id} sees the other's bridge: {addresses}"
        );
    }
    assert!(!host_links().contains("br-same"));
}

#[test]
fn mounts_made_inside_are_not_visible_on_the_host() {
    xcompose_testkit::require_root().unwrap();
    let sb = Sandbox::new().unwrap();
    let marker = format!("xtk-mount-{}", sb.id());
    let dir = sb.root().join("mnt");
    std::fs::create_dir(&dir).unwrap();
    let dir_str = dir.to_str().unwrap();
    sb.run_ok("mount", &["-t", "tmpfs", &marker, dir_str])
        .unwrap();
    sb.run_ok("sh", &["-c", "echo inside >\"$1\"/file", "sh", dir_str])
        .unwrap();

    let inside = sb.run_ok("cat", &["/proc/self/mountinfo"]).unwrap();
    assert!(
        inside.contains(&marker),
        "the tmpfs is not mounted inside:\n{inside}"
    );
    assert!(
        !host_mountinfo().contains(&marker),
        "the tmpfs leaked to the host's mounts"
    );
    assert!(
        !dir.join("file").exists(),
        "the host sees the sandbox's tmpfs content"
    );
    assert_eq!(
        sb.run_ok("cat", &[&format!("{dir_str}/file")]).unwrap(),
        "inside\n"
    );

    // /run is a private tmpfs: a file made there inside is not on the host.
    let run_marker = format!("/run/xtk-{}", sb.id());
    sb.run_ok("touch", &[&run_marker]).unwrap();
    assert!(
        !std::path::Path::new(&run_marker).exists(),
        "{run_marker} leaked to the host"
    );
    let run_line = inside
        .lines()
        .find(|line| line.split(' ').nth(4) == Some("/run"))
        .unwrap_or_else(|| panic!("no mount on /run inside:\n{inside}"));
    assert!(
        run_line.contains(" - tmpfs "),
        "/run inside is not a tmpfs: {run_line}"
    );

    // The state root itself is shared: what the sandbox writes there, the test reads.
    sb.run_ok(
        "sh",
        &[
            "-c",
            "echo state >\"$1\"/state",
            "sh",
            sb.root().to_str().unwrap(),
        ],
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(sb.root().join("state")).unwrap(),
        "state\n"
    );

    drop(sb);
    assert!(!host_mountinfo().contains(&marker));
}

#[test]
fn hostname_and_sys_class_net_are_the_sandbox_s_own() {
    xcompose_testkit::require_root().unwrap();
    let host_hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let sb = Sandbox::new().unwrap();
    assert_eq!(
        sb.run_ok("cat", &["/proc/sys/kernel/hostname"]).unwrap(),
        format!("xtk-{}\n", sb.id())
    );
    assert_eq!(
        sb.run_in_peer_ok("cat", &["/proc/sys/kernel/hostname"])
            .unwrap(),
        format!("xtk-{}-peer\n", sb.id())
    );
    sb.run_ok(
        "sh",
        &["-c", "echo changed-inside >/proc/sys/kernel/hostname"],
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        host_hostname
    );

    sb.run_ok("ip", &["link", "add", "xtkbr1", "type", "bridge"])
        .unwrap();
    let sys: std::collections::BTreeSet<String> = sb
        .run_ok("ls", &["/sys/class/net"])
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let expected: std::collections::BTreeSet<String> = ["lo", "xtkbr1", sb.uplink_ifname()]
        .into_iter()
        .map(str::to_string)
        .collect();
    assert_eq!(sys, expected);
    assert!(sb
        .run_ok("cat", &["/sys/class/net/xtkbr1/bridge/stp_state"])
        .is_ok());
    // The rest of /sys, cgroups included, is still there.
    assert!(
        sb.run_ok("ls", &["/sys/fs/cgroup"])
            .unwrap()
            .lines()
            .count()
            > 0
    );
}

#[test]
fn names_are_unique_per_sandbox_and_fit_ifnamsiz() {
    xcompose_testkit::require_root().unwrap();
    let a = Sandbox::new().unwrap();
    let b = Sandbox::new().unwrap();
    assert_ne!(a.id(), b.id());
    assert_ne!(a.uplink_ifname(), b.uplink_ifname());
    assert_ne!(a.root(), b.root());
    for sb in [&a, &b] {
        assert!(
            sb.id().starts_with(&format!("{:x}x", std::process::id())),
            "{}",
            sb.id()
        );
        assert!(sb.uplink_ifname().len() <= 15 && sb.peer_ifname().len() <= 15);
        assert!(sb.root().is_dir());
        assert_eq!(
            std::fs::read_dir(sb.root()).unwrap().count(),
            0,
            "the root starts empty"
        );
    }
}
