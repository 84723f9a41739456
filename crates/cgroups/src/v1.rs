//! cgroup v1: one directory per controller hierarchy, created below the caller's own cgroup in
//! each hierarchy.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::fs::{self, CGROUP_ROOT};
use crate::{CgroupError, Resources, Result, Stats};

/// The controllers a container cgroup uses.
const CONTROLLERS: [&str; 6] = ["memory", "cpu", "cpuacct", "cpuset", "pids", "freezer"];

/// A container cgroup on v1.
#[derive(Debug, Clone)]
pub struct CgroupV1 {
    /// (controller, directory), one per mounted controller.
    dirs: Vec<(String, PathBuf)>,
}

impl CgroupV1 {
    /// Creates `<own cgroup>/xcompose/<name>` in every mounted controller hierarchy.
    pub fn create(name: &str) -> Result<Self> {
        let mut dirs = Vec::new();
        for controller in CONTROLLERS {
            let mount = CGROUP_ROOT.join(controller);
            if !mount.is_dir() {
                continue;
            }
            let own = fs::own_cgroup(controller)?;
            let parent = mount.join(&own).join("xcompose");
            let dir = parent.join(name);
            fs::create_dir(&dir)?;
            if controller == "cpuset" {
                inherit_cpuset(&mount.join(&own), &parent)?;
                inherit_cpuset(&parent, &dir)?;
            }
            dirs.push((controller.to_string(), dir));
        }
        if dirs.is_empty() {
            return Err(CgroupError::NotMounted);
        }
        Ok(Self { dirs })
    }

    /// Reopens from stored paths (`/sys/fs/cgroup/<controller>/...`).
    pub fn open(paths: &[PathBuf]) -> Self {
        let dirs = paths
            .iter()
            .filter_map(|p| {
                let rel = p.strip_prefix(&*CGROUP_ROOT).ok()?;
                let controller = rel.components().next()?.as_os_str().to_string_lossy().into_owned();
                Some((controller, p.clone()))
            })
            .collect();
        Self { dirs }
    }

    /// The directories, one per controller.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|(_, d)| d.clone()).collect()
    }

    fn dir(&self, controller: &str) -> Option<&Path> {
        self.dirs.iter().find(|(c, _)| c == controller).map(|(_, d)| d.as_path())
    }

    /// Writes the limits to the controllers that carry them.
    pub fn apply(&self, r: &Resources) -> Result<()> {
        if let Some(mem) = self.dir("memory") {
            if let Some(limit) = r.memory_limit {
                fs::write(&mem.join("memory.limit_in_bytes"), &limit.to_string())?;
                // Docker's default: as much swap as memory, unless told otherwise.
                let swap = r.memory_swap_limit.unwrap_or(limit.saturating_mul(2));
                let memsw = mem.join("memory.memsw.limit_in_bytes");
                if memsw.exists() {
                    fs::write(&memsw, &swap.to_string())?;
                }
            }
            if let Some(soft) = r.memory_reservation {
                fs::write(&mem.join("memory.soft_limit_in_bytes"), &soft.to_string())?;
            }
        }
        if let Some(cpu) = self.dir("cpu") {
            if let Some(quota) = r.cpu_quota_us() {
                fs::write(&cpu.join("cpu.cfs_period_us"), &crate::resources::CPU_PERIOD_US.to_string())?;
                fs::write(&cpu.join("cpu.cfs_quota_us"), &quota.to_string())?;
            }
            if let Some(shares) = r.cpu_shares {
                fs::write(&cpu.join("cpu.shares"), &shares.to_string())?;
            }
        }
        if let (Some(cpuset), Some(cpus)) = (self.dir("cpuset"), &r.cpuset_cpus) {
            fs::write(&cpuset.join("cpuset.cpus"), cpus)?;
        }
        if let (Some(pids), Some(max)) = (self.dir("pids"), r.pids_limit) {
            let value = if max <= 0 { "max".to_string() } else { max.to_string() };
            fs::write(&pids.join("pids.max"), &value)?;
        }
        Ok(())
    }

    /// Adds a process to every controller.
    pub fn add_process(&self, pid: u32) -> Result<()> {
        for (_, dir) in &self.dirs {
            fs::write(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// The processes (as seen by the first controller; all are kept in step).
    pub fn processes(&self) -> Result<Vec<u32>> {
        match self.dirs.first() {
            Some((_, dir)) => fs::read_pids(&dir.join("cgroup.procs")),
            None => Ok(Vec::new()),
        }
    }

    /// Freezes or thaws through the freezer controller, waiting for the state to settle.
    pub fn set_frozen(&self, frozen: bool) -> Result<()> {
        let Some(dir) = self.dir("freezer") else { return Err(CgroupError::NotMounted) };
        let state = dir.join("freezer.state");
        let want = if frozen { "FROZEN" } else { "THAWED" };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            fs::write(&state, want)?;
            if fs::read(&state)? == want {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(CgroupError::Parse { path: state, content: fs::read(&dir.join("freezer.state"))? });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Usage figures.
    pub fn stats(&self) -> Result<Stats> {
        let mut stats = Stats::default();
        if let Some(mem) = self.dir("memory") {
            stats.memory_usage = fs::read_u64(&mem.join("memory.usage_in_bytes"))?.unwrap_or(0);
            // The kernel reports "no limit" as a huge page-aligned number.
            stats.memory_limit = fs::read_u64(&mem.join("memory.limit_in_bytes"))?.filter(|l| *l < (1 << 62));
            stats.oom_kills = fs::read_key(&mem.join("memory.oom_control"), "oom_kill")?;
        }
        if let Some(acct) = self.dir("cpuacct") {
            stats.cpu_usage_ns = fs::read_u64(&acct.join("cpuacct.usage"))?.unwrap_or(0);
        }
        if let Some(pids) = self.dir("pids") {
            stats.pids = fs::read_u64(&pids.join("pids.current"))?.unwrap_or(0);
        }
        Ok(stats)
    }

    /// Kills every process (thawed first, so that they can die) and waits for them to go.
    pub fn kill_all(&self) -> Result<()> {
        if self.dir("freezer").is_some_and(Path::exists) {
            self.set_frozen(false)?;
        }
        for (_, dir) in self.dirs.iter().filter(|(_, d)| d.exists()) {
            fs::kill_all_and_wait(&dir.join("cgroup.procs"), dir)?;
        }
        Ok(())
    }

    /// Kills what is left and removes every directory.
    pub fn destroy(&self) -> Result<()> {
        self.kill_all()?;
        for (_, dir) in &self.dirs {
            if dir.exists() {
                fs::remove_dir(dir)?;
            }
            fs::remove_empty_parent(dir);
        }
        Ok(())
    }
}

/// A new cpuset cgroup starts with no CPUs and no memory nodes: copy the parent's.
fn inherit_cpuset(parent: &Path, dir: &Path) -> Result<()> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if fs::read(&dir.join(file))?.is_empty() {
            fs::write(&dir.join(file), &fs::read(&parent.join(file))?)?;
        }
    }
    Ok(())
}
