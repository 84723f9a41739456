//! Limits to apply and figures to read, independent of the cgroup version.

/// Resource limits of a container (compose's `mem_limit`, `cpus`, `pids_limit`...).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Resources {
    /// Hard memory limit in bytes.
    pub memory_limit: Option<i64>,
    /// Soft memory limit (reservation) in bytes.
    pub memory_reservation: Option<i64>,
    /// Memory plus swap limit in bytes (`-1`: unlimited swap).
    pub memory_swap_limit: Option<i64>,
    /// CPU bandwidth as a number of CPUs (`cpus: 1.5`).
    pub cpus: Option<f64>,
    /// Relative CPU weight as Docker's shares (2 to 262144, default 1024).
    pub cpu_shares: Option<u64>,
    /// CPUs the container may run on (`0-1`, `0,2`).
    pub cpuset_cpus: Option<String>,
    /// Maximum number of processes.
    pub pids_limit: Option<i64>,
}

/// The CFS period used to express `cpus` as a quota (Docker's default).
pub const CPU_PERIOD_US: u64 = 100_000;

impl Resources {
    /// `cpus` as a CFS quota per [`CPU_PERIOD_US`].
    pub fn cpu_quota_us(&self) -> Option<u64> {
        self.cpus.map(|c| (c * CPU_PERIOD_US as f64).round() as u64)
    }
}

/// Usage figures of a cgroup, for `top`/`stats` and to tell an OOM kill from a crash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Memory in use, in bytes.
    pub memory_usage: u64,
    /// The memory limit in force, in bytes (`None`: unlimited).
    pub memory_limit: Option<u64>,
    /// Total CPU time used, in nanoseconds.
    pub cpu_usage_ns: u64,
    /// Processes in the cgroup.
    pub pids: u64,
    /// How many times the kernel's OOM killer killed a process of the cgroup.
    pub oom_kills: u64,
}
