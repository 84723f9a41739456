//! IPAM state on disk: one JSON file per network in a directory, read and written under an
//! exclusive flock on `<dir>/.lock`, each file replaced atomically.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::{IpamError, Subnet, Subnet6};

/// What IPAM keeps about one network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct NetworkState {
    /// The network's addressing.
    #[serde(flatten)]
    pub subnet: Subnet,
    /// Addresses handed out, with who holds each.
    pub addresses: BTreeMap<Ipv4Addr, String>,
    /// The IPv6 addressing, for a network with `enable_ipv6`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Subnet6>,
    /// IPv6 addresses handed out, with who holds each.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub addresses6: BTreeMap<Ipv6Addr, String>,
}

/// The state directory, locked: at most one `Locked` exists at a time across all processes.
pub(super) struct Locked<'a> {
    dir: &'a Path,
    _lock: Flock<File>,
}

/// Takes the exclusive lock on the state directory `dir`, waiting for other holders. Every
/// write happens under it, so a temporary file found then is a killed writer's: it is removed.
pub(super) fn lock(dir: &Path) -> Result<Locked<'_>, IpamError> {
    let path = dir.join(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| IpamError::Io {
            action: "opening the lock file",
            path: path.clone(),
            source,
        })?;
    let lock = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| IpamError::Io {
        action: "locking",
        path,
        source: errno.into(),
    })?;
    remove_stale_temporaries(dir)?;
    Ok(Locked { dir, _lock: lock })
}

/// Removes the temporary files (`.tmp*`, see [`Locked::save`]) in `dir`.
fn remove_stale_temporaries(dir: &Path) -> Result<(), IpamError> {
    let entries = std::fs::read_dir(dir).map_err(|source| IpamError::Io { action: "listing", path: dir.to_path_buf(), source })?;
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(".tmp") {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|source| IpamError::Io { action: "removing the stale temporary file", path, source })?;
        }
    }
    Ok(())
}

impl Locked<'_> {
    fn path(&self, network: &str) -> PathBuf {
        self.dir.join(format!("{network}.json"))
    }

    /// The state of `network`, if it has one.
    pub fn load(&self, network: &str) -> Result<Option<NetworkState>, IpamError> {
        let path = self.path(network);
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(IpamError::Io {
                    action: "reading",
                    path,
                    source,
                })
            }
        };
        serde_json::from_slice(&text)
            .map(Some)
            .map_err(|source| IpamError::Corrupt { path, source })
    }

    /// The states of all networks, by id.
    pub fn load_all(&self) -> Result<Vec<(String, NetworkState)>, IpamError> {
        let entries = std::fs::read_dir(self.dir).map_err(|source| IpamError::Io {
            action: "listing",
            path: self.dir.to_path_buf(),
            source,
        })?;
        let mut networks = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| IpamError::Io {
                action: "listing",
                path: self.dir.to_path_buf(),
                source,
            })?;
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if let Some(state) = self.load(id)? {
                networks.push((id.to_string(), state));
            }
        }
        Ok(networks)
    }

    /// Replaces the state of `network` atomically: a temporary file in the same directory,
    /// fsynced, renamed over the old one, then the directory fsynced.
    pub fn save(&self, network: &str, state: &NetworkState) -> Result<(), IpamError> {
        let path = self.path(network);
        let io_error = |action| {
            let path = path.clone();
            move |source| IpamError::Io {
                action,
                path,
                source,
            }
        };
        let mut temp = tempfile::NamedTempFile::new_in(self.dir)
            .map_err(io_error("creating a temporary file for"))?;
        let json = serde_json::to_vec_pretty(state).expect("IPAM state always serializes");
        temp.write_all(&json).map_err(io_error("writing"))?;
        temp.as_file().sync_all().map_err(io_error("syncing"))?;
        temp.persist(&path)
            .map_err(|e| io_error("renaming the temporary file over")(e.error))?;
        self.sync_dir()
    }

    /// Deletes the state of `network`; nothing to do if it has none.
    pub fn remove(&self, network: &str) -> Result<(), IpamError> {
        let path = self.path(network);
        match std::fs::remove_file(&path) {
            Ok(()) => self.sync_dir(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(IpamError::Io {
                action: "removing",
                path,
                source,
            }),
        }
    }

    fn sync_dir(&self) -> Result<(), IpamError> {
        File::open(self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(|source| IpamError::Io {
                action: "syncing",
                path: self.dir.to_path_buf(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_killed_writers_temporary_file_goes_with_the_next_lock() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".tmpAbC123"), "{\"half\":").unwrap();
        std::fs::write(dir.path().join("net.json"), "{}").unwrap();
        let locked = lock(dir.path()).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names, [".lock", "net.json"]);
        drop(locked);
    }
}
