//! What to run and how to isolate it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use caps::Capability;
use serde::{Deserialize, Serialize};

use crate::propagation::Propagation;

/// The container's root filesystem.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum RootFs {
    /// An overlay of read-only image layers (bottom first) under a per-container writable dir.
    Overlay {
        /// Image layer directories, bottom layer first.
        lower: Vec<PathBuf>,
        /// The container's writable layer.
        upper: PathBuf,
        /// overlayfs's work directory (same filesystem as `upper`).
        work: PathBuf,
        /// Where the overlay is mounted (inside the container's mount namespace only).
        merged: PathBuf,
    },
    /// A plain directory used as it is (tests, `docker export`-style rootfs).
    Directory(PathBuf),
}

/// One resource limit, named as compose's `ulimits` names it (`nofile`, `nproc`...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    /// The limit's name.
    pub name: String,
    /// Soft limit.
    pub soft: u64,
    /// Hard limit.
    pub hard: u64,
}

impl Rlimit {
    /// The kernel resource this limit sets.
    pub fn resource(&self) -> Result<nix::sys::resource::Resource, String> {
        use nix::sys::resource::Resource::*;
        Ok(match self.name.as_str() {
            "as" => RLIMIT_AS,
            "core" => RLIMIT_CORE,
            "cpu" => RLIMIT_CPU,
            "data" => RLIMIT_DATA,
            "fsize" => RLIMIT_FSIZE,
            "locks" => RLIMIT_LOCKS,
            "memlock" => RLIMIT_MEMLOCK,
            "msgqueue" => RLIMIT_MSGQUEUE,
            "nice" => RLIMIT_NICE,
            "nofile" => RLIMIT_NOFILE,
            "nproc" => RLIMIT_NPROC,
            "rss" => RLIMIT_RSS,
            "rtprio" => RLIMIT_RTPRIO,
            "rttime" => RLIMIT_RTTIME,
            "sigpending" => RLIMIT_SIGPENDING,
            "stack" => RLIMIT_STACK,
            other => return Err(format!("unknown ulimit {other:?}")),
        })
    }
}

/// The kind of an extra mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MountKind {
    /// A bind mount of a host path (a file or a directory).
    Bind {
        /// Host path.
        source: PathBuf,
        /// What happens to the mounts under `source` (`bind.recursive`).
        #[serde(default)]
        recursive: Recursive,
        /// How mount events propagate between it and `source` (`bind.propagation`).
        #[serde(default)]
        propagation: Propagation,
    },
    /// A fresh tmpfs.
    Tmpfs {
        /// Size limit in bytes (none: half of RAM, the kernel default).
        size: Option<u64>,
        /// Mode of its root directory.
        mode: Option<u32>,
    },
}

/// An extra mount inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// Absolute path inside the container.
    pub target: PathBuf,
    /// What to mount there.
    pub kind: MountKind,
    /// Read-only.
    pub read_only: bool,
}

/// How a bind mount treats the mounts under its source, as Docker 25+ (`bind.recursive`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Recursive {
    /// They are bound too, and read-only with the mount (Docker's default; recursively
    /// read-only where the kernel allows, which here is always: each is remounted).
    #[default]
    Enabled,
    /// Only the source itself is bound; the mounts under it are not seen.
    Disabled,
    /// They are bound too, and stay writable when the mount is read-only.
    Writable,
    /// They are bound too, and read-only with the mount, without fallback.
    Readonly,
}

/// The container's network namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetworkNamespace {
    /// A new, empty one (the caller wires it after [`crate::spawn`] returns).
    New,
    /// Join an existing one (`network_mode: service:x`, or one pinned for the container).
    Join(PathBuf),
    /// Stay in the network namespace of whoever starts the container (`network_mode: host`).
    Host,
}

/// Where a container's pid, IPC, UTS or cgroup namespace comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Namespace {
    /// A new one of its own (Docker's `private`).
    #[default]
    Private,
    /// The host's: that of whoever starts the container (`host`).
    Host,
    /// Another one, by its `/proc/PID/ns/...` file (`container:x`, `service:x`).
    Join(PathBuf),
}

/// What the container's `/dev/shm` is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shm {
    /// A tmpfs of its own, [`ContainerSpec::shm_size`] big.
    #[default]
    Own,
    /// None at all (`ipc: none`).
    None,
    /// Another's, bind-mounted: the host's `/dev/shm` (`ipc: host`) or the one of the container
    /// whose IPC namespace it joins.
    Bind(PathBuf),
}

/// The namespaces a container shares or keeps to itself, besides network and mounts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespaces {
    /// Process ids (`pid`).
    pub pid: Namespace,
    /// System V IPC and POSIX message queues (`ipc`).
    pub ipc: Namespace,
    /// Hostname and domain name (`uts`).
    pub uts: Namespace,
    /// The cgroup root it sees (`cgroup`).
    pub cgroup: Namespace,
    /// Its `/dev/shm`.
    pub shm: Shm,
}

