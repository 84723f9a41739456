//! `start`, `stop`, `restart` and `rm` on the project's existing containers.

use std::time::Duration;

use xcompose_orchestrator::graph::ServiceGraph;
use xcompose_orchestrator::labels;
use xcompose_runtime::ContainerSummary;
use xcompose_supervisor::state::Status;

use crate::{Stack, StackError};

impl Stack {
    /// The project's service containers (not one-off ones) of `services` (all if empty).
    fn service_containers(&self, services: &[String]) -> Result<Vec<ContainerSummary>, StackError> {
        for s in services {
            if !self.project.services.contains_key(s) {
                return Err(StackError::Invalid(format!("no such service: {s}")));
            }
        }
        Ok(self
            .project_containers()?
            .into_iter()
            .filter(|c| c.labels.get(labels::ONEOFF).map(String::as_str) != Some("True"))
            .filter(|c| services.is_empty() || c.labels.get(labels::SERVICE).is_some_and(|s| services.contains(s)))
            .collect())
    }

    /// Runs `job` on each of `containers` in parallel (at most `--parallel` at a time); the
    /// first error, after all finished.
    pub(crate) fn each(&self, containers: &[ContainerSummary], job: impl Fn(&ContainerSummary) -> Result<(), StackError> + Sync) -> Result<(), StackError> {
        let results = crate::concurrency::run_all(containers, self.parallel, job);
        results.into_iter().collect::<Result<Vec<()>, StackError>>().map(|_| ())
    }

    /// Stops the containers of `services` (all if empty) within `timeout` (each one's own grace
    /// period if `None`).
    pub fn stop(&self, services: &[String], timeout: Option<Duration>) -> Result<(), StackError> {
        let _lock = self.lock()?;
        self.stop_unlocked(services, timeout)
    }

    fn stop_unlocked(&self, services: &[String], timeout: Option<Duration>) -> Result<(), StackError> {
        let containers = self.service_containers(services)?;
        self.each(&containers, |c| {
            self.report("Container", &c.name, "Stopping");
            self.stop_container(c.labels.get(labels::SERVICE).map_or("", String::as_str), &c.id, timeout)?;
            // As docker-proxy, the userland proxy goes with the stopped container (its start
            // publishes the ports again).
            self.ports.stop_proxy(&c.id)?;
            self.report("Container", &c.name, "Stopped");
            Ok(())
        })
    }

    /// Starts the stopped containers of `services` (all if empty), dependencies first.
    pub fn start(&self, services: &[String]) -> Result<(), StackError> {
        let _lock = self.lock()?;
        self.repair()?;
        self.start_unlocked(services)
    }

    fn start_unlocked(&self, services: &[String]) -> Result<(), StackError> {
        self.start_in_order(&self.service_containers(services)?)
    }

    /// Starts those of `containers` that do not run, each level of the dependency graph after
    /// the one before.
    pub(crate) fn start_in_order(&self, containers: &[ContainerSummary]) -> Result<(), StackError> {
        let graph = ServiceGraph::new(&self.project).map_err(|e| StackError::Invalid(e.to_string()))?;
        for level in graph.levels() {
            let batch: Vec<ContainerSummary> = containers
                .iter()
                .filter(|c| c.labels.get(labels::SERVICE).is_some_and(|s| level.contains(&s.as_str())))
                .filter(|c| !matches!(c.state.status, Status::Running | Status::Paused | Status::Restarting))
                .cloned()
                .collect();
            self.each(&batch, |c| {
                let service = c.labels.get(labels::SERVICE).cloned().unwrap_or_default();
                self.start_service_container(&service, &c.id, &c.name)
            })?;
        }
        Ok(())
    }

    /// Restarts the containers of `services` (all if empty).
    pub fn restart(&self, services: &[String], timeout: Option<Duration>) -> Result<(), StackError> {
        let _lock = self.lock()?;
        self.stop_unlocked(services, timeout)?;
        self.start_unlocked(services)
    }

    /// Removes the stopped containers of `services` (all if empty); with `stop`, running ones
    /// are stopped first. Returns the names of the containers removed.
    pub fn remove(&self, services: &[String], stop: bool) -> Result<Vec<String>, StackError> {
        let _lock = self.lock()?;
        if stop {
            self.stop_unlocked(services, None)?;
        }
        let stopped: Vec<ContainerSummary> = self
            .service_containers(services)?
            .into_iter()
            .filter(|c| !matches!(c.state.status, Status::Running | Status::Paused | Status::Restarting))
            .collect();
        self.each(&stopped, |c| {
            self.report("Container", &c.name, "Removing");
            self.remove_container(&c.id, Duration::ZERO)?;
            self.report("Container", &c.name, "Removed");
            Ok(())
        })?;
        self.resolver.stop_if_idle()?;
        Ok(stopped.into_iter().map(|c| c.name).collect())
    }

    /// Pauses (`true`) or unpauses the running containers of `services` (all if empty).
    pub fn set_paused(&self, services: &[String], paused: bool) -> Result<(), StackError> {
        let _lock = self.lock()?;
        let from = if paused { Status::Running } else { Status::Paused };
        let containers: Vec<ContainerSummary> = self.service_containers(services)?.into_iter().filter(|c| c.state.status == from).collect();
        let (doing, done) = if paused { ("Pausing", "Paused") } else { ("Unpausing", "Unpaused") };
        self.each(&containers, |c| {
            self.report("Container", &c.name, doing);
            self.runtime.set_paused(&c.id, paused)?;
            self.report("Container", &c.name, done);
            Ok(())
        })
    }

    /// Sends `signal` to the running containers of `services` (all if empty).
    pub fn kill(&self, services: &[String], signal: nix::sys::signal::Signal) -> Result<(), StackError> {
        let _lock = self.lock()?;
        let running: Vec<ContainerSummary> = self
            .service_containers(services)?
            .into_iter()
            .filter(|c| matches!(c.state.status, Status::Running | Status::Paused))
            .collect();
        self.each(&running, |c| {
            self.report("Container", &c.name, "Killing");
            self.runtime.kill(&c.id, signal)?;
            self.report("Container", &c.name, "Killed");
            Ok(())
        })
    }
}
