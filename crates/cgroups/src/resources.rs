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
    /// CFS quota in microseconds per `cpu_period` (`cpu_quota`; `cpus` wins when both are set).
    #[serde(default)]
    pub cpu_quota: Option<i64>,
    /// CFS period in microseconds (`cpu_period`).
    #[serde(default)]
    pub cpu_period: Option<u64>,
    /// Real-time runtime in microseconds per `cpu_rt_period` (`cpu_rt_runtime`).
    #[serde(default)]
    pub cpu_rt_runtime: Option<i64>,
    /// Real-time period in microseconds (`cpu_rt_period`).
    #[serde(default)]
    pub cpu_rt_period: Option<u64>,
    /// How eagerly the kernel swaps the container's memory, 0 to 100 (`mem_swappiness`).
    #[serde(default)]
    pub memory_swappiness: Option<u64>,
    /// The OOM killer spares the container (`oom_kill_disable`).
    #[serde(default)]
    pub oom_kill_disable: bool,
    /// Block I/O weight and throttles (`blkio_config`).
    #[serde(default)]
    pub blkio: Blkio,
    /// Devices the container may use; `None` leaves the device cgroup as inherited.
    #[serde(default)]
    pub devices: Option<DeviceAccess>,
}

/// Block I/O weight and throttles, devices named `MAJOR:MINOR`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Blkio {
    /// Relative weight, 10 to 1000.
    pub weight: Option<u16>,
    /// Weight per device.
    pub weight_device: Vec<(String, u16)>,
    /// Bytes per second read, per device.
    pub read_bps: Vec<(String, u64)>,
    /// Bytes per second written, per device.
    pub write_bps: Vec<(String, u64)>,
    /// Read operations per second, per device.
    pub read_iops: Vec<(String, u64)>,
    /// Write operations per second, per device.
    pub write_iops: Vec<(String, u64)>,
}

/// The device cgroup's rules (`devices.allow` syntax: `c 1:3 rwm`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DeviceAccess {
    /// Every device (`privileged`).
    All,
    /// Docker's default devices and these rules.
    Allow(Vec<String>),
}

/// The devices runc and Docker allow every container: mknod of any device, and the standard
/// character devices (null, zero, full, random, urandom, tty, console, ptmx, the pts, tun).
pub const DEFAULT_DEVICE_RULES: [&str; 12] = [
    "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
];

/// The CFS period used to express `cpus` as a quota (Docker's default).
pub const CPU_PERIOD_US: u64 = 100_000;

impl Resources {
    /// `cpus` as a CFS quota per [`CPU_PERIOD_US`].
    pub fn cpu_quota_us(&self) -> Option<u64> {
        self.cpus.map(|c| (c * CPU_PERIOD_US as f64).round() as u64)
    }

    /// The CFS bandwidth to set, `(quota, period)` in microseconds (quota `-1`: unlimited):
    /// from `cpus`, else from `cpu_quota` / `cpu_period`.
    pub fn cpu_bandwidth(&self) -> Option<(i64, u64)> {
        if let Some(quota) = self.cpu_quota_us() {
            return Some((quota as i64, CPU_PERIOD_US));
        }
        if self.cpu_quota.is_none() && self.cpu_period.is_none() {
            return None;
        }
        Some((self.cpu_quota.filter(|q| *q > 0).unwrap_or(-1), self.cpu_period.unwrap_or(CPU_PERIOD_US)))
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
