//! The firewall's record of its rules, in a forked sandbox (fresh network namespace, a private
//! tmpfs on /run): changes planned from the record leave the kernel's rules as planned from
//! `iptables-save`, a missing record is rebuilt from the kernel, and a record the kernel
//! disagrees with (rules deleted behind xcompose's back) does not make teardown fail or leak.

use std::process::Command;

use nix::mount::{mount, MsFlags};
use xcompose_network::firewall::{self, NetworkRules, PortMapping, Protocol};
use xcompose_testkit::in_forked_sandbox;

const BRIDGE: &str = "xc-0123456789ab";
const RECORD: &str = "/run/xcompose-firewall/iptables.rules";

fn network() -> NetworkRules {
    NetworkRules { bridge: BRIDGE.into(), subnet: "172.31.0.0/24".parse().unwrap(), subnet6: None, internal: false, masquerade: true, icc: true }
}

fn mapping(host_port: u16) -> PortMapping {
    PortMapping { protocol: Protocol::Tcp, host_ip: None, host_port, container_ip: "172.31.0.2".parse().unwrap(), container_port: 80, bridge: BRIDGE.into() }
}

fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program).args(args).output().map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// xcompose's rules and chains as the kernel has them.
fn kernel_rules() -> Result<Vec<String>, String> {
    let save = run("iptables-save", &[])?;
    Ok(save.lines().filter(|l| l.contains("XCOMPOSE-")).map(|l| l.split(" [").next().unwrap_or(l).to_string()).collect())
}

fn ensure(condition: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(what()) }
}

fn setup() -> Result<(), String> {
    mount(Some("tmpfs"), "/run", Some("tmpfs"), MsFlags::empty(), None::<&str>).map_err(|e| format!("tmpfs on /run: {e}"))?;
    run("ip", &["link", "add", BRIDGE, "type", "bridge"]).map(drop)
}

#[test]
fn changes_from_the_record_match_the_kernels_rules_and_teardown_leaves_nothing() {
    in_forked_sandbox(|| {
        setup()?;
        let n = network();
        firewall::add_network(&n).map_err(|e| e.to_string())?;
        ensure(std::path::Path::new(RECORD).exists(), || "no record after the first change".into())?;
        firewall::publish(&[mapping(8080)]).map_err(|e| e.to_string())?;
        let rules = kernel_rules()?;
        ensure(rules.iter().any(|r| r.contains("--dport 8080 -j DNAT --to-destination 172.31.0.2:80")), || format!("no DNAT rule: {rules:#?}"))?;
        // The port is taken as the record says, without reading the kernel's rules.
        ensure(!firewall::port_is_free(Protocol::Tcp, None, 8080).map_err(|e| e.to_string())?, || "8080 counted free while published".into())?;
        ensure(firewall::publish(&[mapping(8080)]).is_ok(), || "publishing the same mapping twice failed".into())?;

        // Without a record, the kernel's rules are read back: adding again duplicates nothing.
        std::fs::remove_file(RECORD).map_err(|e| e.to_string())?;
        firewall::add_network(&n).map_err(|e| e.to_string())?;
        ensure(kernel_rules()? == rules, || format!("re-adding changed the rules: {:#?}", kernel_rules()))?;

        firewall::unpublish(&[mapping(8080)]).map_err(|e| e.to_string())?;
        firewall::remove_network(&n).map_err(|e| e.to_string())?;
        let left = kernel_rules()?;
        ensure(left.is_empty(), || format!("rules left after teardown: {left:#?}"))
    });
}

