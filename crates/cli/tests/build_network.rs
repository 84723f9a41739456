//! RUN's networks end to end in a sandbox, on the busybox test image: the default network is a
//! bridge of the builder's own with an address per step, NATed out (the sandbox's peer, which
//! has no route back to the build subnet, answers only through masquerade); `none` has only
//! loopback; `host` is the host's. Nothing is left after a build, and a killed build's veth pair
//! and address are freed by the next build or by `builder prune`.

use std::net::Ipv4Addr;
use std::path::Path;

use anyhow::{ensure, Context, Result};
use xcompose_testkit::Sandbox;

mod common;
#[path = "common/killed_build.rs"]
mod killed_build;
use common::{project, sandbox_with_busybox, xcompose, XCOMPOSE};
use killed_build::kill_build_once_started;

/// Runs xcompose on the project in `dir`: (success, stdout and stderr together).
fn compose(sb: &Sandbox, dir: &Path, args: &[&str]) -> Result<(bool, String)> {
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(args).output()?;
    Ok((out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))))
}

/// `xcompose build`, which must succeed; its output.
fn build(sb: &Sandbox, dir: &Path) -> Result<String> {
    let (ok, output) = compose(sb, dir, &["build"])?;
    ensure!(ok, "xcompose build failed:\n{output}");
    Ok(output)
}

/// The RUN output lines starting with `tag ` (BuildKit's `#N 0.123 ` prefix dropped), without
/// the tag.
fn tagged(output: &str, tag: &str) -> Vec<String> {
    let prefix = format!("{tag} ");
    output.lines().filter_map(|l| l.splitn(3, ' ').nth(2)).filter_map(|l| l.strip_prefix(&prefix)).map(String::from).collect()
}

/// `(address, prefix length)` of `a.b.c.d/n`.
fn cidr(text: &str) -> Result<(Ipv4Addr, u8)> {
    let (address, prefix) = text.split_once('/').with_context(|| format!("not an address/prefix: {text}"))?;
    Ok((address.parse()?, prefix.parse()?))
}

fn same_subnet(a: Ipv4Addr, b: Ipv4Addr, prefix: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    u32::from(a) & mask == u32::from(b) & mask
}

/// The sandbox's interface names (`eth0@if5` read as `eth0`).
fn links(sb: &Sandbox) -> Result<Vec<String>> {
    let out = sb.run_ok("ip", &["-o", "link", "show"])?;
    Ok(out.lines().filter_map(|l| l.split(": ").nth(1)).map(|n| n.split('@').next().unwrap_or(n).to_string()).collect())
}

/// What RUN steps leave: veth pairs (`xv...`), pinned namespaces or snapshots under the state
/// root, build addresses held in IPAM. Empty when nothing is left.
fn leftovers(sb: &Sandbox) -> Result<Vec<String>> {
    let mut left: Vec<String> = links(sb)?.into_iter().filter(|l| l.starts_with("xv")).collect();
    let tmp = sb.root().join("builder/tmp");
    if tmp.exists() {
        left.extend(std::fs::read_dir(&tmp)?.map(|e| Ok(format!("snapshot {}", e?.path().display()))).collect::<Result<Vec<_>>>()?);
    }
    let mounts = sb.run_ok("cat", &["/proc/self/mountinfo"])?;
    left.extend(mounts.lines().filter(|l| l.contains(tmp.to_str().unwrap_or("-"))).map(|l| format!("mount {l}")));
    for entry in std::fs::read_dir(sb.root().join("ipam")).into_iter().flatten() {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let state: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
            if state["addresses"].as_object().is_some_and(|a| !a.is_empty()) {
                left.push(format!("addresses in {}: {}", path.display(), state["addresses"]));
            }
        }
    }
    Ok(left)
}

/// An HTTP server in the sandbox's peer (198.51.100.2:18080) serving `hello.txt`; killed on drop.
struct PeerServer(std::process::Child);

