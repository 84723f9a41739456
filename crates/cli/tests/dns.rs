//! The project's resolver end to end, each test in its own sandbox: containers ask 127.0.0.11 in
//! their own network namespace, so a service may publish host port 53 (and listen on port 53
//! itself) while its peers resolve it by name, alias and container name; a container on two
//! networks resolves the names of both; unknown names go to the host's resolver, even one on the
//! host's loopback; a killed resolver and its keeper are started again by the next `up`; `down`, or `rm` of the
//! last container, leaves no resolver process or file behind.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use xcompose_testkit::Sandbox;

mod common;
use common::{project, sandbox_with_busybox, xcompose};

/// A DNS server of the container's own, pihole-style, from the host's python3 mounted
/// read-only: on port 53 of every address, UDP and TCP, it answers `udp:` or `tcp:` and what it
/// got (no SO_REUSEADDR: the port must be free in the container).
const OWN_SERVER: &str = "import socket, threading\n\
def tcp():\n    t = socket.socket()\n    t.bind(('', 53))\n    t.listen()\n    while True:\n        c, _ = t.accept()\n        c.sendall(b'tcp:' + c.recv(512))\n        c.close()\n\
threading.Thread(target=tcp, daemon=True).start()\n\
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nu.bind(('', 53))\n\
while True:\n    d, p = u.recvfrom(512)\n    u.sendto(b'udp:' + d, p)\n";

/// The addresses `name` resolves to inside `service`'s container, asking the nameserver of its
/// /etc/resolv.conf with the image's busybox (the pihole service has the host's /usr); empty if
/// it does not resolve.
fn resolve(sb: &Sandbox, dir: &Path, service: &str, name: &str) -> Result<Vec<String>> {
    let out = sb.command(common::XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["exec", "-T", service, "/bin/busybox", "nslookup", name]).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // After the server's own "Address:" line, each answer is an "Address: a.b.c.d" line.
    let mut addresses: Vec<String> = text.lines().skip_while(|l| !l.starts_with("Name:")).filter_map(|l| l.strip_prefix("Address:")).map(|a| a.trim().to_string()).collect();
    addresses.sort();
    Ok(addresses)
}

/// The IPv4 address of `service`'s container on its network whose addresses start with
/// `prefix` (`ip -o -4 addr`), loopback left out.
fn address_on(sb: &Sandbox, dir: &Path, service: &str, prefix: &str) -> Result<String> {
    let out = xcompose(sb, dir, &["exec", "-T", service, "ip", "-o", "-4", "addr", "show"])?;
    out.lines()
        .filter_map(|l| l.split_whitespace().nth(3))
        .filter_map(|a| a.split('/').next())
        .find(|a| a.starts_with(prefix) && !a.starts_with("127."))
        .map(str::to_string)
        .with_context(|| format!("{service} has no address in {prefix}*: {out}"))
}

/// The directory of the project's resolver.
fn resolver_dir(sb: &Sandbox, project: &str) -> PathBuf {
    sb.root().join("dns").join(project)
}

