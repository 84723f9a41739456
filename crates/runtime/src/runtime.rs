//! Creating, starting, stopping, listing and removing containers.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use xcompose_container::{user, ContainerSpec, IdMap, NetworkNamespace, RootFs};
use xcompose_events::{Journal, Source};
use xcompose_images::{ImageStore, StoreError};
use xcompose_supervisor::daemon::{pid_file, request_stop, DaemonConfig};
use xcompose_supervisor::keeper::{keeper_alive, keeper_pid};
use xcompose_supervisor::run::SupervisorConfig;
use xcompose_supervisor::stdin::StdinConfig;
use xcompose_supervisor::state::{ContainerState, Status};

use crate::record::{ContainerRecord, CreateRequest};
use crate::staged::StagedFiles;
use crate::start_notice::StartNotice;

/// Why a container operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// State on disk could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The image store failed.
    #[error(transparent)]
    Image(#[from] StoreError),
    /// The name is taken.
    #[error("Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.")]
    NameInUse {
        /// The name.
        name: String,
        /// The container holding it.
        id: String,
    },
    /// No container has this name or ID.
    #[error("No such container: {0}")]
    NotFound(String),
    /// The container runs and may not be removed without force.
    #[error("cannot remove container \"/{0}\": container is running: stop the container before removing or force remove")]
    Running(String),
    /// The container could not be started; the supervisor's error follows.
    #[error("failed to start container {name}: {message}")]
    Start {
        /// The container.
        name: String,
        /// Why.
        message: String,
    },
    /// The container could not be stopped.
    #[error("failed to stop container {name}: {message}")]
    Stop {
        /// The container.
        name: String,
        /// Why.
        message: String,
    },
    /// The user is not in the image.
    #[error("{0}")]
    User(String),
    /// The container's network namespace could not be made or removed.
    #[error(transparent)]
    Netns(#[from] xcompose_network::netns::NetnsError),
    /// The container does not run (for `exec`).
    #[error("container {0} is not running")]
    NotRunning(String),
    /// A process could not be run in the container.
    #[error("{0}")]
    Exec(#[from] xcompose_container::ContainerError),
    /// The state root's user namespace remapping is unreadable.
    #[error(transparent)]
    Remap(#[from] crate::remap::RemapError),
}

pub(crate) type Result<T> = std::result::Result<T, RuntimeError>;

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RuntimeError + '_ {
    move |source| RuntimeError::Io { path: path.to_path_buf(), source }
}

/// Writes a container's file atomically; a failure names the file (not the image store, whose
/// writer this borrows).
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    xcompose_images::store::atomic_write(path, bytes).map_err(|e| match e {
        xcompose_images::store::StoreError::Io { path, source } => RuntimeError::Io { path, source },
        other => other.into(),
    })
}

/// The file in a container's directory that pins its own network namespace.
const NETNS_FILE: &str = "netns";

/// The directory of a container's directory its shareable /dev/shm is mounted on while it runs.
const SHM_DIR: &str = "shm";

/// The socket in a container's directory that feeds its stdin (`stdin_open`).
const STDIN_SOCKET: &str = "stdin.sock";

/// Files of the container's directory bind-mounted on the same names under /etc.
const ETC_FILES: [&str; 3] = ["hostname", "hosts", "resolv.conf"];

/// Docker's defaults: the hostname, localhost in /etc/hosts, and the host's resolvers, mode 0644
/// as Docker writes them (a process of any user in the container must read them).
fn write_etc_files(files: &mut StagedFiles, hostname: &str) -> Result<()> {
    let hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
    let resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    for (name, content) in [("hostname", format!("{hostname}\n")), ("hosts", hosts.to_string()), ("resolv.conf", resolv)] {
        files.write(name, content.as_bytes(), 0o644)?;
    }
    Ok(())
}

/// Docker (20.10+) lets every container bind any port and ping without a capability
/// (`net.ipv4.ip_unprivileged_port_start=0`, `net.ipv4.ping_group_range=0 2147483647`, unless
/// its `sysctls` say otherwise). xcompose sets them only for containers in a user namespace,
/// whose network namespace belongs to the host's user namespace: without them, their root could
/// not bind port 80.
fn unprivileged_ports_and_ping(sysctls: &mut BTreeMap<String, String>) {
    sysctls.entry("net.ipv4.ip_unprivileged_port_start".into()).or_insert_with(|| "0".into());
    sysctls.entry("net.ipv4.ping_group_range".into()).or_insert_with(|| "0 2147483647".into());
}

/// The name of container `id`'s cgroup: its id (below the caller's cgroup, see
/// [`xcompose_cgroups::Cgroup::create`]), or `/PARENT/ID` with a `cgroup_parent`, which Docker's
/// cgroupfs driver takes from the root of each hierarchy.
fn cgroup_name(parent: Option<&str>, id: &str) -> String {
    match parent.map(|p| p.trim_matches('/')).filter(|p| !p.is_empty()) {
        Some(parent) => format!("/{parent}/{id}"),
        None => id.to_string(),
    }
}

/// Writes `path` atomically with mode 0644, as Docker writes /etc/hosts, /etc/hostname and
/// /etc/resolv.conf: a process of any user in the container must read them to resolve names.
fn write_readable(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source: std::io::Error| RuntimeError::Io { path: p, source }
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(io(path))?;
    tmp.as_file().set_permissions(fs::Permissions::from_mode(0o644)).map_err(io(path))?;
    tmp.as_file().sync_all().map_err(io(path))?;
    tmp.persist(path).map_err(|e| io(path)(e.error))?;
    Ok(())
}

/// What every event of a container carries, as Docker's: its labels, name and image.
fn event_attributes(name: &str, image: &str, labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut attributes = labels.clone();
    attributes.insert("name".into(), name.into());
    attributes.insert("image".into(), image.into());
    attributes
}

/// Records `action` of the container of `record` (created before events existed: nothing).
fn emit(record: &ContainerRecord, action: &str, extra: &[(&str, String)]) {
    if let Some(events) = &record.supervisor.events {
        events.emit(action, extra);
    }
}

/// The image layer users are looked up in: the topmost with an /etc/passwd (with /etc/group).
fn etc_layer(image: &xcompose_images::Image) -> PathBuf {
    image.layer_dirs.iter().rev().find(|d| d.join("etc/passwd").exists()).cloned().unwrap_or_default()
}

/// A command to run in a running container (`exec`).
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    /// The command.
    pub args: Vec<String>,
    /// `-u`: user (name or uid, optional group), resolved in the image.
    pub user: Option<String>,
    /// `-e`: `KEY=VALUE` assignments added to the container's environment.
    pub env: Vec<String>,
    /// `-w`: working directory.
    pub workdir: Option<PathBuf>,
    /// Its stdin is a terminal to make its controlling one (`-t`).
    pub tty: bool,
    /// Every capability the host allows (`--privileged`, a hook's `privileged`).
    pub privileged: bool,
}