#[test]
fn networks_removed_together_leave_nothing_and_keep_the_others() {
    in_forked_sandbox(|| {
        setup()?;
        let second = NetworkRules { bridge: "xc-ba9876543210".into(), subnet: "172.31.1.0/24".parse().unwrap(), ..network() };
        let third = NetworkRules { bridge: "xc-aa9876543210".into(), subnet: "172.31.2.0/24".parse().unwrap(), ..network() };
        for n in [&second, &third] {
            run("ip", &["link", "add", &n.bridge, "type", "bridge"])?;
        }
        for n in [&network(), &second, &third] {
            firewall::add_network(n).map_err(|e| e.to_string())?;
        }
        firewall::remove_networks(&[network(), second.clone()]).map_err(|e| e.to_string())?;
        let left = kernel_rules()?;
        ensure(!left.iter().any(|r| r.contains(BRIDGE) || r.contains(&second.bridge)), || format!("rules of removed networks left: {left:#?}"))?;
        ensure(left.iter().any(|r| r == &format!("-A XCOMPOSE-FORWARD -o {} -j ACCEPT", third.bridge)), || format!("the kept network lost its rules: {left:#?}"))?;
        firewall::remove_networks(&[third]).map_err(|e| e.to_string())?;
        let left = kernel_rules()?;
        ensure(left.is_empty(), || format!("rules left after the last network: {left:#?}"))
    });
}

#[test]
fn a_record_the_kernel_disagrees_with_does_not_break_teardown() {
    in_forked_sandbox(|| {
        setup()?;
        let n = network();
        firewall::add_network(&n).map_err(|e| e.to_string())?;
        firewall::publish(&[mapping(8081)]).map_err(|e| e.to_string())?;
        // Deleted behind xcompose's back: the recorded batch's -D of it fails.
        run("iptables", &["-t", "filter", "-D", "XCOMPOSE-FORWARD", "-o", BRIDGE, "-j", "ACCEPT"])?;
        run("iptables", &["-t", "nat", "-D", "XCOMPOSE-DNAT", "-p", "tcp", "-m", "tcp", "--dport", "8081", "-j", "DNAT", "--to-destination", "172.31.0.2:80"])?;
        firewall::unpublish(&[mapping(8081)]).map_err(|e| e.to_string())?;
        firewall::remove_network(&n).map_err(|e| e.to_string())?;
        let left = kernel_rules()?;
        ensure(left.is_empty(), || format!("rules left after teardown: {left:#?}"))?;
        // The record was rebuilt: the next network starts from nothing and is set up whole.
        firewall::add_network(&n).map_err(|e| e.to_string())?;
        let rules = kernel_rules()?;
        ensure(rules.iter().any(|r| r == &format!("-A XCOMPOSE-FORWARD -o {BRIDGE} -j ACCEPT")), || format!("network not set up again: {rules:#?}"))
    });
}

#[test]
fn ports_are_published_together_or_not_at_all() {
    in_forked_sandbox(|| {
        setup()?;
        let n = network();
        firewall::add_network(&n).map_err(|e| e.to_string())?;
        let before = kernel_rules()?;
        // The same host port twice in one call: refused, and nothing of the call is published.
        let err = firewall::publish(&[mapping(8082), mapping(8083), PortMapping { container_port: 81, ..mapping(8083) }]).err().map(|e| e.to_string());
        ensure(err.as_deref() == Some("Bind for 0.0.0.0:8083 failed: port is already allocated"), || format!("unexpected result: {err:?}"))?;
        ensure(kernel_rules()? == before, || format!("a refused call changed the rules: {:#?}", kernel_rules()))?;

        firewall::publish(&[mapping(8082), mapping(8083)]).map_err(|e| e.to_string())?;
        let rules = kernel_rules()?;
        for port in [8082, 8083] {
            ensure(rules.iter().any(|r| r.contains(&format!("--dport {port} -j DNAT"))), || format!("{port} not published: {rules:#?}"))?;
        }
        firewall::unpublish(&[mapping(8082), mapping(8083)]).map_err(|e| e.to_string())?;
        ensure(kernel_rules()? == before, || format!("rules left after unpublishing: {:#?}", kernel_rules()))
    });
}

