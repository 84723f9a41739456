//! Networking end to end, each test in its own sandbox (the test's "host", with a peer namespace
//! standing in for another machine on the LAN): published ports (tcp and udp, on every address
//! and on 127.0.0.1 only), NAT out of normal networks and none out of internal ones, services
//! reaching each other by name and alias, DNS over a scaled service and as containers go,
//! network modes, and nothing left after `down`.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use xcompose_testkit::Sandbox;

mod common;
use common::{project, sandbox_with_busybox, xcompose, XCOMPOSE};

const STACK: &str = r#"
services:
  web:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "echo hello > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
    ports: ["18081:80", "127.0.0.1:18082:80"]
    networks:
      default:
        aliases: [www]
  echo:
    # busybox has no UDP server: the host's python3, mounted read-only, answers datagrams.
    image: busybox:latest
    init: true
    command: ["/usr/bin/python3", "-c", "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('', 53))\nwhile True:\n    data, peer = s.recvfrom(512)\n    s.sendto(b'got:' + data, peer)"]
    volumes: ["/usr:/usr:ro", "/lib:/lib:ro", "/lib64:/lib64:ro"]
    ports: ["15353:53/udp"]
  out:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
  closed:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    networks: [private]
  replica:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    deploy: {replicas: 3}
networks:
  private:
    internal: true
"#;

fn succeeds(sb: &Sandbox, dir: &Path, args: &[&str]) -> Result<bool> {
    Ok(sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(args).output()?.status.success())
}

/// Every rule and custom chain of every iptables table (not the built-in chains' policies and
/// counters, which the first use of a table creates).
fn iptables_rules(sb: &Sandbox) -> Result<Vec<String>> {
    let saved = sb.run_ok("iptables-save", &[])?;
    Ok(saved.lines().filter(|l| l.starts_with("-A") || (l.starts_with(':') && l.contains(" - "))).map(str::to_string).collect())
}

fn links(sb: &Sandbox) -> Result<Vec<String>> {
    Ok(sb.run_ok("ip", &["-o", "link", "show"])?.lines().map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string()).collect())
}

/// `wget` of `url` from the sandbox (`peer` false) or from the peer, with a short timeout.
fn fetch(sb: &Sandbox, peer: bool, url: &str) -> Result<Option<String>> {
    // (busybox's own `wget -T` crashes; `timeout` bounds it instead.)
    let args = ["3", "busybox", "wget", "-q", "-O", "-", url];
    let out = if peer { sb.run_in_peer("timeout", &args)? } else { sb.run("timeout", &args)? };
    Ok(out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string()))
}

/// The addresses `name` resolves to inside `service`'s container.
fn resolve(sb: &Sandbox, dir: &Path, service: &str, name: &str) -> Result<Vec<String>> {
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["exec", "-T", service, "nslookup", name]).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // After the server's own "Address:" line, each answer is an "Address: a.b.c.d" line.
    let mut addresses: Vec<String> = text.lines().skip_while(|l| !l.starts_with("Name:")).filter_map(|l| l.strip_prefix("Address:")).map(|a| a.trim().to_string()).collect();
    addresses.sort();
    Ok(addresses)
}

