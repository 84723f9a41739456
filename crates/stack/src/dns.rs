//! Name resolution on project networks: each network has its own DNS server process
//! (`xcompose __dns`, see the `xcompose-dns` crate) on its gateway address, serving the names of
//! the containers attached to it from a records file in `<root>/networks/<name>.dns/` that is
//! updated as containers are attached and detached.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use xcompose_dns::daemon::{pid_file, DaemonConfig};
use xcompose_dns::Records;

use crate::networks::NetworkRecord;
use crate::StackError;

/// The DNS servers of the networks of one state root.
#[derive(Debug, Clone)]
pub(crate) struct Dns {
    dir: PathBuf,
    exe: PathBuf,
}

impl Dns {
    /// DNS state in `networks_dir`; servers run as `exe __dns`.
    pub(crate) fn new(networks_dir: &Path, exe: &Path) -> Self {
        Self { dir: networks_dir.to_path_buf(), exe: exe.to_path_buf() }
    }

    fn network_dir(&self, network: &str) -> PathBuf {
        self.dir.join(format!("{network}.dns"))
    }

    /// The pid of the running server of `network`, if any.
    fn running(&self, network: &str) -> Option<i32> {
        let pid: i32 = fs::read_to_string(pid_file(&self.network_dir(network).join("config.json"))).ok()?.trim().parse().ok()?;
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
        (state != Some("Z")).then_some(pid)
    }

    /// Starts the server of `network` unless it runs; returns once it answers.
    pub(crate) fn ensure_running(&self, network: &NetworkRecord) -> Result<(), StackError> {
        if self.running(&network.name).is_some() {
            return Ok(());
        }
        let dir = self.network_dir(&network.name);
        fs::create_dir_all(&dir).map_err(StackError::io(&dir))?;
        let config_path = dir.join("config.json");
        let config = DaemonConfig {
            listen: network.subnet.gateway,
            port: 53,
            records: dir.join("records.json"),
            resolv_conf: "/etc/resolv.conf".into(),
        };
        config.save(&config_path).map_err(StackError::network)?;
        let err_path = dir.join("dns.err");
        let err = fs::File::create(&err_path).map_err(StackError::io(&err_path))?;
        let mut child = Command::new(&self.exe)
            .arg("__dns")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            // Its own process group: Ctrl+C on the command that started it must not reach it.
            .process_group(0)
            .spawn()
            .map_err(StackError::io(&self.exe))?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.running(&network.name).is_none() {
            if let Ok(Some(status)) = child.try_wait() {
                let message = fs::read_to_string(&err_path).unwrap_or_default();
                return Err(StackError::Network(format!("the DNS server of network {} failed ({status}): {}", network.name, message.trim())));
            }
            if Instant::now() > deadline {
                return Err(StackError::Network(format!("the DNS server of network {} did not start within 5s", network.name)));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        // It outlives this command; meanwhile it must not become a zombie of ours.
        std::thread::spawn(move || child.wait());
        Ok(())
    }

    /// Stops the server of `network` and forgets its records.
    pub(crate) fn remove(&self, network: &str) -> Result<(), StackError> {
        if let Some(pid) = self.running(network) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.running(network).is_some() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            if self.running(network).is_some() {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            }
        }
        let dir = self.network_dir(network);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StackError::io(&dir)(e)),
        }
    }

    /// Changes the records of `network` with `change`, under the records' lock.
    fn update(&self, network: &str, change: impl FnOnce(&mut Records)) -> Result<(), StackError> {
        let dir = self.network_dir(network);
        fs::create_dir_all(&dir).map_err(StackError::io(&dir))?;
        let lock_path = dir.join("records.lock");
        let file = fs::File::options().create(true).truncate(false).write(true).open(&lock_path).map_err(StackError::io(&lock_path))?;
        let _lock = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| StackError::Io { path: lock_path, source: e.into() })?;
        let path = dir.join("records.json");
        let mut records = Records::load(&path).map_err(StackError::network)?;
        change(&mut records);
        records.save(&path).map_err(StackError::network)
    }

    /// `names` resolve to `address` on `network`; names unknown there that `address` asks for go
    /// to `upstreams` if it has some (`dns:`).
    pub(crate) fn add(&self, network: &str, names: &[String], address: Ipv4Addr, upstreams: &[SocketAddr]) -> Result<(), StackError> {
        self.update(network, |records| {
            names.iter().for_each(|n| records.insert(n, address));
            records.set_upstreams(address, upstreams);
        })
    }

    /// Nothing resolves to `address` on `network` any more.
    pub(crate) fn remove_address(&self, network: &str, address: Ipv4Addr) -> Result<(), StackError> {
        if !self.network_dir(network).exists() {
            return Ok(());
        }
        self.update(network, |records| records.remove_address(address))
    }
}