/// A process to run in a container (its PID 1, or one started by `exec`) and who runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    /// Command and arguments (`args[0]` is looked up in the container's `PATH` when relative).
    pub args: Vec<String>,
    /// `KEY=value` environment.
    pub env: Vec<String>,
    /// Working directory (created if missing for PID 1).
    pub cwd: PathBuf,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Supplementary groups.
    pub additional_gids: Vec<u32>,
    /// Capabilities kept (bounding set; also effective for root).
    pub capabilities: Vec<Capability>,
    /// Set `no_new_privs` (`security_opt: no-new-privileges`).
    pub no_new_privileges: bool,
    /// The seccomp profile its system calls are filtered by (`None`: unconfined, as with
    /// `security_opt: seccomp=unconfined` or `privileged`).
    #[serde(default)]
    pub seccomp: Option<xcompose_seccomp::Profile>,
}

/// Everything needed to start one container process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// The root filesystem.
    pub rootfs: RootFs,
    /// The command, its environment and who runs it.
    pub process: Process,
    /// Hostname (UTS namespace).
    pub hostname: String,
    /// NIS domain name.
    pub domainname: String,
    /// Mount the root filesystem read-only.
    pub read_only_rootfs: bool,
    /// Extra mounts, in order.
    pub mounts: Vec<Mount>,
    /// Files bind-mounted over `/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf` (target → source).
    pub etc_files: BTreeMap<PathBuf, PathBuf>,
    /// Paths hidden from the container.
    pub masked_paths: Vec<PathBuf>,
    /// Paths made read-only.
    pub readonly_paths: Vec<PathBuf>,
    /// Size of `/dev/shm` in bytes.
    pub shm_size: u64,
    /// Namespaced sysctls (`net.core.somaxconn` → `1024`).
    pub sysctls: BTreeMap<String, String>,
    /// Resource limits (compose's `ulimits`).
    pub rlimits: Vec<Rlimit>,
    /// The network namespace.
    pub network: NetworkNamespace,
    /// Privileged: all capabilities, no masked or read-only paths, host devices visible.
    pub privileged: bool,
    /// Run a reaping, signal-forwarding init as PID 1 (compose's `init: true`).
    pub init: bool,
    /// Its pid, IPC, UTS and cgroup namespaces and its /dev/shm.
    #[serde(default)]
    pub namespaces: Namespaces,
    /// Device nodes made in its /dev (`devices`; with `privileged`, the host's are added).
    #[serde(default)]
    pub devices: Vec<crate::Device>,
    /// Its processes' OOM score adjustment (`oom_score_adj`, -1000 to 1000).
    #[serde(default)]
    pub oom_score_adj: Option<i32>,
    /// The main process's stdio is a terminal (`tty`).
    #[serde(default)]
    pub tty: bool,
    /// The main process's stdin stays open, though nothing writes to it (`stdin_open`).
    #[serde(default)]
    pub stdin_open: bool,
    /// A user namespace of its own with these maps (user namespace remapping); none: the
    /// host's ids.
    #[serde(default)]
    pub user_namespace: Option<crate::userns::IdMap>,
    /// With a user namespace: the root filesystem's files (image layers and writable layer) are
    /// stored with their owners already shifted into its range (copied per range where idmapped
    /// mounts are missing, as dockerd does), so they are mounted as they are, not idmapped.
    #[serde(default)]
    pub rootfs_ids_shifted: bool,
}

/// Paths Docker hides in every unprivileged container.
pub const DEFAULT_MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths Docker makes read-only in every unprivileged container.
pub const DEFAULT_READONLY_PATHS: [&str; 5] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

impl ContainerSpec {
    /// A spec running `args` as root in `rootfs` with Docker's defaults (capabilities, masked and
    /// read-only paths, 64 MiB /dev/shm, a new network namespace), without a seccomp filter.
    pub fn new(rootfs: RootFs, args: Vec<String>) -> Self {
        Self {
            rootfs,
            process: Process {
                args,
                env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
                cwd: PathBuf::from("/"),
                uid: 0,
                gid: 0,
                additional_gids: Vec::new(),
                capabilities: crate::DEFAULT_CAPABILITIES.to_vec(),
                no_new_privileges: false,
                // Unconfined here; the orchestrator gives a service Docker's default profile.
                seccomp: None,
            },
            hostname: String::new(),
            domainname: String::new(),
            read_only_rootfs: false,
            mounts: Vec::new(),
            etc_files: BTreeMap::new(),
            masked_paths: DEFAULT_MASKED_PATHS.iter().map(PathBuf::from).collect(),
            readonly_paths: DEFAULT_READONLY_PATHS.iter().map(PathBuf::from).collect(),
            shm_size: 64 << 20,
            sysctls: BTreeMap::new(),
            rlimits: Vec::new(),
            network: NetworkNamespace::New,
            privileged: false,
            init: false,
            namespaces: Namespaces::default(),
            devices: Vec::new(),
            oom_score_adj: None,
            tty: false,
            stdin_open: false,
            user_namespace: None,
            rootfs_ids_shifted: false,
        }
    }
}