#[test]
fn ports_nat_isolation_dns_and_a_clean_down() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "net", STACK)?;
    let rules_before = iptables_rules(&sb)?;
    let links_before = links(&sb)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let uplink = sb.uplink_addr();

    // A port published on every address answers on 127.0.0.1 and, from the peer, on the uplink.
    assert_eq!(fetch(&sb, false, "http://127.0.0.1:18081/index.html")?.as_deref(), Some("hello"));
    assert_eq!(fetch(&sb, true, &format!("http://{uplink}:18081/index.html"))?.as_deref(), Some("hello"));
    // One published on 127.0.0.1 only answers there, and not from the peer through the uplink.
    assert_eq!(fetch(&sb, false, "http://127.0.0.1:18082/index.html")?.as_deref(), Some("hello"));
    assert_eq!(fetch(&sb, true, &format!("http://{uplink}:18082/index.html"))?, None, "127.0.0.1-only port reachable from the LAN");
    // Hairpin: a container reaches a published port through the host's address.
    let hairpin = xcompose(&sb, &dir, &["exec", "-T", "out", "timeout", "3", "wget", "-q", "-O", "-", &format!("http://{uplink}:18081/index.html")])?;
    assert_eq!(hairpin.trim(), "hello");
    // udp, from the peer.
    let client = format!(
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.settimeout(3)\ns.sendto(b'ping', ('{uplink}', 15353))\nprint(s.recv(512).decode())"
    );
    let reply = String::from_utf8(sb.peer_command("python3").args(["-c", &client]).output()?.stdout)?;
    assert!(reply.contains("got:ping"), "udp reply through the published port: {reply:?}");
    assert_eq!(xcompose(&sb, &dir, &["port", "web", "80"])?.trim(), "0.0.0.0:18081");
    let ps = xcompose(&sb, &dir, &["ps"])?;
    assert!(ps.contains("0.0.0.0:18081->80/tcp, 127.0.0.1:18082->80/tcp") && ps.contains("0.0.0.0:15353->53/udp"), "{ps}");

    // Services on one network reach each other by service name and by alias.
    for name in ["web", "www", "net-web-1"] {
        let page = xcompose(&sb, &dir, &["exec", "-T", "out", "timeout", "3", "wget", "-q", "-O", "-", &format!("http://{name}/index.html")])?;
        assert_eq!(page.trim(), "hello", "out reaches web as {name}");
    }

    // A normal network reaches the LAN, masqueraded; an internal one does not.
    let peer = sb.peer_addr().to_string();
    assert!(succeeds(&sb, &dir, &["exec", "-T", "out", "ping", "-c", "1", "-W", "2", &peer])?, "default network reaches the peer");
    assert!(!succeeds(&sb, &dir, &["exec", "-T", "closed", "ping", "-c", "1", "-W", "1", &peer])?, "internal network reaches the peer");
    // Different networks are isolated from each other.
    let closed_ip = xcompose(&sb, &dir, &["exec", "-T", "closed", "hostname", "-i"])?.trim().to_string();
    assert!(!succeeds(&sb, &dir, &["exec", "-T", "out", "ping", "-c", "1", "-W", "1", &closed_ip])?, "default network reaches the internal one");
    // Names of other networks do not resolve.
    assert!(resolve(&sb, &dir, "out", "closed")?.is_empty(), "closed is on another network");

    // A scaled service resolves to every replica; removed replicas leave DNS.
    assert_eq!(resolve(&sb, &dir, "out", "replica")?.len(), 3, "three replicas");
    xcompose(&sb, &dir, &["up", "-d", "--scale", "replica=1"])?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while resolve(&sb, &dir, "out", "replica")?.len() != 1 {
        assert!(Instant::now() < deadline, "scaled-down replicas still resolve");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(resolve(&sb, &dir, "out", "net-replica-3")?.is_empty(), "a removed container's name is gone");
    assert_eq!(resolve(&sb, &dir, "out", "net-replica-1")?.len(), 1);

    xcompose(&sb, &dir, &["down"])?;
    assert_eq!(iptables_rules(&sb)?, rules_before, "no iptables rule or chain left");
    assert_eq!(links(&sb)?, links_before, "no bridge or veth left");
    let dns = std::process::Command::new("pgrep").args(["-a", "-f", &format!("__dns {}", sb.root().display())]).output()?;
    assert!(dns.stdout.is_empty(), "no DNS server left: {}", String::from_utf8_lossy(&dns.stdout));
    Ok(())
}

