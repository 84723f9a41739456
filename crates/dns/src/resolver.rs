//! The resolver: for every client container, a UDP socket and a TCP listener answering
//! [`crate::RESOLVER_ADDRESS`] inside its network namespace, all served by one single-threaded event
//! loop in the host's namespace; and the control socket through which the orchestrator has it
//! serve a container as its client file says, or stop serving one whose file is gone.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::client::{client_file, Client};
use crate::message::{handle, Outcome, Transport};
use crate::netns::{bind_in, Listeners, NamespaceId};
use crate::upstream::forward;
use crate::zone::Zones;
use crate::Error;

/// How many unknown names may be waiting for upstreams at once; past that, SERVFAIL at once, so a
/// flood of queries cannot pile up sockets and tasks.
const MAX_FORWARDS: usize = 256;

/// How many TCP clients may be connected at once, over all containers; more are turned away.
const MAX_CONNECTIONS: usize = 64;

/// How long a TCP client, or a caller of the control socket, may stay silent before it is
/// disconnected.
const IDLE: Duration = Duration::from_secs(10);

/// The largest datagram read from a client.
const MAX_DATAGRAM: usize = 65535;

/// The request of the control socket: `sync ID\n`, answered `ok\n` or `error MESSAGE\n`.
pub(crate) const SYNC: &str = "sync ";

/// A resolver with its control socket bound and its clients served, ready to
/// [`run`](Resolver::run).
#[derive(Debug)]
pub struct Resolver {
    runtime: tokio::runtime::Runtime,
    control: std::os::unix::net::UnixListener,
    control_path: PathBuf,
    clients: Arc<Mutex<Clients>>,
}

/// The containers served, by id.
#[derive(Debug)]
struct Clients {
    dir: PathBuf,
    shared: Arc<Shared>,
    served: HashMap<String, Served>,
}

/// What the tasks of all containers share.
#[derive(Debug)]
struct Shared {
    zones: Mutex<Zones>,
    /// The host's resolvers, for containers without their own.
    upstreams: Vec<SocketAddr>,
    forwards: Semaphore,
    connections: Arc<Semaphore>,
}

/// One container served: its namespace, its client file as last read, its two tasks.
#[derive(Debug)]
struct Served {
    namespace: NamespaceId,
    client: Arc<Mutex<Arc<Client>>>,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for Served {
    /// Closes the container's sockets, which would otherwise keep its namespace alive.
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

impl Resolver {
    /// Binds the control socket at `control` (replacing one a resolver that died left there)
    /// and serves every container whose client file is in `clients`; one that cannot be served
    /// (its namespace is gone) is left out, with a line on standard error. Names a container's
    /// networks do not know go to its own resolvers, or else to `upstreams`.
    pub fn start(clients: &Path, control: &Path, upstreams: Vec<SocketAddr>) -> Result<Resolver, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            // The threads making sockets in namespaces are seldom needed: none waits idle.
            .thread_keep_alive(Duration::from_millis(10))
            .build()
            .map_err(Error::Serve)?;
        let control_err = |source| Error::Control { path: control.to_path_buf(), source };
        match std::fs::remove_file(control) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(control_err(e)),
            _ => {}
        }
        let listener = std::os::unix::net::UnixListener::bind(control).map_err(control_err)?;
        let shared = Arc::new(Shared {
            zones: Mutex::new(Zones::default()),
            upstreams,
            forwards: Semaphore::new(MAX_FORWARDS),
            connections: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
        });
        let mut served = Clients { dir: clients.to_path_buf(), shared, served: HashMap::new() };
        {
            let _context = runtime.enter();
            for id in client_ids(clients)? {
                if let Err(e) = served.sync(&id) {
                    eprintln!("xcompose dns: not serving container {id}: {e}");
                }
            }
        }
        Ok(Resolver { runtime, control: listener, control_path: control.to_path_buf(), clients: Arc::new(Mutex::new(served)) })
    }