impl PeerServer {
    fn start(sb: &Sandbox) -> Result<Self> {
        let www = sb.temp_dir().join("www");
        std::fs::create_dir_all(&www)?;
        std::fs::write(www.join("hello.txt"), "hello from the peer\n")?;
        let address = format!("{}:18080", sb.peer_addr());
        let child = sb.peer_command("busybox").args(["httpd", "-f", "-p", &address, "-h"]).arg(&www).spawn()?;
        for _ in 0..100 {
            if sb.run("busybox", &["wget", "-q", "-O", "/dev/null", &format!("http://{address}/hello.txt")])?.status.success() {
                return Ok(Self(child));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        anyhow::bail!("the peer's HTTP server did not answer on {address}")
    }
}

impl Drop for PeerServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const NETWORKS: &str = r#"FROM busybox:latest
RUN ip -o -4 addr show | awk '{print "addr", $2, $4}'; ip -o link show | awk -F': ' '{print "link", $2}'; ip route | sed 's/^/route /'; sed 's/^/resolv /' /etc/resolv.conf; sed 's/^/hosts /' /etc/hosts; printf 'GET /hello.txt HTTP/1.0\r\n\r\n' | nc -w 10 198.51.100.2 18080 | tail -n 1 | sed 's/^/fetched /'
RUN --network=none ip -o link show | awk -F': ' '{print "none-link", $2}'
RUN --network=host ip -o link show | awk -F': ' '{print "host-link", $2}'
"#;

#[test]
fn run_steps_get_a_nated_build_network_none_or_the_hosts() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let _server = PeerServer::start(&sb)?;
    let dir = project(&sb, "netted", "services:\n  app:\n    build: .\n")?;
    std::fs::write(dir.join("Dockerfile"), NETWORKS)?;
    let output = build(&sb, &dir)?;

    let step_links: Vec<String> = tagged(&output, "link").iter().map(|l| l.split('@').next().unwrap_or(l).to_string()).collect();
    assert_eq!(step_links, ["lo", "eth0"], "a default-network step has loopback and its own eth0, none of the host's links:\n{output}");
    let addresses = tagged(&output, "addr");
    let eth0 = addresses.iter().find_map(|a| a.strip_prefix("eth0 ")).with_context(|| format!("no eth0 address:\n{output}"))?;
    let (address, prefix) = cidr(eth0)?;
    let routes = tagged(&output, "route");
    let gateway: Ipv4Addr = routes.iter().find_map(|r| r.strip_prefix("default via ")).and_then(|r| r.split_whitespace().next()).with_context(|| format!("no default route:\n{output}"))?.parse()?;

    // The gateway is the build bridge's address, in the step's subnet, on a bridge of its own.
    let host_addresses = sb.run_ok("ip", &["-o", "-4", "addr", "show"])?;
    let bridge = host_addresses
        .lines()
        .find(|l| l.contains(&format!(" {gateway}/{prefix} ")))
        .and_then(|l| l.split_whitespace().nth(1))
        .with_context(|| format!("no host interface holds the gateway {gateway}/{prefix}:\n{host_addresses}"))?;
    assert!(bridge.starts_with("xc-"), "the gateway is on the build bridge, not {bridge}");
    // In compose bridges' group (0x7863): the firewall isolates it from compose networks.
    let shown = sb.run_ok("ip", &["-o", "link", "show", "dev", bridge])?;
    assert!(shown.contains(" group 30819 "), "the build bridge is not in xcompose's group: {shown}");
    assert!(same_subnet(address, gateway, prefix) && address != gateway, "the step's {address} is an address of the build subnet {gateway}/{prefix}");
    assert!(!same_subnet(address, sb.uplink_addr(), 24), "the build subnet is not the host's uplink subnet");

    assert_eq!(tagged(&output, "fetched"), ["hello from the peer"], "the peer, with no route back to the build subnet, answered through NAT:\n{output}");
    let resolv = tagged(&output, "resolv");
    let nameservers: Vec<&String> = resolv.iter().filter(|l| l.starts_with("nameserver ")).collect();
    assert!(!nameservers.is_empty() && nameservers.iter().all(|n| !n.contains("127.") && !n.contains(':')), "resolv.conf names reachable IPv4 nameservers only: {resolv:?}");
    let hosts = tagged(&output, "hosts");
    assert!(hosts.iter().any(|h| h.starts_with("127.0.0.1") && h.contains("localhost") && h.contains("buildkitsandbox")), "/etc/hosts has localhost and the step's name: {hosts:?}");

    assert_eq!(tagged(&output, "none-link"), ["lo"], "--network=none has loopback only:\n{output}");
    let host_links: Vec<String> = tagged(&output, "host-link").iter().map(|l| l.split('@').next().unwrap_or(l).to_string()).collect();
    assert!(host_links.contains(&sb.uplink_ifname().to_string()) && host_links.contains(&bridge.to_string()), "--network=host sees the host's links ({}, {bridge}): {host_links:?}", sb.uplink_ifname());

    assert_eq!(leftovers(&sb)?, Vec::<String>::new(), "the build leaves no veth, namespace, snapshot or address");
    Ok(())
}

/// Starts a build whose default-network RUN sleeps, waits for the step to run, kills the build.
fn kill_mid_run(sb: &Sandbox, dir: &Path) -> Result<()> {
    std::fs::write(dir.join("Dockerfile"), "FROM busybox:latest\nRUN echo started && sleep 7179\n")?;
    kill_build_once_started(sb, dir)?;
    ensure!(!leftovers(sb)?.is_empty(), "the killed build left its step's network behind");
    Ok(())
}

#[test]
fn a_killed_builds_network_is_freed_by_the_next_build_or_prune() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "killednet", "services:\n  app:\n    build: .\n")?;
    kill_mid_run(&sb, &dir)?;
    std::fs::write(dir.join("Dockerfile"), "FROM busybox:latest\nRUN echo next\n")?;
    build(&sb, &dir)?;
    assert_eq!(leftovers(&sb)?, Vec::<String>::new(), "the next build freed the killed one's veth, namespace and address");

    kill_mid_run(&sb, &dir)?;
    xcompose(&sb, &dir, &["builder", "prune", "-f"])?;
    assert_eq!(leftovers(&sb)?, Vec::<String>::new(), "builder prune freed them");
    let bridges: Vec<String> = links(&sb)?.into_iter().filter(|l| l.starts_with("xc-")).collect();
    assert!(bridges.is_empty(), "builder prune removed the unused build bridge: {bridges:?}");
    Ok(())
}
