//! cgroup v2: one directory, controllers enabled from the root down.
//!
//! v2 forbids a cgroup that holds processes from delegating controllers to children (the "no
//! internal processes" rule), so container cgroups live at `/sys/fs/cgroup/xcompose/<name>`
//! rather than below the caller's own cgroup.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::fs::{self, CGROUP_ROOT};
use crate::{CgroupError, Resources, Result, Stats};

const WANTED: [&str; 5] = ["cpu", "cpuset", "io", "memory", "pids"];

/// A container cgroup on v2.
#[derive(Debug, Clone)]
pub struct CgroupV2 {
    path: PathBuf,
}

impl CgroupV2 {
    /// Creates `/sys/fs/cgroup/xcompose/<name>` with the controllers the host offers; an
    /// absolute `name` (`/parent/ID`, from `cgroup_parent`) is `/sys/fs/cgroup/parent/ID`.
    pub fn create(name: &str) -> Result<Self> {
        let path = match name.strip_prefix('/') {
            Some(path) => CGROUP_ROOT.join(path),
            None => CGROUP_ROOT.join("xcompose").join(name),
        };
        fs::create_dir(&path)?;
        // Every level above the container delegates the controllers to the next.
        let mut level = CGROUP_ROOT.clone();
        for part in path.strip_prefix(&*CGROUP_ROOT).unwrap_or(Path::new("")).components() {
            enable_controllers(&level)?;
            level = level.join(part);
        }
        Ok(Self { path })
    }

    /// Reopens from a stored path.
    pub fn open(path: PathBuf) -> Self {
        Self { path }
    }

    /// The cgroup directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes the limits (files of controllers the host lacks are skipped).
    pub fn apply(&self, r: &Resources) -> Result<()> {
        let write_if = |name: &str, value: String| -> Result<()> {
            let f = self.file(name);
            if f.exists() {
                fs::write(&f, &value)?;
            }
            Ok(())
        };
        if let Some(limit) = r.memory_limit {
            write_if("memory.max", limit.to_string())?;
            // v2 limits swap alone; Docker's memswap is memory plus swap.
            let swap = r.memory_swap_limit.unwrap_or(limit.saturating_mul(2));
            write_if("memory.swap.max", if swap < 0 { "max".into() } else { (swap - limit).max(0).to_string() })?;
        }
        if let Some(low) = r.memory_reservation {
            write_if("memory.low", low.to_string())?;
        }
        if let Some((quota, period)) = r.cpu_bandwidth() {
            let quota = if quota < 0 { "max".to_string() } else { quota.to_string() };
            write_if("cpu.max", format!("{quota} {period}"))?;
        }
        // v2 has no swappiness, OOM-killer switch, real-time groups or device files: Docker
        // discards those there too (the device rules would need an eBPF program).
        apply_io(&|name, value| write_if(name, value), &r.blkio)?;
        if let Some(shares) = r.cpu_shares {
            write_if("cpu.weight", shares_to_weight(shares).to_string())?;
        }
        if let Some(cpus) = &r.cpuset_cpus {
            write_if("cpuset.cpus", cpus.clone())?;
        }
        if let Some(max) = r.pids_limit {
            write_if("pids.max", if max <= 0 { "max".into() } else { max.to_string() })?;
        }
        Ok(())
    }

    /// Adds a process.
    pub fn add_process(&self, pid: u32) -> Result<()> {
        fs::write(&self.file("cgroup.procs"), &pid.to_string())
    }

    /// The processes.
    pub fn processes(&self) -> Result<Vec<u32>> {
        fs::read_pids(&self.file("cgroup.procs"))
    }

    /// Freezes or thaws, waiting for `cgroup.events` to report the new state.
    pub fn set_frozen(&self, frozen: bool) -> Result<()> {
        fs::write(&self.file("cgroup.freeze"), if frozen { "1" } else { "0" })?;
        let deadline = Instant::now() + Duration::from_secs(5);
        let events = self.file("cgroup.events");
        while fs::read_key(&events, "frozen")? != u64::from(frozen) {
            if Instant::now() > deadline {
                return Err(CgroupError::Parse { path: events.clone(), content: fs::read(&events)? });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// Usage figures.
    pub fn stats(&self) -> Result<Stats> {
        let opt = |name: &str| -> Result<Option<u64>> {
            let f = self.file(name);
            if f.exists() { fs::read_u64(&f) } else { Ok(None) }
        };
        Ok(Stats {
            memory_usage: opt("memory.current")?.unwrap_or(0),
            memory_limit: opt("memory.max")?,
            cpu_usage_ns: fs::read_key(&self.file("cpu.stat"), "usage_usec")? * 1000,
            pids: opt("pids.current")?.unwrap_or(0),
            oom_kills: if self.file("memory.events").exists() { fs::read_key(&self.file("memory.events"), "oom_kill")? } else { 0 },
        })
    }

    /// Kills every process (`cgroup.kill` reaches frozen ones too) and waits for them to go.
    pub fn kill_all(&self) -> Result<()> {
        if !self.path.exists() {
            return Ok(());
        }
        let kill = self.file("cgroup.kill");
        if kill.exists() {
            fs::write(&kill, "1")?;
        } else if self.file("cgroup.freeze").exists() {
            // Without cgroup.kill (before Linux 5.14) a frozen process cannot die.
            self.set_frozen(false)?;
        }
        fs::kill_all_and_wait(&self.file("cgroup.procs"), &self.path)
    }

    /// Kills what is left and removes the directory.
    pub fn destroy(&self) -> Result<()> {
        if !self.path.exists() {
            return Ok(());
        }
        self.kill_all()?;
        fs::remove_dir(&self.path)?;
        fs::remove_empty_parent(&self.path);
        Ok(())
    }
}

/// `blkio_config` on v2: `io.weight` (`default N`, `MAJ:MIN N`) and `io.max` throttles.
fn apply_io(write_if: &dyn Fn(&str, String) -> Result<()>, b: &crate::Blkio) -> Result<()> {
    if let Some(weight) = b.weight {
        write_if("io.weight", format!("default {weight}"))?;
    }
    for (device, weight) in &b.weight_device {
        write_if("io.weight", format!("{device} {weight}"))?;
    }
    for (key, rules) in [("rbps", &b.read_bps), ("wbps", &b.write_bps), ("riops", &b.read_iops), ("wiops", &b.write_iops)] {
        for (device, rate) in rules {
            write_if("io.max", format!("{device} {key}={rate}"))?;
        }
    }
    Ok(())
}

/// Enables in `dir`'s children every wanted controller `dir` has.
fn enable_controllers(dir: &Path) -> Result<()> {
    let available = fs::read(&dir.join("cgroup.controllers"))?;
    let enable: Vec<String> =
        WANTED.iter().filter(|c| available.split_whitespace().any(|a| a == **c)).map(|c| format!("+{c}")).collect();
    if enable.is_empty() {
        return Ok(());
    }
    fs::write(&dir.join("cgroup.subtree_control"), &enable.join(" "))
}

/// Docker's conversion of CPU shares (2..262144) to a v2 weight (1..10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_map_onto_weights_like_docker() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(0), 1);
    }
}
