//! The server: UDP and TCP sockets on one address, served on a single-threaded event loop.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;

use crate::message::{handle, Outcome, Transport};
use crate::upstream::forward;
use crate::zone::Zone;
use crate::Error;

/// How many unknown names may be waiting for upstreams at once; past that, SERVFAIL at once, so a
/// flood of queries cannot pile up sockets and tasks.
const MAX_FORWARDS: usize = 256;

/// How many TCP clients may be connected at once; more are turned away.
const MAX_CONNECTIONS: usize = 64;

/// How long a TCP client may stay silent before it is disconnected.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// The largest datagram read from a client.
const MAX_DATAGRAM: usize = 65535;

/// A DNS server bound to its address, ready to [`run`](Server::run).
///
/// Binding and serving are separate so that the sockets can be made in one network namespace
/// (that of the thread calling [`Server::bind`]) and served from a thread of another. Upstream
/// queries use sockets made while serving, in the namespace of the thread calling
/// [`Server::run`].
#[derive(Debug)]
pub struct Server {
    listen: SocketAddr,
    udp: std::net::UdpSocket,
    tcp: std::net::TcpListener,
    zone: Zone,
    upstreams: Vec<SocketAddr>,
}

/// What the tasks of a running server share.
struct Shared {
    zone: Mutex<Zone>,
    upstreams: Vec<SocketAddr>,
    forwards: Semaphore,
}

impl Server {
    /// Binds UDP and TCP sockets on `listen`, to answer from the records file at `records` (which
    /// need not exist yet) and forward other names to `upstreams` (the server's own address is
    /// left out of them, so it never forwards to itself).
    pub fn bind(listen: SocketAddr, records: PathBuf, upstreams: Vec<SocketAddr>) -> Result<Server, Error> {
        let udp = std::net::UdpSocket::bind(listen).map_err(|source| Error::Bind { protocol: "udp", addr: listen, source })?;
        let tcp = std::net::TcpListener::bind(listen).map_err(|source| Error::Bind { protocol: "tcp", addr: listen, source })?;
        let upstreams = upstreams.into_iter().filter(|u| *u != listen).collect();
        Ok(Server { listen, udp, tcp, zone: Zone::new(records), upstreams })
    }

    /// Serves queries on the calling thread until `stop` completes (then `Ok`), or until the UDP
    /// socket fails.
    pub fn run(self, stop: impl Future<Output = ()>) -> Result<(), Error> {
        let listen = self.listen;
        let serve_err = |source| Error::Serve { addr: listen, source };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build().map_err(serve_err)?;
        runtime.block_on(async move {
            self.udp.set_nonblocking(true).map_err(serve_err)?;
            self.tcp.set_nonblocking(true).map_err(serve_err)?;
            let udp = Arc::new(UdpSocket::from_std(self.udp).map_err(serve_err)?);
            let tcp = TcpListener::from_std(self.tcp).map_err(serve_err)?;
            let shared = Arc::new(Shared {
                zone: Mutex::new(self.zone),
                upstreams: self.upstreams,
                forwards: Semaphore::new(MAX_FORWARDS),
            });
            tokio::select! {
                () = stop => Ok(()),
                result = serve_udp(udp, Arc::clone(&shared)) => result.map_err(serve_err),
                () = serve_tcp(tcp, shared) => Ok(()),
            }
        })
    }
}

/// Answers datagrams, each in a task of its own so that a forwarded query does not hold up the
/// others. Ends only if the socket fails.
async fn serve_udp(socket: Arc<UdpSocket>, shared: Arc<Shared>) -> std::io::Result<()> {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (len, client) = socket.recv_from(&mut buf).await?;
        let packet = buf[..len].to_vec();
        let socket = Arc::clone(&socket);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            if let Some(reply) = answer(&shared, &packet, Transport::Udp, client).await {
                // A client that went away is no concern of the server's.
                let _ = socket.send_to(&reply, client).await;
            }
        });
    }
}

/// Accepts TCP clients, each served in a task of its own, at most [`MAX_CONNECTIONS`] at once.
async fn serve_tcp(listener: TcpListener, shared: Arc<Shared>) {
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        match listener.accept().await {
            Ok((stream, client)) => {
                let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
                    continue;
                };
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    serve_connection(stream, &shared, client).await;
                    drop(permit);
                });
            }
            // Out of descriptors or memory, for now: try again shortly.
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Answers the length-prefixed queries of one TCP client until it closes, stays silent for
/// [`TCP_IDLE`], or sends something that is not a query.
async fn serve_connection(mut stream: TcpStream, shared: &Shared, client: SocketAddr) {
    loop {
        let mut len = [0u8; 2];
        if !matches!(tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut len)).await, Ok(Ok(_))) {
            return;
        }
        let mut packet = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if !matches!(tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut packet)).await, Ok(Ok(_))) {
            return;
        }
        let Some(reply) = answer(shared, &packet, Transport::Tcp, client).await else {
            return;
        };
        let Ok(reply_len) = u16::try_from(reply.len()) else {
            return;
        };
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&reply_len.to_be_bytes());
        framed.extend_from_slice(&reply);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
}

/// The reply to `packet` from `client`, from the zone or from an upstream (the client's own, if
/// it has some); `None` if it gets none.
async fn answer(shared: &Shared, packet: &[u8], transport: Transport, client: SocketAddr) -> Option<Vec<u8>> {
    let (outcome, upstreams) = {
        let mut zone = shared.zone.lock().unwrap_or_else(PoisonError::into_inner);
        let upstreams = zone.upstreams_of(client.ip()).unwrap_or_else(|| shared.upstreams.clone());
        (handle(&mut zone, packet, !upstreams.is_empty(), transport), upstreams)
    };
    match outcome {
        Outcome::Reply(reply) => Some(reply),
        Outcome::Ignore => None,
        Outcome::Forward { servfail } => {
            let Ok(_permit) = shared.forwards.try_acquire() else {
                return Some(servfail);
            };
            Some(forward(packet, &upstreams).await.unwrap_or(servfail))
        }
    }
}
