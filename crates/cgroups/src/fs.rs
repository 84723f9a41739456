//! Reading and writing cgroup files, with errors that name the file.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::{CgroupError, Result};

/// Where cgroup hierarchies are mounted.
pub static CGROUP_ROOT: LazyLock<PathBuf> = LazyLock::new(|| PathBuf::from("/sys/fs/cgroup"));

/// Reads a cgroup file, trimmed.
pub fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|source| CgroupError::Io { path: path.to_path_buf(), source })
}

/// Writes a value to a cgroup file.
pub fn write(path: &Path, value: &str) -> Result<()> {
    std::fs::write(path, value).map_err(|source| CgroupError::Io { path: path.to_path_buf(), source })
}

/// Reads a file holding one unsigned number (`max` reads as `None`).
pub fn read_u64(path: &Path) -> Result<Option<u64>> {
    let text = read(path)?;
    if text == "max" {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| CgroupError::Parse { path: path.to_path_buf(), content: text })
}

/// The value of `key` in a flat-keyed file such as `memory.events` (`oom_kill 3`).
pub fn read_key(path: &Path, key: &str) -> Result<u64> {
    let text = read(path)?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0))
}

/// The pids listed in a `cgroup.procs` file.
pub fn read_pids(path: &Path) -> Result<Vec<u32>> {
    Ok(read(path)?.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// Creates a directory and its parents.
pub fn create_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|source| CgroupError::Io { path: path.to_path_buf(), source })
}

/// The path of this process's cgroup in `controller`'s hierarchy (`""` for v2), from /proc/self/cgroup.
pub fn own_cgroup(controller: &str) -> Result<PathBuf> {
    let path = Path::new("/proc/self/cgroup");
    let text = read(path)?;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, cg) = (parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
        if controllers.split(',').any(|c| c == controller) {
            return Ok(PathBuf::from(cg.trim_start_matches('/')));
        }
    }
    Ok(PathBuf::new())
}

/// Sends SIGKILL to every process listed in `procs`, then waits for the list to empty.
pub fn kill_all_and_wait(procs: &Path, dir: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let pids = read_pids(procs)?;
        if pids.is_empty() {
            return Ok(());
        }
        for pid in pids {
            // A process that exited meanwhile is not an error.
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        if Instant::now() > deadline {
            return Err(CgroupError::Busy { path: dir.to_path_buf() });
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Removes a cgroup directory (rmdir: the kernel refuses while processes remain), retrying
/// briefly as the kernel finishes releasing killed tasks.
pub fn remove_dir(path: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(CgroupError::Io { path: path.to_path_buf(), source: e }),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Removes the shared `xcompose` parent of a container cgroup once its last child is gone
/// (rmdir refuses while other containers' cgroups remain, which is what we want).
pub fn remove_empty_parent(dir: &Path) {
    if let Some(parent) = dir.parent().filter(|p| p.file_name().is_some_and(|n| n == "xcompose")) {
        let _ = std::fs::remove_dir(parent);
    }
}
