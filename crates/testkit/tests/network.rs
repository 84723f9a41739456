//! Reachability inside a sandbox: loopback from inside only, the uplink address from the peer.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

use xcompose_testkit::Sandbox;

const TIMEOUT: Duration = Duration::from_secs(5);

/// Accepts one connection, echoes one line back, and returns the client's address.
fn echo_once(listener: TcpListener) -> JoinHandle<SocketAddr> {
    std::thread::spawn(move || {
        let (stream, client) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line).unwrap();
        (&stream).write_all(line.as_bytes()).unwrap();
        client
    })
}

/// Connects to `addr`, sends a line and returns the echo.
fn say_hello(addr: SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.write_all(b"hello\n")?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    Ok(line)
}

#[test]
fn loopback_listener_is_reachable_from_inside_only() {
    xcompose_testkit::require_root().unwrap();
    let sb = Sandbox::new().unwrap();
    let listener = sb
        .in_net(|| TcpListener::bind("127.0.0.1:0"))
        .unwrap()
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let server = echo_once(listener);
    assert_eq!(sb.in_net(|| say_hello(addr)).unwrap().unwrap(), "hello\n");
    assert!(server.join().unwrap().ip().is_loopback());

    // The host's loopback is another one: nothing listens there on that port.
    let from_host = TcpStream::connect_timeout(&addr, TIMEOUT);
    assert!(
        from_host.is_err(),
        "the sandbox's loopback listener was reached from the host"
    );
    // And the peer cannot reach it through the uplink address.
    let via_uplink = SocketAddr::new(sb.uplink_addr().into(), addr.port());
    let from_peer = sb
        .in_peer_net(|| TcpStream::connect_timeout(&via_uplink, TIMEOUT))
        .unwrap();
    assert_eq!(
        from_peer.map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::ConnectionRefused),
        "a 127.0.0.1 listener answered on the uplink"
    );
}

#[test]
fn uplink_listener_is_reachable_from_the_peer() {
    xcompose_testkit::require_root().unwrap();
    let sb = Sandbox::new().unwrap();
    assert_eq!(sb.uplink_addr().to_string(), "198.51.100.1");
    assert_eq!(sb.peer_addr().to_string(), "198.51.100.2");
    let bind = SocketAddr::new(sb.uplink_addr().into(), 0);
    let listener = sb.in_net(|| TcpListener::bind(bind)).unwrap().unwrap();
    let addr = listener.local_addr().unwrap();
    let server = echo_once(listener);
    assert_eq!(
        sb.in_peer_net(|| say_hello(addr)).unwrap().unwrap(),
        "hello\n"
    );
    assert_eq!(
        server.join().unwrap().ip(),
        std::net::IpAddr::from(sb.peer_addr())
    );
}

#[test]
fn programs_run_in_the_sandbox_and_the_peer_see_the_uplink() {
    xcompose_testkit::require_root().unwrap();
    let sb = Sandbox::new().unwrap();
    let inside = sb
        .run_ok(
            "ip",
            &["-o", "-4", "addr", "show", "dev", sb.uplink_ifname()],
        )
        .unwrap();
    assert!(inside.contains("inet 198.51.100.1/24"), "{inside}");
    let peer = sb
        .run_in_peer_ok("ip", &["-o", "-4", "addr", "show", "dev", sb.peer_ifname()])
        .unwrap();
    assert!(peer.contains("inet 198.51.100.2/24"), "{peer}");
    let route = sb.run_ok("ip", &["-4", "route"]).unwrap();
    assert!(
        !route.contains("default"),
        "the sandbox must have no default route: {route}"
    );

    // A TCP server started with `command` inside the sandbox, reached from the peer by a program.
    let mut server = sb
        .command("busybox")
        .args(["nc", "-l", "-p", "7777", "-e", "echo", "from-sandbox"])
        .spawn()
        .unwrap();
    let mut reply = String::new();
    let ok = common::wait_until(TIMEOUT, || {
        match sb.run_in_peer("busybox", &["nc", "-w", "2", "198.51.100.1", "7777"]) {
            Ok(out) if out.status.success() && !out.stdout.is_empty() => {
                reply = String::from_utf8_lossy(&out.stdout).into_owned();
                true
            }
            _ => false,
        }
    });
    assert!(ok, "the peer never reached the server in the sandbox");
    assert_eq!(reply, "from-sandbox\n");
    let _ = server.kill();
    server.wait().unwrap();
}

#[test]
fn run_ok_reports_command_status_and_output() {
    xcompose_testkit::require_root().unwrap();
    let sb = Sandbox::new().unwrap();
    assert_eq!(sb.run_ok("echo", &["ok"]).unwrap(), "ok\n");
    let output = sb.run("sh", &["-c", "exit 3"]).unwrap();
    assert_eq!(output.status.code(), Some(3));
    let message = sb
        .run_ok("sh", &["-c", "echo to-out; echo to-err >&2; exit 7"])
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("`sh -c 'echo to-out; echo to-err >&2; exit 7'`"),
        "{message}"
    );
    assert!(
        message.contains(&format!("sandbox {}", sb.id())),
        "{message}"
    );
    assert!(message.contains("exit status: 7"), "{message}");
    assert!(
        message.contains("to-out") && message.contains("to-err"),
        "{message}"
    );
    let peer_message = sb.run_in_peer_ok("false", &[]).unwrap_err().to_string();
    assert!(
        peer_message.contains("the peer of sandbox"),
        "{peer_message}"
    );
}
