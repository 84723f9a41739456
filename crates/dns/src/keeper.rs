//! The resolver's keeper: `xcompose __dns CONFIG` runs the resolver itself in a child process
//! (`xcompose __dns --serve CONFIG`, [`crate::daemon::main`]) and starts it again, at once, if
//! it is killed (SIGKILL, the OOM killer, a crash), so that the project's containers resolve
//! names again within a few milliseconds. The files are the resolver's whole state (see the
//! crate's design notes), so the new process serves every container the old one served, with the
//! same records.
//!
//! - The keeper holds an exclusive lock on [`keeper_lock`] for as long as it lives: whoever
//!   finds the resolver dead but the lock held knows a new resolver is on its way and must not
//!   start a second keeper.
//! - A resolver that exits on its own (0 after SIGTERM, or an error) ends the keeper with the
//!   same code: it was stopped, or cannot serve, and starting it again would not help. A resolver
//!   killed by a signal when no container is left to serve (`down` stopping it) is not started
//!   again either.
//! - A resolver that keeps dying soon after it started is started again after a growing pause
//!   (up to [`MAX_PAUSE`]), never in a tight loop.
//! - If the keeper itself is killed, the resolver goes on serving (it is not tied to the keeper's
//!   life); the next xcompose command that needs it starts a new keeper only if the resolver is
//!   dead too.

use std::fs::File;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};

use crate::daemon::DaemonConfig;
use crate::Error;

/// A resolver that ran at least this long before it was killed is started again at once.
const HEALTHY_RUN: Duration = Duration::from_secs(1);

/// The longest pause before starting again a resolver that keeps dying.
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// The keeper's lock file of the resolver of `config_path`: `dns.keeper` beside it.
pub fn keeper_lock(config_path: &Path) -> PathBuf {
    config_path.with_file_name("dns.keeper")
}

/// Whether a keeper holds the lock of the resolver of `config_path` (it lives, and starts the
/// resolver again if that died).
pub fn keeper_alive(config_path: &Path) -> bool {
    let Ok(file) = File::options().read(true).open(keeper_lock(config_path)) else { return false };
    Flock::lock(file, FlockArg::LockExclusiveNonblock).is_err()
}

/// Entry point of `xcompose __dns CONFIG`: runs `exe __dns --serve CONFIG` until it exits on its
/// own, starting it again whenever it is killed while containers are left to serve; returns
/// its exit code.
pub fn main(exe: &Path, config_path: &Path) -> Result<i32, String> {
    let lock_path = keeper_lock(config_path);
    let file = File::options().create(true).truncate(false).write(true).open(&lock_path).map_err(|source| Error::Write { path: lock_path.clone(), source }.to_string())?;
    let _lock = Flock::lock(file, FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| format!("{}: another keeper runs this resolver ({e})", lock_path.display()))?;
    let mut pause = Duration::ZERO;
    loop {
        let started = Instant::now();
        let status = Command::new(exe).arg("__dns").arg("--serve").arg(config_path).status().map_err(|e| format!("running {} __dns --serve: {e}", exe.display()))?;
        if !should_restart(status, || has_clients(config_path)) {
            return Ok(status.code().unwrap_or(128 + status.signal().unwrap_or(0)));
        }
        pause = next_pause(pause, started.elapsed());
        eprintln!("xcompose dns: the resolver was killed ({status}); starting it again");
        std::thread::sleep(pause);
    }
}

/// Whether a resolver that ended with `status` is started again: only if a signal killed it and
/// `serves_containers()` says some container still needs it.
fn should_restart(status: ExitStatus, serves_containers: impl FnOnce() -> bool) -> bool {
    status.signal().is_some() && serves_containers()
}

/// The pause before the next start, after the last one (`previous`) and a run of `ran`: none
/// after a healthy run, else twice the last one (from 50 ms), at most [`MAX_PAUSE`].
fn next_pause(previous: Duration, ran: Duration) -> Duration {
    if ran >= HEALTHY_RUN {
        return Duration::ZERO;
    }
    (previous * 2).max(Duration::from_millis(50)).min(MAX_PAUSE)
}

/// Whether the config at `config_path` names a clients directory with a client file in it.
fn has_clients(config_path: &Path) -> bool {
    let Ok(config) = DaemonConfig::load(config_path) else { return false };
    std::fs::read_dir(&config.clients).is_ok_and(|mut entries| entries.any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_killed_resolver_with_containers_to_serve_is_started_again() {
        let killed = ExitStatus::from_raw(9);
        let stopped = ExitStatus::from_raw(0);
        let failed = ExitStatus::from_raw(1 << 8);
        assert!(should_restart(killed, || true));
        assert!(!should_restart(killed, || false), "down stopped it: nothing left to serve");
        assert!(!should_restart(stopped, || true));
        assert!(!should_restart(failed, || true));
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

    #[test]
    fn clients_are_read_from_the_configs_directory() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.json");
        assert!(!has_clients(&config), "no config");
        DaemonConfig { clients: dir.path().join("clients"), resolv_conf: "/etc/resolv.conf".into() }.save(&config).unwrap();
        assert!(!has_clients(&config), "no clients directory");
        std::fs::create_dir(dir.path().join("clients")).unwrap();
        std::fs::write(dir.path().join("clients/abc.json.tmp"), "{}").unwrap();
        assert!(!has_clients(&config), "a temporary file is no client");
        std::fs::write(dir.path().join("clients/abc.json"), "{}").unwrap();
        assert!(has_clients(&config));
    }

    #[test]
    fn the_lock_tells_whether_a_keeper_lives() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.json");
        assert!(!keeper_alive(&config));
        let file = File::options().create(true).truncate(false).write(true).open(keeper_lock(&config)).unwrap();
        let held = Flock::lock(file, FlockArg::LockExclusive).unwrap();
        assert!(keeper_alive(&config));
        drop(held);
        assert!(!keeper_alive(&config));
    }
}
