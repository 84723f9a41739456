//! What the container's PID 1 does between "go" and `execve`. Runs in a forked child: on error it
//! returns a message, which the caller sends back to the parent before exiting.

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use caps::{CapSet, Capability};
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::resource::setrlimit;
use nix::unistd::{chdir, execve, sethostname, setgid, setgroups, setuid, Gid, Uid};

use crate::rootfs;
use crate::spec::{ContainerSpec, Namespace, Process};

type Result<T> = std::result::Result<T, String>;

/// Sets the container up and execs its command; returns only on failure. With a `console`
/// socket, the command's stdio is a terminal made in the container, its master sent there;
/// with `userns`, the command runs in that user namespace.
pub fn run(spec: &ContainerSpec, console: Option<OwnedFd>, userns: Option<&OwnedFd>) -> String {
    match setup_and_exec(spec, console, userns) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

fn setup_and_exec(spec: &ContainerSpec, console: Option<OwnedFd>, userns: Option<&OwnedFd>) -> Result<std::convert::Infallible> {
    match &spec.namespaces.cgroup {
        // Made after the caller moved us into our cgroup, so that cgroup is our cgroup root.
        Namespace::Private => unshare(CloneFlags::CLONE_NEWCGROUP).map_err(|e| format!("new cgroup namespace: {e}"))?,
        Namespace::Host => {}
        Namespace::Join(path) => {
            let file = std::fs::File::open(path).map_err(|e| format!("opening {}: {e}", path.display()))?;
            setns(file, CloneFlags::CLONE_NEWCGROUP).map_err(|e| format!("joining cgroup namespace {}: {e}", path.display()))?;
        }
    }
    if let Some(adj) = spec.oom_score_adj {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string()).map_err(|e| format!("setting oom_score_adj {adj}: {e}"))?;
    }
    if let Some(map) = &spec.user_namespace {
        crate::userns::act_as_mapped_root(map)?;
    }
    rootfs::enter(spec, userns.map(|fd| fd.as_fd()))?;
    if let Some(socket) = console {
        crate::console::make_terminal(socket)?;
    }
    // A UTS namespace of its own gets the container's names; a shared one keeps its owner's.
    let own_uts = spec.namespaces.uts == Namespace::Private;
    if own_uts && !spec.hostname.is_empty() {
        sethostname(&spec.hostname).map_err(|e| format!("setting hostname: {e}"))?;
    }
    if own_uts && !spec.domainname.is_empty() {
        std::fs::write("/proc/sys/kernel/domainname", &spec.domainname).map_err(|e| format!("setting domainname: {e}"))?;
    }
    for (key, value) in &spec.sysctls {
        let path = Path::new("/proc/sys").join(key.replace('.', "/"));
        std::fs::write(&path, value).map_err(|e| format!("sysctl {key}={value}: {e}"))?;
    }
    rootfs::lock_down(spec)?;
    for limit in &spec.rlimits {
        setrlimit(limit.resource()?, limit.soft, limit.hard).map_err(|e| format!("setting ulimit {}: {e}", limit.name))?;
    }
    let cwd = &spec.process.cwd;
    if !cwd.exists() {
        std::fs::create_dir_all(cwd).map_err(|e| format!("creating working directory {}: {e}", cwd.display()))?;
    }
    chdir(cwd).map_err(|e| format!("chdir to {}: {e}", cwd.display()))?;
    exec_as_user(&spec.process, spec.init, userns.map(|fd| fd.as_fd()))
}

