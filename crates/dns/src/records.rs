//! The records file of one network: which addresses each name (service, container name, alias)
//! has. Written by the orchestrator, read by the resolver whenever it changes.
//!
//! ```json
//! {"names": {"web": ["172.18.0.2", "fd00:1::2", "172.18.0.3"], "myproj-web-1": ["172.18.0.2", "fd00:1::2"]}}
//! ```

use std::collections::BTreeMap;
use std::io::Write;
use std::net::IpAddr;
#[cfg(test)]
use std::net::Ipv4Addr;
use std::path::Path;

use crate::Error;

/// The names of one network and their addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Records {
    /// Each name's addresses (IPv4 and IPv6), in the order they were added.
    #[serde(default)]
    pub names: BTreeMap<String, Vec<IpAddr>>,
}

impl Records {
    /// Reads the records file at `path`; a file that does not exist yet holds no names.
    pub fn load(path: &Path) -> Result<Records, Error> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Records::default()),
            Err(source) => return Err(Error::Read { path: path.to_path_buf(), source }),
        };
        serde_json::from_slice(&bytes).map_err(|source| Error::Parse { path: path.to_path_buf(), source })
    }

    /// Writes the records to `path` atomically (temporary file, fsync, rename, fsync of the
    /// directory), so the resolver never reads half a file.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let bytes = serde_json::to_vec_pretty(self).expect("records serialize to JSON");
        atomic_write(path, &bytes)
    }

    /// Gives `name` the address `ip` too (nothing changes if it has it already).
    pub fn insert(&mut self, name: &str, ip: impl Into<IpAddr>) {
        let ip = ip.into();
        let addresses = self.names.entry(name.to_string()).or_default();
        if !addresses.contains(&ip) {
            addresses.push(ip);
        }
    }

    /// Takes `ip` away from every name (a container left the network); names left without an
    /// address are removed.
    pub fn remove_address(&mut self, ip: impl Into<IpAddr>) {
        let ip = ip.into();
        self.names.retain(|_, addresses| {
            addresses.retain(|a| *a != ip);
            !addresses.is_empty()
        });
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory, synced and renamed
/// over it, then syncs the directory.
pub(crate) fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let write_err = |source| Error::Write { path: path.to_path_buf(), source };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(write_err)?;
    tmp.write_all(bytes).map_err(write_err)?;
    tmp.as_file().sync_all().map_err(write_err)?;
    tmp.persist(path).map_err(|e| write_err(e.error))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(172, 18, 0, last)
    }

    #[test]
    fn insert_keeps_order_and_ignores_duplicates() {
        let mut records = Records::default();
        records.insert("web", ip(2));
        records.insert("web", ip(3));
        records.insert("web", ip(2));
        assert_eq!(records.names["web"], vec![IpAddr::from(ip(2)), ip(3).into()]);
    }

    #[test]
    fn remove_address_drops_names_left_empty() {
        let mut records = Records::default();
        records.insert("web", ip(2));
        records.insert("web", ip(3));
        records.insert("myproj-web-1", ip(2));
        records.remove_address(ip(2));
        assert_eq!(records.names.len(), 1);
        assert_eq!(records.names["web"], vec![IpAddr::from(ip(3))]);
    }

    #[test]
    fn save_then_load_round_trips_and_missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.json");
        assert_eq!(Records::load(&path).unwrap(), Records::default());
        let mut records = Records::default();
        records.insert("web", ip(2));
        records.insert("alias1", ip(4));
        records.save(&path).unwrap();
        assert_eq!(Records::load(&path).unwrap(), records);
        // Only the file itself is left: the temporary file was renamed over it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn load_reads_the_documented_format_and_rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.json");
        std::fs::write(&path, r#"{"names": {"web": ["172.18.0.2","172.18.0.3"]}}"#).unwrap();
        assert_eq!(Records::load(&path).unwrap().names["web"], vec![IpAddr::from(ip(2)), ip(3).into()]);
        std::fs::write(&path, r#"{"names": {"web": ["fd00:1::2"]}}"#).unwrap();
        assert_eq!(Records::load(&path).unwrap().names["web"], vec!["fd00:1::2".parse::<IpAddr>().unwrap()]);
        std::fs::write(&path, r#"{"names": {"web": ["not an address"]}}"#).unwrap();
        let err = Records::load(&path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("parsing {}", path.display())), "{err}");
    }
}
