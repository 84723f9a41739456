//! What the DNS tests share: containers' network namespaces inside the sandbox, a resolver
//! serving them, and a client asking from inside one of them.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, RecordType};
use nix::mount::{mount, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use xcompose_dns::client::client_file;
use xcompose_dns::{Client, Records, Resolver, RESOLVER_ADDRESS};

/// Where the resolver answers, in every container's namespace.
pub const SERVER: SocketAddr = RESOLVER_ADDRESS;

/// Runs a command in the sandbox, failing with its output unless it exits 0; its stdout.
pub fn sh(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program).args(args).output().map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {args:?}: {}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Brings the sandbox's own loopback up: the "host" of the tests, where fake upstreams listen
/// (run inside `in_forked_sandbox`, whose network namespace is fresh).
pub fn host_loopback() -> Result<(), String> {
    sh("ip", &["link", "set", "lo", "up"]).map(drop)
}

/// Makes a container's network namespace, pinned at `path`, with its loopback up, as the
/// runtime does.
pub fn container_netns(path: &Path) -> Result<(), String> {
    File::create(path).map_err(|e| e.to_string())?;
    let path = path.to_path_buf();
    std::thread::spawn(move || -> Result<(), String> {
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| format!("unshare: {e}"))?;
        mount(Some("/proc/thread-self/ns/net"), &path, None::<&str>, MsFlags::MS_BIND, None::<&str>).map_err(|e| format!("pinning: {e}"))?;
        // A child of this thread starts in its namespace.
        sh("ip", &["link", "set", "lo", "up"]).map(drop)
    })
    .join()
    .map_err(|_| "the namespace thread panicked".to_string())?
}

/// Runs `f` on a thread inside the network namespace pinned at `netns`.
pub fn in_netns<R: Send>(netns: &Path, f: impl FnOnce() -> R + Send) -> Result<R, String> {
    let file = File::open(netns).map_err(|e| e.to_string())?;
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                setns(&file, CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns: {e}"))?;
                Ok(f())
            })
            .join()
            .map_err(|_| "the scenario thread panicked".to_string())?
    })
}

/// Records giving each name its addresses, saved at `path`.
pub fn save_records(path: &Path, names: &[(&str, &[Ipv4Addr])]) -> Result<Records, String> {
    let mut records = Records::default();
    for (name, addresses) in names {
        for address in *addresses {
            records.insert(name, *address);
        }
    }
    records.save(path).map_err(|e| e.to_string())?;
    Ok(records)
}

/// A project's resolver state in a directory: client files, control socket.
pub struct Project {
    /// Where everything is.
    pub dir: tempfile::TempDir,
}

impl Project {
    /// An empty one.
    pub fn new() -> Result<Project, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        std::fs::create_dir(dir.path().join("clients")).map_err(|e| e.to_string())?;
        Ok(Project { dir })
    }

    /// The clients directory.
    pub fn clients(&self) -> PathBuf {
        self.dir.path().join("clients")
    }

    /// The control socket.
    pub fn control(&self) -> PathBuf {
        self.dir.path().join("dns.sock")
    }

    /// A container `id` on the networks of records files `networks`, with its own `upstreams`:
    /// its namespace made and its client file written; the namespace's path.
    pub fn container(&self, id: &str, networks: &[&Path], upstreams: &[SocketAddr]) -> Result<PathBuf, String> {
        let netns = self.dir.path().join(format!("{id}.netns"));
        container_netns(&netns)?;
        let client = Client { netns: netns.clone(), networks: networks.iter().map(|n| n.to_path_buf()).collect(), upstreams: upstreams.to_vec(), aliases: Default::default() };
        client.save(&client_file(&self.clients(), id).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        Ok(netns)
    }

    /// Starts the resolver for every client file there is, serving on a thread of its own until
    /// the scenario ends.
    pub fn start(&self, upstreams: Vec<SocketAddr>) -> Result<(), String> {
        let resolver = Resolver::start(&self.clients(), &self.control(), upstreams).map_err(|e| e.to_string())?;
        std::thread::spawn(move || resolver.run(std::future::pending()));
        Ok(())
    }
}

/// The usual scenario: one container on one network of names `records`, served by a resolver
/// forwarding to `upstreams`; the calling thread then asks from inside the container's
/// namespace (it stays there).
pub fn start(records: &Path, upstreams: Vec<SocketAddr>) -> Result<Project, String> {
    let project = Project::new()?;
    let netns = project.container("c1", &[records], &[])?;
    project.start(upstreams)?;
    let file = File::open(&netns).map_err(|e| e.to_string())?;
    setns(&file, CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns: {e}"))?;
    Ok(project)
}

/// A recursive query for `name` of type `kind` (on the wire a name always ends at the root:
/// `web` is sent as `web.`).
pub fn query(name: &str, kind: RecordType) -> Message {
    let mut message = Message::query();
    message.metadata.recursion_desired = true;
    let mut name = Name::from_ascii(name).expect("a valid test name");
    name.set_fqdn(true);
    message.add_query(Query::query(name, kind));
    message
}

/// Sends `query` to [`SERVER`] over UDP and returns the raw reply (5 s at most).
pub fn ask_udp_raw(query: &[u8]) -> Result<Vec<u8>, String> {
    let socket = UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
    socket.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    socket.connect(SERVER).map_err(|e| e.to_string())?;
    socket.send(query).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 65535];
    let len = socket.recv(&mut buf).map_err(|e| format!("no reply from {SERVER}: {e}"))?;
    buf.truncate(len);
    Ok(buf)
}

/// Asks [`SERVER`] for `name` of type `kind` over UDP; the decoded reply, checked to answer the
/// query (same id and question).
pub fn ask_udp(name: &str, kind: RecordType) -> Result<Message, String> {
    let request = query(name, kind);
    let reply = ask_udp_raw(&request.to_vec().map_err(|e| e.to_string())?)?;
    decode_reply(&request, &reply)
}

/// Asks [`SERVER`] for `name` of type `kind` over TCP.
pub fn ask_tcp(name: &str, kind: RecordType) -> Result<Message, String> {
    let request = query(name, kind);
    let bytes = request.to_vec().map_err(|e| e.to_string())?;
    let mut stream = TcpStream::connect_timeout(&SERVER, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    stream.write_all(&framed).map_err(|e| e.to_string())?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).map_err(|e| format!("no reply over tcp: {e}"))?;
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut reply).map_err(|e| e.to_string())?;
    decode_reply(&request, &reply)
}

fn decode_reply(request: &Message, reply: &[u8]) -> Result<Message, String> {
    let reply = Message::from_vec(reply).map_err(|e| format!("undecodable reply: {e}"))?;
    if reply.metadata.id != request.metadata.id || reply.queries != request.queries {
        return Err(format!("the reply does not answer the query: {reply:?}"));
    }
    Ok(reply)
}

/// The A addresses of a reply, in order.
pub fn addresses(reply: &Message) -> Vec<Ipv4Addr> {
    reply
        .answers
        .iter()
        .filter_map(|record| match record.data {
            RData::A(A(address)) => Some(address),
            _ => None,
        })
        .collect()
}

/// Fails with `what` unless `condition` holds.
pub fn check(condition: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(what())
    }
}
