//! Forking the container's PID 1 into its namespaces, and the handshake with the caller.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use nix::fcntl::OFlag;
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::prctl;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{dup2_stderr, dup2_stdin, dup2_stdout, fork, pipe2, ForkResult, Pid};

use crate::spec::{ContainerSpec, Namespace, NetworkNamespace};
use crate::{child, ContainerError, Result};

/// Standard streams for the container (None: inherit the caller's).
#[derive(Debug, Default)]
pub struct Stdio {
    /// Standard input.
    pub stdin: Option<OwnedFd>,
    /// Standard output.
    pub stdout: Option<OwnedFd>,
    /// Standard error.
    pub stderr: Option<OwnedFd>,
}

/// A container whose PID 1 exists, in its namespaces, but waits: put it in its cgroup and wire
/// its network (`/proc/<pid>/ns/net`), then [`Pending::start`] it.
#[derive(Debug)]
pub struct Pending {
    pid: Pid,
    go: std::fs::File,
    report: std::fs::File,
}

/// A container whose command is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Running {
    /// Host pid of the container's PID 1.
    pub pid: u32,
}

fn sys<T>(what: &str, r: nix::Result<T>) -> Result<T> {
    r.map_err(|source| ContainerError::Sys { what: what.to_string(), source })
}

/// Creates the container's PID 1 in its namespaces, stopped before setup. The caller becomes the
/// child subreaper, so it can wait for the container after the intermediate process exits.
pub fn spawn(spec: &ContainerSpec, stdio: Stdio) -> Result<Pending> {
    spawn_inner(spec, stdio, None)
}

/// As [`spawn`], for a main process whose stdin, stdout and stderr are a terminal it makes in
/// the container; the terminal's master comes over `console` (see
/// [`crate::console::receive_terminal`]) before the command runs.
pub fn spawn_with_terminal(spec: &ContainerSpec, console: OwnedFd) -> Result<Pending> {
    spawn_inner(spec, Stdio::default(), Some(console))
}