    /// Serves on the calling thread until `stop` completes; then closes every socket and removes
    /// the control socket's file.
    pub fn run(self, stop: impl Future<Output = ()>) -> Result<(), Error> {
        let Resolver { runtime, control, control_path, clients } = self;
        let result = runtime.block_on(async move {
            control.set_nonblocking(true).map_err(Error::Serve)?;
            let control = UnixListener::from_std(control).map_err(Error::Serve)?;
            tokio::select! {
                () = stop => {}
                () = serve_control(control, Arc::clone(&clients)) => {}
            }
            // The containers' tasks go with the runtime; their sockets with them.
            clients.lock().unwrap_or_else(PoisonError::into_inner).served.clear();
            Ok(())
        });
        drop(runtime);
        let _ = std::fs::remove_file(&control_path);
        result
    }
}

/// The ids of the client files in `dir` (none if there is no such directory).
fn client_ids(dir: &Path) -> Result<Vec<String>, Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::Read { path: dir.to_path_buf(), source }),
    };
    Ok(entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.strip_suffix(".json").map(str::to_string))
        .filter(|id| !id.starts_with('.'))
        .collect())
}

/// What syncing a container takes once its client file is read.
enum Pending {
    /// Nothing more: it is served as its file says, or no longer served.
    Done,
    /// Sockets in its network namespace, which is new to the resolver.
    Bind(Arc<Client>),
}

impl Clients {
    /// Serves container `id` as its client file now says, binding its sockets on the calling
    /// thread if its namespace is new to the resolver, or stops serving it if the file is gone.
    fn sync(&mut self, id: &str) -> Result<(), Error> {
        match self.prepare(id)? {
            Pending::Done => Ok(()),
            Pending::Bind(client) => {
                let bound = bind_in(&client.netns)?;
                self.serve(id, client, bound)
            }
        }
    }

    /// Reads the client file of container `id` and applies it where no socket needs making: a
    /// file gone stops the container being served, a file changed for the same namespace changes
    /// what it is served.
    fn prepare(&mut self, id: &str) -> Result<Pending, Error> {
        let Some(client) = Client::load(&client_file(&self.dir, id)?)? else {
            self.served.remove(id);
            self.forget_unused_zones();
            return Ok(Pending::Done);
        };
        let client = Arc::new(client);
        let namespace = std::fs::metadata(&client.netns).ok().map(|m| (m.dev(), m.ino()));
        if let Some(served) = self.served.get(id).filter(|s| Some(s.namespace) == namespace) {
            *served.client.lock().unwrap_or_else(PoisonError::into_inner) = client;
            self.forget_unused_zones();
            return Ok(Pending::Done);
        }
        Ok(Pending::Bind(client))
    }

    /// Serves container `id` of `client` on the sockets `bound` in its namespace (instead of
    /// any it was served on before).
    fn serve(&mut self, id: &str, client: Arc<Client>, (namespace, listeners): (NamespaceId, Listeners)) -> Result<(), Error> {
        listeners.udp.set_nonblocking(true).map_err(Error::Serve)?;
        listeners.tcp.set_nonblocking(true).map_err(Error::Serve)?;
        let udp = Arc::new(UdpSocket::from_std(listeners.udp).map_err(Error::Serve)?);
        let tcp = TcpListener::from_std(listeners.tcp).map_err(Error::Serve)?;
        let client = Arc::new(Mutex::new(client));
        let tasks = [
            tokio::spawn(serve_udp(udp, Arc::clone(&self.shared), Arc::clone(&client))),
            tokio::spawn(serve_tcp(tcp, Arc::clone(&self.shared), Arc::clone(&client))),
        ];
        self.served.insert(id.to_string(), Served { namespace, client, tasks });
        self.forget_unused_zones();
        Ok(())
    }

    /// Drops the zones of networks no container served is on.
    fn forget_unused_zones(&self) {
        let served = &self.served;
        self.shared.zones.lock().unwrap_or_else(PoisonError::into_inner).retain(|file| {
            served.values().any(|s| s.client.lock().unwrap_or_else(PoisonError::into_inner).networks.iter().any(|n| n == file))
        });
    }
}

/// [`Clients::sync`] for the control socket: the sockets are made off the event loop, which
/// goes on answering queries and other requests meanwhile.
async fn sync(clients: &Mutex<Clients>, id: &str) -> Result<(), Error> {
    let pending = clients.lock().unwrap_or_else(PoisonError::into_inner).prepare(id)?;
    let Pending::Bind(client) = pending else {
        return Ok(());
    };
    let netns = client.netns.clone();
    let bound = tokio::task::spawn_blocking(move || bind_in(&netns))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
    clients.lock().unwrap_or_else(PoisonError::into_inner).serve(id, client, bound)
}

