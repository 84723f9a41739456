//! A forwarded TCP port: every connection the host's listener accepts gets a connection of its
//! own to the target inside the namespace, both directions copied until each ends.

use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;

use super::inside::Inside;

/// A TCP port being forwarded.
pub(super) struct TcpForward {
    listener: TcpListener,
}

impl TcpForward {
    /// Forwards the connections `listener` accepts to `target` in `inside`'s namespace.
    pub(super) fn start(listener: TcpListener, target: SocketAddr, inside: Inside) -> std::io::Result<Self> {
        let accepting = listener.try_clone()?;
        std::thread::spawn(move || accept_loop(accepting, target, inside));
        Ok(Self { listener })
    }

    /// Stops accepting; the port is free again (connections made keep going until they end).
    pub(super) fn stop(&self) {
        // Shutting a listening socket down ends the accept loop's accept() with EINVAL.
        let _ = nix::sys::socket::shutdown(self.listener.as_raw_fd(), nix::sys::socket::Shutdown::Both);
    }
}

/// Accepts connections on `listener` until it is shut down, each spliced to `target`.
fn accept_loop(listener: TcpListener, target: SocketAddr, inside: Inside) {
    while let Ok((client, _)) = listener.accept() {
        let inside = inside.clone();
        std::thread::spawn(move || {
            // A target that does not answer: the client's connection is closed (docker-proxy's way).
            if let Ok(server) = inside.connect_tcp(target) {
                splice(client, server);
            }
        });
    }
}

/// Copies both ways between `a` and `b` until each side has closed.
fn splice(a: TcpStream, b: TcpStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else { return };
    std::thread::spawn(move || copy_then_close(a, b));
    copy_then_close(b2, a2);
}

/// Copies `from` to `to`, then ends `to`'s writing half.
fn copy_then_close(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}
