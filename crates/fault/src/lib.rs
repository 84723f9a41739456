//! Fault injection for the crash tests. Commands call [`point`] between the steps that change
//! something (a record written, a link made, a container started); a test then kills the command
//! at each of them in turn and checks that running it again converges.
//!
//! - `XCOMPOSE_FAULT_TRACE=FILE`: every point reached appends its name, one a line, to FILE
//!   (what a test reads to learn the steps of a command).
//! - `XCOMPOSE_FAULT_AT=NAME` or `NAME#N`: the process kills itself with SIGKILL (as `kill -9`,
//!   the OOM killer or a power cut would end it: no destructor, no cleanup) when it reaches point
//!   NAME for the first (or the N-th) time.
//!
//! Without those variables a point costs one load of a value read once per process.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// What the environment asked for, read at the first point.
#[derive(Debug, Default)]
struct Plan {
    /// Kill at this point's `n`-th pass (1-based).
    kill_at: Option<(String, usize)>,
    /// Append every point's name to this file.
    trace: Option<Mutex<std::fs::File>>,
    /// How often the point to kill at was reached.
    passes: AtomicUsize,
}

impl Plan {
    /// Records that point `name` is reached; whether the process must die there.
    fn reached(&self, name: &str) -> bool {
        if let Some(trace) = &self.trace {
            let mut file = trace.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let _ = writeln!(file, "{name}");
        }
        match &self.kill_at {
            Some((at, n)) if at == name => self.passes.fetch_add(1, Ordering::SeqCst) + 1 == *n,
            _ => false,
        }
    }
}

static PLAN: OnceLock<Plan> = OnceLock::new();

/// Parses `NAME` or `NAME#N` (N from 1).
fn parse_kill_at(text: &str) -> Option<(String, usize)> {
    match text.rsplit_once('#') {
        Some((name, n)) => n.parse().ok().filter(|n| *n > 0).map(|n| (name.to_string(), n)),
        None if !text.is_empty() => Some((text.to_string(), 1)),
        None => None,
    }
}

fn plan() -> &'static Plan {
    PLAN.get_or_init(|| Plan {
        kill_at: std::env::var("XCOMPOSE_FAULT_AT").ok().and_then(|t| parse_kill_at(&t)),
        trace: std::env::var_os("XCOMPOSE_FAULT_TRACE")
            .and_then(|path| std::fs::File::options().create(true).append(true).open(path).ok())
            .map(Mutex::new),
        passes: AtomicUsize::new(0),
    })
}

/// A step boundary named `name`: traced, or the end of the process, if the environment says so.
pub fn point(name: &str) {
    if plan().reached(name) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_passes_are_parsed() {
        assert_eq!(parse_kill_at("up.network-created"), Some(("up.network-created".into(), 1)));
        assert_eq!(parse_kill_at("up.started#3"), Some(("up.started".into(), 3)));
        assert_eq!(parse_kill_at("up.started#0"), None);
        assert_eq!(parse_kill_at("up.started#x"), None);
        assert_eq!(parse_kill_at(""), None);
    }

    #[test]
    fn the_named_pass_is_the_one_to_die_at_and_every_point_is_traced() {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("trace");
        let plan = Plan {
            kill_at: parse_kill_at("b#2"),
            trace: Some(Mutex::new(std::fs::File::create(&trace).unwrap())),
            passes: AtomicUsize::new(0),
        };
        let deaths: Vec<bool> = ["a", "b", "a", "b", "a", "b"].iter().map(|p| plan.reached(p)).collect();
        assert_eq!(deaths, [false, false, false, true, false, false]);
        assert_eq!(std::fs::read_to_string(&trace).unwrap(), "a\nb\na\nb\na\nb\n");
        assert!(!Plan::default().reached("a"), "no variables: nothing happens");
    }
}
