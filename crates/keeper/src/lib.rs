//! Keeps a helper process alive. xcompose has no daemon: the helpers that outlive a command (a
//! project's resolver, a container's supervisor) are processes of their own, and one killed by a
//! signal (SIGKILL by hand, the OOM killer, a crash) would stay dead until the next command. A
//! keeper is a tiny parent that runs the helper as its child and starts it again at once when a
//! signal killed it and the caller says it is still needed.
//!
//! - The helper is a fork of the keeper, not a new program: starting it costs a `fork`, not an
//!   `exec` of the whole `xcompose` binary (its loading and relocations), and the two share their
//!   pages. The keeper has to be single-threaded when it forks (it is: a process of its own, run
//!   for this only).
//! - The keeper holds an exclusive `flock` on a lock file for as long as it lives, so whoever
//!   finds the helper dead can tell, with [`alive`], whether a new one is on its way. The helper
//!   closes its copy of the lock, so a helper outliving its keeper does not keep it locked.
//! - A helper that exits on its own (asked to stop, or unable to run) ends the keeper with its
//!   exit code: starting it again would not help.
//! - A helper that keeps dying soon after it started is started again after a growing pause (up
//!   to [`MAX_PAUSE`]), never in a tight loop.
//! - The helper does not die with its keeper: a killed keeper leaves it running, and the next
//!   command starts a new keeper only if the helper is dead too.
//! - Keeper and helper live as long as their project: their memory is kept small (see
//!   [`shrink_heap`]): one malloc arena for all their threads, and the heap the keeper's start
//!   freed given back before the helper is forked.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::libc;
use nix::unistd::{ForkResult, Pid};

/// A helper that ran at least this long before it was killed is started again at once.
const HEALTHY_RUN: Duration = Duration::from_secs(1);

/// The longest pause before starting again a helper that keeps dying.
pub const MAX_PAUSE: Duration = Duration::from_secs(2);

/// Starts a keeper, `exe SUBCOMMAND CONFIG`, as a process of its own: no stdin or stdout, its
/// errors to `stderr`, in its own process group so that Ctrl+C on the command that started it
/// does not reach it. The caller waits for its helper to run, then lets the keeper go.
pub fn start(exe: &Path, subcommand: &str, config: &Path, stderr: File) -> std::io::Result<Child> {
    Command::new(exe).arg(subcommand).arg(config).stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr).process_group(0).spawn()
}

/// Whether a keeper holds the lock file at `lock_path`.
pub fn alive(lock_path: &Path) -> bool {
    let Ok(file) = File::options().read(true).open(lock_path) else { return false };
    Flock::lock(file, FlockArg::LockExclusiveNonblock).is_err()
}

/// The pid of the keeper holding the lock file at `lock_path`, if one does (to stop it for
/// good: a keeper starts again a helper killed under it).
pub fn pid(lock_path: &Path) -> Option<Pid> {
    let pid = std::fs::read_to_string(lock_path).ok()?.trim().parse().ok()?;
    alive(lock_path).then_some(Pid::from_raw(pid))
}

/// Runs `helper()` in a forked child (whose exit code it returns), holding the lock at
/// `lock_path`, and starts it again whenever a signal killed it and `again(status)` says so;
/// returns the exit code of its last run (128 + the signal's number if a signal ended it).
/// Call it from a single-threaded process: the child is a fork of the caller.
pub fn keep(lock_path: &Path, mut helper: impl FnMut() -> i32, mut again: impl FnMut(ExitStatus) -> bool) -> Result<i32, String> {
    let file = File::options().create(true).truncate(false).write(true).open(lock_path).map_err(|e| format!("opening {}: {e}", lock_path.display()))?;
    let mut lock = Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| format!("{}: another keeper runs ({e})", lock_path.display()))?;
    lock.set_len(0).and_then(|()| lock.write_all(std::process::id().to_string().as_bytes())).map_err(|e| format!("writing {}: {e}", lock_path.display()))?;
    shrink_heap();
    let mut pause = Duration::ZERO;
    loop {
        let started = Instant::now();
        let status = run_forked(&lock, &mut helper)?;
        if status.signal().is_none() || !again(status) {
            return Ok(exit_code(status));
        }
        pause = next_pause(pause, started.elapsed());
        std::thread::sleep(pause);
    }
}

/// Keeps the heap of a long-lived keeper and its helpers small, measured with
/// `bench/fleet.sh` (RSS and PSS of every helper of a 50-service stack): glibc gives each new
/// thread an arena of its own (up to 8 per core), each holding on to the pages its thread
/// touched, where a helper's few threads (a supervisor's log pumps and signal thread, the
/// resolver's runtime) allocate little and seldom — one arena serves them; and what the
/// command line's parsing and the helper's set-up freed (clap's command tree among it) goes back
/// to the kernel instead of staying in every helper forked from this process.
fn shrink_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: plain calls into glibc's allocator, made while this process is single-threaded.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::malloc_trim(0);
    }
}

