//! The channel that feeds a `stdin_open` container's standard input: a unix socket in the
//! container's directory that `attach` (and `run -i`) connect to. The bytes a client writes go
//! to the container's stdin (its pipe, or its terminal's master for a `tty` container), as
//! Docker's attach streams do.
//!
//! As Docker: stdin stays open when a client leaves, unless the container is `stdin_once`
//! (a one-off of `run -i`), whose stdin is closed when its first client has sent everything.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;

/// Where a container's stdin is fed from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StdinConfig {
    /// The socket clients connect to.
    pub socket: PathBuf,
    /// Its stdin is closed once the first client has finished (Docker's `StdinOnce`).
    #[serde(default)]
    pub once: bool,
}

/// The stdin of the container's current run, which clients write to; replaced at each run.
#[derive(Debug, Default, Clone)]
pub struct StdinTarget {
    current: Arc<Mutex<Option<File>>>,
    closed_for_good: Arc<Mutex<bool>>,
}

impl StdinTarget {
    /// Makes `fd` the stdin of the run that starts (unless a `once` client already closed it).
    pub fn set(&self, fd: OwnedFd) {
        if !*self.closed_for_good.lock().expect("stdin lock") {
            *self.current.lock().expect("stdin lock") = Some(File::from(fd));
        }
    }

    /// Forgets the stdin of a run that ended.
    pub fn clear(&self) {
        self.current.lock().expect("stdin lock").take();
    }

    fn write(&self, bytes: &[u8]) -> bool {
        match self.current.lock().expect("stdin lock").as_mut() {
            Some(file) => file.write_all(bytes).is_ok(),
            None => false,
        }
    }

    fn close_for_good(&self) {
        *self.closed_for_good.lock().expect("stdin lock") = true;
        self.clear();
    }
}

/// Listens on `config.socket` (replacing a socket left by an earlier supervisor) and relays
/// every client's bytes to `target`, each client on its own thread.
pub fn serve(config: &StdinConfig, target: StdinTarget) -> std::io::Result<()> {
    match std::fs::remove_file(&config.socket) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = through_directory(&config.socket, |path| UnixListener::bind(path))?;
    let once = config.once;
    thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let for_client = target.clone();
            let relay = thread::spawn(move || relay(client, &for_client));
            if once {
                let _ = relay.join();
                target.close_for_good();
                return;
            }
        }
    });
    Ok(())
}

/// Copies a client's bytes to the container's stdin until the client closes its side.
fn relay(mut client: UnixStream, target: &StdinTarget) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = client.read(&mut buf) {
        if n == 0 || !target.write(&buf[..n]) {
            return;
        }
    }
}

/// Connects to the stdin socket of a container.
pub fn connect(socket: &Path) -> std::io::Result<UnixStream> {
    through_directory(socket, |path| UnixStream::connect(path))
}

/// Runs `f` on a name of `path` short enough for a socket address (108 bytes): through
/// `/proc/self/fd` and a descriptor of its directory, since container directories nest deep.
fn through_directory<T>(path: &Path, f: impl FnOnce(&Path) -> std::io::Result<T>) -> std::io::Result<T> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else { return f(path) };
    let dir: OwnedFd = File::open(dir)?.into();
    f(&Path::new("/proc/self/fd").join(dir.as_raw_fd().to_string()).join(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;

    fn pipe() -> (File, OwnedFd) {
        let (r, w) = nix::unistd::pipe().unwrap();
        (File::from(r), w)
    }

    fn socket_in(dir: &Path, once: bool) -> StdinConfig {
        // Deeper than a socket address can name, to prove the short name works.
        let deep = dir.join("d".repeat(100));
        std::fs::create_dir(&deep).unwrap();
        StdinConfig { socket: deep.join("stdin.sock"), once }
    }

    #[test]
    fn clients_feed_stdin_which_stays_open_after_they_leave() {
        let dir = tempfile::tempdir().unwrap();
        let config = socket_in(dir.path(), false);
        let target = StdinTarget::default();
        let (read, write) = pipe();
        target.set(write);
        serve(&config, target.clone()).unwrap();
        let mut lines = std::io::BufReader::new(read);
        for word in ["first", "second"] {
            let mut client = connect(&config.socket).unwrap();
            client.write_all(format!("{word}\n").as_bytes()).unwrap();
            drop(client);
            let mut line = String::new();
            lines.read_line(&mut line).unwrap();
            assert_eq!(line, format!("{word}\n"));
        }
    }

    #[test]
    fn once_closes_stdin_after_the_first_client() {
        let dir = tempfile::tempdir().unwrap();
        let config = socket_in(dir.path(), true);
        let target = StdinTarget::default();
        let (mut read, write) = pipe();
        target.set(write);
        serve(&config, target.clone()).unwrap();
        let mut client = connect(&config.socket).unwrap();
        client.write_all(b"all of it").unwrap();
        drop(client);
        let mut got = String::new();
        read.read_to_string(&mut got).unwrap();
        assert_eq!(got, "all of it", "stdin ends after the client's bytes");
    }
}
