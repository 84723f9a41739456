//! `system boot`: what Docker's daemon does when it starts with the machine. The containers that
//! ran when the machine went down read as exited (code 255: their supervisors are gone); those
//! whose restart policy says so are started again, with their networks, names and ports, in the
//! order of their dependencies. Idempotent: what runs is left alone.

use xcompose_runtime::ContainerSummary;
use xcompose_supervisor::restart::RestartPolicy;
use xcompose_supervisor::state::{ContainerState, Status};

use crate::{Stack, StackError};

/// Whether Docker's daemon, starting, starts again a container with restart `policy` and
/// recorded `state`: `always` does, whatever stopped it; `unless-stopped` unless the user
/// stopped it; `on-failure` unless the user stopped it or it last exited cleanly (0), within its
/// retries; `no` never. Only an exited container is started (a created one never ran).
pub(crate) fn restarts_at_boot(policy: &RestartPolicy, state: &ContainerState) -> bool {
    if state.status != Status::Exited {
        return false;
    }
    match policy {
        RestartPolicy::Always => true,
        RestartPolicy::No => false,
        RestartPolicy::UnlessStopped | RestartPolicy::OnFailure { .. } => {
            state.exit_code.is_some_and(|code| policy.should_restart(code, state.restart_count, state.stopped_by_user))
        }
    }
}

impl Stack {
    /// Repairs what the reboot removed (see `repair`) and starts the project's containers whose
    /// restart policy says so ([`restarts_at_boot`]); returns how many it started.
    pub fn boot(&self) -> Result<usize, StackError> {
        let _lock = self.lock()?;
        self.repair()?;
        let mut chosen: Vec<ContainerSummary> = Vec::new();
        for container in self.project_containers()? {
            let policy = self.runtime.find(&container.id)?.supervisor.restart;
            if restarts_at_boot(&policy, &container.state) {
                chosen.push(container);
            }
        }
        self.start_in_order(&chosen)?;
        Ok(chosen.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(code: i32, stopped_by_user: bool) -> ContainerState {
        let mut state = ContainerState::created();
        state.status = Status::Exited;
        state.exit_code = Some(code);
        state.stopped_by_user = stopped_by_user;
        state
    }

    #[test]
    fn policies_decide_as_dockers_daemon_at_its_start() {
        let on_failure = RestartPolicy::OnFailure { max_retries: None };
        // Running when the machine went down: recorded 255.
        for policy in [RestartPolicy::Always, RestartPolicy::UnlessStopped, on_failure] {
            assert!(restarts_at_boot(&policy, &exited(255, false)), "{policy:?}");
        }
        assert!(!restarts_at_boot(&RestartPolicy::No, &exited(255, false)));
        // Stopped by the user: only always.
        assert!(restarts_at_boot(&RestartPolicy::Always, &exited(137, true)));
        assert!(!restarts_at_boot(&RestartPolicy::UnlessStopped, &exited(137, true)));
        assert!(!restarts_at_boot(&on_failure, &exited(137, true)));
        // A clean exit: on-failure leaves it.
        assert!(!restarts_at_boot(&on_failure, &exited(0, false)));
        let mut out_of_retries = exited(1, false);
        out_of_retries.restart_count = 3;
        assert!(!restarts_at_boot(&RestartPolicy::OnFailure { max_retries: Some(3) }, &out_of_retries));
        // Created, never started; or running: nothing to do.
        assert!(!restarts_at_boot(&RestartPolicy::Always, &ContainerState::created()));
        let mut running = exited(0, false);
        running.status = Status::Running;
        assert!(!restarts_at_boot(&RestartPolicy::Always, &running));
    }
}
