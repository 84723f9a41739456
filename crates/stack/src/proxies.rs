//! The userland proxies of published ports (`crates/proxy`): one per container whose ports are
//! published on IPv6 loopback, `<root>/ports/<container id>.proxy.json` (beside the container's
//! ports, in a directory that stays, so that containers started in parallel never race to make
//! or remove it), run as `xcompose __proxy`
//! (its keeper) and `xcompose __proxy --serve` (the proxy), started once the ports are recorded
//! and stopped when they are unpublished.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use xcompose_proxy::config::{error_file, keeper_lock, pid_file};
use xcompose_proxy::{Forward, ProxyConfig};

use crate::StackError;

/// How long a proxy may take to listen, or its keeper to end.
const WAIT: Duration = Duration::from_secs(5);

/// The proxies of one state root.
#[derive(Debug, Clone)]
pub(crate) struct Proxies {
    dir: PathBuf,
    exe: PathBuf,
}

impl Proxies {
    /// The proxies with their files in `dir` (the ports directory, which exists), run as `exe __proxy`.
    pub(crate) fn new(dir: &Path, exe: &Path) -> Self {
        Self { dir: dir.to_path_buf(), exe: exe.to_path_buf() }
    }

    fn config(&self, container_id: &str) -> PathBuf {
        self.dir.join(format!("{container_id}.proxy.json"))
    }

    /// Runs the proxy of container `container_id` forwarding `forwards` (the one running is
    /// replaced); returns once it listens.
    pub(crate) fn start(&self, container_id: &str, forwards: Vec<Forward>) -> Result<(), StackError> {
        self.stop(container_id)?;
        if forwards.is_empty() {
            return Ok(());
        }
        let config = self.config(container_id);
        ProxyConfig { forwards }.save(&config).map_err(StackError::Network)?;
        let err_path = error_file(&config);
        let err = fs::File::create(&err_path).map_err(StackError::io(&err_path))?;
        let mut keeper = xcompose_keeper::start(&self.exe, "__proxy", &config, err).map_err(StackError::io(&self.exe))?;
        let deadline = Instant::now() + WAIT;
        while running(&config).is_none() {
            if let Ok(Some(status)) = keeper.try_wait() {
                let message = fs::read_to_string(&err_path).unwrap_or_default();
                let _ = fs::remove_file(&config);
                return Err(StackError::Network(format!("the userland proxy failed ({status}): {}", message.trim())));
            }
            if Instant::now() > deadline {
                return Err(StackError::Network(format!("the userland proxy did not listen within 5s (see {})", err_path.display())));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // It outlives this command; meanwhile it must not become a zombie of ours.
        std::thread::spawn(move || keeper.wait());
        Ok(())
    }

    /// Stops the proxy of container `container_id`, if any, and removes its files.
    pub(crate) fn stop(&self, container_id: &str) -> Result<(), StackError> {
        let config = self.config(container_id);
        if !config.exists() && !pid_file(&config).exists() {
            return Ok(());
        }
        let pid = running(&config);
        // First the config: its keeper must not start it again.
        remove(&config)?;
        if let Some(pid) = pid {
            let _ = kill(pid, Signal::SIGKILL);
        }
        let deadline = Instant::now() + WAIT;
        // The config is gone, so its keeper ends with it.
        while (xcompose_proxy::keeper::alive(&config) || running(&config).is_some()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        for path in [pid_file(&config), keeper_lock(&config), error_file(&config)] {
            remove(&path)?;
        }
        Ok(())
    }
}

/// The pid of the proxy serving `config`, if it runs: its pid file's process, alive and running
/// this config (not another process that took its pid).
fn running(config: &Path) -> Option<Pid> {
    let pid: i32 = fs::read_to_string(pid_file(config)).ok()?.trim().parse().ok()?;
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let ours = cmdline.split(|b| *b == 0).any(|arg| arg == config.as_os_str().as_encoded_bytes());
    (state != Some("Z") && ours).then_some(Pid::from_raw(pid))
}

fn remove(path: &Path) -> Result<(), StackError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StackError::io(path)(e)),
        _ => Ok(()),
    }
}
