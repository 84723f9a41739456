//! Published ports on the host's addresses (rootlesskit's "builtin" port driver): a port agent
//! started with the holder lives in the holder's user namespace but the host's network
//! namespace. It listens on the host's address and port of each published TCP port and, for
//! every connection, connects to the same address and port in the holder's network namespace
//! (loopback for a port published on all addresses; from a thread that joined the namespace),
//! where the project's DNAT takes it to the container as it does as root. The container sees the connection coming from the user's namespace, not from the
//! client's address (rootlesskit's builtin driver does the same; slirp4netns's too).
//!
//! Commands reach the agent over a unix socket in the runtime directory, one line each:
//! `add tcp IP PORT` / `remove tcp IP PORT`, answered `ok` or `error: MESSAGE`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use nix::sched::{setns, CloneFlags};

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

/// Makes the published `protocol` port `host_ip:port` reachable on the host's address (rootless
/// mode; nothing to do otherwise). Only TCP is forwarded.
pub fn forward(protocol: &str, host_ip: IpAddr, port: u16) -> Result<(), String> {
    request(&format!("add {protocol} {host_ip} {port}"))
}

/// Stops forwarding what [`forward`] started (nothing to do outside rootless mode).
pub fn unforward(protocol: &str, host_ip: IpAddr, port: u16) -> Result<(), String> {
    request(&format!("remove {protocol} {host_ip} {port}"))
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

/// The agent (`xcompose __rootless-ports SOCKET HOLDER_PID`): serves `socket` until the holder
/// `holder` is gone.
pub fn serve(socket: &Path, holder: u32) -> Result<(), String> {
    let connector = connector(holder)?;
    let _ = std::fs::remove_file(socket);
    let listener = UnixListener::bind(socket).map_err(|e| format!("listening on {}: {e}", socket.display()))?;
    std::thread::spawn(move || {
        while Path::new(&format!("/proc/{holder}")).exists() {
            std::thread::sleep(Duration::from_secs(1));
        }
        std::process::exit(0);
    });
    let forwards: Arc<Mutex<HashMap<SocketAddr, TcpListener>>> = Arc::default();
    for stream in listener.incoming().flatten() {
        let mut line = String::new();
        let Ok(mut reader) = stream.try_clone().map(BufReader::new) else { continue };
        if reader.read_line(&mut line).is_err() {
            continue;
        }
        let answer = match handle(line.trim(), &forwards, &connector) {
            Ok(()) => "ok\n".to_string(),
            Err(e) => format!("error: {e}\n"),
        };
        let _ = (&stream).write_all(answer.as_bytes());
    }
    Ok(())
}

/// A request to connect to an address inside the holder's network namespace.
type ConnectRequest = (SocketAddr, Sender<std::io::Result<TcpStream>>);

/// A thread in the holder's network namespace making connections there.
fn connector(holder: u32) -> Result<Sender<ConnectRequest>, String> {
    let path = format!("/proc/{holder}/ns/net");
    let netns = File::open(&path).map_err(|e| format!("opening {path}: {e}"))?;
    let (requests, incoming) = channel::<ConnectRequest>();
    let (ready, joined) = channel();
    std::thread::spawn(move || {
        let _ = ready.send(setns(netns, CloneFlags::CLONE_NEWNET).map_err(|e| format!("joining the holder's network namespace: {e}")));
        for (address, reply) in incoming {
            let _ = reply.send(TcpStream::connect(address));
        }
    });
    joined.recv().map_err(|e| e.to_string())??;
    Ok(requests)
}

/// Carries out one request line.
fn handle(line: &str, forwards: &Arc<Mutex<HashMap<SocketAddr, TcpListener>>>, connector: &Sender<ConnectRequest>) -> Result<(), String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [verb, protocol, ip, port] = fields[..] else { return Err(format!("bad request {line:?}")) };
    let address = SocketAddr::new(ip.parse().map_err(|_| format!("bad address {ip:?}"))?, port.parse().map_err(|_| format!("bad port {port:?}"))?);
    if protocol != "tcp" {
        return Err(format!("port {address}/{protocol}: rootless mode forwards TCP ports only; publish it over TCP"));
    }
    let mut forwards = forwards.lock().map_err(|_| "the port table is poisoned".to_string())?;
    match verb {
        "add" => {
            if forwards.contains_key(&address) {
                return Ok(());
            }
            let listener = TcpListener::bind(address).map_err(|e| format!("Bind for {address} failed: {e}"))?;
            let accepting = listener.try_clone().map_err(|e| e.to_string())?;
            forwards.insert(address, listener);
            let connector = connector.clone();
            // Inside, the port is reached on loopback: the project's rules take it from there.
            let inside = SocketAddr::new(if address.ip().is_unspecified() { IpAddr::V4(Ipv4Addr::LOCALHOST) } else { address.ip() }, address.port());
            std::thread::spawn(move || accept_loop(accepting, inside, connector));
            Ok(())
        }
        "remove" => {
            if let Some(listener) = forwards.remove(&address) {
                // Shutting a listening socket down ends the accept loop's accept() with EINVAL.
                let _ = nix::sys::socket::shutdown(listener.as_raw_fd(), nix::sys::socket::Shutdown::Both);
            }
            Ok(())
        }
        _ => Err(format!("bad request {line:?}")),
    }
}

/// Accepts connections on `listener` until it is shut down, each spliced to `inside`.
fn accept_loop(listener: TcpListener, inside: SocketAddr, connector: Sender<ConnectRequest>) {
    while let Ok((client, _)) = listener.accept() {
        let (reply, answer) = channel();
        if connector.send((inside, reply)).is_err() {
            return;
        }
        let Ok(Ok(server)) = answer.recv() else { continue };
        splice(client, server);
    }
}

/// Copies both ways between `a` and `b` until each side has closed.
fn splice(a: TcpStream, b: TcpStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else { return };
    std::thread::spawn(move || copy_then_close(a, b));
    std::thread::spawn(move || copy_then_close(b2, a2));
}

/// Copies `from` to `to`, then ends `to`'s writing half.
fn copy_then_close(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}