fn spawn_inner(spec: &ContainerSpec, stdio: Stdio, console: Option<OwnedFd>) -> Result<Pending> {
    if spec.process.args.is_empty() {
        return Err(ContainerError::Spec("no command to run".into()));
    }
    crate::seccomp::prepare(&spec.process)?;
    let userns = spec.user_namespace.as_ref().map(crate::userns::create).transpose()?;
    sys("becoming child subreaper", prctl::set_child_subreaper(true))?;
    let (go_read, go_write) = sys("creating a pipe", pipe2(OFlag::O_CLOEXEC))?;
    let (report_read, report_write) = sys("creating a pipe", pipe2(OFlag::O_CLOEXEC))?;
    let mut flags = CloneFlags::CLONE_NEWNS;
    let own = [(&spec.namespaces.uts, CloneFlags::CLONE_NEWUTS), (&spec.namespaces.ipc, CloneFlags::CLONE_NEWIPC), (&spec.namespaces.pid, CloneFlags::CLONE_NEWPID)];
    for (_, flag) in own.into_iter().filter(|(ns, _)| **ns == Namespace::Private) {
        flags |= flag;
    }
    if spec.network == NetworkNamespace::New {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    // SAFETY: the child only uses this thread's data and async-signal-safe-enough calls (glibc's
    // fork resets the allocator's locks), and ends with _exit or exec.
    match unsafe { fork() } {
        Err(e) => Err(ContainerError::Sys { what: "fork".into(), source: e }),
        Ok(ForkResult::Child) => {
            drop(go_write);
            drop(report_read);
            let code = intermediate(spec, flags, go_read, report_write, stdio, console, userns.as_ref());
            // SAFETY: leaving the forked child without running the parent's destructors.
            unsafe { nix::libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => {
            drop(go_read);
            drop(report_write);
            drop(stdio);
            drop(console);
            drop(userns);
            let mut report = std::fs::File::from(report_read);
            let status = sys("waiting for the namespace setup", waitpid(child, None))?;
            let mut buf = Vec::new();
            if !matches!(status, WaitStatus::Exited(_, 0)) {
                let _ = report.read_to_end(&mut buf);
                return Err(ContainerError::Setup(String::from_utf8_lossy(&buf).into_owned()));
            }
            let mut pid_bytes = [0u8; 4];
            report.read_exact(&mut pid_bytes).map_err(|e| ContainerError::Setup(format!("reading the container pid: {e}")))?;
            Ok(Pending { pid: Pid::from_raw(i32::from_le_bytes(pid_bytes)), go: std::fs::File::from(go_write), report })
        }
    }
}

/// The intermediate process: enters the namespaces and forks PID 1, reports its pid, exits.
fn intermediate(spec: &ContainerSpec, flags: CloneFlags, go: OwnedFd, report: OwnedFd, stdio: Stdio, console: Option<OwnedFd>, userns: Option<&OwnedFd>) -> i32 {
    let mut report = std::fs::File::from(report);
    let fail = |report: &mut std::fs::File, msg: String| {
        let _ = report.write_all(msg.as_bytes());
        1
    };
    let ns = &spec.namespaces;
    let joins = [
        (match &spec.network { NetworkNamespace::Join(path) => Some(path), _ => None }, CloneFlags::CLONE_NEWNET, "network"),
        (joined(&ns.uts), CloneFlags::CLONE_NEWUTS, "UTS"),
        (joined(&ns.ipc), CloneFlags::CLONE_NEWIPC, "IPC"),
        // Applies to the children: PID 1, forked below, is born in it.
        (joined(&ns.pid), CloneFlags::CLONE_NEWPID, "pid"),
    ];
    for (path, flag, what) in joins.into_iter().filter_map(|(p, f, w)| Some((p?, f, w))) {
        let entered = std::fs::File::open(path)
            .map_err(|e| e.to_string())
            .and_then(|f| setns(f, flag).map_err(|e| e.to_string()));
        if let Err(e) = entered {
            return fail(&mut report, format!("joining {what} namespace {}: {e}", path.display()));
        }
    }
    if let Err(e) = unshare(flags) {
        return fail(&mut report, format!("creating namespaces: {e}"));
    }
    // SAFETY: as in `spawn`.
    match unsafe { fork() } {
        Err(e) => fail(&mut report, format!("fork: {e}")),
        Ok(ForkResult::Parent { child }) => match report.write_all(&child.as_raw().to_le_bytes()) {
            Ok(()) => 0,
            Err(_) => 1,
        },
        Ok(ForkResult::Child) => {
            let message = container_init(spec, go, stdio, console, userns);
            let _ = report.write_all(message.as_bytes());
            // SAFETY: leaving the forked child.
            unsafe { nix::libc::_exit(127) }
        }
    }
}

/// The namespace file to join, for a namespace shared with another.
fn joined(namespace: &Namespace) -> Option<&std::path::PathBuf> {
    match namespace {
        Namespace::Join(path) => Some(path),
        _ => None,
    }
}

/// PID 1 before exec: waits for "go" (EOF means the caller is gone), wires stdio, sets up, execs
/// (entering `userns`, the container's user namespace, last).
fn container_init(spec: &ContainerSpec, go: OwnedFd, stdio: Stdio, console: Option<OwnedFd>, userns: Option<&OwnedFd>) -> String {
    // The caller may block signals (a supervisor waiting for them); the container starts with none blocked.
    if let Err(e) = nix::sys::signal::sigprocmask(nix::sys::signal::SigmaskHow::SIG_SETMASK, Some(&nix::sys::signal::SigSet::empty()), None) {
        return format!("resetting the signal mask: {e}");
    }
    let mut go = std::fs::File::from(go);
    let mut byte = [0u8; 1];
    if go.read(&mut byte).map(|n| n != 1).unwrap_or(true) {
        return "the caller went away before starting the container".into();
    }
    if let Some(e) = wire_stdio(stdio) {
        return e;
    }
    child::run(spec, console, userns)
}

/// Makes the given descriptors this process's stdin, stdout and stderr; an error message on failure.
pub(crate) fn wire_stdio(stdio: Stdio) -> Option<String> {
    let wired = [
        stdio.stdin.map(dup2_stdin),
        stdio.stdout.map(dup2_stdout),
        stdio.stderr.map(dup2_stderr),
    ];
    wired.into_iter().flatten().find_map(|r| r.err()).map(|e| format!("wiring stdio: {e}"))
}

impl Pending {
    /// Host pid of the container's PID 1 (for cgroups and `/proc/<pid>/ns/net`).
    pub fn pid(&self) -> u32 {
        self.pid.as_raw() as u32
    }

    /// Lets the container set itself up and exec its command; fails with the setup error if it
    /// could not (the process has then exited and been reaped).
    pub fn start(mut self) -> Result<Running> {
        self.go.write_all(&[1]).map_err(|e| ContainerError::Setup(format!("releasing the container: {e}")))?;
        drop(self.go);
        let mut message = Vec::new();
        let _ = self.report.read_to_end(&mut message);
        if message.is_empty() {
            return Ok(Running { pid: self.pid.as_raw() as u32 });
        }
        let _ = waitpid(self.pid, None);
        Err(ContainerError::Setup(String::from_utf8_lossy(&message).into_owned()))
    }
}

impl Running {
    /// Waits for the container's PID 1 to exit; its exit code, or 128 + the signal that killed it.
    pub fn wait(&self) -> Result<i32> {
        wait_exit_code(Pid::from_raw(self.pid as i32), "waiting for the container")
    }
}

/// The exit code a shell would report for a finished process: its code, or 128 + its signal.
pub(crate) fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, signal, _) => Some(128 + signal as i32),
        _ => None,
    }
}

/// Waits until `pid` ends; its [`exit_code`].
pub(crate) fn wait_exit_code(pid: Pid, what: &str) -> Result<i32> {
    loop {
        if let Some(code) = exit_code(sys(what, waitpid(pid, None))?) {
            return Ok(code);
        }
    }
}
