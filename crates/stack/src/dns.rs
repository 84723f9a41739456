//! Name resolution for a project's containers (see the `xcompose-dns` crate): the names of each
//! network in a records file (`<root>/networks/<name>.dns/records.json`), updated as containers
//! are attached and detached; and the project's resolver (`xcompose __dns`), answering on
//! 127.0.0.11 inside each container's network namespace, with a client file per container in
//! `<root>/dns/<project>/clients/`.

use std::collections::BTreeMap;
use std::fs;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use xcompose_dns::client::client_file;
use xcompose_dns::daemon::{control_socket, pid_file, DaemonConfig};
use xcompose_dns::keeper::keeper_alive;
use xcompose_dns::{Client, Records};

use crate::StackError;

/// Takes an exclusive lock on the file at `path` (made if missing) until the guard is dropped.
fn lock(path: &Path) -> Result<Flock<fs::File>, StackError> {
    let file = fs::File::options().create(true).truncate(false).write(true).open(path).map_err(StackError::io(path))?;
    Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| StackError::Io { path: path.to_path_buf(), source: e.into() })
}

/// Removes the directory `dir` and all it holds; nothing to do if it is not there.
fn remove_dir(dir: &Path) -> Result<(), StackError> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StackError::io(dir)(e)),
    }
}

/// The names of the networks of one state root.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    dir: PathBuf,
}

impl Names {
    /// Names kept in `networks_dir`.
    pub(crate) fn new(networks_dir: &Path) -> Self {
        Self { dir: networks_dir.to_path_buf() }
    }

    fn network_dir(&self, network: &str) -> PathBuf {
        self.dir.join(format!("{network}.dns"))
    }

    /// The records file of `network`, which the resolver reads.
    pub(crate) fn records_file(&self, network: &str) -> PathBuf {
        self.network_dir(network).join("records.json")
    }

    /// Forgets the names of `network`.
    pub(crate) fn remove(&self, network: &str) -> Result<(), StackError> {
        remove_dir(&self.network_dir(network))
    }

    /// Changes the records of `network` with `change`, under the records' lock.
    fn update(&self, network: &str, change: impl FnOnce(&mut Records)) -> Result<(), StackError> {
        let dir = self.network_dir(network);
        fs::create_dir_all(&dir).map_err(StackError::io(&dir))?;
        let _lock = lock(&dir.join("records.lock"))?;
        let path = self.records_file(network);
        let mut records = Records::load(&path).map_err(StackError::network)?;
        change(&mut records);
        records.save(&path).map_err(StackError::network)
    }

    /// `names` resolve to `address` on `network`.
    pub(crate) fn add(&self, network: &str, names: &[String], address: IpAddr) -> Result<(), StackError> {
        self.update(network, |records| names.iter().for_each(|n| records.insert(n, address)))
    }

    /// Nothing resolves to `address` on `network` any more.
    pub(crate) fn remove_address(&self, network: &str, address: IpAddr) -> Result<(), StackError> {
        if !self.network_dir(network).exists() {
            return Ok(());
        }
        self.update(network, |records| records.remove_address(address))
    }
}

/// The resolver of one project: its process, its config and its containers' client files, all in
/// one directory.
#[derive(Debug, Clone)]
pub(crate) struct Resolver {
    dir: PathBuf,
    exe: PathBuf,
}

impl Resolver {
    /// The resolver whose state is in `dir`, run as `exe __dns`.
    pub(crate) fn new(dir: &Path, exe: &Path) -> Self {
        Self { dir: dir.to_path_buf(), exe: exe.to_path_buf() }
    }

    fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    fn clients_dir(&self) -> PathBuf {
        self.dir.join("clients")
    }

    /// The pid of the running resolver, if any: the pid file's process, alive and running this
    /// resolver's config (not another process that took its pid).
    fn running(&self) -> Option<Pid> {
        let config = self.config_path();
        let pid: i32 = fs::read_to_string(pid_file(&config)).ok()?.trim().parse().ok()?;
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let ours = cmdline.split(|b| *b == 0).any(|arg| arg == config.as_os_str().as_encoded_bytes());
        (state != Some("Z") && ours).then_some(Pid::from_raw(pid))
    }

