//! `exec`'s pseudo-terminal: a pty of the container's own devpts (so that inside it is
//! `/dev/pts/N`, as with Docker) sized like the user's terminal, the user's terminal in raw mode
//! while the command runs (restored after), and the bytes relayed both ways.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result};
use nix::libc;
use nix::pty::Winsize;
use nix::sys::termios::{self, SetArg, Termios};
use xcompose_container::Stdio;

/// A pty for one command, with the user's terminal set raw until it is dropped.
pub struct Terminal {
    master: OwnedFd,
    _raw: RawInput,
}

/// The user's terminal (on stdin) in raw mode, so keys go on as typed (control keys too), until
/// dropped.
pub struct RawInput {
    saved: Termios,
}

impl RawInput {
    /// Sets the terminal on stdin raw.
    pub fn enable() -> Result<Self> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).context("reading the terminal's settings")?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).context("setting the terminal raw")?;
        Ok(Self { saved })
    }
}

impl Drop for RawInput {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

impl Terminal {
    /// Opens a pty in the devpts of the container whose root is `container_root` (a
    /// `/proc/PID/root`), the size of the terminal on stdin, and puts that terminal in raw mode;
    /// the stdio to give the command (the pty's other side, on all three).
    pub fn open(container_root: &Path) -> Result<(Terminal, Stdio)> {
        let stdin = std::io::stdin();
        let ptmx = container_root.join("dev/pts/ptmx");
        let open = |path: &Path| OpenOptions::new().read(true).write(true).custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC).open(path);
        let master = open(&ptmx).with_context(|| format!("opening {}", ptmx.display()))?;
        let fd = master.as_raw_fd();
        let (mut unlock, mut number): (libc::c_int, libc::c_uint) = (0, 0);
        // SAFETY: TIOCSPTLCK reads one int, TIOCGPTN writes one; TIOCSWINSZ reads one Winsize.
        let unlocked = unsafe { libc::ioctl(fd, libc::TIOCSPTLCK, &mut unlock) == 0 && libc::ioctl(fd, libc::TIOCGPTN, &mut number) == 0 };
        if !unlocked {
            return Err(std::io::Error::last_os_error()).context("unlocking the container's pseudo-terminal");
        }
        let size = window_size(&stdin);
        // SAFETY: as above.
        unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &size) };
        let slave_path = container_root.join(format!("dev/pts/{number}"));
        let slave = OwnedFd::from(open(&slave_path).with_context(|| format!("opening {}", slave_path.display()))?);
        let raw = RawInput::enable()?;
        let stdio = Stdio { stdin: Some(slave.try_clone()?), stdout: Some(slave.try_clone()?), stderr: Some(slave) };
        Ok((Terminal { master: master.into(), _raw: raw }, stdio))
    }

    /// Relays the user's input to the command and its output back until the command's side
    /// closes (it exited).
    pub fn relay(&self) -> Result<()> {
        let mut to_command = File::from(self.master.try_clone()?);
        // Input stops mattering once the command is gone: this thread ends with the process.
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut stdin = std::io::stdin().lock();
            while let Ok(n) = stdin.read(&mut buf) {
                if n == 0 || to_command.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        });
        let mut from_command = File::from(self.master.try_clone()?);
        let mut stdout = std::io::stdout().lock();
        let mut buf = [0u8; 4096];
        // EIO once every descriptor of the command's side is closed.
        while let Ok(n) = from_command.read(&mut buf) {
            if n == 0 || stdout.write_all(&buf[..n]).and_then(|()| stdout.flush()).is_err() {
                break;
            }
        }
        Ok(())
    }
}

/// The size of the terminal `tty` is (80x24 if it cannot tell).
fn window_size(tty: &impl AsFd) -> Winsize {
    let mut size = Winsize { ws_row: 24, ws_col: 80, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes one Winsize into the struct passed.
    let ok = unsafe { libc::ioctl(tty.as_fd().as_raw_fd(), libc::TIOCGWINSZ, &mut size) } == 0;
    if !ok || size.ws_row == 0 {
        size = Winsize { ws_row: 24, ws_col: 80, ws_xpixel: 0, ws_ypixel: 0 };
    }
    size
}
