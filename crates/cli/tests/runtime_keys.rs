//! Runtime compose keys end to end in a sandbox, each asserted from inside the container or from
//! its cgroup: stop timeouts that leave no process behind, namespace modes, devices and cgroup
//! limits, logging drivers, lifecycle hooks and terminals.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use xcompose_testkit::Sandbox;

mod common;
use common::{project, sandbox_with_busybox, xcompose, XCOMPOSE};

/// Runs xcompose on the project in `dir` expecting it to fail; its stderr.
fn xcompose_fails(sb: &Sandbox, dir: &Path, args: &[&str]) -> Result<String> {
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(args).output()?;
    ensure!(!out.status.success(), "xcompose {args:?} succeeded:\n{}", String::from_utf8_lossy(&out.stdout));
    Ok(String::from_utf8(out.stderr)?)
}

/// The host pid of the process of `service` whose command line ends with `command`.
fn pid_of(sb: &Sandbox, dir: &Path, service: &str, command: &str) -> Result<u32> {
    let all = processes(sb, dir, service)?;
    all.iter().find(|(_, l)| l.ends_with(command)).map(|(p, _)| *p).with_context(|| format!("{service} runs no {command}: {all:?}"))
}

/// Namespace `kind` of process `pid`, as the kernel names it (`pid:[4026531836]`).
fn namespace_of(pid: u32, kind: &str) -> Result<String> {
    Ok(std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))?.to_string_lossy().into_owned())
}

/// Host pids of the processes of `service` (from `top`), each with its command line.
fn processes(sb: &Sandbox, dir: &Path, service: &str) -> Result<Vec<(u32, String)>> {
    let top = xcompose(sb, dir, &["top", service])?;
    let mut out = Vec::new();
    for line in top.lines() {
        // The container's name and the column titles have no pid in their second column.
        if let Some(pid) = line.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            out.push((pid, line.to_string()));
        }
    }
    anyhow::ensure!(!out.is_empty(), "{service} runs no process: {top}");
    Ok(out)
}

/// The cgroup directories (every controller's) of process `pid`.
fn cgroup_dirs(pid: u32) -> Result<Vec<std::path::PathBuf>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            let root = match controllers {
                "" => "/sys/fs/cgroup".to_string(),
                c if c.starts_with("name=") => return None,
                c => format!("/sys/fs/cgroup/{}", c.split(',').next()?),
            };
            let dir = std::path::PathBuf::from(format!("{root}{path}"));
            dir.join("cgroup.procs").exists().then_some(dir)
        })
        .filter(|d| d.to_string_lossy().contains("/xcompose/"))
        .collect())
}

/// Whether process `pid` still exists and is not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next().map(|st| st != "Z")))
        .unwrap_or(false)
}

/// Asserts that no process of a container's run remains: none of `pids`, and its cgroups are
/// gone or hold only `new_run`'s processes.
fn assert_all_gone(what: &str, pids: &[(u32, String)], cgroups: &[std::path::PathBuf], new_run: &[(u32, String)]) {
    for (pid, line) in pids {
        assert!(!alive(*pid), "{what}: {line} still runs");
    }
    for dir in cgroups {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        let left: Vec<&str> = procs.lines().filter(|p| !new_run.iter().any(|(n, _)| n.to_string() == *p)).collect();
        assert!(left.is_empty(), "{what}: {} still holds {left:?}", dir.display());
    }
}

/// Bug 2 of issue 12: `stop -t 1`, `restart -t 1` and `down -t 1` on a container that ignores
/// SIGTERM and has a 30 s grace period kill it after 1 s, and nothing of it survives (the
/// supervisor ignored -t and the CLI then killed only the supervisor).
#[test]
fn stop_timeouts_shorter_than_the_grace_leave_no_process() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(
        &sb,
        "stubborn",
        r#"
services:
  app:
    image: busybox:latest
    init: true
    stop_grace_period: 30s
    command: ["sh", "-c", "trap '' TERM; sleep 1000 & sleep 1001 & wait"]
"#,
    )?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    for (step, args) in [("stop -t 1", &["stop", "-t", "1"][..]), ("restart -t 1", &["restart", "-t", "1"]), ("down -t 1", &["down", "-t", "1"])] {
        let pids = processes(&sb, &dir, "app")?;
        assert!(pids.iter().any(|(_, l)| l.ends_with("sleep 1001")), "{step}: the container runs: {pids:?}");
        let cgroups = cgroup_dirs(pids[0].0)?;
        assert!(!cgroups.is_empty(), "{step}: the container has cgroups");
        let started = Instant::now();
        xcompose(&sb, &dir, args)?;
        // -t is honoured: far less than the 30 s grace (the margin is for a loaded machine).
        assert!(started.elapsed() < Duration::from_secs(15), "{step} took {:?}", started.elapsed());
        let new_run = if step == "restart -t 1" { processes(&sb, &dir, "app")? } else { Vec::new() };
        assert_all_gone(step, &pids, &cgroups, &new_run);
        if step == "stop -t 1" {
            xcompose(&sb, &dir, &["start"])?;
        }
    }
    Ok(())
}

