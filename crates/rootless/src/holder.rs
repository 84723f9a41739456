//! The per-user namespace holder: `unshare --user --mount --net sleep infinity`, started on
//! demand (its pid in `<runtime dir>/holder.pid`), its user namespace mapped with `newuidmap` and
//! `newgidmap` (0 -> the user's uid, 1..=65536 -> the start of the user's range in /etc/subuid
//! and /etc/subgid). Every command joins its namespaces with `setns` before any thread starts
//! and then runs the normal code path as root of that namespace; the holder's network namespace
//! is the "host" of the user's projects (bridges, veths, firewall rules, the resolver).
//!
//! When the holder is killed, the namespaces go with it and so do the containers; the next
//! command starts a new holder (records on disk read the containers as exited; `up` recreates).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::mount::MsFlags;
use nix::sched::{setns, CloneFlags};
use nix::unistd::{Gid, Uid};

use crate::{limits, Result, RootlessError};

/// The holder's command line (`/proc/PID/cmdline`, NUL-separated) once `unshare` has run it:
/// what tells a live holder from a process that reused its pid.
const HOLDER_CMDLINE: &[u8] = b"sleep\0infinity\0";
/// Size of the subordinate range mapped from 1 (podman's and Docker's 65536).
const SUBORDINATE_IDS: u32 = 65536;
/// How long a new holder may take to enter its namespaces.
const HOLDER_START_TIMEOUT: Duration = Duration::from_secs(10);

/// Joins the user's holder namespaces, starting the holder first if none runs. Must be called
/// while the process has a single thread (`setns` into a user namespace requires it).
pub fn enter(runtime_dir: &Path) -> Result<()> {
    limits::record_host_port_start();
    add_admin_path();
    let driver = crate::outbound::Driver::from_env()?;
    // One command at a time checks for, starts and sets up the holder: two commands started
    // together would otherwise start two holders and split the user's containers between them.
    let lock_path = runtime_dir.join("holder.lock");
    let lock_file = File::options().create(true).truncate(false).write(true).open(&lock_path).map_err(|e| RootlessError::Setup(format!("opening {}: {e}", lock_path.display())))?;
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive).map_err(|(_, e)| RootlessError::Setup(format!("locking {}: {e}", lock_path.display())))?;
    let pid_file = runtime_dir.join("holder.pid");
    let (pid, fresh) = match running_holder(&pid_file) {
        Some(pid) => (pid, false),
        None => {
            let outbound_pid_file = runtime_dir.join("outbound.pid");
            end_previous(&pid_file);
            crate::outbound::end(&outbound_pid_file);
            crate::outbound::check_tun()?;
            let pid = start(&pid_file)?;
            if let Err(e) = driver.start(pid, &outbound_pid_file) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
                let _ = std::fs::remove_file(&pid_file);
                return Err(e);
            }
            (pid, true)
        }
    };
    join(pid, fresh.then(|| crate::ports::socket_path(runtime_dir)).as_deref())?;
    crate::ports::remember(crate::ports::socket_path(runtime_dir));
    if fresh {
        loopback_up()?;
        private_run()?;
        crate::outbound::bind_resolv_conf(runtime_dir, driver)?;
    }
    Ok(())
}

/// The directories of administration tools (iptables, iptables-restore, ...), which an ordinary
/// user's PATH leaves out on Debian and most distributions, and which the root of the holder's
/// namespaces runs as root's PATH would find them.
const ADMIN_PATH: [&str; 3] = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/// Appends the [`ADMIN_PATH`] directories missing from PATH (before any thread starts).
fn add_admin_path() {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<std::path::PathBuf> = std::env::split_paths(&path).collect();
    for dir in ADMIN_PATH {
        if !dirs.iter().any(|d| d == Path::new(dir)) {
            dirs.push(dir.into());
        }
    }
    if let Ok(joined) = std::env::join_paths(dirs) {
        std::env::set_var("PATH", joined);
    }
}

