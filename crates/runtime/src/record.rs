//! What a container is, as stored.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use xcompose_cgroups::Resources;
use xcompose_container::{Device, Mount, Namespaces, NetworkNamespace, Process, Rlimit};
use xcompose_supervisor::health::HealthConfig;
use xcompose_supervisor::log::LogOptions;
use xcompose_supervisor::restart::RestartPolicy;
use xcompose_supervisor::run::{SharedNamespace, SupervisorConfig};

/// What to create.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    /// Unique name.
    pub name: String,
    /// Image reference or ID.
    pub image: String,
    /// The process (its `uid`/`gid` are filled from `user`).
    pub process: Process,
    /// `user:` as written (name or uid, optional group), resolved in the image.
    pub user: String,
    /// Hostname (default: the first 12 characters of the ID, as Docker).
    pub hostname: Option<String>,
    /// Domain name.
    pub domainname: String,
    /// Its network namespace: `New` makes one pinned in the container's directory (networks are
    /// attached to it before start, see [`crate::Runtime::netns_path`]); `Join` shares another.
    pub network: NetworkNamespace,
    /// Kernel parameters (`sysctls`).
    pub sysctls: BTreeMap<String, String>,
    /// Size of /dev/shm in bytes (0: Docker's 64 MiB).
    pub shm_size: u64,
    /// Full privileges (`privileged: true`).
    pub privileged: bool,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Restart policy.
    pub restart: RestartPolicy,
    /// Healthcheck probe and timing.
    pub healthcheck: Option<(Vec<String>, HealthConfig)>,
    /// Extra mounts.
    pub mounts: Vec<Mount>,
    /// Resource limits.
    pub resources: Resources,
    /// Read-only root filesystem.
    pub read_only: bool,
    /// Run an init as PID 1.
    pub init: bool,
    /// Resource limits by ulimit name.
    pub rlimits: Vec<Rlimit>,
    /// Stop signal number.
    pub stop_signal: i32,
    /// Grace period before SIGKILL.
    pub stop_grace: Duration,
    /// Ports it exposes, Docker's `PORT/PROTOCOL` (the image's EXPOSE and the service's
    /// `expose:`), shown by `ps` when not published.
    pub exposed_ports: BTreeSet<String>,
    /// Its pid, IPC, UTS and cgroup namespaces (those joined from other containers are in
    /// `shared_namespaces`).
    pub namespaces: Namespaces,
    /// Namespaces of other containers it joins when it starts.
    pub shared_namespaces: Vec<SharedNamespace>,
    /// Other containers may join its IPC namespace and share its /dev/shm (`ipc: shareable`).
    pub ipc_shareable: bool,
    /// Supplementary groups added, names resolved in the image (`group_add`).
    pub group_add: Vec<String>,
    /// Device nodes made in its /dev (`devices`).
    pub devices: Vec<Device>,
    /// OOM score adjustment of its processes (`oom_score_adj`).
    pub oom_score_adj: Option<i32>,
    /// The cgroup its own goes in, from the hierarchies' roots (`cgroup_parent`); none: below
    /// the caller's, in `xcompose/`.
    pub cgroup_parent: Option<String>,
    /// How its output is kept (`logging`).
    pub log: LogOptions,
    /// Its main process runs on a terminal (`tty`).
    pub tty: bool,
    /// Its main process's stdin stays open (`stdin_open`).
    pub stdin_open: bool,
    /// Its stdin is closed once the first client feeding it has finished (Docker's
    /// `StdinOnce`, set by `run -i`).
    pub stdin_once: bool,
    /// It keeps the host's user ids though the state root remaps them (`userns_mode: host`).
    pub host_userns: bool,
}

/// Docker's time between the stop signal and SIGKILL.
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(10);

impl CreateRequest {
    /// Container `name` of `image` running `process`, with Docker's defaults for the rest: its
    /// own network namespace, no restart, no limits, SIGTERM then SIGKILL after 10 s.
    pub fn new(name: &str, image: &str, process: Process) -> Self {
        Self {
            name: name.to_string(),
            image: image.to_string(),
            process,
            user: String::new(),
            hostname: None,
            domainname: String::new(),
            network: NetworkNamespace::New,
            sysctls: BTreeMap::new(),
            shm_size: 0,
            privileged: false,
            labels: BTreeMap::new(),
            restart: RestartPolicy::No,
            healthcheck: None,
            mounts: Vec::new(),
            resources: Resources::default(),
            read_only: false,
            init: false,
            rlimits: Vec::new(),
            stop_signal: nix::libc::SIGTERM,
            stop_grace: DEFAULT_STOP_GRACE,
            exposed_ports: BTreeSet::new(),
            namespaces: Namespaces::default(),
            shared_namespaces: Vec::new(),
            ipc_shareable: false,
            group_add: Vec::new(),
            devices: Vec::new(),
            oom_score_adj: None,
            cgroup_parent: None,
            log: LogOptions::default(),
            tty: false,
            stdin_open: false,
            stdin_once: false,
            host_userns: false,
        }
    }
}

/// A stored container.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ContainerRecord {
    /// 64 hex characters.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// The image's ID (config digest): an image in use cannot be removed.
    pub image_id: String,
    /// The image as asked for.
    pub image: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// When it was created.
    pub created: String,
    /// How to run and supervise it.
    pub supervisor: SupervisorConfig,
    /// Its cgroup name and limits.
    pub cgroup: (String, Resources),
    /// Stop signal number.
    pub stop_signal: i32,
    /// Grace period before SIGKILL.
    pub stop_grace: Duration,
    /// Ports it exposes, `PORT/PROTOCOL`.
    #[serde(default)]
    pub exposed_ports: BTreeSet<String>,
}