/// For a process already inside the container (exec): working directory, user, capabilities, exec.
pub fn exec_in_place(process: &Process) -> String {
    let result = chdir(&process.cwd)
        .map_err(|e| format!("chdir to {}: {e}", process.cwd.display()))
        .and_then(|()| exec_as_user(process, false, None));
    match result {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

/// Execs `process` as its user; with `userns`, entered first, the ids and capabilities are
/// those within that user namespace.
fn exec_as_user(process: &Process, init: bool, userns: Option<BorrowedFd<'_>>) -> Result<std::convert::Infallible> {
    if let Some(userns) = userns {
        crate::userns::enter(userns)?;
    }
    let program = find_program(process)?;
    let args = cstrings(&process.args)?;
    let env = cstrings(&process.env)?;
    let filter = crate::seccomp::filter_for(process)?;
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: it goes in before the
    // capabilities are dropped; with it, as late as possible. As runc does.
    if !process.no_new_privileges {
        crate::seccomp::load(filter.as_deref())?;
    }
    drop_privileges(process)?;
    if process.no_new_privileges {
        crate::seccomp::load(filter.as_deref())?;
    }
    mark_fds_close_on_exec()?;
    if init {
        return crate::init::run(&program, &args, &env);
    }
    execve(&program, &args, &env).map_err(|e| format!("exec {}: {e}", program.to_string_lossy()))?;
    unreachable!("execve returned without an error")
}

fn cstrings(items: &[String]) -> Result<Vec<CString>> {
    items.iter().map(|s| CString::new(s.as_str()).map_err(|_| format!("NUL byte in {s:?}"))).collect()
}

/// The command's path: as given if it has a `/`, else searched in the container's `PATH`.
fn find_program(process: &Process) -> Result<CString> {
    let name = process.args.first().ok_or("no command given")?;
    if name.contains('/') {
        return CString::new(name.as_str()).map_err(|_| "NUL in command".to_string());
    }
    let path = process.env.iter().find_map(|e| e.strip_prefix("PATH=")).unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':') {
        let candidate = PathBuf::from(dir).join(name);
        if candidate.is_file() {
            return CString::new(candidate.to_string_lossy().into_owned()).map_err(|_| "NUL in PATH".to_string());
        }
    }
    Err(format!("exec: {name:?}: executable file not found in $PATH"))
}

/// Bounding set first (needs CAP_SETPCAP), then the ids (need CAP_SETUID/SETGID), then the
/// capabilities root keeps; a non-root user loses its effective set on `setuid`, as with Docker.
fn drop_privileges(process: &Process) -> Result<()> {
    let keep = &process.capabilities;
    for cap in caps::all() {
        if !keep.contains(&cap) {
            // A capability the kernel does not know cannot be dropped, nor held.
            let _ = caps::drop(None, CapSet::Bounding, cap);
        }
    }
    let groups: Vec<Gid> = process.additional_gids.iter().map(|g| Gid::from_raw(*g)).collect();
    setgroups(&groups).map_err(|e| format!("setgroups: {e}"))?;
    setgid(Gid::from_raw(process.gid)).map_err(|e| format!("setgid {}: {e}", process.gid))?;
    setuid(Uid::from_raw(process.uid)).map_err(|e| format!("setuid {}: {e}", process.uid))?;
    let set: caps::CapsHashSet = keep.iter().copied().collect::<std::collections::HashSet<Capability>>().into_iter().collect();
    if process.uid == 0 {
        caps::set(None, CapSet::Effective, &set).map_err(|e| format!("setting capabilities: {e}"))?;
        caps::set(None, CapSet::Permitted, &set).map_err(|e| format!("setting capabilities: {e}"))?;
        caps::set(None, CapSet::Inheritable, &set).map_err(|e| format!("setting capabilities: {e}"))?;
    }
    caps::clear(None, CapSet::Ambient).map_err(|e| format!("clearing ambient capabilities: {e}"))?;
    if process.no_new_privileges {
        nix::sys::prctl::set_no_new_privs().map_err(|e| format!("no_new_privs: {e}"))?;
    }
    Ok(())
}

/// No descriptor of the supervisor leaks into the container beyond stdio.
fn mark_fds_close_on_exec() -> Result<()> {
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| format!("listing descriptors: {e}"))?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: the descriptor number comes from /proc/self/fd and is only used for this call;
        // one closed meanwhile (the directory's own) just makes fcntl fail, which is ignored.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let _ = fcntl(borrowed, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
    }
    Ok(())
}