/// Takes the control socket's requests, each connection in a task of its own.
async fn serve_control(listener: UnixListener, clients: Arc<Mutex<Clients>>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let clients = Arc::clone(&clients);
                tokio::spawn(async move { control_request(stream, &clients).await });
            }
            // Out of descriptors or memory, for now: try again shortly.
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Answers the one request of a control connection.
async fn control_request(stream: UnixStream, clients: &Mutex<Clients>) {
    let mut stream = BufReader::new(stream);
    let mut line = String::new();
    if !matches!(tokio::time::timeout(IDLE, stream.read_line(&mut line)).await, Ok(Ok(1..))) {
        return;
    }
    let reply = match line.trim_end().strip_prefix(SYNC) {
        Some(id) => match sync(clients, id).await {
            Ok(()) => "ok\n".to_string(),
            Err(e) => format!("error {}\n", e.to_string().replace('\n', " ")),
        },
        None => format!("error unknown request {:?}\n", line.trim_end()),
    };
    let _ = stream.get_mut().write_all(reply.as_bytes()).await;
}

/// Answers one container's datagrams, each in a task of its own so that a forwarded query does
/// not hold up the others. Ends if the socket fails.
async fn serve_udp(socket: Arc<UdpSocket>, shared: Arc<Shared>, client: Arc<Mutex<Arc<Client>>>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while let Ok((len, peer)) = socket.recv_from(&mut buf).await {
        let packet = buf[..len].to_vec();
        let (socket, shared, client) = (Arc::clone(&socket), Arc::clone(&shared), Arc::clone(&client));
        tokio::spawn(async move {
            if let Some(reply) = answer(&shared, &client, &packet, Transport::Udp).await {
                // A client that went away is no concern of the resolver's.
                let _ = socket.send_to(&reply, peer).await;
            }
        });
    }
}

/// Accepts one container's TCP clients, each served in a task of its own.
async fn serve_tcp(listener: TcpListener, shared: Arc<Shared>, client: Arc<Mutex<Arc<Client>>>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let Ok(permit) = Arc::clone(&shared.connections).try_acquire_owned() else {
                    continue;
                };
                let (shared, client) = (Arc::clone(&shared), Arc::clone(&client));
                tokio::spawn(async move {
                    serve_connection(stream, &shared, &client).await;
                    drop(permit);
                });
            }
            // Out of descriptors or memory, for now: try again shortly.
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Answers the length-prefixed queries of one TCP client until it closes, stays silent for
/// [`IDLE`], or sends something that is not a query.
async fn serve_connection(mut stream: TcpStream, shared: &Shared, client: &Mutex<Arc<Client>>) {
    loop {
        let mut len = [0u8; 2];
        if !matches!(tokio::time::timeout(IDLE, stream.read_exact(&mut len)).await, Ok(Ok(_))) {
            return;
        }
        let mut packet = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if !matches!(tokio::time::timeout(IDLE, stream.read_exact(&mut packet)).await, Ok(Ok(_))) {
            return;
        }
        let Some(reply) = answer(shared, client, &packet, Transport::Tcp).await else {
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

/// The reply to `packet` from container `client`: from its networks' names, or from an upstream
/// (its own, if it has some); `None` if it gets none.
async fn answer(shared: &Shared, client: &Mutex<Arc<Client>>, packet: &[u8], transport: Transport) -> Option<Vec<u8>> {
    let client = Arc::clone(&client.lock().unwrap_or_else(PoisonError::into_inner));
    let upstreams = if client.upstreams.is_empty() { &shared.upstreams } else { &client.upstreams };
    let outcome = {
        let mut zones = shared.zones.lock().unwrap_or_else(PoisonError::into_inner);
        handle(|name| zones.lookup(&client.networks, client.target(name)), packet, !upstreams.is_empty(), transport)
    };
    match outcome {
        Outcome::Reply(reply) => Some(reply),
        Outcome::Ignore => None,
        Outcome::Forward { servfail } => {
            let Ok(_permit) = shared.forwards.try_acquire() else {
                return Some(servfail);
            };
            Some(forward(packet, upstreams).await.unwrap_or(servfail))
        }
    }
}
