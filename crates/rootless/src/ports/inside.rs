//! Sockets of the holder's network namespace, made for the port agent (which lives in the
//! host's): a thread of the agent joins the namespace once and makes sockets there on request. A
//! socket belongs to the namespace it was made in, so the caller's thread connects and uses it.

use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::mpsc::{channel, Sender};
use std::time::Duration;

use nix::sched::{setns, CloneFlags};
use socket2::{Domain, Socket, Type};

/// How long a connection to a target may take (docker-proxy's 5 s).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A request for a socket of `family` and `kind`, answered on its sender.
type Request = (Domain, Type, Sender<io::Result<Socket>>);

/// The thread in the holder's network namespace making sockets there.
#[derive(Clone)]
pub(super) struct Inside {
    requests: Sender<Request>,
}

impl Inside {
    /// Starts a thread joined to the network namespace of process `holder`.
    pub(super) fn join(holder: u32) -> Result<Self, String> {
        let path = format!("/proc/{holder}/ns/net");
        let netns = File::open(&path).map_err(|e| format!("opening {path}: {e}"))?;
        let (requests, incoming) = channel::<Request>();
        let (ready, joined) = channel();
        std::thread::spawn(move || {
            let _ = ready.send(setns(netns, CloneFlags::CLONE_NEWNET).map_err(|e| format!("joining the holder's network namespace: {e}")));
            for (family, kind, reply) in incoming {
                let _ = reply.send(Socket::new(family, kind, None));
            }
        });
        joined.recv().map_err(|e| e.to_string())??;
        Ok(Self { requests })
    }

    /// A new socket of `kind` for `target`'s family, made in the namespace.
    fn socket(&self, target: SocketAddr, kind: Type) -> io::Result<Socket> {
        let (reply, answer) = channel();
        let gone = || io::Error::other("the port agent's namespace thread is gone");
        self.requests.send((Domain::for_address(target), kind, reply)).map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }

    /// A TCP connection to `target` inside the namespace.
    pub(super) fn connect_tcp(&self, target: SocketAddr) -> io::Result<TcpStream> {
        let socket = self.socket(target, Type::STREAM)?;
        socket.connect_timeout(&target.into(), CONNECT_TIMEOUT)?;
        Ok(socket.into())
    }

    /// A UDP socket inside the namespace, connected to `target`.
    pub(super) fn connect_udp(&self, target: SocketAddr) -> io::Result<UdpSocket> {
        let socket = UdpSocket::from(self.socket(target, Type::DGRAM)?);
        socket.connect(target)?;
        Ok(socket)
    }
}
