//! The supervisor as its own process (`xcompose __supervise --serve CONFIG`, run by its
//! [`crate::keeper`]): started by the CLI, it
//! leaves the CLI's session so it outlives it, and supervises one container until told to stop
//! (SIGTERM or SIGINT: the container gets its stop signal, then SIGKILL after the grace period).
//!
//! Files next to the config: `supervisor.pid` while it runs; the state and log files are where the
//! config says.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use xcompose_cgroups::{Cgroup, Resources};

use crate::run::{Supervisor, SupervisorConfig};
use crate::shm::SharedShm;

/// Everything the supervisor process needs, as written by the CLI.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DaemonConfig {
    /// The container and how to supervise it.
    #[serde(flatten)]
    pub supervisor: SupervisorConfig,
    /// Cgroup to create (name below `xcompose/`) and its limits.
    pub cgroup: Option<(String, Resources)>,
    /// Signal that asks the container to stop (`stop_signal`, default SIGTERM).
    pub stop_signal: i32,
    /// Time between the stop signal and SIGKILL (`stop_grace_period`, default 10s).
    pub stop_grace: Duration,
    /// Where compiled seccomp filters are kept across processes (the state root's `seccomp`
    /// directory), so that a supervisor reads its container's filter instead of compiling it.
    #[serde(default)]
    pub seccomp_cache: Option<PathBuf>,
}

/// The container's cgroup, emptied first: processes left in it by a supervisor that was killed
/// (kill -9) belong to the old run and must not survive into the new one.
fn fresh_cgroup(name: &str, resources: &Resources) -> Result<Cgroup, String> {
    let cgroup = Cgroup::create(name, resources).map_err(|e| e.to_string())?;
    if cgroup.processes().map_err(|e| e.to_string())?.is_empty() {
        return Ok(cgroup);
    }
    cgroup.destroy().map_err(|e| e.to_string())?;
    Cgroup::create(name, resources).map_err(|e| e.to_string())
}

/// A refused pause or unpause goes to the supervisor's error output (the caller sees the state
/// not change).
fn log_refusal(what: &str, result: Result<(), String>) {
    if let Err(e) = result {
        eprintln!("{what}: {e}");
    }
}

/// The pid file of the supervisor of `config_path`.
pub fn pid_file(config_path: &Path) -> PathBuf {
    config_path.with_file_name("supervisor.pid")
}

/// The file a stop request's own grace period (`stop -t N`) is written to, next to the config.
fn stop_grace_file(config_path: &Path) -> PathBuf {
    config_path.with_file_name("stop-grace")
}

/// Asks the supervisor `pid` of `config_path` to stop its container: the stop signal, then
/// SIGKILL after `grace` (`stop -t`, which overrides the container's `stop_grace_period` as
/// `docker stop -t` does), or after the configured grace period when `None`.
pub fn request_stop(config_path: &Path, pid: i32, grace: Option<Duration>) -> std::io::Result<()> {
    let file = stop_grace_file(config_path);
    match grace {
        Some(grace) => std::fs::write(&file, grace.as_millis().to_string())?,
        None => match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        },
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM).map_err(std::io::Error::from)
}

/// The grace period of the stop request just received: the one [`request_stop`] wrote, else
/// the configured one.
fn requested_grace(config_path: &Path, configured: Duration) -> Duration {
    let file = stop_grace_file(config_path);
    let requested = std::fs::read_to_string(&file).ok().and_then(|ms| ms.trim().parse().ok()).map(Duration::from_millis);
    let _ = std::fs::remove_file(&file);
    requested.unwrap_or(configured)
}

/// The process's standard output, which the runtime reads the start notice from (a pipe, or
/// /dev/null); /dev/null is put in its place, so that nothing else writes there and the pipe
/// closes with the notice.
fn take_stdout() -> Result<std::fs::File, String> {
    // Close-on-exec (F_DUPFD_CLOEXEC): the container must not hold it open.
    let stdout = std::os::fd::AsFd::as_fd(&std::io::stdout()).try_clone_to_owned().map_err(|e| format!("duplicating standard output: {e}"))?;
    let null = std::fs::File::options().write(true).open("/dev/null").map_err(|e| format!("opening /dev/null: {e}"))?;
    nix::unistd::dup2_stdout(&null).map_err(|e| format!("replacing standard output: {e}"))?;
    Ok(stdout.into())
}

/// Entry point of `xcompose __supervise CONFIG`; returns the container's last exit code.
pub fn main(config_path: &Path) -> Result<i32, String> {
    // Outlive the CLI: a session of our own, so its terminal's hang-up does not reach us.
    let _ = nix::unistd::setsid();
    let config: DaemonConfig = serde_json::from_slice(
        &std::fs::read(config_path).map_err(|e| format!("reading {}: {e}", config_path.display()))?,
    )
    .map_err(|e| format!("parsing {}: {e}", config_path.display()))?;
    // Requests are taken by one thread; block them everywhere first (containers unblock): stop
    // (SIGTERM, SIGINT, SIGHUP), pause (SIGUSR1) and unpause (SIGUSR2).
    let control_signals: SigSet =
        [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGUSR1, Signal::SIGUSR2].into_iter().collect();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&control_signals), None).map_err(|e| format!("blocking signals: {e}"))?;
    if let Some(dir) = &config.seccomp_cache {
        xcompose_seccomp::cache_compiled_in(dir);
    }
    let cgroup = match &config.cgroup {
        Some((name, resources)) => Some(fresh_cgroup(name, resources)?),
        None => None,
    };
    let pid_path = pid_file(config_path);
    // A request left by a stop whose supervisor was already gone is not for this run.
    let _ = std::fs::remove_file(stop_grace_file(config_path));
    std::fs::write(&pid_path, std::process::id().to_string()).map_err(|e| format!("writing {}: {e}", pid_path.display()))?;
    let shm = match &config.supervisor.shm_dir {
        Some(dir) => Some(SharedShm::mount(dir, config.supervisor.spec.shm_size)?),
        None => None,
    };
    let supervisor = Supervisor::new(config.supervisor, cgroup.clone())?;
    supervisor.notify_start_to(take_stdout()?);
    let stop_signal = config.stop_signal;
    let grace = config.stop_grace;
    {
        let sup = Arc::clone(&supervisor);
        let config_path = config_path.to_path_buf();
        std::thread::spawn(move || loop {
            match control_signals.wait() {
                Ok(Signal::SIGUSR1) => log_refusal("pause", sup.set_paused(true)),
                Ok(Signal::SIGUSR2) => log_refusal("unpause", sup.set_paused(false)),
                Ok(_) => {
                    sup.stop(stop_signal, requested_grace(&config_path, grace));
                    break;
                }
                Err(_) => break,
            }
        });
    }
    let result = supervisor.run();
    if let Some(cg) = cgroup {
        let _ = cg.destroy();
    }
    drop(shm);
    let _ = std::fs::remove_file(&pid_path);
    result
}
