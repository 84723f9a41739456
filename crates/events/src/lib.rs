//! Container events without a daemon: whoever changes a container (the runtime for create,
//! kill and destroy; its supervisor for start, die, health and pause) appends an [`Event`] to
//! the state root's [`Journal`], and `xcompose events` follows it with a [`Follower`].
//!
//! The journal is JSON lines. Each append is one `write` under an exclusive lock on the file,
//! so lines never interleave; past [`Journal::MAX_SIZE`] the file is renamed to `<name>.1`
//! (replacing the previous one) and a new one begun, which followers notice and switch to.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

/// Something that happened to a container, as Docker reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When.
    pub time: DateTime<Utc>,
    /// The container's ID.
    pub id: String,
    /// Docker's action: `create`, `start`, `die`, `kill`, `stop`, `destroy`, `pause`,
    /// `unpause`, `oom`, `health_status: healthy`, ...
    pub action: String,
    /// The container's name, image and labels, and the action's own (`exitCode`, `signal`).
    pub attributes: BTreeMap<String, String>,
}

/// The events file of a state root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    path: PathBuf,
}

impl Journal {
    /// Size past which the journal starts afresh (the previous one is kept as `<name>.1`).
    pub const MAX_SIZE: u64 = 4 << 20;

    /// The journal at `path` (created on the first append).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Appends `event` as one line.
    pub fn append(&self, event: &Event) -> io::Result<()> {
        let mut line = serde_json::to_vec(event).map_err(io::Error::other)?;
        line.push(b'\n');
        let file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        let mut file = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| io::Error::from(e))?;
        // Another appender may have rotated the file while this one waited for the lock.
        if fs::metadata(&self.path).map(|m| m.ino()).ok() != Some(file.metadata()?.ino()) {
            drop(file);
            return self.append(event);
        }
        if file.metadata()?.len() + line.len() as u64 > Self::MAX_SIZE {
            fs::rename(&self.path, rotated(&self.path))?;
            drop(file);
            return self.append(event);
        }
        file.write_all(&line)
    }

    /// A follower of the journal from its current end (`from_start` false), or from its
    /// oldest event kept.
    pub fn follow(&self, from_start: bool) -> io::Result<Follower> {
        let mut follower = Follower { path: self.path.clone(), file: None, pending: Vec::new() };
        if from_start {
            if let Ok(old) = File::open(rotated(&self.path)) {
                follower.file = Some(old);
                return Ok(follower);
            }
        }
        if let Ok(mut file) = File::open(&self.path) {
            if !from_start {
                file.seek(SeekFrom::End(0))?;
            }
            follower.file = Some(file);
        }
        Ok(follower)
    }
}

fn rotated(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

/// Reads the events appended since it last looked.
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    file: Option<File>,
    /// The start of a line whose end is not written yet.
    pending: Vec<u8>,
}

impl Follower {
    /// The events appended since the last call (lines that are not events are skipped).
    pub fn poll(&mut self) -> io::Result<Vec<Event>> {
        let mut events = Vec::new();
        loop {
            if let Some(file) = self.file.as_mut() {
                file.read_to_end(&mut self.pending)?;
                let complete = self.pending.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                for line in self.pending[..complete].split(|b| *b == b'\n') {
                    if let Ok(event) = serde_json::from_slice::<Event>(line) {
                        events.push(event);
                    }
                }
                self.pending.drain(..complete);
            }
            // Switch when the path names another file (rotated, or created since): what the old
            // one held is read above.
            let current = fs::metadata(&self.path).ok().map(|m| m.ino());
            let open = self.file.as_ref().and_then(|f| f.metadata().ok()).map(|m| m.ino());
            match current {
                Some(ino) if Some(ino) != open => {
                    self.file = Some(File::open(&self.path)?);
                    self.pending.clear();
                }
                _ => return Ok(events),
            }
        }
    }
}

/// What one container emits: its ID and attributes, and the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The journal to append to.
    pub journal: Journal,
    /// The container's ID.
    pub id: String,
    /// Its attributes (name, image, labels), on every event.
    pub attributes: BTreeMap<String, String>,
}

impl Source {
    /// Records `action` now, with `extra` attributes. Best effort: events are for watching, a
    /// failed append must not fail what the container does.
    pub fn emit(&self, action: &str, extra: &[(&str, String)]) {
        let mut attributes = self.attributes.clone();
        attributes.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        let _ = self.journal.append(&Event { time: Utc::now(), id: self.id.clone(), action: action.to_string(), attributes });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(dir: &Path) -> Source {
        Source { journal: Journal::new(dir.join("events.jsonl")), id: "c1".into(), attributes: [("name".to_string(), "p-web-1".to_string())].into() }
    }

    #[test]
    fn a_follower_sees_only_what_comes_after_it_unless_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let source = source(dir.path());
        source.emit("create", &[]);
        let mut from_end = source.journal.follow(false).unwrap();
        let mut from_start = source.journal.follow(true).unwrap();
        source.emit("die", &[("exitCode", "3".into())]);
        let actions = |events: Vec<Event>| events.into_iter().map(|e| e.action).collect::<Vec<_>>();
        assert_eq!(actions(from_end.poll().unwrap()), ["die"]);
        let all = from_start.poll().unwrap();
        assert_eq!(all[1].attributes["exitCode"], "3");
        assert_eq!(all[1].attributes["name"], "p-web-1");
        assert_eq!(actions(all), ["create", "die"]);
        assert!(from_end.poll().unwrap().is_empty());
    }

    #[test]
    fn a_follower_started_before_the_journal_exists_sees_its_first_events() {
        let dir = tempfile::tempdir().unwrap();
        let source = source(dir.path());
        let mut follower = source.journal.follow(false).unwrap();
        assert!(follower.poll().unwrap().is_empty());
        source.emit("create", &[]);
        assert_eq!(follower.poll().unwrap().len(), 1);
    }

    #[test]
    fn rotation_loses_nothing_a_follower_has_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let source = source(dir.path());
        let mut follower = source.journal.follow(false).unwrap();
        let big = "x".repeat(64 << 10);
        let per_event = serde_json::to_vec(&Event { time: Utc::now(), id: "c1".into(), action: "start".into(), attributes: [("name".into(), "p-web-1".into()), ("pad".into(), big.clone())].into() }).unwrap().len() as u64 + 1;
        let count = (Journal::MAX_SIZE / per_event) as usize * 2 + 3;
        let mut seen = 0;
        for i in 0..count {
            source.emit("start", &[("pad", big.clone()), ("n", i.to_string())]);
            if i % 7 == 0 {
                seen += follower.poll().unwrap().len();
            }
        }
        seen += follower.poll().unwrap().len();
        assert!(rotated(&source.journal.path).exists(), "the journal rotated");
        assert!(fs::metadata(&source.journal.path).unwrap().len() <= Journal::MAX_SIZE);
        assert_eq!(seen, count, "every event was seen once");
    }

    #[test]
    fn concurrent_appends_never_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let source = source(dir.path());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let source = source.clone();
                std::thread::spawn(move || (0..200).for_each(|i| source.emit("start", &[("n", format!("{t}-{i}-{}", "y".repeat(3000)))])))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let all = source.journal.follow(true).unwrap().poll().unwrap();
        assert_eq!(all.len(), 1600);
    }
}