/// Runs `helper` in a forked child, without the keeper's `lock`, and waits for it to end.
fn run_forked(lock: &Flock<File>, helper: &mut impl FnMut() -> i32) -> Result<ExitStatus, String> {
    // SAFETY: the keeper is single-threaded (see `keep`), so the child is a whole copy of it.
    match unsafe { nix::unistd::fork() }.map_err(|e| format!("starting the helper: fork: {e}"))? {
        ForkResult::Child => {
            // The lock is the keeper's alone: it tells whether the keeper lives.
            let _ = nix::unistd::close(lock.as_raw_fd());
            // A panic ends the helper (with Rust's panic exit code), never unwinds into a
            // second keeper's loop.
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut *helper)).unwrap_or(101);
            std::process::exit(code)
        }
        ForkResult::Parent { child } => loop {
            let mut status = 0;
            // SAFETY: waiting for our own child, into a local.
            if unsafe { libc::waitpid(child.as_raw(), &mut status, 0) } == child.as_raw() {
                return Ok(ExitStatus::from_raw(status));
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(format!("waiting for the helper (pid {child}): {e}"));
            }
        },
    }
}

/// The shell's exit code for `status`: its code, or 128 + the signal that ended it.
fn exit_code(status: ExitStatus) -> i32 {
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// The pause before the next start, after the last one (`previous`) and a run of `ran`: none
/// after a healthy run, else twice the last one (from 50 ms), at most [`MAX_PAUSE`].
fn next_pause(previous: Duration, ran: Duration) -> Duration {
    if ran >= HEALTHY_RUN {
        return Duration::ZERO;
    }
    (previous * 2).max(Duration::from_millis(50)).min(MAX_PAUSE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends a line to `runs`, as each run of a helper does.
    fn record_run(runs: &Path) {
        let mut file = File::options().create(true).append(true).open(runs).unwrap();
        file.write_all(b"run\n").unwrap();
    }

    #[test]
    fn a_killed_helper_is_started_again_while_wanted() {
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("runs");
        let mut left = 2;
        let helper = || {
            record_run(&runs);
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
            0
        };
        let code = keep(&dir.path().join("lock"), helper, |status| {
            assert_eq!(status.signal(), Some(9));
            left -= 1;
            left > 0
        })
        .unwrap();
        assert_eq!(code, 137, "the last run's end, as a shell reports it");
        assert_eq!(std::fs::read_to_string(&runs).unwrap(), "run\nrun\n");
    }

    #[test]
    fn a_helper_that_exits_on_its_own_ends_the_keeper() {
        let dir = tempfile::tempdir().unwrap();
        let code = keep(&dir.path().join("lock"), || 3, |_| panic!("asked to start again after a plain exit")).unwrap();
        assert_eq!(code, 3);
    }

    #[test]
    fn the_helper_runs_in_a_child_without_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("lock");
        let seen = dir.path().join("seen");
        let helper = || {
            // The keeper (this process's parent) still holds the lock; the child does not.
            let keeper = nix::unistd::getppid();
            let holds_lock = std::fs::read_dir("/proc/self/fd").unwrap().filter_map(|e| std::fs::read_link(e.unwrap().path()).ok()).any(|target| target == lock);
            std::fs::write(&seen, format!("{} {} {holds_lock}", alive(&lock), pid(&lock) == Some(keeper))).unwrap();
            0
        };
        keep(&lock, helper, |_| false).unwrap();
        assert_eq!(std::fs::read_to_string(&seen).unwrap(), "true true false", "alive, with the keeper's pid, and not held by the helper");
        assert!(!alive(&lock), "not after");
        assert_eq!(pid(&lock), None);
    }

    #[test]
    fn pauses_grow_only_while_it_keeps_dying() {
        let quick = Duration::from_millis(10);
        assert_eq!(next_pause(Duration::ZERO, HEALTHY_RUN), Duration::ZERO);
        assert_eq!(next_pause(Duration::ZERO, quick), Duration::from_millis(50));
        assert_eq!(next_pause(Duration::from_millis(50), quick), Duration::from_millis(100));
        assert_eq!(next_pause(Duration::from_secs(5), quick), MAX_PAUSE);
        assert_eq!(next_pause(MAX_PAUSE, HEALTHY_RUN * 3), Duration::ZERO);
    }
}
