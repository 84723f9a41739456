//! `xcompose __proxy CONFIG`: the keeper of one proxy. It runs the proxy in a forked child
//! ([`crate::forward::main`], as `xcompose __proxy --serve CONFIG` does) and starts it again
//! whenever a signal killed it while its config is still there (the container's ports are still
//! published).

use std::path::Path;

use crate::config::keeper_lock;

/// Keeps the proxy of `config_path` running in a forked child; its exit code. Runs in a
/// single-threaded process.
pub fn main(config_path: &Path) -> Result<i32, String> {
    let serve = || match crate::forward::main(config_path) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            1
        }
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
