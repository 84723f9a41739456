//! When a container may start during `up`: once every container of the services it depends on
//! that the plan starts has started. All container actions run at once; each waits here.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex};

use crate::StackError;

/// Containers each service still has to start, and whether an action failed.
pub(crate) struct Schedule {
    state: Mutex<(BTreeMap<String, usize>, bool)>,
    changed: Condvar,
}

impl Schedule {
    /// A schedule for containers to start, one entry per container, by service.
    pub(crate) fn new<'a>(services: impl Iterator<Item = &'a str>) -> Self {
        let mut pending = BTreeMap::new();
        for s in services {
            *pending.entry(s.to_string()).or_insert(0) += 1;
        }
        Self { state: Mutex::new((pending, false)), changed: Condvar::new() }
    }

    /// Waits until `services` have no container left to start; fails if an action failed.
    pub(crate) fn wait_for<'a>(&self, services: impl Iterator<Item = &'a str> + Clone) -> Result<(), StackError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if state.1 {
                return Err(StackError::Aborted);
            }
            if services.clone().all(|s| state.0.get(s).is_none_or(|n| *n == 0)) {
                return Ok(());
            }
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// One container of `service` has started (or, for other actions, finished).
    pub(crate) fn done(&self, service: &str) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = state.0.get_mut(service) {
            *n = n.saturating_sub(1);
        }
        self.changed.notify_all();
    }

    /// An action failed: whatever waits gives up.
    pub(crate) fn fail(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn waits_for_every_container_of_a_dependency() {
        let schedule = Arc::new(Schedule::new(["db", "db", "web"].into_iter()));
        let waiter = {
            let schedule = schedule.clone();
            std::thread::spawn(move || schedule.wait_for(["db"].into_iter()))
        };
        schedule.done("db");
        std::thread::sleep(Duration::from_millis(20));
        assert!(!waiter.is_finished(), "one db container is still to start");
        schedule.done("db");
        assert!(waiter.join().unwrap().is_ok());
        assert!(schedule.wait_for(["other"].into_iter()).is_ok(), "services not in the plan are not waited for");
    }

    #[test]
    fn a_failure_releases_the_waiters_with_an_error() {
        let schedule = Arc::new(Schedule::new(["db"].into_iter()));
        let waiter = {
            let schedule = schedule.clone();
            std::thread::spawn(move || schedule.wait_for(["db"].into_iter()))
        };
        schedule.fail();
        assert!(matches!(waiter.join().unwrap(), Err(StackError::Aborted)));
    }
}
