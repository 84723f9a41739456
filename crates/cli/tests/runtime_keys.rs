//! Runtime compose keys end to end in a sandbox, each asserted from inside the container or from
//! its cgroup: stop timeouts that leave no process behind, namespace modes, devices and cgroup
//! limits, logging drivers, lifecycle hooks and terminals.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use xcompose_testkit::Sandbox;

mod common;
use common::{project, sandbox_with_busybox, xcompose};

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