/// A container as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSummary {
    /// Its ID.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its image as asked for.
    pub image: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its state.
    pub state: ContainerState,
}

/// The containers and images of one state root.
#[derive(Debug, Clone)]
pub struct Runtime {
    dir: PathBuf,
    images: ImageStore,
    supervisor_exe: PathBuf,
    events: Journal,
    remap: Option<crate::remap::Remap>,
}

impl Runtime {
    /// The runtime of `root`; `supervisor_exe` is the `xcompose` binary (run as `__supervise`).
    /// What a create or remove killed midway left (a `down` killed while removing) goes here,
    /// so that any next command clears it.
    pub fn open(root: &Path, supervisor_exe: &Path) -> Result<Self> {
        let dir = root.join("containers");
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let remap = crate::remap::recorded(root)?;
        let runtime = Self { dir, images: ImageStore::open(root)?, supervisor_exe: supervisor_exe.to_path_buf(), events: Journal::new(root.join("events.jsonl")), remap };
        runtime.remove_interrupted_creates()?;
        // An `exec` compiles its process's filter in this process: from the same cache.
        xcompose_seccomp::cache_compiled_in(&runtime.seccomp_cache());
        Ok(runtime)
    }

    /// Where compiled seccomp filters are kept: `seccomp/` in the state root.
    fn seccomp_cache(&self) -> PathBuf {
        self.dir.with_file_name("seccomp")
    }

