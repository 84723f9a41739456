//! `xcompose __proxy CONFIG`: the keeper of one proxy. It runs `xcompose __proxy --serve
//! CONFIG` and starts it again whenever a signal killed it while its config is still there (the
//! container's ports are still published).

use std::path::Path;
use std::process::Command;

use crate::config::keeper_lock;

/// Keeps the proxy of `config_path` running as a child, run as `exe __proxy --serve`; its exit code.
pub fn main(exe: &Path, config_path: &Path) -> Result<i32, String> {
    let serve = || {
        let mut command = Command::new(exe);
        command.arg("__proxy").arg("--serve").arg(config_path);
        command
    };
    xcompose_keeper::keep(&keeper_lock(config_path), serve, |status| {
        let again = config_path.exists();
        if again {
            eprintln!("xcompose proxy: the proxy was killed ({status}); starting it again");
        }
        again
    })
}

/// Whether a keeper of the proxy of `config_path` runs.
pub fn alive(config_path: &Path) -> bool {
    xcompose_keeper::alive(&keeper_lock(config_path))
}
