//! A compose project on this machine: `up`, `down`, `ps`, `logs`, `exec`, `start`, `stop`,
//! `restart`, `kill`, `rm`. The orchestrator plans from what exists; this crate reads what
//! exists (containers by their `com.docker.compose.*` labels, networks, volumes) and carries the
//! plan out with the runtime and the network crate, the independent actions of each step in
//! parallel.
//!
//! Every command holds the project's lock (`<root>/projects/<name>.lock`) for its duration, so
//! two commands on one project never interleave; every state file is written atomically, and each
//! step records what it made as soon as it made it, so a command killed at any point is
//! completed by running it again.

mod bake;
mod blkio;
mod boot;
mod build;
mod concurrency;
mod containers;
mod copy;
mod devices;
mod dns;
mod error;
mod export;
mod hooks;
mod image_config;
mod lifecycle;
mod lock;
mod logging;
mod namespaces;
mod network_options;
mod networks;
mod platform;
mod ports;
mod proxies;
mod pull;
mod push;
mod query;
mod repair;
mod request;
mod run;
mod schedule;
mod secrets;
pub mod support;
mod sync;
mod down;
mod down_scope;
mod up;
mod userns;
mod volume_list;
mod volumes;
mod wait;

use std::path::{Path, PathBuf};

pub use build::{image_name, BuildOptions, BuildPolicy};
pub use error::StackError;
pub use network_options::BridgeOptions;
pub use networks::{Endpoint, NetworkRecord};
pub use ports::PortBinding;
pub use pull::{PullOptions, PullPolicy};
pub use push::PushOptions;
pub use query::{ContainerInfo, LogLine};
pub use copy::{go_error, CopySource, CopyTarget};
pub use down::{DownOptions, RemoveImages};
pub use run::RunOptions;
pub use up::UpOptions;
use xcompose_loader::Project;
use xcompose_runtime::Runtime;

/// What a command reports as it goes: compose's progress lines (`Container p-web-1  Started`).
pub type Progress = dyn Fn(&str, &str, &str) + Send + Sync;

/// One project and the state root it lives in.
pub struct Stack {
    project: Project,
    working_dir: PathBuf,
    config_files: Vec<String>,
    root: PathBuf,
    runtime: Runtime,
    networks: networks::Networks,
    resolver: dns::Resolver,
    volumes: xcompose_volumes::VolumeStore,
    ports: ports::Ports,
    progress: Box<Progress>,
    parallel: Option<usize>,
}

impl Stack {
    /// The project `project`, loaded from `config_files` in `working_dir`, in state root `root`;
    /// `xcompose_exe` is the binary that supervises containers (`xcompose __supervise`) and
    /// resolves their names (`xcompose __dns`).
    pub fn new(project: Project, working_dir: &Path, config_files: &[PathBuf], root: &Path, xcompose_exe: &Path) -> Result<Self, StackError> {
        let resolver = dns::Resolver::new(&root.join("dns").join(&project.name), xcompose_exe);
        let runtime = Runtime::open(root, xcompose_exe)?;
        let volumes = xcompose_volumes::VolumeStore::open(root).map_err(|e| StackError::Invalid(e.to_string()))?.remapped(runtime.remap().cloned());
        Ok(Self {
            project,
            working_dir: working_dir.to_path_buf(),
            config_files: config_files.iter().map(|f| f.display().to_string()).collect(),
            root: root.to_path_buf(),
            runtime,
            networks: networks::Networks::open(root)?,
            resolver,
            ports: ports::Ports::open(root, xcompose_exe)?,
            volumes,
            progress: Box::new(|_, _, _| {}),
            parallel: None,
        })
    }

    /// Reports progress through `progress(kind, name, status)`.
    pub fn with_progress(mut self, progress: Box<Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// Runs at most `limit` container actions at once (`--parallel`; all at once if `None`).
    pub fn with_parallel(mut self, limit: Option<usize>) -> Self {
        self.parallel = limit;
        self
    }

    /// The project.
    pub fn project(&self) -> &Project {
        &self.project
    }

    /// The runtime of the state root.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    fn report(&self, kind: &str, name: &str, status: &str) {
        (self.progress)(kind, name, status);
    }

    /// Fails, before anything is made, when the project sets a key xcompose does not honour or
    /// networking settings that cannot work together, a volume to create has driver options its
    /// creation would refuse, or a secret or config has nothing to read.
    fn refuse_unsupported(&self) -> Result<(), StackError> {
        let files: Vec<PathBuf> = self.config_files.iter().map(PathBuf::from).collect();
        support::refuse_unsupported(&self.project, &files, &self.working_dir)?;
        networks::check_project(&self.project)?;
        for (name, service) in &self.project.services {
            xcompose_orchestrator::security::security_for(service, &self.working_dir)
                .and_then(|_| userns::check(service, self.runtime.remap().is_some()))
                .map_err(|message| StackError::Service { service: name.clone(), message })?;
        }
        self.check_volume_options()?;
        secrets::check_sources(&self.project)
    }

    fn lock(&self) -> Result<lock::ProjectLock, StackError> {
        lock::ProjectLock::acquire(&self.root, &self.project.name)
    }
}