/// Resolver processes of the sandbox's state root (keepers and the resolvers they run).
fn resolver_processes(sb: &Sandbox) -> Result<String> {
    let out = std::process::Command::new("pgrep").args(["-a", "-f", &format!("__dns (--serve )?{}", sb.root().display())]).output()?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Sends `payload` to 127.0.0.1:53 of the sandbox over `protocol`; the reply.
fn ask_host_port_53(sb: &Sandbox, protocol: &str, payload: &str) -> Result<String> {
    let script = match protocol {
        "udp" => format!("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.settimeout(3)\ns.sendto(b'{payload}', ('127.0.0.1', 53))\nprint(s.recv(512).decode())"),
        _ => format!("import socket\ns = socket.create_connection(('127.0.0.1', 53), timeout=3)\ns.sendall(b'{payload}')\nprint(s.recv(512).decode())"),
    };
    Ok(String::from_utf8(sb.command("python3").args(["-c", &script]).output()?.stdout)?.trim().to_string())
}

#[test]
fn a_service_publishing_port_53_comes_up_and_its_peers_resolve_through_127_0_0_11() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(
        &sb,
        "pi",
        &format!(
            r#"
services:
  pihole:
    image: busybox:latest
    init: true
    command: ["/usr/bin/python3", "-c", {server:?}]
    volumes: ["/usr:/usr:ro", "/lib:/lib:ro", "/lib64:/lib64:ro"]
    ports: ["53:53/udp", "53:53/tcp"]
    networks:
      default:
        aliases: [dns-alias]
  client:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
  searcher:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    dns_search: [corp.example]
    dns_opt: [timeout:2]
"#,
            server = OWN_SERVER
        ),
    )?;
    xcompose(&sb, &dir, &["up", "-d"])?;

    // Host port 53 leads to the service's own server, over UDP and TCP.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut reply = String::new();
    while reply != "udp:ping" && Instant::now() < deadline {
        reply = ask_host_port_53(&sb, "udp", "ping")?;
    }
    assert_eq!(reply, "udp:ping", "host port 53/udp");
    assert_eq!(ask_host_port_53(&sb, "tcp", "ping")?, "tcp:ping", "host port 53/tcp");

    // Docker's resolv.conf for user-defined networks, with `dns_search` and `dns_opt`.
    let resolv = xcompose(&sb, &dir, &["exec", "-T", "searcher", "cat", "/etc/resolv.conf"])?;
    assert_eq!(resolv, "nameserver 127.0.0.11\nsearch corp.example\noptions timeout:2 ndots:0\n");
    // Peers resolve each other by service name, alias and container name, both ways, the one
    // with port 53 of its own included.
    let pihole = address_on(&sb, &dir, "pihole", "")?;
    for name in ["pihole", "dns-alias", "pi-pihole-1"] {
        assert_eq!(resolve(&sb, &dir, "client", name)?, vec![pihole.clone()], "client resolves {name}");
    }
    let client = address_on(&sb, &dir, "client", "")?;
    assert_eq!(resolve(&sb, &dir, "pihole", "pi-client-1")?, vec![client], "pihole resolves its peer while listening on 53");

    xcompose(&sb, &dir, &["down"])?;
    assert_eq!(resolver_processes(&sb)?, "", "no resolver left after down");
    assert!(!sb.root().join("dns").exists(), "the resolver's files are left after down");
    Ok(())
}

#[test]
fn a_container_on_two_networks_resolves_the_names_of_both() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(
        &sb,
        "two",
        r#"
services:
  front:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    networks: [front]
  back:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    networks: [back]
  both:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    networks: [front, back]
  shared:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    network_mode: "service:both"
networks:
  front:
    ipam: {config: [{subnet: 10.91.0.0/24}]}
  back:
    ipam: {config: [{subnet: 10.92.0.0/24}]}
"#,
    )?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let front = address_on(&sb, &dir, "front", "10.91.")?;
    let back = address_on(&sb, &dir, "back", "10.92.")?;
    assert_eq!(resolve(&sb, &dir, "both", "front")?, vec![front], "both resolves front");
    assert_eq!(resolve(&sb, &dir, "both", "back")?, vec![back.clone()], "both resolves back");
    // Each peer gets the address on the network it shares with `both`.
    assert_eq!(resolve(&sb, &dir, "front", "both")?, vec![address_on(&sb, &dir, "both", "10.91.")?]);
    assert_eq!(resolve(&sb, &dir, "back", "both")?, vec![address_on(&sb, &dir, "both", "10.92.")?]);
    // Names of a network a container is not on do not resolve.
    assert!(resolve(&sb, &dir, "front", "back")?.is_empty(), "front resolves back");
    // A container sharing `both`'s namespace shares its resolv.conf and its names.
    assert_eq!(xcompose(&sb, &dir, &["exec", "-T", "shared", "cat", "/etc/resolv.conf"])?, "nameserver 127.0.0.11\noptions ndots:0\n");
    assert_eq!(resolve(&sb, &dir, "shared", "back")?, vec![back]);
    // Removing some containers keeps the resolver for the others; removing the last stops it.
    xcompose(&sb, &dir, &["rm", "-s", "-f", "shared", "front"])?;
    assert_eq!(resolve(&sb, &dir, "both", "front")?, Vec::<String>::new(), "a removed container still resolves");
    assert_eq!(resolve(&sb, &dir, "back", "both")?.len(), 1, "the resolver went with some containers");
    xcompose(&sb, &dir, &["rm", "-s", "-f"])?;
    assert_eq!(resolver_processes(&sb)?, "", "no resolver left once no container is");
    assert!(!sb.root().join("dns").exists(), "the resolver's files are left once no container is");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

