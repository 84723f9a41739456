//! The supervisor's keeper: `xcompose __supervise CONFIG` runs the supervisor itself in a forked
//! child process ([`crate::daemon::main`], as `xcompose __supervise --serve CONFIG` does), so that a supervisor
//! killed by a signal (kill -9, the OOM killer, a crash) does not leave its container dead or,
//! worse, running unsupervised.
//!
//! What happens then is what Docker does when a container dies under it: the container's
//! restart policy decides, as for an exit with code 255 (Docker's code for a container whose
//! runtime was lost). If it restarts (`always`, `unless-stopped` not stopped by the user,
//! `on-failure` within its retries), a new supervisor is started at once: it empties the
//! container's cgroup of the old run's processes and starts the container again. If not (`no`),
//! the keeper kills what is left in the cgroup and ends: the container reads as `Exited (255)`,
//! and nothing of it runs without a supervisor.
//!
//! Whoever finds the supervisor dead but [`keeper_alive`] knows a new one is on its way.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use xcompose_cgroups::Cgroup;

use crate::daemon::DaemonConfig;
use crate::restart::RestartPolicy;
use crate::state::ContainerState;

/// The exit code a container whose supervisor was killed is recorded with (Docker's for a lost
/// runtime), and that its restart policy is asked about.
pub const LOST_SUPERVISOR_EXIT_CODE: i32 = 255;

/// The keeper's lock file of the supervisor of `config_path`: `supervisor.keeper` beside it.
pub fn keeper_lock(config_path: &Path) -> PathBuf {
    config_path.with_file_name("supervisor.keeper")
}

/// Whether a keeper holds the lock of the supervisor of `config_path`.
pub fn keeper_alive(config_path: &Path) -> bool {
    xcompose_keeper::alive(&keeper_lock(config_path))
}

/// The pid of the keeper of the supervisor of `config_path`, if it lives (to stop it for good:
/// it would start a supervisor killed under it again).
pub fn keeper_pid(config_path: &Path) -> Option<nix::unistd::Pid> {
    xcompose_keeper::pid(&keeper_lock(config_path))
}

/// Entry point of `xcompose __supervise CONFIG`: runs the supervisor ([`crate::daemon::main`])
/// in a forked child and starts it again whenever it is killed and the container's restart
/// policy says so; returns the last run's exit code. Runs in a single-threaded process.
pub fn main(config_path: &Path) -> Result<i32, String> {
    // Outlive the CLI: a session of our own, so its terminal's hang-up does not reach us.
    let _ = nix::unistd::setsid();
    let config: DaemonConfig = serde_json::from_slice(&std::fs::read(config_path).map_err(|e| format!("reading {}: {e}", config_path.display()))?)
        .map_err(|e| format!("parsing {}: {e}", config_path.display()))?;
    let serve = || match crate::daemon::main(config_path) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    };
    xcompose_keeper::keep(&keeper_lock(config_path), serve, |status| {
        let again = restarts(&config.supervisor.restart, &config.supervisor.state_path, status);
        if !again {
            kill_leftovers(&config);
        }
        again
    })
}

/// Whether a container whose supervisor a signal killed (`status`) restarts by its `policy` and
/// the state recorded at `state_path`.
fn restarts(policy: &RestartPolicy, state_path: &Path, status: ExitStatus) -> bool {
    let state = ContainerState::load(state_path).unwrap_or_else(|_| ContainerState::created());
    let again = policy.should_restart(LOST_SUPERVISOR_EXIT_CODE, state.restart_count, state.stopped_by_user);
    eprintln!("xcompose supervisor: the supervisor was killed ({status}); {}", if again { "restarting the container by its restart policy" } else { "the container stays exited (restart policy)" });
    again
}

/// Kills whatever the killed supervisor's container left running.
fn kill_leftovers(config: &DaemonConfig) {
    if let Some((name, resources)) = &config.cgroup {
        if let Err(e) = Cgroup::create(name, resources).and_then(|cgroup| cgroup.destroy()) {
            eprintln!("xcompose supervisor: removing the container's cgroup {name}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;

    use super::*;

    #[test]
    fn the_restart_policy_decides_as_for_an_exit_255() {
        let dir = tempfile::tempdir().unwrap();
        let state_path = dir.path().join("state.json");
        let killed = ExitStatus::from_raw(9);
        assert!(restarts(&RestartPolicy::Always, &state_path, killed));
        assert!(restarts(&RestartPolicy::UnlessStopped, &state_path, killed));
        assert!(restarts(&RestartPolicy::OnFailure { max_retries: None }, &state_path, killed));
        assert!(!restarts(&RestartPolicy::No, &state_path, killed));
        let mut state = ContainerState::created();
        state.restart_count = 2;
        state.save(&state_path).unwrap();
        assert!(!restarts(&RestartPolicy::OnFailure { max_retries: Some(2) }, &state_path, killed), "out of retries");
        state.stopped_by_user = true;
        state.save(&state_path).unwrap();
        assert!(!restarts(&RestartPolicy::Always, &state_path, killed), "stopped by the user");
    }
}
