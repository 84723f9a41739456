//! Running another process inside a running container (`exec`, healthchecks): it joins every
//! namespace of the container's PID 1 and its cgroup, then drops to the requested user with the
//! container's capabilities.

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use nix::fcntl::OFlag;
use nix::sched::{setns, CloneFlags};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, pipe2, ForkResult, Pid};

use crate::spawn::Stdio;
use crate::spec::Process;
use crate::{ContainerError, Result};

/// What to run in a container, and as whom.
#[derive(Debug, Clone)]
pub struct ExecSpec {
    /// Host pid of the container's PID 1.
    pub container_pid: u32,
    /// The command and who runs it.
    pub process: Process,
    /// Cgroup `cgroup.procs` files to join (one per hierarchy), so limits apply to it too.
    pub cgroup_procs: Vec<PathBuf>,
    /// The container's ulimits: an exec'd process gets them as its PID 1 did, as with Docker
    /// (not those of the caller).
    pub rlimits: Vec<crate::Rlimit>,
    /// Its stdin is a terminal (`exec -t`): the process leads a new session with it as its
    /// controlling terminal, so job control and Ctrl+C work.
    pub tty: bool,
}

impl ExecSpec {
    /// `args` run in the container started from `spec` (host pid `container_pid`) with the
    /// container's environment, working directory, user and capabilities.
    pub fn in_container(spec: &crate::ContainerSpec, container_pid: u32, args: Vec<String>) -> Self {
        Self { container_pid, process: Process { args, ..spec.process.clone() }, cgroup_procs: Vec::new(), rlimits: spec.rlimits.clone(), tty: false }
    }
}

/// A process started in a container.
#[derive(Debug)]
pub struct ExecProcess {
    pid: Pid,
}

/// Namespaces joined, in an order that works: user-visible ones first, mount last but one, pid last.
const NAMESPACES: [(&str, CloneFlags); 6] = [
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// Starts `spec` in the container; the process is a child of the caller.
pub fn exec(spec: &ExecSpec, stdio: Stdio) -> Result<ExecProcess> {
    crate::seccomp::prepare(&spec.process)?;
    // Open every namespace before moving: after joining the mount namespace, /proc is the container's.
    let mut files = Vec::new();
    for (name, flag) in NAMESPACES {
        let path = format!("/proc/{}/ns/{name}", spec.container_pid);
        let file = std::fs::File::open(&path).map_err(|e| ContainerError::Setup(format!("opening {path}: {e} (is the container running?)")))?;
        files.push((file, flag));
    }
    let userns = crate::userns::other_than_own(spec.container_pid).map_err(|e| ContainerError::Setup(format!("opening /proc/{}/ns/user: {e} (is the container running?)", spec.container_pid)))?;
    let (report_read, report_write) = pipe2(OFlag::O_CLOEXEC).map_err(|source| ContainerError::Sys { what: "pipe".into(), source })?;
    // SAFETY: as in `spawn`: the children only run this thread's code and end in exec or _exit.
    match unsafe { fork() } {
        Err(source) => Err(ContainerError::Sys { what: "fork".into(), source }),
        Ok(ForkResult::Parent { child }) => {
            drop(report_write);
            drop(stdio);
            let mut message = String::new();
            let _ = std::fs::File::from(report_read).read_to_string(&mut message);
            if !message.is_empty() {
                let _ = waitpid(child, None);
                return Err(ContainerError::Setup(message));
            }
            Ok(ExecProcess { pid: child })
        }
        Ok(ForkResult::Child) => {
            drop(report_read);
            let mut report = Some(std::fs::File::from(report_write));
            let message = join_and_exec(spec, files, userns, stdio, &mut report);
            if let Some(report) = report.as_mut() {
                let _ = std::io::Write::write_all(report, message.as_bytes());
            }
            // SAFETY: leaving the forked child.
            unsafe { nix::libc::_exit(126) }
        }
    }
}

/// In the forked child: joins the container (its user namespace, if it has one, last), forks
/// the command and relays its exit. What fails
/// is returned, to go to `report`; the caller stops waiting for a report once the command runs
/// (its copy closes on exec, the relay drops its own), not when it ends, since an interactive
/// command needs its terminal served meanwhile.
fn join_and_exec(spec: &ExecSpec, files: Vec<(std::fs::File, CloneFlags)>, userns: Option<std::fs::File>, stdio: Stdio, report: &mut Option<std::fs::File>) -> String {
    for procs in &spec.cgroup_procs {
        if let Err(e) = std::fs::write(procs, std::process::id().to_string()) {
            return format!("joining cgroup {}: {e}", procs.display());
        }
    }
    for (file, flag) in files {
        if let Err(e) = setns(file.as_fd(), flag) {
            return format!("joining the container's {flag:?} namespace: {e}");
        }
    }
    for limit in &spec.rlimits {
        let applied = limit.resource().and_then(|r| nix::sys::resource::setrlimit(r, limit.soft, limit.hard).map_err(|e| e.to_string()));
        if let Err(e) = applied {
            return format!("setting ulimit {}: {e}", limit.name);
        }
    }
    if let Some(Err(e)) = userns.as_ref().map(|file| crate::userns::enter(file.as_fd())) {
        return e;
    }
    // Joining a PID namespace only applies to children: fork once more, then relay the exit.
    // SAFETY: as above.
    match unsafe { fork() } {
        Err(e) => format!("fork: {e}"),
        Ok(ForkResult::Child) => {
            if let Some(e) = crate::spawn::wire_stdio(stdio) {
                return e;
            }
            if spec.tty {
                if let Err(e) = nix::unistd::setsid() {
                    return format!("setsid: {e}");
                }
                // SAFETY: TIOCSCTTY on the terminal just wired to fd 0; no memory is passed.
                if unsafe { nix::libc::ioctl(0, nix::libc::TIOCSCTTY, 0) } != 0 {
                    return format!("making the terminal the controlling one: {}", std::io::Error::last_os_error());
                }
            }
            crate::child::exec_in_place(&spec.process)
        }
        Ok(ForkResult::Parent { child }) => {
            drop(stdio);
            // The command reports for itself from here on.
            drop(report.take());
            let code = crate::spawn::wait_exit_code(child, "waiting for exec").unwrap_or(126);
            // SAFETY: leaving the forked relay with the exec'd process's status.
            unsafe { nix::libc::_exit(code) }
        }
    }
}

impl ExecProcess {
    /// Host pid of the relay process (its exit code is the command's).
    pub fn pid(&self) -> u32 {
        self.pid.as_raw() as u32
    }

    /// Waits for the command; its exit code, or 128 + signal.
    pub fn wait(&self) -> Result<i32> {
        crate::spawn::wait_exit_code(self.pid, "waiting for exec")
    }
}

/// Pipes for capturing an exec's output: (read end, stdio to pass).
pub fn capture_output() -> Result<(OwnedFd, Stdio)> {
    let (read, write) = pipe2(OFlag::O_CLOEXEC).map_err(|source| ContainerError::Sys { what: "pipe".into(), source })?;
    let err = write.try_clone().map_err(|e| ContainerError::Setup(format!("dup: {e}")))?;
    Ok((read, Stdio { stdin: None, stdout: Some(write), stderr: Some(err) }))
}