    /// The journal of the containers' events.
    pub fn events(&self) -> &Journal {
        &self.events
    }

    /// The ids its containers' user namespaces map to when the state root is remapped (see
    /// [`crate::remap`]).
    pub fn remap(&self) -> Option<&IdMap> {
        self.remap.as_ref().map(|r| &r.ids)
    }

    /// The image store.
    pub fn images(&self) -> &ImageStore {
        &self.images
    }

    fn record(&self, id: &str) -> Result<ContainerRecord> {
        let path = self.dir.join(id).join("container.json");
        let bytes = fs::read(&path).map_err(io(&path))?;
        serde_json::from_slice(&bytes).map_err(|e| RuntimeError::Io { path, source: std::io::Error::other(e) })
    }

    fn records(&self) -> Result<Vec<ContainerRecord>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io(&self.dir))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            match self.record(&name) {
                Ok(record) => out.push(record),
                // Removed (renamed out of sight) since the directory was listed.
                Err(RuntimeError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Finds a container by name, ID or unique ID prefix.
    pub fn find(&self, wanted: &str) -> Result<ContainerRecord> {
        let records = self.records()?;
        records
            .iter()
            .find(|r| r.name == wanted || r.id == wanted)
            .or_else(|| {
                let matches: Vec<&ContainerRecord> = records.iter().filter(|r| wanted.len() >= 4 && r.id.starts_with(wanted)).collect();
                (matches.len() == 1).then(|| matches[0])
            })
            .cloned()
            .ok_or_else(|| RuntimeError::NotFound(wanted.to_string()))
    }

    /// Creates a container (not started).
    pub fn create(&self, req: CreateRequest) -> Result<String> {
        let lock = self.lock_creates()?;
        self.remove_interrupted_creates()?;
        if let Some(existing) = self.records()?.into_iter().find(|r| r.name == req.name) {
            return Err(RuntimeError::NameInUse { name: req.name, id: existing.id });
        }
        let image = self.images.resolve(&req.image)?;
        let id = crate::id::new_container_id().map_err(io(&self.dir))?;
        let staging = self.dir.join(format!(".creating-{}-{id}", std::process::id()));
        let final_dir = self.dir.join(&id);
        // A create that fails (a bad user, a full disk) leaves no half-made staging directory;
        // the guard is defused once the directory is renamed into place.
        let staging_guard = scopeguard::guard(staging.clone(), |dir| {
            let _ = fs::remove_dir_all(dir);
        });
        for d in ["upper", "work", "merged"] {
            let p = staging.join(d);
            fs::create_dir_all(&p).map_err(io(&p))?;
        }
        let remap = self.remap.as_ref().filter(|_| !req.host_userns);
        let copied = remap.filter(|r| r.shift == crate::remap::Shift::Copy);
        let lower = match copied {
            // The layers as the range owns them, and a writable layer given to its root.
            Some(remap) => {
                for d in ["upper", "work"] {
                    xcompose_container::userns::give_to_mapped_root(&staging.join(d), &remap.ids)?;
                }
                self.images.shifted_layers(&image, &remap.layer_shift()?)?
            }
            None => image.layer_dirs.clone(),
        };
        let resolved = user::resolve(&req.user, &etc_layer(&image)).map_err(RuntimeError::User)?;
        let mut process = req.process;
        process.uid = resolved.uid;
        process.gid = resolved.gid;
        process.additional_gids = resolved.additional_gids;
        for gid in user::group_ids(&req.group_add, &etc_layer(&image)).map_err(RuntimeError::User)? {
            if !process.additional_gids.contains(&gid) {
                process.additional_gids.push(gid);
            }
        }
        if !process.env.iter().any(|e| e.starts_with("HOME=")) {
            process.env.push(format!("HOME={}", resolved.home));
        }
        let rootfs = RootFs::Overlay {
            lower,
            upper: final_dir.join("upper"),
            work: final_dir.join("work"),
            merged: final_dir.join("merged"),
        };
        let mut spec = ContainerSpec::new(rootfs, Vec::new());
        spec.process = process;
        spec.hostname = req.hostname.unwrap_or_else(|| id[..12].to_string());
        spec.domainname = req.domainname;
        spec.network = match req.network {
            NetworkNamespace::New => NetworkNamespace::Join(final_dir.join(NETNS_FILE)),
            join => join,
        };
        spec.sysctls = req.sysctls;
        if req.shm_size > 0 {
            spec.shm_size = req.shm_size;
        }
        spec.privileged = req.privileged;
        for file in ETC_FILES {
            spec.etc_files.insert(Path::new("/etc").join(file), final_dir.join(file));
        }
        spec.read_only_rootfs = req.read_only;
        spec.init = req.init;
        spec.mounts = req.mounts;
        spec.rlimits = req.rlimits;
        spec.namespaces = req.namespaces;
        spec.devices = req.devices;
        spec.oom_score_adj = req.oom_score_adj;
        spec.tty = req.tty;
        spec.stdin_open = req.stdin_open;
        spec.user_namespace = remap.map(|r| r.ids.clone());
        spec.rootfs_ids_shifted = copied.is_some();
        if spec.user_namespace.is_some() && spec.network != NetworkNamespace::Host {
            unprivileged_ports_and_ping(&mut spec.sysctls);
        }
        let shm_dir = req.ipc_shareable.then(|| final_dir.join(SHM_DIR));
        if let Some(dir) = &shm_dir {
            spec.namespaces.shm = xcompose_container::Shm::Bind(dir.clone());
        }
        let events = Source { journal: self.events.clone(), id: id.clone(), attributes: event_attributes(&req.name, &req.image, &req.labels) };
        let record = ContainerRecord {
            id: id.clone(),
            name: req.name,
            image_id: image.id,
            image: req.image,
            labels: req.labels,
            created: chrono::Utc::now().to_rfc3339(),
            supervisor: SupervisorConfig {
                spec,
                restart: req.restart,
                healthcheck: req.healthcheck,
                log_path: final_dir.join("container.log"),
                log: req.log,
                state_path: final_dir.join("state.json"),
                events: Some(events),
                shared_namespaces: req.shared_namespaces,
                shm_dir,
                stdin: req.stdin_open.then(|| StdinConfig { socket: final_dir.join(STDIN_SOCKET), once: req.stdin_once }),
            },
            cgroup: (cgroup_name(req.cgroup_parent.as_deref(), &id), req.resources),
            stop_signal: req.stop_signal,
            stop_grace: req.stop_grace,
            exposed_ports: req.exposed_ports,
        };
        // The staging directory becomes the container only when renamed whole: its files are
        // written plainly and made durable together before the rename.
        let mut files = StagedFiles::new(&staging);
        files.write("container.json", &serde_json::to_vec_pretty(&record).expect("records serialise"), 0o600)?;
        files.write("state.json", &serde_json::to_vec_pretty(&ContainerState::created()).expect("states serialise"), 0o600)?;
        write_etc_files(&mut files, &record.supervisor.spec.hostname)?;
        files.sync()?;
        xcompose_fault::point("runtime.create.staged");
        let own_netns = matches!(&record.supervisor.spec.network, NetworkNamespace::Join(p) if *p == final_dir.join(NETNS_FILE));
        fs::rename(&staging, &final_dir).map_err(io(&final_dir))?;
        scopeguard::ScopeGuard::into_inner(staging_guard);
        xcompose_fault::point("runtime.create.named");
        emit(&record, "create", &[]);
        // The name is taken: other creates may go on while the namespace is made.
        drop(lock);
        if own_netns {
            if let Err(e) = xcompose_network::netns::create(&final_dir.join(NETNS_FILE)) {
                let _ = fs::remove_dir_all(&final_dir);
                return Err(e.into());
            }
        }
        Ok(id)
    }

    /// The file pinning the network namespace a container made for itself (see
    /// [`CreateRequest::network`]); attach its networks to this before starting it.
    pub fn netns_path(&self, id: &str) -> PathBuf {
        self.dir.join(id).join(NETNS_FILE)
    }

    /// Makes sure the network namespace container `id` made for itself exists (a create
    /// interrupted after its record was written but before the namespace was pinned left none).
    pub fn ensure_netns(&self, id: &str) -> Result<()> {
        use std::os::unix::fs::MetadataExt;
        let path = self.netns_path(id);
        let pinned = match (fs::metadata(&path), fs::metadata(self.dir.join(id))) {
            // A pinned namespace is a mount of nsfs: its device is not the directory's.
            (Ok(file), Ok(dir)) => file.dev() != dir.dev(),
            _ => false,
        };
        if !pinned {
            xcompose_network::netns::remove(&path)?;
            xcompose_network::netns::create(&path)?;
        }
        Ok(())
    }

    /// The file bind-mounted on `/etc/<name>` in the container (`hosts`, `hostname`,
    /// `resolv.conf`); [`Runtime::write_etc_file`] changes what the container sees from its next start.
    pub fn etc_file(&self, id: &str, name: &str) -> PathBuf {
        self.dir.join(id).join(name)
    }

    /// Replaces (atomically, mode 0644 as Docker's) the file bind-mounted on `/etc/<name>` in
    /// container `id` (`hosts`, `hostname`, `resolv.conf`).
    pub fn write_etc_file(&self, id: &str, name: &str, bytes: &[u8]) -> Result<()> {
        write_readable(&self.etc_file(id, name), bytes)
    }

    /// Leftovers of creates and removes interrupted by a crash: staging directories and
    /// containers set aside for removal whose process is gone (those of creates and removes
    /// still running, in this process or another, are left alone).
    fn remove_interrupted_creates(&self) -> Result<()> {
        for entry in fs::read_dir(&self.dir).map_err(io(&self.dir))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(".creating-").or_else(|| name.strip_prefix(".removing-")) else { continue };
            let creator = rest.split_once('-').and_then(|(pid, _)| pid.parse::<u32>().ok());
            if creator.is_none_or(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                // Another command may be clearing it at the same moment.
                match fs::remove_dir_all(entry.path()) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&entry.path())(e)),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Serialises creates across processes, so that two creates cannot both take one name.
    fn lock_creates(&self) -> Result<nix::fcntl::Flock<fs::File>> {
        let path = self.dir.join(".create.lock");
        let file = fs::File::options().create(true).truncate(false).write(true).open(&path).map_err(io(&path))?;
        nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| RuntimeError::Io { path, source: e.into() })
    }

    /// The state of a container: as its supervisor recorded it, except that a container whose
    /// supervisor died (kill -9, reboot) is exited, whatever the record says.
    pub fn state(&self, record: &ContainerRecord) -> ContainerState {
        let load = || ContainerState::load(&record.supervisor.state_path).unwrap_or_else(|_| ContainerState::created());
        let live = |state: &ContainerState| matches!(state.status, Status::Running | Status::Paused | Status::Restarting);
        let mut state = load();
        if live(&state) && self.supervisor_running(record).is_none() {
            // It may have recorded the exit and gone between the two looks: what it wrote
            // before going is the truth.
            state = load();
            if live(&state) {
                state.status = Status::Exited;
                state.pid = None;
                state.health = None;
                state.exit_code = state.exit_code.or(Some(255));
                state.finished_at = state.finished_at.or_else(|| Some(chrono::Utc::now()));
            }
        }
        state
    }

    fn supervisor_running(&self, record: &ContainerRecord) -> Option<i32> {
        let pid: i32 = fs::read_to_string(pid_file(&self.dir.join(&record.id).join("supervisor.json"))).ok()?.trim().parse().ok()?;
        // A zombie (killed, not yet reaped) is not running.
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
        (state != Some("Z")).then_some(pid)
    }

    /// Starts a created or exited container under a new supervisor; returns once it runs.
    pub fn start(&self, wanted: &str) -> Result<()> {
        let record = self.find(wanted)?;
        let dir = self.dir.join(&record.id);
        // The keeper of a supervisor killed a moment ago decides by the restart policy whether
        // to start the container again: wait until it has started a new supervisor or ended.
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.supervisor_running(&record).is_none() && keeper_alive(&dir.join("supervisor.json")) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        if self.supervisor_running(&record).is_some() {
            return Ok(());
        }
        // What a dead supervisor left says "running": record it as exited, so that waiting for
        // the new supervisor below does not mistake the old record for the new run.
        self.state(&record).save(&record.supervisor.state_path).map_err(io(&record.supervisor.state_path))?;
        let config = DaemonConfig {
            supervisor: record.supervisor.clone(),
            // Rootless on this cgroup v1 host: no cgroup can be made (limits are refused earlier).
            cgroup: (!xcompose_rootless::active()).then(|| record.cgroup.clone()),
            stop_signal: record.stop_signal,
            stop_grace: record.stop_grace,
            seccomp_cache: Some(self.seccomp_cache()),
        };
        let config_path = dir.join("supervisor.json");
        write_atomically(&config_path, &serde_json::to_vec_pretty(&config).expect("configs serialise"))?;
        let err_path = dir.join("supervisor.err");
        let err = fs::File::create(&err_path).map_err(io(&err_path))?;
        xcompose_fault::point("runtime.start.configured");
        let spawned_at = chrono::Utc::now();
        // The supervisor writes a byte to its standard output once the container runs: the wait
        // below wakes on it instead of polling the state file.
        let (notice, notice_writer) = std::io::pipe().map_err(io(&self.supervisor_exe))?;
        let mut child = Command::new(&self.supervisor_exe)
            .arg("__supervise")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(notice_writer)
            .stderr(err)
            .spawn()
            .map_err(io(&self.supervisor_exe))?;
        let notice = StartNotice::new(notice);
        let deadline = Instant::now() + Duration::from_secs(10);
        let started = || {
            let state = self.state(&record);
            state.started_at.is_some_and(|t| t >= spawned_at) && matches!(state.status, Status::Running | Status::Exited)
        };
        loop {
            if started() {
                // The supervisor outlives us or not; either way it must not stay a zombie of ours.
                std::thread::spawn(move || child.wait());
                return Ok(());
            }
            // A container that ran and exited at once leaves a supervisor that is gone too: what
            // it recorded before going tells that from a failed start.
            if let Ok(Some(_)) = child.try_wait() {
                if started() {
                    return Ok(());
                }
                let message = fs::read_to_string(&err_path).unwrap_or_default().trim().to_string();
                return Err(RuntimeError::Start { name: record.name, message });
            }
            if Instant::now() > deadline {
                return Err(RuntimeError::Start { name: record.name, message: "the container did not start within 10s".into() });
            }
            notice.wait();
        }
    }

    /// Stops a running container (stop signal, then SIGKILL after its grace period or `grace`,
    /// which overrides it as `docker stop -t` does). No process of the container survives: if
    /// its supervisor does not finish the stop in time, the supervisor and every process left in
    /// the container's cgroup are killed.
    pub fn stop(&self, wanted: &str, grace: Option<Duration>) -> Result<()> {
        let record = self.find(wanted)?;
        let Some(pid) = self.supervisor_running(&record) else { return Ok(()) };
        let config_path = self.dir.join(&record.id).join("supervisor.json");
        match request_stop(&config_path, pid, grace) {
            // The supervisor ended (its container exited) between the look above and the
            // signal: as when it was gone before, there is nothing to stop.
            Err(e) if e.raw_os_error() == Some(nix::libc::ESRCH) => return Ok(()),
            result => result.map_err(io(&config_path))?,
        }
        let limit = grace.unwrap_or(record.stop_grace) + Duration::from_secs(5);
        let deadline = Instant::now() + limit;
        while self.supervisor_running(&record).is_some() && pid_file(&config_path).exists() {
            if Instant::now() > deadline {
                // Its keeper first, which would start a supervisor killed under it again.
                if let Some(keeper) = keeper_pid(&self.dir.join(&record.id).join("supervisor.json")) {
                    let _ = nix::sys::signal::kill(keeper, nix::sys::signal::Signal::SIGKILL);
                }
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
                if xcompose_rootless::active() {
                    // No cgroup: the container's processes die with its pid namespace's init.
                    return Ok(());
                }
                let (name, resources) = &record.cgroup;
                let leftovers = xcompose_cgroups::Cgroup::create(name, resources).and_then(|c| c.destroy());
                return leftovers.map_err(|e| RuntimeError::Stop { name: record.name.clone(), message: format!("killing what its supervisor left: {e}") });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Freezes (`true`) or thaws the processes of running container `wanted`; returns once its
    /// state says so.
    pub fn set_paused(&self, wanted: &str, paused: bool) -> Result<()> {
        let record = self.find(wanted)?;
        let Some(pid) = self.supervisor_running(&record) else { return Err(RuntimeError::NotRunning(record.name)) };
        let (signal, target) = if paused { (nix::sys::signal::Signal::SIGUSR1, Status::Paused) } else { (nix::sys::signal::Signal::SIGUSR2, Status::Running) };
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.state(&record).status != target {
            if Instant::now() > deadline {
                let why = if paused { "is not running" } else { "is not paused" };
                return Err(RuntimeError::Start { name: record.name, message: format!("container {why}") });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// The processes of running container `wanted` (host pids, from its cgroup); `None` if it
    /// does not run.
    pub fn processes(&self, wanted: &str) -> Result<Option<Vec<u32>>> {
        self.with_cgroup(wanted, |cgroup| {
            let mut pids = cgroup.processes()?;
            pids.sort_unstable();
            Ok(pids)
        })
    }

    /// Resource use of running container `wanted`, from its cgroup; `None` if it does not run.
    pub fn stats(&self, wanted: &str) -> Result<Option<xcompose_cgroups::Stats>> {
        self.with_cgroup(wanted, xcompose_cgroups::Cgroup::stats)
    }

    /// `read` of the cgroup of container `wanted` if it runs; `None` if it does not.
    fn with_cgroup<T>(&self, wanted: &str, read: impl FnOnce(&xcompose_cgroups::Cgroup) -> xcompose_cgroups::Result<T>) -> Result<Option<T>> {
        let record = self.find(wanted)?;
        if self.supervisor_running(&record).is_none() {
            return Ok(None);
        }
        if xcompose_rootless::active() {
            let refusal = xcompose_rootless::limits::refuse_cgroup_limits("reading its processes and usage");
            return Err(RuntimeError::User(format!("container {}: {refusal}", record.name)));
        }
        let (name, resources) = &record.cgroup;
        let failed = |e: xcompose_cgroups::CgroupError| RuntimeError::Start { name: record.name.clone(), message: e.to_string() };
        let cgroup = xcompose_cgroups::Cgroup::create(name, resources).map_err(failed)?;
        Ok(Some(read(&cgroup).map_err(failed)?))
    }

    /// Sends `signal` to the main process of running container `wanted` (`kill`).
    pub fn kill(&self, wanted: &str, signal: nix::sys::signal::Signal) -> Result<()> {
        let record = self.find(wanted)?;
        let state = self.state(&record);
        match (state.status, state.pid) {
            (Status::Running | Status::Paused, Some(pid)) => {
                emit(&record, "kill", &[("signal", (signal as i32).to_string())]);
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal);
                Ok(())
            }
            _ => Err(RuntimeError::NotRunning(record.name)),
        }
    }

    /// A connection to the stdin of running container `wanted`, whose bytes become its main
    /// process's input; `None` when it keeps no stdin open (Docker attaches none then).
    pub fn attach_stdin(&self, wanted: &str) -> Result<Option<std::os::unix::net::UnixStream>> {
        let record = self.find(wanted)?;
        let Some(stdin) = &record.supervisor.stdin else { return Ok(None) };
        if !matches!(self.state(&record).status, Status::Running | Status::Paused) {
            return Err(RuntimeError::NotRunning(record.name));
        }
        xcompose_supervisor::stdin::connect(&stdin.socket).map(Some).map_err(io(&stdin.socket))
    }

    /// Removes a container and its writable layer; a running one only with `force` (then stopped first).
    pub fn remove(&self, wanted: &str, force: bool) -> Result<()> {
        let record = self.find(wanted)?;
        if self.supervisor_running(&record).is_some() {
            if !force {
                return Err(RuntimeError::Running(record.name));
            }
            self.stop(&record.id, Some(Duration::ZERO))?;
        }
        let dir = self.dir.join(&record.id);
        xcompose_network::netns::remove(&dir.join(NETNS_FILE))?;
        // Left mounted by a supervisor that was killed.
        xcompose_supervisor::shm::unmount(&dir.join(SHM_DIR));
        xcompose_fault::point("runtime.remove.unpinned");
        // Out of sight first, so that listing never sees a half-removed container.
        let doomed = self.dir.join(format!(".removing-{}-{}", std::process::id(), record.id));
        fs::rename(&dir, &doomed).map_err(io(&dir))?;
        xcompose_fault::point("runtime.remove.hidden");
        emit(&record, "destroy", &[]);
        fs::remove_dir_all(&doomed).map_err(io(&doomed))
    }

    /// Starts `request` in the running container `wanted`, in its namespaces and cgroup, with
    /// `stdio`: as the container's user, in its working directory, with its environment, unless
    /// the request says otherwise.
    pub fn exec(&self, wanted: &str, request: &ExecRequest, stdio: xcompose_container::Stdio) -> Result<xcompose_container::ExecProcess> {
        let record = self.find(wanted)?;
        let state = self.state(&record);
        let pid = match (state.status, state.pid) {
            (Status::Running, Some(pid)) => pid,
            _ => return Err(RuntimeError::NotRunning(record.name)),
        };
        let mut process = record.supervisor.spec.process.clone();
        process.args = request.args.clone();
        for assignment in &request.env {
            let key = assignment.split_once('=').map_or(assignment.as_str(), |(k, _)| k);
            process.env.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
            process.env.push(assignment.clone());
        }
        if let Some(dir) = &request.workdir {
            process.cwd = dir.clone();
        }
        if request.privileged {
            process.capabilities = xcompose_container::capability_set(&[], &[], true).map_err(RuntimeError::User)?;
        }
        if let Some(user) = &request.user {
            let image = self.images.resolve(&record.image_id)?;
            let resolved = user::resolve(user, &etc_layer(&image)).map_err(RuntimeError::User)?;
            process.uid = resolved.uid;
            process.gid = resolved.gid;
            process.additional_gids = resolved.additional_gids;
        }
        let (name, resources) = &record.cgroup;
        let cgroup_procs = xcompose_cgroups::Cgroup::create(name, resources)
            .map(|c| c.paths().iter().map(|p| p.join("cgroup.procs")).collect())
            .unwrap_or_default();
        let rlimits = record.supervisor.spec.rlimits.clone();
        let spec = xcompose_container::ExecSpec { container_pid: pid, process, cgroup_procs, rlimits, tty: request.tty };
        Ok(xcompose_container::exec(&spec, stdio)?)
    }

    /// Every container with its state.
    pub fn list(&self) -> Result<Vec<ContainerSummary>> {
        Ok(self
            .records()?
            .into_iter()
            .map(|r| {
                let state = self.state(&r);
                ContainerSummary { id: r.id.clone(), name: r.name.clone(), image: r.image.clone(), labels: r.labels.clone(), state }
            })
            .collect())
    }

    /// A container using image `image_id`, if any (for `image rm`).
    pub fn container_using(&self, image_id: &str) -> Result<Option<String>> {
        Ok(self.records()?.into_iter().find(|r| r.image_id == image_id).map(|r| r.id))
    }
}
