//! The serving proxy (`xcompose __proxy --serve CONFIG`): listens on every forwarded address,
//! then writes its pid file, then forwards until killed. A TCP connection gets a connection of
//! its own to the target, each direction copied until its end (half-closes passed on); a UDP
//! client gets a socket of its own to the target, its replies sent back, dropped after
//! [`UDP_IDLE`] without any, as docker-proxy does.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::config::{pid_file, Forward, ProxyConfig, Transport};

/// How long a UDP client's socket is kept without a reply (docker-proxy's 90 s).
pub const UDP_IDLE: Duration = Duration::from_secs(90);
/// How long a connection to the target may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A bound listener of one forward.
enum Listener {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

/// Serves the config at `config_path` until killed; fails if an address cannot be listened on.
pub fn main(config_path: &Path) -> Result<i32, String> {
    let config = ProxyConfig::load(config_path)?;
    let listeners = config.forwards.iter().map(|f| listen(f).map(|l| (l, f.target))).collect::<Result<Vec<_>, String>>()?;
    let pid = pid_file(config_path);
    let tmp = pid.with_extension("pid.tmp");
    std::fs::write(&tmp, std::process::id().to_string()).and_then(|()| std::fs::rename(&tmp, &pid)).map_err(|e| format!("writing {}: {e}", pid.display()))?;
    let handles: Vec<_> = listeners
        .into_iter()
        .map(|(listener, target)| match listener {
            Listener::Tcp(l) => thread::spawn(move || forward_tcp(l, target)),
            Listener::Udp(s) => thread::spawn(move || forward_udp(s, target)),
        })
        .collect();
    for handle in handles {
        let _ = handle.join();
    }
    Ok(0)
}

fn listen(forward: &Forward) -> Result<Listener, String> {
    let failed = |e: io::Error| format!("listening on {} ({:?}): {e}", forward.listen, forward.transport);
    Ok(match forward.transport {
        Transport::Tcp => Listener::Tcp(TcpListener::bind(forward.listen).map_err(failed)?),
        Transport::Udp => Listener::Udp(UdpSocket::bind(forward.listen).map_err(failed)?),
    })
}

/// Forwards every connection `listener` accepts to `target`.
fn forward_tcp(listener: TcpListener, target: SocketAddr) {
    for client in listener.incoming().flatten() {
        thread::spawn(move || {
            // A target that does not answer: the client's connection is closed, as docker-proxy does.
            if let Ok(upstream) = TcpStream::connect_timeout(&target, CONNECT_TIMEOUT) {
                pipe(client, upstream);
            }
        });
    }
}

/// Copies both ways between `a` and `b` until both directions ended.
fn pipe(a: TcpStream, b: TcpStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else { return };
    let other = thread::spawn(move || copy_then_close(a2, b2));
    copy_then_close(b, a);
    let _ = other.join();
}

/// Copies `from` to `to` until `from` ends, then passes the end on (a half-close).
fn copy_then_close(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

/// Forwards the datagrams `socket` receives to `target`, each client through a socket of its own.
fn forward_udp(socket: UdpSocket, target: SocketAddr) {
    let socket = Arc::new(socket);
    let clients: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>> = Arc::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, client)) = socket.recv_from(&mut buf) else { continue };
        let known = clients.lock().unwrap_or_else(|p| p.into_inner()).get(&client).cloned();
        let upstream = match known {
            Some(upstream) => upstream,
            None => match udp_upstream(target) {
                Ok(upstream) => {
                    let upstream = Arc::new(upstream);
                    clients.lock().unwrap_or_else(|p| p.into_inner()).insert(client, upstream.clone());
                    let (socket, clients, replies) = (socket.clone(), clients.clone(), upstream.clone());
                    thread::spawn(move || {
                        let mut buf = vec![0u8; 65536];
                        while let Ok(n) = replies.recv(&mut buf) {
                            let _ = socket.send_to(&buf[..n], client);
                        }
                        clients.lock().unwrap_or_else(|p| p.into_inner()).remove(&client);
                    });
                    upstream
                }
                Err(_) => continue,
            },
        };
        let _ = upstream.send(&buf[..n]);
    }
}

/// A socket connected to `target`, its reads ending after [`UDP_IDLE`] without a reply.
fn udp_upstream(target: SocketAddr) -> io::Result<UdpSocket> {
    let local: SocketAddr = if target.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
    let socket = UdpSocket::bind(local)?;
    socket.connect(target)?;
    socket.set_read_timeout(Some(UDP_IDLE))?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn tcp_and_udp_are_forwarded_both_ways() {
        // Targets: a TCP echo of one line, a UDP echo.
        let tcp_target = TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp_addr = tcp_target.local_addr().unwrap();
        thread::spawn(move || {
            let (mut conn, _) = tcp_target.accept().unwrap();
            let mut text = String::new();
            conn.read_to_string(&mut text).unwrap();
            conn.write_all(format!("echo {text}").as_bytes()).unwrap();
        });
        let udp_target = UdpSocket::bind("127.0.0.1:0").unwrap();
        let udp_addr = udp_target.local_addr().unwrap();
        thread::spawn(move || {
            let mut buf = [0u8; 64];
            let (n, from) = udp_target.recv_from(&mut buf).unwrap();
            udp_target.send_to(&buf[..n], from).unwrap();
        });
        let tcp_listener = TcpListener::bind("[::1]:0").unwrap();
        let tcp_listen = tcp_listener.local_addr().unwrap();
        thread::spawn(move || forward_tcp(tcp_listener, tcp_addr));
        let udp_socket = UdpSocket::bind("[::1]:0").unwrap();
        let udp_listen = udp_socket.local_addr().unwrap();
        thread::spawn(move || forward_udp(udp_socket, udp_addr));

        let mut conn = TcpStream::connect(tcp_listen).unwrap();
        conn.write_all(b"hi").unwrap();
        conn.shutdown(Shutdown::Write).unwrap();
        let mut reply = String::new();
        conn.read_to_string(&mut reply).unwrap();
        assert_eq!(reply, "echo hi");

        let client = UdpSocket::bind("[::1]:0").unwrap();
        client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        client.send_to(b"ping", udp_listen).unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = client.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"ping"[..], udp_listen));
    }

    #[test]
    fn an_address_taken_is_an_error_naming_it() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let forward = Forward { transport: Transport::Tcp, listen: taken.local_addr().unwrap(), target: "127.0.0.1:1".parse().unwrap() };
        let err = listen(&forward).err().expect("the address is taken");
        assert!(err.starts_with(&format!("listening on {} (Tcp): ", forward.listen)), "{err}");
    }
}