/// `pid`, `ipc`, `uts`, `cgroup` and `userns_mode`: `service:x` joins x's namespaces (and
/// shares its /dev/shm when x is `ipc: shareable`), `host` is the host's, the default is a
/// namespace of the container's own.
#[test]
fn namespace_modes_share_what_they_name() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(
        &sb,
        "spaces",
        r#"
services:
  owner:
    image: busybox:latest
    init: true
    ipc: shareable
    command: ["sh", "-c", "echo from-owner > /dev/shm/mark; exec sleep 1000"]
  peer:
    image: busybox:latest
    init: true
    pid: service:owner
    ipc: service:owner
    depends_on: [owner]
    command: ["sleep", "1001"]
  hostly:
    image: busybox:latest
    init: true
    pid: host
    ipc: host
    uts: host
    cgroup: host
    userns_mode: host
    command: ["sleep", "1002"]
  private:
    image: busybox:latest
    init: true
    ipc: none
    command: ["sleep", "1003"]
"#,
    )?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let owner = pid_of(&sb, &dir, "owner", "sleep 1000")?;
    let peer = pid_of(&sb, &dir, "peer", "sleep 1001")?;
    let hostly = pid_of(&sb, &dir, "hostly", "sleep 1002")?;
    let private = pid_of(&sb, &dir, "private", "sleep 1003")?;
    // The "host" of the containers is the sandbox (its own UTS namespace too).
    let host_ns = |kind: &str| -> Result<String> { Ok(sb.run_ok("readlink", &[&format!("/proc/self/ns/{kind}")])?.trim().to_string()) };
    for kind in ["pid", "ipc"] {
        assert_eq!(namespace_of(peer, kind)?, namespace_of(owner, kind)?, "peer shares owner's {kind} namespace");
    }
    assert_ne!(namespace_of(peer, "uts")?, namespace_of(owner, "uts")?, "peer keeps its own UTS namespace");
    for kind in ["pid", "ipc", "uts", "cgroup", "user"] {
        assert_eq!(namespace_of(hostly, kind)?, host_ns(kind)?, "hostly has the host's {kind} namespace");
    }
    for kind in ["pid", "ipc", "uts", "cgroup"] {
        assert_ne!(namespace_of(private, kind)?, host_ns(kind)?, "private has a {kind} namespace of its own");
        assert_ne!(namespace_of(private, kind)?, namespace_of(owner, kind)?, "private shares nothing with owner ({kind})");
    }

    // Seen from inside: the owner's processes and /dev/shm, the host's name.
    let seen = xcompose(&sb, &dir, &["exec", "-T", "peer", "ps", "-o", "args"])?;
    assert!(seen.lines().any(|l| l.trim() == "sleep 1000"), "peer sees owner's processes: {seen}");
    assert_eq!(xcompose(&sb, &dir, &["exec", "-T", "peer", "cat", "/dev/shm/mark"])?, "from-owner\n", "peer shares owner's /dev/shm");
    let host = sb.run_ok("hostname", &[])?.trim().to_string();
    assert_eq!(xcompose(&sb, &dir, &["exec", "-T", "hostly", "hostname"])?.trim(), host, "uts: host has the host's name");
    assert_eq!(xcompose(&sb, &dir, &["exec", "-T", "hostly", "cat", "/etc/hostname"])?.trim(), host, "and in /etc/hostname");
    let shm = xcompose(&sb, &dir, &["exec", "-T", "private", "sh", "-c", "grep -c ' /dev/shm ' /proc/mounts || true"])?;
    assert_eq!(shm.trim(), "0", "ipc: none mounts no /dev/shm");

    // The owner restarts: peer, joining at its start, follows it.
    xcompose(&sb, &dir, &["restart", "-t", "1", "owner", "peer"])?;
    let owner = pid_of(&sb, &dir, "owner", "sleep 1000")?;
    let peer = pid_of(&sb, &dir, "peer", "sleep 1001")?;
    assert_eq!(namespace_of(peer, "pid")?, namespace_of(owner, "pid")?, "after a restart, peer is in owner's new pid namespace");
    xcompose(&sb, &dir, &["down", "-t", "1"])?;
    Ok(())
}

/// Namespace modes xcompose cannot honour or Docker refuses: refused before anything is created,
/// in one line naming the service and the key; joining a private IPC namespace in Docker's words.
#[test]
fn namespace_modes_refused() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    for (name, key, value, expected) in [
        ("userns", "userns_mode", "private", "userns_mode \"private\": xcompose has no user namespace remapping"),
        ("uts", "uts", "service:x", "invalid uts mode \"service:x\""),
        ("pidns", "pid", "nobody", "invalid pid mode \"nobody\""),
    ] {
        let dir = project(&sb, name, &format!("services:\n  a:\n    image: busybox:latest\n    command: [sleep, '1000']\n    {key}: {value}\n  b:\n    image: busybox:latest\n    command: [sleep, '1000']\n"))?;
        let err = xcompose_fails(&sb, &dir, &["up", "-d"])?;
        assert!(err.contains("service \"a\"") && err.contains(expected), "{key}: {value}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert_eq!(xcompose(&sb, &dir, &["ps", "-a", "-q"])?.trim(), "", "{key}: nothing created");
    }
    let dir = project(
        &sb,
        "closed",
        "services:\n  owner:\n    image: busybox:latest\n    command: [sleep, '1000']\n  peer:\n    image: busybox:latest\n    command: [sleep, '1000']\n    ipc: service:owner\n",
    )?;
    let err = xcompose_fails(&sb, &dir, &["up", "-d"])?;
    assert!(err.contains("non-shareable IPC (hint: use IpcMode:shareable for the donor container)"), "{err}");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}