#[test]
fn unknown_names_go_to_the_hosts_loopback_resolver_and_a_killed_resolver_comes_back_with_up() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    // The "host" resolves through a resolver on its own loopback, as with systemd-resolved: a
    // fake on 127.0.0.53 answering 192.0.2.53 to every A query.
    let resolv_conf = sb.temp_dir().join("host-resolv.conf");
    std::fs::write(&resolv_conf, "nameserver 127.0.0.53\noptions edns0\n")?;
    sb.run_ok("mount", &["--bind", resolv_conf.to_str().unwrap(), "/etc/resolv.conf"])?;
    let fake = "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('127.0.0.53', 53))\nwhile True:\n    q, a = s.recvfrom(512)\n    end = q.index(0, 12) + 5\n    is_a = q[end - 4:end - 2] == bytes([0, 1])\n    answer = bytes([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 53]) if is_a else b''\n    s.sendto(q[:2] + bytes([0x81, 0x80]) + q[4:6] + bytes([0, 1 if is_a else 0, 0, 0, 0, 0]) + q[12:end] + answer, a)";
    let mut upstream = sb.command("python3").args(["-c", fake]).spawn()?;
    let dir = project(
        &sb,
        "fwd",
        r#"
services:
  app:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
  host:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    network_mode: host
"#,
    )?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    // The host's options are kept, ndots:0 added.
    assert_eq!(xcompose(&sb, &dir, &["exec", "-T", "app", "cat", "/etc/resolv.conf"])?, "nameserver 127.0.0.11\noptions edns0 ndots:0\n");
    // network_mode host keeps the host's resolv.conf.
    assert_eq!(xcompose(&sb, &dir, &["exec", "-T", "host", "cat", "/etc/resolv.conf"])?, "nameserver 127.0.0.53\noptions edns0\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut answer = Vec::new();
    while answer.is_empty() && Instant::now() < deadline {
        // (The fake may still be starting.)
        answer = resolve(&sb, &dir, "app", "elsewhere.test")?;
    }
    assert_eq!(answer, vec!["192.0.2.53".to_string()], "forwarded to the host's loopback resolver");

    // A killed resolver and its keeper: names fail until the next `up` starts it again (a
    // resolver killed alone is started again by its keeper, see reliability.rs).
    // The keeper's pid is in its lock file (the resolver, its fork, has the same command line).
    let keeper = std::fs::read_to_string(resolver_dir(&sb, "fwd").join("dns.keeper"))?.trim().to_string();
    sb.run_ok("kill", &["-9", &keeper])?;
    let pid_file = resolver_dir(&sb, "fwd").join("dns.pid");
    let pid = std::fs::read_to_string(&pid_file)?.trim().to_string();
    sb.run_ok("kill", &["-9", &pid])?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while resolver_processes(&sb)?.contains(&format!("{pid} ")) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(resolve(&sb, &dir, "app", "app")?.is_empty(), "a dead resolver answered");
    xcompose(&sb, &dir, &["up", "-d"])?;
    let app = address_on(&sb, &dir, "app", "")?;
    assert_eq!(resolve(&sb, &dir, "app", "app")?, vec![app], "the resolver is back after up");
    assert_eq!(resolve(&sb, &dir, "app", "elsewhere.test")?, vec!["192.0.2.53".to_string()]);
    let _ = upstream.kill();
    let _ = upstream.wait();

    xcompose(&sb, &dir, &["down"])?;
    assert_eq!(resolver_processes(&sb)?, "", "no resolver left after down");
    assert!(!sb.root().join("dns").exists(), "the resolver's files are left after down");
    Ok(())
}
