//! Stopping a build's other stages when one fails, as BuildKit cancels the rest of a solve: a
//! flag each stage checks before its next step, and the RUN containers running at that moment
//! killed (each is PID 1 of its own PID namespace, so its whole process tree goes). The RUN step
//! still waits for its container, so nothing runs on after the build returns.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A build's cancellation.
#[derive(Debug, Default)]
pub struct Cancel {
    cancelled: AtomicBool,
    containers: Mutex<BTreeSet<u32>>,
}

impl Cancel {
    /// Whether the build was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Cancels the build: no step starts any more, running RUN containers are killed.
    pub fn cancel(&self) {
        let containers = self.containers.lock().unwrap_or_else(|e| e.into_inner());
        self.cancelled.store(true, Ordering::SeqCst);
        for pid in containers.iter() {
            let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGKILL);
        }
    }

    /// Notes a RUN container that is about to start; killed at once if the build is cancelled.
    pub fn started(&self, pid: u32) {
        let mut containers = self.containers.lock().unwrap_or_else(|e| e.into_inner());
        containers.insert(pid);
        if self.is_cancelled() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }

    /// Forgets a RUN container that was waited for.
    pub fn ended(&self, pid: u32) {
        self.containers.lock().unwrap_or_else(|e| e.into_inner()).remove(&pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancelling_kills_the_running_containers_and_those_started_after() {
        let cancel = Cancel::default();
        let mut running = std::process::Command::new("sleep").arg("60").spawn().unwrap();
        cancel.started(running.id());
        assert!(!cancel.is_cancelled());
        cancel.cancel();
        assert!(cancel.is_cancelled());
        assert!(!running.wait().unwrap().success(), "killed");
        cancel.ended(running.id());
        let mut late = std::process::Command::new("sleep").arg("60").spawn().unwrap();
        cancel.started(late.id());
        assert!(!late.wait().unwrap().success(), "killed as it started");
    }
}