#[test]
fn the_isolation_jump_matches_the_bridge_group_and_replaces_the_old_name_pattern() {
    in_forked_sandbox(|| {
        setup()?;
        let n = network();
        firewall::add_network(&n).map_err(|e| e.to_string())?;
        let jump = "-A XCOMPOSE-FORWARD -m devgroup --src-group 0x7863 --dst-group 0x7863 -j XCOMPOSE-ISOLATION";
        let old = "-A XCOMPOSE-FORWARD -i xc-+ -o xc-+ -j XCOMPOSE-ISOLATION";
        ensure(kernel_rules()?.iter().filter(|r| *r == jump).count() == 1, || format!("no group jump: {:#?}", kernel_rules()))?;
        // The rules an earlier xcompose made, read back after a new version's first change.
        run("iptables", &["-t", "filter", "-A", "XCOMPOSE-FORWARD", "-i", "xc-+", "-o", "xc-+", "-j", "XCOMPOSE-ISOLATION"])?;
        std::fs::remove_file(RECORD).map_err(|e| e.to_string())?;
        firewall::add_network(&n).map_err(|e| e.to_string())?;
        let rules = kernel_rules()?;
        ensure(rules.iter().filter(|r| *r == jump).count() == 1 && !rules.iter().any(|r| r == old), || format!("old jump kept or new one duplicated: {rules:#?}"))?;
        firewall::remove_network(&n).map_err(|e| e.to_string())?;
        let left = kernel_rules()?;
        ensure(left.is_empty(), || format!("rules left after teardown: {left:#?}"))
    });
}

#[test]
fn networks_added_together_get_the_rules_they_get_one_by_one() {
    in_forked_sandbox(|| {
        setup()?;
        let second_bridge = "xc-ba9876543210";
        run("ip", &["link", "add", second_bridge, "type", "bridge"])?;
        let networks = [network(), NetworkRules { bridge: second_bridge.into(), subnet: "172.31.1.0/24".parse().unwrap(), icc: false, ..network() }];
        for n in &networks {
            firewall::add_network(n).map_err(|e| e.to_string())?;
        }
        let one_by_one = kernel_rules()?;
        for n in &networks {
            firewall::remove_network(n).map_err(|e| e.to_string())?;
        }
        ensure(kernel_rules()?.is_empty(), || format!("rules left: {:#?}", kernel_rules()))?;

        firewall::add_networks(&networks).map_err(|e| e.to_string())?;
        let together = kernel_rules()?;
        ensure(together == one_by_one, || format!("together {together:#?}\none by one {one_by_one:#?}"))?;
        // Again: nothing is added twice.
        firewall::add_networks(&networks).map_err(|e| e.to_string())?;
        ensure(kernel_rules()? == one_by_one, || format!("rules added twice: {:#?}", kernel_rules()))?;
        for n in &networks {
            firewall::remove_network(n).map_err(|e| e.to_string())?;
        }
        ensure(kernel_rules()?.is_empty(), || format!("rules left: {:#?}", kernel_rules()))
    });
}

#[test]
fn a_record_that_missed_a_change_adds_no_jump_twice() {
    in_forked_sandbox(|| {
        setup()?;
        let n = network();
        firewall::add_network(&n).map_err(|e| e.to_string())?;
        firewall::remove_network(&n).map_err(|e| e.to_string())?;
        let empty = std::fs::read_to_string(RECORD).map_err(|e| e.to_string())?;
        firewall::add_network(&n).map_err(|e| e.to_string())?;
        let added = kernel_rules()?;
        // A command killed after its `iptables-restore` and before writing the record left
        // the record of the rules before.
        std::fs::write(RECORD, &empty).map_err(|e| e.to_string())?;
        firewall::add_network(&n).map_err(|e| e.to_string())?;
        ensure(kernel_rules()? == added, || format!("rules added again: {:#?}", kernel_rules()))?;
        firewall::remove_network(&n).map_err(|e| e.to_string())?;
        ensure(kernel_rules()?.is_empty(), || format!("rules left: {:#?}", kernel_rules()))
    });
}
