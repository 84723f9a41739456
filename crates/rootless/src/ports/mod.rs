//! Published ports on the host's addresses (rootlesskit's "builtin" port driver): a port agent
//! started with the holder lives in the holder's user namespace but the host's network
//! namespace. It listens on the host's address and port of each published port, TCP or UDP,
//! IPv4 or IPv6 ([`host`]), and forwards what arrives to the container's address and port in
//! the holder's network namespace, from sockets made there ([`inside`]): each TCP connection
//! gets a connection of its own ([`tcp`]), each UDP client a flow of its own ([`udp`]). The
//! container sees the traffic coming from the user's namespace, not from the client's address
//! (rootlesskit's builtin driver does the same; slirp4netns's too).
//!
//! Commands reach the agent over a unix socket in the runtime directory, one line each:
//! `add PROTOCOL HOST_IP:PORT TARGET_IP:PORT` / `remove PROTOCOL HOST_IP:PORT`, answered `ok`
//! or `error: MESSAGE`.

mod host;
mod inside;
mod tcp;
mod udp;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use inside::Inside;
use tcp::TcpForward;
use udp::UdpForward;

/// The agent's socket of this process's holder, set when the process joined it.
static AGENT_SOCKET: OnceLock<PathBuf> = OnceLock::new();

/// The agent's socket in `runtime_dir`.
pub(crate) fn socket_path(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join("ports.sock")
}

/// Remembers the agent's socket for [`forward`] and [`unforward`] of this process.
pub(crate) fn remember(socket: PathBuf) {
    let _ = AGENT_SOCKET.set(socket);
}

/// Makes the published `protocol` (`tcp` or `udp`) port `host` reachable on the host's address,
/// forwarded to `target` (the container's address and port) in the user's network namespace
/// (rootless mode; nothing to do otherwise).
pub fn forward(protocol: &str, host: SocketAddr, target: SocketAddr) -> Result<(), String> {
    request(&format!("add {protocol} {host} {target}"))
}

/// Stops forwarding what [`forward`] started (nothing to do outside rootless mode).
pub fn unforward(protocol: &str, host: SocketAddr) -> Result<(), String> {
    request(&format!("remove {protocol} {host}"))
}

/// Sends `line` to this process's agent and reads its answer.
fn request(line: &str) -> Result<(), String> {
    let Some(socket) = AGENT_SOCKET.get() else { return Ok(()) };
    let failed = |e: std::io::Error| format!("the rootless port agent ({}): {e}; kill the holder (its pid is in holder.pid next to it) to start both again", socket.display());
    let mut stream = UnixStream::connect(socket).map_err(failed)?;
    stream.write_all(format!("{line}\n").as_bytes()).map_err(failed)?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).map_err(failed)?;
    match answer.trim().strip_prefix("error: ") {
        Some(message) => Err(message.to_string()),
        None => Ok(()),
    }
}

/// A port being forwarded.
enum Forward {
    Tcp(TcpForward),
    Udp(UdpForward),
}

impl Forward {
    fn stop(&self) {
        match self {
            Forward::Tcp(tcp) => tcp.stop(),
            Forward::Udp(udp) => udp.stop(),
        }
    }
}

/// The agent's forwards by protocol and host address, each with its target.
type Forwards = HashMap<(String, SocketAddr), (SocketAddr, Forward)>;

/// The agent (`xcompose __rootless-ports SOCKET HOLDER_PID`): serves `socket` until the holder
/// `holder` is gone.
pub fn serve(socket: &Path, holder: u32) -> Result<(), String> {
    let inside = Inside::join(holder)?;
    let _ = std::fs::remove_file(socket);
    let listener = UnixListener::bind(socket).map_err(|e| format!("listening on {}: {e}", socket.display()))?;
    std::thread::spawn(move || {
        while Path::new(&format!("/proc/{holder}")).exists() {
            std::thread::sleep(Duration::from_secs(1));
        }
        std::process::exit(0);
    });
    let mut forwards = Forwards::new();
    for stream in listener.incoming().flatten() {
        let mut line = String::new();
        let Ok(mut reader) = stream.try_clone().map(BufReader::new) else { continue };
        if reader.read_line(&mut line).is_err() {
            continue;
        }
        let answer = match handle(line.trim(), &mut forwards, &inside) {
            Ok(()) => "ok\n".to_string(),
            Err(e) => format!("error: {e}\n"),
        };
        let _ = (&stream).write_all(answer.as_bytes());
    }
    Ok(())
}

/// Carries out one request line.
fn handle(line: &str, forwards: &mut Forwards, inside: &Inside) -> Result<(), String> {
    let bad = || format!("bad request {line:?}");
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (protocol, host, target) = match fields[..] {
        ["add", protocol, host, target] => (protocol, host, Some(target)),
        ["remove", protocol, host] => (protocol, host, None),
        _ => return Err(bad()),
    };
    let host: SocketAddr = host.parse().map_err(|_| bad())?;
    let key = (protocol.to_string(), host);
    let Some(target) = target else {
        if let Some((_, forward)) = forwards.remove(&key) {
            forward.stop();
        }
        return Ok(());
    };
    let target: SocketAddr = target.parse().map_err(|_| bad())?;
    match forwards.get(&key) {
        Some((known, _)) if *known == target => return Ok(()),
        Some((known, _)) => return Err(format!("Bind for {host} failed: port is already allocated (forwarded to {known})")),
        None => {}
    }
    let failed = |e: std::io::Error| format!("Bind for {host} failed: {e}");
    let forward = match protocol {
        "tcp" => Forward::Tcp(TcpForward::start(host::tcp_listener(host).map_err(failed)?, target, inside.clone()).map_err(failed)?),
        "udp" => Forward::Udp(UdpForward::start(host::udp_socket(host).map_err(failed)?, target, inside.clone())),
        other => return Err(format!("port {host}/{other}: the rootless port agent forwards tcp and udp ports")),
    };
    forwards.insert(key, (target, forward));
    Ok(())
}