#[test]
fn a_port_in_use_fails_up_with_a_clear_message() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "net", STACK)?;
    // Something on the host already listens on web's port.
    let mut listener = sb.command("busybox").args(["nc", "-l", "-p", "18081"]).spawn()?;
    std::thread::sleep(Duration::from_millis(200));
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["up", "-d"]).output()?;
    let _ = listener.kill();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Bind for 0.0.0.0:18081 failed: port is already allocated"), "{stderr}");
    // Once the port is free, the same command converges.
    listener.wait()?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    assert_eq!(fetch(&sb, false, "http://127.0.0.1:18081/index.html")?.as_deref(), Some("hello"));
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

/// `network_mode`: `service:` shares the other service's namespace (same address), `none` has
/// only a loopback, `host` serves on the host's (here the sandbox's) own addresses; `dns:`
/// sends a container's unknown names to its own resolvers; `down` leaves no link behind.
#[test]
fn network_modes_and_own_resolvers() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(
        &sb,
        "modes",
        r#"
services:
  app:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
  side:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    network_mode: "service:app"
  alone:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    network_mode: none
  hosted:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "echo on-host > /tmp/index.html; exec httpd -f -p 127.0.0.1:18090 -h /tmp"]
    network_mode: host
  asker:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    dns: ["127.0.0.54"]
"#,
    )?;
    // The resolver `asker` names: a fake on the sandbox's loopback answering 192.0.2.99 to
    // every A query.
    let fake = "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('127.0.0.54', 53))\nwhile True:\n    q, a = s.recvfrom(512)\n    end = q.index(0, 12) + 5\n    is_a = q[end - 4:end - 2] == bytes([0, 1])\n    answer = bytes([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 99]) if is_a else b''\n    s.sendto(q[:2] + bytes([0x81, 0x80]) + q[4:6] + bytes([0, 1 if is_a else 0, 0, 0, 0, 0]) + q[12:end] + answer, a)";
    let mut upstream = sb.command("python3").args(["-c", fake]).spawn()?;
    let links_before = links(&sb)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let addresses = |service: &str| -> Result<Vec<String>> {
        let out = xcompose(&sb, &dir, &["exec", "-T", service, "ip", "-o", "-4", "addr", "show"])?;
        Ok(out.lines().filter_map(|l| l.split_whitespace().nth(3)).map(str::to_string).collect())
    };
    let app = addresses("app")?;
    assert_eq!(app.len(), 2, "loopback and one network: {app:?}");
    assert_eq!(addresses("side")?, app, "side shares app's network namespace");
    assert_eq!(addresses("alone")?, vec!["127.0.0.1/8".to_string()], "network_mode none: loopback only");
    let alone_links = xcompose(&sb, &dir, &["exec", "-T", "alone", "ip", "-o", "link", "show"])?;
    assert_eq!(alone_links.lines().count(), 1, "{alone_links}");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut served = None;
    while served.is_none() && Instant::now() < deadline {
        served = fetch(&sb, false, "http://127.0.0.1:18090/index.html")?;
    }
    assert_eq!(served.as_deref(), Some("on-host"), "network_mode host serves on the host's loopback");
    assert_eq!(xcompose(&sb, &dir, &["exec", "-T", "hosted", "hostname"])?, sb.run_ok("hostname", &[])?, "and takes the host's name");
    // `dns:` resolvers answer a container's names the project does not know; its service names
    // still resolve on the network.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut asked = String::new();
    while !asked.contains("192.0.2.99") && Instant::now() < deadline {
        // (The fake may still be starting: nslookup fails until it answers.)
        asked = xcompose(&sb, &dir, &["exec", "-T", "asker", "nslookup", "elsewhere.test"]).unwrap_or_else(|e| e.to_string());
    }
    let _ = upstream.kill();
    let _ = upstream.wait();
    assert!(asked.contains("192.0.2.99"), "{asked}");
    let app_ip = app[1].split('/').next().unwrap_or_default().to_string();
    assert!(xcompose(&sb, &dir, &["exec", "-T", "asker", "nslookup", "app"])?.contains(&app_ip));
    xcompose(&sb, &dir, &["down"])?;
    assert_eq!(links(&sb)?, links_before, "down leaves no bridge or veth");
    Ok(())
}
