//! The names the resolver answers for: each network's records file, read again whenever it
//! changed, and a round-robin turn per name.

use std::collections::HashMap;
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::Records;

/// What identifies one version of the records file. The orchestrator replaces the file by a
/// rename, so a new version is a new inode; mtime and size catch an edit in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    size: u64,
}

/// The records file as last read, keyed by lower-case name.
#[derive(Debug)]
pub(crate) struct Zone {
    path: PathBuf,
    /// The version read last; `None` while there is no file.
    stamp: Option<Stamp>,
    names: HashMap<String, Vec<IpAddr>>,
    /// How many times each name has been answered: where its rotation starts next.
    turns: HashMap<String, usize>,
}

impl Zone {
    /// The zone of the records file at `path` (which may not exist yet).
    pub(crate) fn new(path: PathBuf) -> Zone {
        let mut zone = Zone { path, stamp: None, names: HashMap::new(), turns: HashMap::new() };
        zone.refresh();
        zone
    }

    /// Reads the file again if it changed since it was last read. A file that cannot be read or
    /// parsed leaves the names as they were (the orchestrator writes atomically, so this is a
    /// passing state at worst) and is tried again when it changes.
    fn refresh(&mut self) {
        let stamp = std::fs::metadata(&self.path).ok().map(|m| Stamp {
            dev: m.dev(),
            ino: m.ino(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
            size: m.size(),
        });
        if stamp == self.stamp {
            return;
        }
        let records = match stamp {
            None => Records::default(),
            Some(_) => match Records::load(&self.path) {
                Ok(records) => records,
                Err(_) => {
                    self.stamp = stamp;
                    return;
                }
            },
        };
        self.stamp = stamp;
        self.names.clear();
        for (name, addresses) in records.names {
            let key = normalize(&name);
            let merged = self.names.entry(key).or_default();
            for address in addresses {
                if !merged.contains(&address) {
                    merged.push(address);
                }
            }
        }
        self.turns.retain(|name, _| self.names.contains_key(name));
    }

    /// The addresses of `name` (any case, trailing dot or not) after bringing the zone up to date
    /// with the file, rotated by one more place than last time; `None` for an unknown name.
    pub(crate) fn lookup(&mut self, name: &str) -> Option<Vec<IpAddr>> {
        self.refresh();
        let key = normalize(name);
        let addresses = self.names.get(&key)?;
        let turn = self.turns.entry(key).or_default();
        let mut rotated = addresses.clone();
        if !rotated.is_empty() {
            rotated.rotate_left(*turn % addresses.len());
        }
        *turn = turn.wrapping_add(1);
        Some(rotated)
    }
}

/// The zones of the networks the resolver's clients are on, by records file.
#[derive(Debug, Default)]
pub(crate) struct Zones {
    by_file: HashMap<PathBuf, Zone>,
}

impl Zones {
    /// The addresses of `name` on the first of `networks` (records files) that knows it, as
    /// [`Zone::lookup`] gives them; `None` if none does.
    pub(crate) fn lookup(&mut self, networks: &[PathBuf], name: &str) -> Option<Vec<IpAddr>> {
        networks.iter().find_map(|file| {
            if !self.by_file.contains_key(file) {
                self.by_file.insert(file.clone(), Zone::new(file.clone()));
            }
            self.by_file.get_mut(file).and_then(|zone| zone.lookup(name))
        })
    }

    /// Forgets the zones of the records files `in_use` says no client is on any more.
    pub(crate) fn retain(&mut self, in_use: impl Fn(&Path) -> bool) {
        self.by_file.retain(|file, _| in_use(file));
    }
}

/// The form names are compared in: lower case, without the trailing dot.
fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::net::Ipv4Addr;

    fn ip(last: u8) -> IpAddr {
        Ipv4Addr::new(10, 0, 0, last).into()
    }

    #[test]
    fn lookups_ignore_case_and_trailing_dot_and_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.json");
        let mut records = Records::default();
        for last in 1..=3 {
            records.insert("Web", ip(last));
        }
        records.save(&path).unwrap();
        let mut zone = Zone::new(path);
        assert_eq!(zone.lookup("web."), Some(vec![ip(1), ip(2), ip(3)]));
        assert_eq!(zone.lookup("WEB"), Some(vec![ip(2), ip(3), ip(1)]));
        assert_eq!(zone.lookup("web"), Some(vec![ip(3), ip(1), ip(2)]));
        assert_eq!(zone.lookup("web"), Some(vec![ip(1), ip(2), ip(3)]));
        assert_eq!(zone.lookup("db"), None);
    }

    #[test]
    fn changes_of_the_file_are_seen_and_a_broken_file_keeps_the_last_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.json");
        let mut zone = Zone::new(path.clone());
        assert_eq!(zone.lookup("web"), None);
        let mut records = Records::default();
        records.insert("web", ip(1));
        records.save(&path).unwrap();
        assert_eq!(zone.lookup("web"), Some(vec![ip(1)]));
        records.insert("db", ip(2));
        records.save(&path).unwrap();
        assert_eq!(zone.lookup("db"), Some(vec![ip(2)]));
        std::fs::write(&path, "{not json").unwrap();
        assert_eq!(zone.lookup("db"), Some(vec![ip(2)]));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(zone.lookup("db"), None);
    }

    #[test]
    fn a_name_answers_from_the_first_network_that_knows_it() {
        let dir = tempfile::tempdir().unwrap();
        let (front, back) = (dir.path().join("front.json"), dir.path().join("back.json"));
        let mut records = Records::default();
        records.insert("web", ip(2));
        records.save(&front).unwrap();
        let mut records = Records::default();
        records.insert("web", Ipv4Addr::new(10, 1, 0, 2));
        records.insert("db", Ipv4Addr::new(10, 1, 0, 3));
        records.save(&back).unwrap();
        let mut zones = Zones::default();
        let both = [front.clone(), back.clone()];
        assert_eq!(zones.lookup(&both, "web"), Some(vec![ip(2)]));
        assert_eq!(zones.lookup(&[back, front.clone()], "web"), Some(vec![IpAddr::from(Ipv4Addr::new(10, 1, 0, 2))]));
        assert_eq!(zones.lookup(&both, "db"), Some(vec![IpAddr::from(Ipv4Addr::new(10, 1, 0, 3))]));
        assert_eq!(zones.lookup(std::slice::from_ref(&front), "db"), None);
        zones.retain(|file| file == front);
        assert_eq!(zones.by_file.len(), 1);
    }
}
