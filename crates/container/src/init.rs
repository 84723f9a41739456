//! `init: true`: a tiny PID 1 that forwards signals to the command and reaps every zombie, so a
//! command that ignores SIGTERM as PID 1 (busybox sh does) still stops, and orphans do not pile up.

use std::ffi::{CStr, CString};
use std::io::Read;
use std::os::fd::RawFd;

use nix::fcntl::OFlag;
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{close, execve, fork, pipe2, ForkResult, Pid};

/// Forks the command (which execs `program`), then stays as its init until it exits, and exits
/// with its status (128 + signal when killed). Returns only on a setup error.
pub fn run(program: &CStr, args: &[CString], env: &[CString]) -> Result<std::convert::Infallible, String> {
    let all = SigSet::all();
    let mut previous = SigSet::empty();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&all), Some(&mut previous)).map_err(|e| format!("blocking signals: {e}"))?;
    let (exec_done, exec_done_write) = pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: this process is single-threaded (the container's PID 1 before exec).
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            drop(exec_done);
            nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&previous), None).map_err(|e| format!("restoring signals: {e}"))?;
            execve(program, args, env).map_err(|e| format!("exec {}: {e}", program.to_string_lossy()))?;
            unreachable!("execve returned without an error")
        }
        ForkResult::Parent { child } => {
            drop(exec_done_write);
            // EOF once the command has exec'd (or died): only then may the setup pipe close.
            let _ = std::fs::File::from(exec_done).read(&mut [0u8; 1]);
            close_inherited_descriptors();
            let code = supervise(child, &all);
            // SAFETY: PID 1 leaves with its command's status.
            unsafe { nix::libc::_exit(code) }
        }
    }
}

/// Closes every descriptor above stderr (the init needs none, and the setup pipe must close).
fn close_inherited_descriptors() {
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).filter(|fd| *fd > 2).collect())
        .unwrap_or_default();
    for fd in fds {
        let _ = close(fd);
    }
}

/// Forwards signals to `child` and reaps zombies until `child` exits; its exit code.
fn supervise(child: Pid, signals: &SigSet) -> i32 {
    loop {
        let Ok(signal) = signals.wait() else { continue };
        if signal != Signal::SIGCHLD {
            let _ = kill(child, signal);
            continue;
        }
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(status) if status.pid() == Some(child) => {
                    if let Some(code) = crate::spawn::exit_code(status) {
                        return code;
                    }
                }
                Ok(_) => continue,
            }
        }
    }
}
