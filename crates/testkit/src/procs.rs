//! Namespaces by identity, and finding and killing every process that lives in a sandbox.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Identity of a namespace: device and inode of its nsfs file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NsId {
    dev: u64,
    ino: u64,
}

impl NsId {
    /// The identity of the namespace file whose metadata is `metadata`.
    pub(crate) fn of(metadata: &std::fs::Metadata) -> NsId {
        NsId {
            dev: metadata.dev(),
            ino: metadata.ino(),
        }
    }

    /// The namespace of kind `kind` this process is in.
    pub(crate) fn own(kind: &str) -> std::io::Result<NsId> {
        std::fs::metadata(format!("/proc/self/ns/{kind}")).map(|m| NsId::of(&m))
    }
}

/// An open namespace file: keeps the namespace alive (so its identity cannot be reused by a new
/// namespace) and can be passed to `setns`.
#[derive(Debug)]
pub(crate) struct PinnedNs {
    pub(crate) kind: &'static str,
    pub(crate) file: File,
    pub(crate) id: NsId,
}

impl PinnedNs {
    /// Opens the namespace of kind `kind` of process `pid`.
    pub(crate) fn open(pid: u32, kind: &'static str) -> std::io::Result<PinnedNs> {
        let file = File::open(format!("/proc/{pid}/ns/{kind}"))?;
        let id = NsId::of(&file.metadata()?);
        Ok(PinnedNs { kind, file, id })
    }
}

/// One entry of /proc: a process (thread-group leader) and its parent.
struct ProcessEntry {
    pid: u32,
    ppid: u32,
}

fn processes() -> Vec<ProcessEntry> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let ppid = parent_of(pid)?;
        Some(ProcessEntry { pid, ppid })
    })
    .collect()
}

/// The parent of `pid`, from /proc/PID/stat (whose second field, the command name, may hold
/// spaces and parentheses: the fields after it start after the last ')').
pub(crate) fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.split_whitespace().nth(1)?.parse().ok()
}

fn in_any(pid: u32, namespaces: &[&PinnedNs]) -> bool {
    namespaces.iter().any(|ns| {
        let path = format!("/proc/{pid}/ns/{}", ns.kind);
        std::fs::metadata(Path::new(&path))
            .map(|m| NsId::of(&m) == ns.id)
            .unwrap_or(false)
    })
}

/// True if `pid`'s environment holds exactly the entry `mark` ("NAME=value").
fn carries(pid: u32, mark: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|environ| {
            environ
                .split(|&b| b == 0)
                .any(|entry| entry == mark.as_bytes())
        })
        .unwrap_or(false)
}

/// Every process living in one of `namespaces` or whose environment holds `mark` ("NAME=value"),
/// plus all descendants of those (a container started inside a sandbox has namespaces of its own
/// but is still a child of something in the sandbox). Never this process nor pid 1.
pub(crate) fn members(namespaces: &[&PinnedNs], mark: &str) -> Vec<u32> {
    let all = processes();
    let me = std::process::id();
    let mut found: Vec<u32> = all
        .iter()
        .filter(|p| p.pid != me && p.pid != 1)
        .filter(|p| in_any(p.pid, namespaces) || carries(p.pid, mark))
        .map(|p| p.pid)
        .collect();
    loop {
        let before = found.len();
        for p in &all {
            if p.pid != me && p.pid != 1 && !found.contains(&p.pid) && found.contains(&p.ppid) {
                found.push(p.pid);
            }
        }
        if found.len() == before {
            return found;
        }
    }
}

/// Kills every member of `namespaces` or carrier of `mark` (see [`members`]), again and again until
/// none is left or `timeout` has passed. Returns the processes still there at the end (none when
/// all went well).
pub(crate) fn sweep(namespaces: &[&PinnedNs], mark: &str, timeout: Duration) -> Vec<u32> {
    let deadline = Instant::now() + timeout;
    loop {
        let victims = members(namespaces, mark);
        if victims.is_empty() || Instant::now() >= deadline {
            return victims;
        }
        // Stop them all first, so none can fork or be re-parented while the others are killed.
        for &pid in &victims {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGSTOP);
        }
        for &pid in &victims {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_of_self_is_the_real_parent() {
        let parent = parent_of(std::process::id()).unwrap();
        assert_eq!(parent, std::os::unix::process::parent_id());
    }

    #[test]
    fn marks_are_found_in_the_environment_only_as_whole_entries() {
        let mut child = std::process::Command::new("sleep")
            .arg("10")
            .env("XTK_SANDBOX", "unit-test-mark")
            .spawn()
            .unwrap();
        // Until the child has exec'd, its environment is still ours.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !carries(child.id(), "XTK_SANDBOX=unit-test-mark") {
            assert!(std::time::Instant::now() < deadline, "the child's environment never showed the mark");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!carries(child.id(), "XTK_SANDBOX=unit-test"));
        assert!(!carries(std::process::id(), "XTK_SANDBOX=unit-test-mark"));
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn own_namespace_identity_matches_a_pinned_file() {
        let pinned = PinnedNs::open(std::process::id(), "net").unwrap();
        assert_eq!(pinned.id, NsId::own("net").unwrap());
        assert_eq!(pinned.kind, "net");
    }
}
