//! `wait`: block until the running containers of some services stop, as `docker compose wait`
//! does (Docker's `not-running` wait condition on each).

use std::time::Duration;

use xcompose_orchestrator::labels;
use xcompose_supervisor::state::Status;

use crate::{Stack, StackError};

/// How often the containers' states are read.
const POLL: Duration = Duration::from_millis(50);

impl Stack {
    /// Waits for every running container of `services` (all services when empty), one-off ones
    /// included, to stop, calling `on_exit` with each one's ID and exit code as it stops.
    /// Returns the exit code of the last one to stop, or `None` if none was running.
    pub fn wait_stopped(&self, services: &[String], on_exit: &mut dyn FnMut(&str, i32)) -> Result<Option<i32>, StackError> {
        let mut waiting = Vec::new();
        for container in self.project_containers()? {
            let service = container.labels.get(labels::SERVICE).map(String::as_str).unwrap_or_default();
            if (services.is_empty() || services.iter().any(|s| s == service)) && matches!(container.state.status, Status::Running | Status::Paused) {
                waiting.push(self.runtime.find(&container.id)?);
            }
        }
        if waiting.is_empty() {
            return Ok(None);
        }
        let mut last = 0;
        while !waiting.is_empty() {
            let mut still = Vec::new();
            for record in waiting {
                let state = self.runtime.state(&record);
                if matches!(state.status, Status::Running | Status::Paused) || (state.status == Status::Restarting && state.exit_code.is_none()) {
                    still.push(record);
                } else {
                    last = state.exit_code.unwrap_or(0);
                    on_exit(&record.id, last);
                }
            }
            waiting = still;
            if !waiting.is_empty() {
                std::thread::sleep(POLL);
            }
        }
        Ok(Some(last))
    }
}