    /// Whether some container's client file is there.
    fn has_clients(&self) -> bool {
        fs::read_dir(self.clients_dir()).is_ok_and(|mut entries| entries.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".json"))))
    }

    /// Starts the resolver unless it runs; returns once it serves every client file there is.
    fn ensure_running(&self) -> Result<(), StackError> {
        if self.running().is_some() {
            return Ok(());
        }
        fs::create_dir_all(self.clients_dir()).map_err(StackError::io(&self.dir))?;
        // One starter at a time: the others find it running.
        let _lock = lock(&self.dir.join("dns.lock"))?;
        if self.running().is_some() {
            return Ok(());
        }
        let config_path = self.config_path();
        if keeper_alive(&config_path) {
            // Its keeper is starting it again (it was killed a moment ago).
            return self.wait_running(None);
        }
        DaemonConfig { clients: self.clients_dir(), resolv_conf: "/etc/resolv.conf".into() }.save(&config_path).map_err(StackError::network)?;
        let err_path = self.dir.join("dns.err");
        let err = fs::File::create(&err_path).map_err(StackError::io(&err_path))?;
        let mut child = xcompose_keeper::start(&self.exe, "__dns", &config_path, err).map_err(StackError::io(&self.exe))?;
        let started = self.wait_running(Some((&mut child, &err_path)));
        // It outlives this command; meanwhile it must not become a zombie of ours.
        std::thread::spawn(move || child.wait());
        started
    }

    /// Waits up to 5 s for the resolver to serve; fails at once if `keeper` (the process that
    /// was just started, and the file its errors go to) exits first.
    fn wait_running(&self, mut keeper: Option<(&mut Child, &Path)>) -> Result<(), StackError> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.running().is_none() {
            if let Some((child, err_path)) = keeper.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    let message = fs::read_to_string(err_path).unwrap_or_default();
                    return Err(StackError::Network(format!("the project's DNS resolver failed ({status}): {}", message.trim())));
                }
            }
            if Instant::now() > deadline {
                return Err(StackError::Network(format!(
                    "the project's DNS resolver did not start within 5s (see {})",
                    self.dir.join("dns.err").display()
                )));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Asks the running resolver to sync container `id` with its client file.
    fn sync(&self, id: &str) -> Result<(), StackError> {
        xcompose_dns::control::sync(&control_socket(&self.config_path()), id).map_err(StackError::network)
    }

    /// Has the resolver answer on 127.0.0.11 in container `id`'s network namespace `netns` for
    /// the names of `networks` (records files, in the container's order), sending the names
    /// they do not know to `upstreams` (the container's own `dns:`) or else the host's
    /// resolvers, and for `aliases` (`links`) only this container knows; returns once it listens
    /// there. Starts the resolver if it does not run.
    pub(crate) fn serve(&self, id: &str, netns: &Path, networks: Vec<PathBuf>, upstreams: &[SocketAddr], aliases: BTreeMap<String, String>) -> Result<(), StackError> {
        let clients = self.clients_dir();
        fs::create_dir_all(&clients).map_err(StackError::io(&clients))?;
        let client = Client { netns: netns.to_path_buf(), networks, upstreams: upstreams.to_vec(), aliases };
        client.save(&client_file(&clients, id).map_err(StackError::network)?).map_err(StackError::network)?;
        self.ensure_running()?;
        self.sync(id)
    }

    /// The resolver no longer serves container `id` (it is being removed): its sockets are
    /// closed, so they hold its namespace no longer.
    pub(crate) fn forget(&self, id: &str) -> Result<(), StackError> {
        let path = client_file(&self.clients_dir(), id).map_err(StackError::network)?;
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StackError::io(&path)(e)),
        }
        match self.running() {
            Some(_) => self.sync(id),
            None => Ok(()),
        }
    }

    /// Starts the resolver again if it serves containers but died (was killed, or the machine
    /// restarted).
    pub(crate) fn revive(&self) -> Result<(), StackError> {
        if self.has_clients() {
            self.ensure_running()?;
        }
        Ok(())
    }

    /// Stops the resolver and removes its directory (and `<root>/dns` if no other project's
    /// is left in it) if it serves no container any more.
    pub(crate) fn stop_if_idle(&self) -> Result<(), StackError> {
        if !self.dir.exists() || self.has_clients() {
            return Ok(());
        }
        let _lock = lock(&self.dir.join("dns.lock"))?;
        if let Some(pid) = self.running() {
            let _ = kill(pid, Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.running().is_some() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            if self.running().is_some() {
                let _ = kill(pid, Signal::SIGKILL);
            }
        }
        // Its keeper ends with it (no container is left for it to serve).
        let deadline = Instant::now() + Duration::from_secs(5);
        while keeper_alive(&self.config_path()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        remove_dir(&self.dir)?;
        // Fails, as it should, while another project's resolver has its directory there.
        if let Some(parent) = self.dir.parent() {
            let _ = fs::remove_dir(parent);
        }
        Ok(())
    }
}
