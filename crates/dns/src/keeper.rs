//! The resolver's keeper: `xcompose __dns CONFIG` runs the resolver itself in a forked child
//! process ([`crate::daemon::main`], as `xcompose __dns --serve CONFIG` does) and starts it again, at once, if
//! it is killed (SIGKILL, the OOM killer, a crash), so that the project's containers resolve
//! names again within a few milliseconds. The files are the resolver's whole state (see the
//! crate's design notes), so the new process serves every container the old one served, with the
//! same records.
//!
//! See `xcompose-keeper` for how it keeps it; a resolver killed when no container is left to
//! serve (`down` stopping it) is not started again. Whoever finds the resolver dead but
//! [`keeper_alive`] knows a new one is on its way and must not start a second keeper.

use std::path::{Path, PathBuf};

use crate::daemon::DaemonConfig;

/// The keeper's lock file of the resolver of `config_path`: `dns.keeper` beside it.
pub fn keeper_lock(config_path: &Path) -> PathBuf {
    config_path.with_file_name("dns.keeper")
}

/// Whether a keeper holds the lock of the resolver of `config_path` (it lives, and starts the
/// resolver again if that died).
pub fn keeper_alive(config_path: &Path) -> bool {
    xcompose_keeper::alive(&keeper_lock(config_path))
}

/// Entry point of `xcompose __dns CONFIG`: runs the resolver ([`crate::daemon::main`]) in a
/// forked child until it exits on its own, starting it again whenever it is killed while
/// containers are left to serve; returns its exit code. Runs in a single-threaded process.
pub fn main(config_path: &Path) -> Result<i32, String> {
    let serve = || match crate::daemon::main(config_path) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    };
    xcompose_keeper::keep(&keeper_lock(config_path), serve, |status| {
        let again = has_clients(config_path);
        if again {
            eprintln!("xcompose dns: the resolver was killed ({status}); starting it again");
        }
        again
    })
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
}
