//! The resolver as its own process (`xcompose __dns CONFIG`), one per project. The caller starts
//! it detached as it sees fit (its own session, standard streams on /dev/null); the process
//! detaches nothing itself. It serves until SIGTERM or SIGINT, then exits 0.
//!
//! Files: the config (JSON, [`DaemonConfig`]), and next to it `dns.sock`, the control socket
//! ([`control_socket`], see [`crate::control`]), and `dns.pid` while it serves ([`pid_file`]).
//! The client files and the resolv.conf are where the config says.

use std::path::{Path, PathBuf};

use nix::sys::signal::{SigSet, SigmaskHow, Signal};

use crate::records::atomic_write;
use crate::{resolv, Error, Resolver};

/// Everything the resolver process needs, as written by the orchestrator.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DaemonConfig {
    /// The directory of the client files ([`crate::Client`]), one per container served.
    pub clients: PathBuf,
    /// The resolv.conf naming the upstream resolvers (normally the host's `/etc/resolv.conf`),
    /// read once at start.
    pub resolv_conf: PathBuf,
}

impl DaemonConfig {
    /// Reads the config file at `path`.
    pub fn load(path: &Path) -> Result<DaemonConfig, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
        serde_json::from_slice(&bytes).map_err(|source| Error::Parse { path: path.to_path_buf(), source })
    }

    /// Writes the config to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let bytes = serde_json::to_vec_pretty(self).expect("a daemon config serializes to JSON");
        atomic_write(path, &bytes)
    }
}

/// The pid file of the resolver of `config_path`: `dns.pid` beside it.
pub fn pid_file(config_path: &Path) -> PathBuf {
    config_path.with_file_name("dns.pid")
}

/// The control socket of the resolver of `config_path`: `dns.sock` beside it.
pub fn control_socket(config_path: &Path) -> PathBuf {
    config_path.with_file_name("dns.sock")
}

/// Entry point of `xcompose __dns CONFIG`: serves until SIGTERM or SIGINT and returns 0, with the
/// pid file written once the control socket is bound and every client served, and removed (with
/// the socket) on the way out.
pub fn main(config_path: &Path) -> Result<i32, String> {
    run(config_path).map(|()| 0).map_err(|e| e.to_string())
}

fn run(config_path: &Path) -> Result<(), Error> {
    // Stop requests are taken by one thread; block them before any other thread exists.
    let stop_signals: SigSet = [Signal::SIGTERM, Signal::SIGINT].into_iter().collect();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&stop_signals), None).map_err(Error::Signals)?;
    let config = DaemonConfig::load(config_path)?;
    let upstreams = resolv::read_upstreams(&config.resolv_conf)?;
    let resolver = Resolver::start(&config.clients, &control_socket(config_path), upstreams)?;
    let pid_path = pid_file(config_path);
    atomic_write(&pid_path, std::process::id().to_string().as_bytes())?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        if stop_signals.wait().is_ok() {
            let _ = stop.send(());
        }
    });
    let result = resolver.run(async move {
        let _ = stopped.await;
    });
    let _ = std::fs::remove_file(&pid_path);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_and_files_sit_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, r#"{"clients": "/d/clients", "resolv_conf": "/etc/resolv.conf"}"#).unwrap();
        let config = DaemonConfig::load(&path).unwrap();
        assert_eq!(config.clients, Path::new("/d/clients"));
        config.save(&path).unwrap();
        assert_eq!(DaemonConfig::load(&path).unwrap(), config);
        assert_eq!(pid_file(&path), dir.path().join("dns.pid"));
        assert_eq!(control_socket(&path), dir.path().join("dns.sock"));
    }

    #[test]
    fn a_missing_config_is_an_error_naming_it() {
        let err = main(Path::new("/nonexistent/dns.json")).unwrap_err();
        assert!(err.starts_with("reading /nonexistent/dns.json"), "{err}");
    }
}