/// The pid of the holder `pid_file` names, if that process is still the user's holder.
fn running_holder(pid_file: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(pid_file).ok()?.split_whitespace().next()?.parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let own_user_ns = std::fs::read_link("/proc/self/ns/user").ok()?;
    let its_user_ns = std::fs::read_link(format!("/proc/{pid}/ns/user")).ok()?;
    let owner = std::fs::metadata(format!("/proc/{pid}")).ok().map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    (cmdline == HOLDER_CMDLINE && its_user_ns != own_user_ns && owner == Some(Uid::current().as_raw())).then_some(pid)
}

/// Kills what is left in the namespaces of a holder that died (its supervisors, resolvers and
/// containers keep them alive otherwise, out of reach of every later command): every process in
/// the user namespace the pid file names. The user owns that namespace, so it may signal them.
fn end_previous(pid_file: &Path) {
    let Some(user_ns) = std::fs::read_to_string(pid_file).ok().and_then(|text| text.split_whitespace().nth(1).map(String::from)) else { return };
    let deadline = Instant::now() + HOLDER_START_TIMEOUT;
    loop {
        let left: Vec<i32> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| std::fs::read_link(format!("/proc/{pid}/ns/user")).is_ok_and(|ns| ns.to_str() == Some(user_ns.as_str())))
            .collect();
        if left.is_empty() || Instant::now() > deadline {
            return;
        }
        for pid in left {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts a holder in a session of its own, maps its user namespace and records its pid.
fn start(pid_file: &Path) -> Result<u32> {
    let (uid_start, gid_start) = (subordinate_start("/etc/subuid")?, subordinate_start("/etc/subgid")?);
    let mut command = Command::new("unshare");
    command
        .args(["--user", "--mount", "--net", "--propagation", "private", "--", "sleep", "infinity"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe; the holder must not die with the terminal's session.
    unsafe {
        command.pre_exec(|| nix::unistd::setsid().map(drop).map_err(std::io::Error::from));
    }
    let child = command
        .spawn()
        .map_err(|e| RootlessError::Setup(format!("starting the namespace holder (unshare, from util-linux): {e}")))?;
    let pid = child.id();
    let map = || -> Result<()> {
        wait_for_own_user_ns(pid)?;
        let uid = Uid::current().as_raw();
        let gid = Gid::current().as_raw();
        map_ids("newuidmap", pid, uid, uid_start)?;
        map_ids("newgidmap", pid, gid, gid_start)?;
        wait_for_exec(pid)
    };
    if let Err(e) = map() {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
        return Err(e);
    }
    let tmp = pid_file.with_extension("pid.tmp");
    let user_ns = std::fs::read_link(format!("/proc/{pid}/ns/user")).map_err(|e| RootlessError::Setup(format!("reading the holder's user namespace: {e}")))?;
    std::fs::write(&tmp, format!("{pid} {}\n", user_ns.display()))
        .and_then(|()| std::fs::rename(&tmp, pid_file))
        .map_err(|e| RootlessError::Setup(format!("writing {}: {e}", pid_file.display())))?;
    Ok(pid)
}

/// Waits until `pid` has left this process's user namespace (`unshare` has run).
fn wait_for_own_user_ns(pid: u32) -> Result<()> {
    let own = std::fs::read_link("/proc/self/ns/user").map_err(|e| RootlessError::Setup(format!("reading /proc/self/ns/user: {e}")))?;
    wait_until(pid, || std::fs::read_link(format!("/proc/{pid}/ns/user")).is_ok_and(|ns| ns != own))
}

/// Waits until `pid` runs the holder's command (its namespaces are all made by then).
fn wait_for_exec(pid: u32) -> Result<()> {
    wait_until(pid, || std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == HOLDER_CMDLINE))
}

/// Polls `ready` until it holds, failing if the holder `pid` died or took too long.
fn wait_until(pid: u32, ready: impl Fn() -> bool) -> Result<()> {
    let deadline = Instant::now() + HOLDER_START_TIMEOUT;
    while !ready() {
        if !Path::new(&format!("/proc/{pid}")).exists() || Instant::now() > deadline {
            return Err(RootlessError::Setup(
                "the namespace holder did not start: unprivileged user namespaces must be enabled (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)".into(),
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// Maps `0 -> own` and `1..=65536 -> start..` in `pid`'s user namespace with `tool`.
fn map_ids(tool: &str, pid: u32, own: u32, start: u32) -> Result<()> {
    let out = Command::new(tool)
        .args([pid.to_string(), "0".into(), own.to_string(), "1".into(), "1".into(), start.to_string(), SUBORDINATE_IDS.to_string()])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| RootlessError::Setup(format!("running {tool} (install Debian's uidmap package): {e}")))?;
    if !out.status.success() {
        return Err(RootlessError::Setup(format!(
            "{tool} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// The first subordinate id of this user in `file` (/etc/subuid or /etc/subgid), from a range
/// of at least 65536 ids given by user name or uid.
fn subordinate_start(file: &str) -> Result<u32> {
    let uid = Uid::current();
    let name = nix::unistd::User::from_uid(uid).ok().flatten().map(|u| u.name);
    let text = std::fs::read_to_string(file).unwrap_or_default();
    find_range(&text, name.as_deref(), uid.as_raw()).ok_or_else(|| {
        let who = name.unwrap_or_else(|| uid.to_string());
        RootlessError::Setup(format!(
            "{file} has no range of {SUBORDINATE_IDS} ids for {who}: add one (`usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {who}`)"
        ))
    })
}

/// The start of the first range of at least [`SUBORDINATE_IDS`] ids for `name` or `uid` in the
/// `user:start:count` lines of `text`.
fn find_range(text: &str, name: Option<&str>, uid: u32) -> Option<u32> {
    text.lines().find_map(|line| {
        let mut fields = line.trim().split(':');
        let (who, start, count) = (fields.next()?, fields.next()?.parse::<u32>().ok()?, fields.next()?.parse::<u32>().ok()?);
        ((Some(who) == name || who == uid.to_string()) && count >= SUBORDINATE_IDS).then_some(start)
    })
}

/// Enters `pid`'s user, mount and network namespaces and becomes root there; with
/// `agent_socket` (a fresh holder), starts the port agent on it first, between the user and
/// mount namespaces and the network namespace (the agent stays in the host's).
fn join(pid: u32, agent_socket: Option<&Path>) -> Result<()> {
    // Joining a mount namespace moves the working directory to its root: it is restored after.
    let cwd = std::env::current_dir().map_err(|e| RootlessError::Setup(format!("reading the working directory: {e}")))?;
    let enter_ns = |kind: &str, flag: CloneFlags| {
        let path = format!("/proc/{pid}/ns/{kind}");
        let ns = File::open(&path).map_err(|e| RootlessError::Setup(format!("opening {path}: {e}")))?;
        setns(ns, flag).map_err(|e| RootlessError::Setup(format!("joining the holder's {kind} namespace ({path}): {e}")))
    };
    enter_ns("user", CloneFlags::CLONE_NEWUSER)?;
    enter_ns("mnt", CloneFlags::CLONE_NEWNS)?;
    let root_err = |e: nix::Error| RootlessError::Setup(format!("becoming root in the user namespace: {e}"));
    nix::unistd::setgroups(&[]).map_err(root_err)?;
    nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0)).map_err(root_err)?;
    nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)).map_err(root_err)?;
    if let Some(socket) = agent_socket {
        start_agent(socket, pid)?;
    }
    enter_ns("net", CloneFlags::CLONE_NEWNET)?;
    std::env::set_current_dir(&cwd).map_err(|e| RootlessError::Setup(format!("returning to the working directory {}: {e}", cwd.display())))
}

/// Starts the port agent (`xcompose __rootless-ports SOCKET HOLDER`, see [`crate::ports`]) in a
/// session of its own and waits until it listens on `socket`.
fn start_agent(socket: &Path, holder: u32) -> Result<()> {
    let exe = std::env::current_exe().map_err(|e| RootlessError::Setup(format!("finding the xcompose binary: {e}")))?;
    let _ = std::fs::remove_file(socket);
    let mut command = Command::new(exe);
    command.arg("__rootless-ports").arg(socket).arg(holder.to_string()).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        command.pre_exec(|| nix::unistd::setsid().map(drop).map_err(std::io::Error::from));
    }
    let agent = command.spawn().map_err(|e| RootlessError::Setup(format!("starting the port agent: {e}")))?;
    wait_until(agent.id(), || socket.exists()).map_err(|_| RootlessError::Setup("the rootless port agent did not start".into()))
}

/// Entries of the host's /run that belong to the host's network namespace (locks and records of
/// its firewall, made by root's iptables and xcompose): the holder's network namespace has its own,
/// and the host's, owned by the host's root, could not even be opened in it.
const HOST_NETWORK_RUN_ENTRIES: [&str; 3] = ["xtables.lock", "xcompose-firewall.lock", "xcompose-firewall"];

/// Gives a fresh holder's mount namespace a /run of its own (a tmpfs owned by the namespace's
/// root, so lock files such as iptables' /run/xtables.lock can be made), with every entry of the
/// host's /run bound back into it (rootlesskit's copy-up: /run/systemd/resolve and the like stay
/// visible) but [`HOST_NETWORK_RUN_ENTRIES`].
fn private_run() -> Result<()> {
    let failed = |what: String| move |e: std::io::Error| RootlessError::Setup(format!("{what}: {e}"));
    let host_run = File::open("/run").map_err(failed("opening /run".into()))?;
    let entries: Vec<(std::ffi::OsString, std::fs::FileType)> = std::fs::read_dir("/run")
        .map_err(failed("listing /run".into()))?
        .flatten()
        .filter(|entry| !HOST_NETWORK_RUN_ENTRIES.iter().any(|own| entry.file_name() == *own))
        .filter_map(|entry| Some((entry.file_name(), entry.file_type().ok()?)))
        .collect();
    nix::mount::mount(Some("tmpfs"), "/run", Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV, Some("mode=0755"))
        .map_err(|e| RootlessError::Setup(format!("mounting a tmpfs on /run in the holder's mount namespace: {e}")))?;
    for (name, kind) in entries {
        let source = Path::new("/proc/self/fd").join(host_run.as_raw_fd().to_string()).join(&name);
        let target = Path::new("/run").join(&name);
        let what = format!("binding the host's /run/{} into the holder's /run", name.to_string_lossy());
        if kind.is_symlink() {
            let link = std::fs::read_link(&source).map_err(failed(what.clone()))?;
            std::os::unix::fs::symlink(link, &target).map_err(failed(what))?;
            continue;
        }
        if kind.is_dir() {
            std::fs::create_dir(&target).map_err(failed(what.clone()))?;
        } else {
            File::create(&target).map_err(failed(what.clone()))?;
        }
        nix::mount::mount(Some(&source), &target, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
            .map_err(|e| RootlessError::Setup(format!("{what}: {e}")))?;
    }
    Ok(())
}

/// Brings up loopback in a fresh holder's network namespace (`ip`, as root there).
fn loopback_up() -> Result<()> {
    let status = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .map_err(|e| RootlessError::Setup(format!("running ip (iproute2) in the holder's namespace: {e}")))?;
    if !status.success() {
        return Err(RootlessError::Setup("`ip link set lo up` failed in the holder's network namespace".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_found_by_name_or_uid_and_must_hold_65536_ids() {
        let text = "alice:100000:65536\nbob:200000:1000\n1001:300000:70000\n";
        assert_eq!(find_range(text, Some("alice"), 1000), Some(100000));
        assert_eq!(find_range(text, Some("bob"), 1002), None);
        assert_eq!(find_range(text, Some("carol"), 1001), Some(300000));
        assert_eq!(find_range(text, None, 4242), None);
    }
}
