//! What a proxy forwards, as saved for it, and the files beside its config.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// TCP or UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Connections, each forwarded to a connection of its own.
    Tcp,
    /// Datagrams, each client's through a socket of its own.
    Udp,
}

/// One forwarded port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forward {
    /// TCP or UDP.
    pub transport: Transport,
    /// Where the proxy listens (`[::1]:8080`).
    pub listen: SocketAddr,
    /// The container's address and port.
    pub target: SocketAddr,
}

/// Everything one proxy forwards.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyConfig {
    /// The forwarded ports.
    pub forwards: Vec<Forward>,
}

impl ProxyConfig {
    /// Reads the config at `path`.
    pub fn load(path: &Path) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Writes the config at `path` whole (a temporary file renamed over it).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self).expect("configs serialise")).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("writing {}: {e}", path.display()))
    }
}

/// The file the serving proxy of config `config` writes its pid to once it listens.
pub fn pid_file(config: &Path) -> PathBuf {
    config.with_extension("pid")
}

/// The lock file its keeper holds.
pub fn keeper_lock(config: &Path) -> PathBuf {
    config.with_extension("lock")
}

/// The file its keeper's and its errors go to.
pub fn error_file(config: &Path) -> PathBuf {
    config.with_extension("err")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_is_read_back_as_saved() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc.json");
        let config = ProxyConfig { forwards: vec![Forward { transport: Transport::Udp, listen: "[::1]:53".parse().unwrap(), target: "172.30.0.2:53".parse().unwrap() }] };
        config.save(&path).unwrap();
        assert_eq!(ProxyConfig::load(&path).unwrap(), config);
        assert_eq!(pid_file(&path), dir.path().join("abc.pid"));
        assert!(ProxyConfig::load(&dir.path().join("missing.json")).unwrap_err().contains("missing.json"));
    }
}
