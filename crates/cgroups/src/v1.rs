//! cgroup v1: one directory per controller hierarchy, created below the caller's own cgroup in
//! each hierarchy.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::fs::{self, CGROUP_ROOT};
use crate::{CgroupError, Resources, Result, Stats};

/// The controllers a container cgroup uses.
const CONTROLLERS: [&str; 8] = ["memory", "cpu", "cpuacct", "cpuset", "pids", "freezer", "blkio", "devices"];

/// A container cgroup on v1.
#[derive(Debug, Clone)]
pub struct CgroupV1 {
    /// (controller, directory), one per mounted controller.
    dirs: Vec<(String, PathBuf)>,
}

impl CgroupV1 {
    /// Creates `<own cgroup>/xcompose/<name>` in every mounted controller hierarchy; an absolute
    /// `name` (`/parent/ID`, from `cgroup_parent`) is taken from each hierarchy's root, as
    /// Docker's cgroupfs driver does.
    pub fn create(name: &str) -> Result<Self> {
        let mut dirs = Vec::new();
        for controller in CONTROLLERS {
            let mount = CGROUP_ROOT.join(controller);
            if !mount.is_dir() {
                continue;
            }
            let (base, dir) = match name.strip_prefix('/') {
                Some(path) => (mount.clone(), mount.join(path)),
                None => {
                    let base = mount.join(fs::own_cgroup(controller)?);
                    let dir = base.join("xcompose").join(name);
                    (base, dir)
                }
            };
            fs::create_dir(&dir)?;
            if controller == "cpuset" {
                // Each new level starts with no CPUs and no memory nodes.
                let mut level = base.clone();
                for part in dir.strip_prefix(&base).unwrap_or(Path::new("")).components() {
                    let next = level.join(part);
                    inherit_cpuset(&level, &next)?;
                    level = next;
                }
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
            if let Some(swappiness) = r.memory_swappiness {
                fs::write(&mem.join("memory.swappiness"), &swappiness.to_string())?;
            }
            if r.oom_kill_disable {
                fs::write(&mem.join("memory.oom_control"), "1")?;
            }
        }
        if let Some(cpu) = self.dir("cpu") {
            if let Some((quota, period)) = r.cpu_bandwidth() {
                fs::write(&cpu.join("cpu.cfs_period_us"), &period.to_string())?;
                fs::write(&cpu.join("cpu.cfs_quota_us"), &quota.to_string())?;
            }
            if let Some(shares) = r.cpu_shares {
                fs::write(&cpu.join("cpu.shares"), &shares.to_string())?;
            }
            apply_realtime(cpu, r)?;
        }
        if let Some(blkio) = self.dir("blkio") {
            apply_blkio(blkio, &r.blkio)?;
        }
        if let (Some(devices), Some(access)) = (self.dir("devices"), &r.devices) {
            apply_devices(devices, access)?;
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

/// `cpu_rt_period` / `cpu_rt_runtime`. A cgroup may only hand out real-time time its parent
/// has: the levels between the hierarchy's budget and the container get the budget of the
/// level above them when they have none (as a daemon's `--cpu-rt-runtime` gives Docker's parent).
fn apply_realtime(cpu: &Path, r: &Resources) -> Result<()> {
    if r.cpu_rt_runtime.is_none() && r.cpu_rt_period.is_none() {
        return Ok(());
    }
    let mut levels: Vec<&Path> = cpu.ancestors().skip(1).take_while(|a| a.join("cpu.rt_runtime_us").exists()).collect();
    levels.reverse();
    for pair in levels.windows(2) {
        let (above, level) = (pair[0], pair[1]);
        if fs::read(&level.join("cpu.rt_runtime_us"))? == "0" {
            fs::write(&level.join("cpu.rt_runtime_us"), &fs::read(&above.join("cpu.rt_runtime_us"))?)?;
        }
    }
    if let Some(period) = r.cpu_rt_period {
        fs::write(&cpu.join("cpu.rt_period_us"), &period.to_string())?;
    }
    if let Some(runtime) = r.cpu_rt_runtime {
        fs::write(&cpu.join("cpu.rt_runtime_us"), &runtime.to_string())?;
    }
    Ok(())
}

/// `blkio_config` on v1: the throttle files always; the weight where the kernel's I/O scheduler
/// has one (`blkio.weight`, or BFQ's `blkio.bfq.weight`). Docker discards the weight with a
/// warning on hosts without either; so does this (the caller warns).
fn apply_blkio(dir: &Path, b: &crate::Blkio) -> Result<()> {
    let weight_file = ["blkio.weight", "blkio.bfq.weight"].into_iter().map(|f| dir.join(f)).find(|f| f.exists());
    if let Some(file) = &weight_file {
        if let Some(weight) = b.weight {
            fs::write(file, &weight.to_string())?;
        }
        let device_file = file.with_file_name(format!("{}_device", file.file_name().unwrap_or_default().to_string_lossy()));
        for (device, weight) in &b.weight_device {
            fs::write(&device_file, &format!("{device} {weight}"))?;
        }
    }
    for (file, rules) in [
        ("blkio.throttle.read_bps_device", &b.read_bps),
        ("blkio.throttle.write_bps_device", &b.write_bps),
        ("blkio.throttle.read_iops_device", &b.read_iops),
        ("blkio.throttle.write_iops_device", &b.write_iops),
    ] {
        for (device, rate) in rules {
            fs::write(&dir.join(file), &format!("{device} {rate}"))?;
        }
    }
    Ok(())
}

/// The device cgroup: everything, or nothing but Docker's defaults and `access`'s rules.
fn apply_devices(dir: &Path, access: &crate::DeviceAccess) -> Result<()> {
    match access {
        crate::DeviceAccess::All => fs::write(&dir.join("devices.allow"), "a"),
        crate::DeviceAccess::Allow(rules) => {
            fs::write(&dir.join("devices.deny"), "a")?;
            for rule in crate::DEFAULT_DEVICE_RULES.iter().copied().chain(rules.iter().map(String::as_str)) {
                fs::write(&dir.join("devices.allow"), rule)?;
            }
            Ok(())
        }
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
