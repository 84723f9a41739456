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
        ("userns", "userns_mode", "private", "compose.yaml:5: services.a.userns_mode \"private\" is not supported: Docker accepts only host"),
        ("uts", "uts", "service:x", "service \"a\": invalid uts mode \"service:x\""),
        ("pidns", "pid", "nobody", "service \"a\": invalid pid mode \"nobody\""),
    ] {
        let dir = project(&sb, name, &format!("services:\n  a:\n    image: busybox:latest\n    command: [sleep, '1000']\n    {key}: {value}\n  b:\n    image: busybox:latest\n    command: [sleep, '1000']\n"))?;
        let err = xcompose_fails(&sb, &dir, &["up", "-d"])?;
        assert!(err.contains(expected), "{key}: {value}: {err}");
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

/// The cgroup directory of controller `controller` of process `pid` (v1).
fn cgroup_dir(pid: u32, controller: &str) -> Result<std::path::PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    let path = text
        .lines()
        .find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            controllers.split(',').any(|c| c == controller).then(|| path.to_string())
        })
        .with_context(|| format!("no {controller} cgroup for {pid}: {text}"))?;
    Ok(std::path::PathBuf::from(format!("/sys/fs/cgroup/{controller}{path}")))
}

/// One cgroup file of process `pid`, trimmed.
fn cgroup_file(pid: u32, controller: &str, file: &str) -> Result<String> {
    let path = cgroup_dir(pid, controller)?.join(file);
    Ok(std::fs::read_to_string(&path).with_context(|| path.display().to_string())?.trim().to_string())
}

/// `devices`, `device_cgroup_rules`, `group_add`, `oom_score_adj`, `oom_kill_disable`,
/// `mem_swappiness`, `cpu_quota`/`cpu_period`, `cpu_rt_runtime`/`cpu_rt_period`, `blkio_config`,
/// `deploy.resources.reservations` and `cgroup_parent`: asserted in the container's cgroup files
/// (this machine's cgroup v1) and from inside.
#[test]
fn devices_groups_and_cgroup_limits() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let parent = format!("xcompose-test-parent-{}", std::process::id());
    let dir = project(
        &sb,
        "tuned",
        &format!(
            r#"
services:
  tuned:
    image: busybox:latest
    init: true
    user: app
    group_add: [nogroup, "4242"]
    oom_score_adj: 321
    oom_kill_disable: true
    mem_limit: 256m
    mem_swappiness: 17
    cpu_quota: 25000
    cpu_period: 50000
    cpu_rt_runtime: 10000
    cpu_rt_period: 1000000
    cgroup_parent: {parent}
    devices: ["/dev/kmsg:/dev/mykmsg:r"]
    device_cgroup_rules: ["c 42:* rm"]
    blkio_config:
      weight: 300
      device_read_bps: [{{path: /dev/vda, rate: 1mb}}]
      device_write_iops: [{{path: /dev/vda, rate: 120}}]
    deploy:
      resources:
        reservations: {{memory: 64M, cpus: "0.5"}}
    command: ["sleep", "1000"]
"#
        ),
    )?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let pid = pid_of(&sb, &dir, "tuned", "sleep 1000")?;
    let id = xcompose(&sb, &dir, &["ps", "-q", "tuned"])?.trim().to_string();

    // Inside: the groups, the OOM score, the device node and what the cgroup lets it do with it.
    let status = xcompose(&sb, &dir, &["exec", "-T", "tuned", "cat", "/proc/1/status"])?;
    let groups = status.lines().find_map(|l| l.strip_prefix("Groups:")).context("Groups line")?.split_whitespace().collect::<Vec<_>>();
    assert!(groups.contains(&"65534") && groups.contains(&"4242"), "group_add: {groups:?}");
    assert_eq!(xcompose(&sb, &dir, &["exec", "-T", "tuned", "cat", "/proc/1/oom_score_adj"])?.trim(), "321");
    let node = xcompose(&sb, &dir, &["exec", "-T", "tuned", "ls", "-l", "/dev/mykmsg"])?;
    assert!(node.starts_with('c') && node.contains("1,  11"), "devices: {node}");
    let denied = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["exec", "-T", "-u", "0", "tuned", "sh", "-c", "echo hi > /dev/mykmsg"]).output()?;
    assert!(!denied.status.success() && String::from_utf8_lossy(&denied.stderr).contains("Operation not permitted"), "the device is read-only: {denied:?}");

    // The cgroup files.
    let memory = cgroup_dir(pid, "memory")?;
    assert_eq!(memory, std::path::PathBuf::from(format!("/sys/fs/cgroup/memory/{parent}/{id}")), "cgroup_parent, from the hierarchy's root");
    assert_eq!(cgroup_file(pid, "memory", "memory.swappiness")?, "17");
    assert!(cgroup_file(pid, "memory", "memory.oom_control")?.contains("oom_kill_disable 1"));
    assert_eq!(cgroup_file(pid, "memory", "memory.soft_limit_in_bytes")?, (64u64 << 20).to_string(), "reservations.memory");
    assert_eq!(cgroup_file(pid, "cpu", "cpu.cfs_quota_us")?, "25000");
    assert_eq!(cgroup_file(pid, "cpu", "cpu.cfs_period_us")?, "50000");
    assert_eq!(cgroup_file(pid, "cpu", "cpu.rt_runtime_us")?, "10000");
    assert_eq!(cgroup_file(pid, "cpu", "cpu.rt_period_us")?, "1000000");
    let vda = std::fs::metadata("/dev/vda")?;
    let numbers = { use std::os::unix::fs::MetadataExt; format!("{}:{}", nix::sys::stat::major(vda.rdev()), nix::sys::stat::minor(vda.rdev())) };
    assert_eq!(cgroup_file(pid, "blkio", "blkio.throttle.read_bps_device")?, format!("{numbers} 1048576"));
    assert_eq!(cgroup_file(pid, "blkio", "blkio.throttle.write_iops_device")?, format!("{numbers} 120"));
    let devices = cgroup_file(pid, "devices", "devices.list")?;
    for rule in ["c 1:11 r", "c 42:* rm", "c 1:3 rwm", "c 136:* rwm"] {
        assert!(devices.lines().any(|l| l == rule), "devices.list has {rule}: {devices}");
    }
    assert!(!devices.contains("a *:* rwm"), "not every device: {devices}");

    xcompose(&sb, &dir, &["down", "-t", "1"])?;
    for controller in ["memory", "cpu", "blkio", "devices", "pids", "freezer", "cpuset", "cpuacct"] {
        // Docker leaves the parent, as this does: the test cleans up after itself.
        let _ = std::fs::remove_dir(format!("/sys/fs/cgroup/{controller}/{parent}"));
    }
    Ok(())
}

/// `privileged`: every capability of the host's bounding set, every host device (and the device
/// cgroup allows all), no masked or read-only paths, a writable /sys.
#[test]
fn privileged_gets_the_host() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "mighty", "services:\n  mighty:\n    image: busybox:latest\n    init: true\n    privileged: true\n    command: [sleep, '1000']\n")?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let pid = pid_of(&sb, &dir, "mighty", "sleep 1000")?;
    let host_bounding = sb.run_ok("grep", &["CapBnd", "/proc/self/status"])?;
    let status = xcompose(&sb, &dir, &["exec", "-T", "mighty", "cat", "/proc/1/status"])?;
    let field = |text: &str, key: &str| text.lines().find_map(|l| l.strip_prefix(key)).map(|v| v.trim().to_string());
    assert_eq!(field(&status, "CapEff:"), field(&host_bounding, "CapBnd:"), "every capability the host allows");
    let mounts = xcompose(&sb, &dir, &["exec", "-T", "mighty", "cat", "/proc/mounts"])?;
    let sys = mounts.lines().find(|l| l.split_whitespace().nth(1) == Some("/sys")).context("/sys mounted")?;
    assert!(sys.split_whitespace().nth(3).is_some_and(|o| o.split(',').any(|f| f == "rw")), "/sys is writable: {sys}");
    for path in ["/proc/sys", "/proc/kcore", "/proc/keys", "/sys/firmware"] {
        assert!(!mounts.lines().any(|l| l.split_whitespace().nth(1) == Some(path)), "{path} is neither masked nor read-only: {mounts}");
    }
    xcompose(&sb, &dir, &["exec", "-T", "mighty", "test", "-c", "/dev/kmsg"])?;
    xcompose(&sb, &dir, &["exec", "-T", "mighty", "test", "-b", "/dev/vda"])?;
    assert_eq!(cgroup_file(pid, "devices", "devices.list")?, "a *:* rwm", "the device cgroup allows all");
    xcompose(&sb, &dir, &["down", "-t", "1"])?;
    Ok(())
}

/// Devices that cannot be given are refused before anything is created: CDI names, host paths
/// that are not devices, bad cgroup rules.
#[test]
fn devices_refused() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    for (name, key, value, expected) in [
        ("cdi", "devices", "[\"nvidia.com/gpu=all\"]", "CDI device names need a CDI registry; xcompose has none"),
        ("notdev", "devices", "[\"/etc/passwd\"]", "not a device node"),
        ("rule", "device_cgroup_rules", "[\"c 1 rwm\"]", "invalid device cgroup format"),
    ] {
        let dir = project(&sb, name, &format!("services:\n  a:\n    image: busybox:latest\n    command: [sleep, '1000']\n    {key}: {value}\n"))?;
        let err = xcompose_fails(&sb, &dir, &["up", "-d"])?;
        assert!(err.contains("service \"a\"") && err.contains(expected), "{key}: {value}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert_eq!(xcompose(&sb, &dir, &["ps", "-a", "-q"])?.trim(), "", "{key}: nothing created");
    }
    Ok(())
}

/// The log files of container `name` (its directory in the state root), by file name.
fn log_files(sb: &Sandbox, dir: &Path, service: &str) -> Result<Vec<(String, u64)>> {
    let id = xcompose(sb, dir, &["ps", "-a", "-q", service])?.trim().to_string();
    let mut files: Vec<(String, u64)> = std::fs::read_dir(sb.root().join("containers").join(&id))?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("container.log"))
        .map(|e| Ok((e.file_name().to_string_lossy().into_owned(), e.metadata()?.len())))
        .collect::<Result<_>>()?;
    files.sort();
    Ok(files)
}

/// `logging`: json-file and local rotate by `max-size` keeping `max-file` files, gzipped with
/// `compress` (local's defaults: compressed); `logs` reads the rotated files too; `none` keeps
/// nothing and `logs` warns as compose does; other drivers are refused before anything is made.
#[test]
fn logging_drivers_rotate_compress_or_keep_nothing() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let talk = r#"["sh", "-c", "i=0; while [ $$i -lt 300 ]; do echo line-$$i-some-padding-to-fill-the-log; i=$$((i+1)); done; echo done; exec sleep 1000"]"#;
    let dir = project(
        &sb,
        "logging",
        &format!(
            r#"
services:
  json:
    image: busybox:latest
    init: true
    logging: {{driver: json-file, options: {{max-size: 2k, max-file: "3", compress: "true"}}}}
    command: {talk}
  plain:
    image: busybox:latest
    init: true
    logging: {{options: {{max-size: 2k, max-file: "2"}}}}
    command: {talk}
  local:
    image: busybox:latest
    init: true
    logging: {{driver: local, options: {{max-size: 2k}}}}
    command: {talk}
  quiet:
    image: busybox:latest
    init: true
    logging: {{driver: none}}
    command: {talk}
"#
        ),
    )?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !["json", "plain", "local"].iter().all(|s| xcompose(&sb, &dir, &["logs", "--tail", "1", s]).is_ok_and(|l| l.contains("done"))) {
        assert!(Instant::now() < deadline, "the services logged their lines");
        std::thread::sleep(Duration::from_millis(50));
    }
    let names = |files: &[(String, u64)]| files.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    let json = log_files(&sb, &dir, "json")?;
    assert_eq!(names(&json), ["container.log", "container.log.1.gz", "container.log.2.gz"], "max-file 3, compressed");
    assert!(json.iter().all(|(_, size)| *size <= 2048), "max-size 2k: {json:?}");
    let plain = log_files(&sb, &dir, "plain")?;
    assert_eq!(names(&plain), ["container.log", "container.log.1"], "max-file 2, not compressed");
    let local = log_files(&sb, &dir, "local")?;
    assert_eq!(names(&local), ["container.log", "container.log.1.gz", "container.log.2.gz", "container.log.3.gz", "container.log.4.gz"], "local: 5 files, compressed");
    let gz = std::fs::read(sb.root().join("containers").join(xcompose(&sb, &dir, &["ps", "-q", "json"])?.trim()).join("container.log.1.gz"))?;
    assert_eq!(&gz[..2], &[0x1f, 0x8b], "a gzip file");

    // `logs` reads the rotated files, in order, up to the last line.
    let logs = xcompose(&sb, &dir, &["logs", "--no-log-prefix", "local"])?;
    let numbers: Vec<u32> = logs.lines().filter_map(|l| l.strip_prefix("line-")?.split('-').next()?.parse().ok()).collect();
    assert!(numbers.len() > 40 && numbers.windows(2).all(|w| w[1] == w[0] + 1) && numbers.last() == Some(&299), "{numbers:?}");

    // none: nothing written, and compose's warning.
    assert!(log_files(&sb, &dir, "quiet")?.is_empty(), "none writes no log file");
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["logs", "quiet"]).output()?;
    assert!(out.status.success() && out.stdout.is_empty(), "{out:?}");
    let stderr = String::from_utf8(out.stderr)?;
    assert!(stderr.contains(r#"level=warning msg="Can't retrieve logs for \"logging-quiet-1\": configured logging driver does not support reading""#), "{stderr}");
    xcompose(&sb, &dir, &["down", "-t", "1"])?;

    for (name, logging, expected) in [
        ("syslog", "{driver: syslog}", "services.a.logging.driver \"syslog\" is not supported"),
        ("badopt", "{options: {max-file: \"3\"}}", "service \"a\": logging: max-file is only valid with max-size set"),
        ("unknownopt", "{options: {colour: blue}}", "service \"a\": logging: unknown log opt 'colour' for json-file log driver"),
    ] {
        let dir = project(&sb, name, &format!("services:\n  a:\n    image: busybox:latest\n    command: [sleep, '1000']\n    logging: {logging}\n"))?;
        let err = xcompose_fails(&sb, &dir, &["up", "-d"])?;
        assert!(err.contains(expected) && err.trim().lines().count() == 1, "{logging}: {err}");
        assert_eq!(xcompose(&sb, &dir, &["ps", "-a", "-q"])?.trim(), "", "{logging}: nothing created");
    }
    Ok(())
}

/// `post_start` runs after the start (as its user, in its directory, with its environment,
/// privileged when asked), `pre_stop` before the stop signal (on stop, restart and down, while
/// the main process still runs); a failing `post_start` fails `up` in compose's words.
#[test]
fn lifecycle_hooks_run_around_start_and_stop() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let sb = sandbox_with_busybox()?;
    let dir = project(
        &sb,
        "hooked",
        r#"
services:
  hooked:
    image: busybox:latest
    init: true
    volumes: [./marks:/marks]
    command: ["sleep", "1000"]
    post_start:
      - command: ["sh", "-c", "echo \"$$WHO $$(id -u) $$(pwd)\" > /marks/post_start"]
        user: app
        working_dir: /tmp
        environment: {WHO: hook}
      - command: ["sh", "-c", "grep CapEff /proc/self/status > /marks/privileged"]
        privileged: true
    pre_stop:
      - command: ["sh", "-c", "ps -o args | grep -c '^sleep 1000' > /marks/pre_stop"]
"#,
    )?;
    let marks = dir.join("marks");
    std::fs::create_dir(&marks)?;
    std::fs::set_permissions(&marks, std::fs::Permissions::from_mode(0o777))?;
    let read = |name: &str| std::fs::read_to_string(marks.join(name)).unwrap_or_default();

    xcompose(&sb, &dir, &["up", "-d"])?;
    assert_eq!(read("post_start"), "hook 1000 /tmp\n", "post_start ran as app in /tmp with its environment");
    let bounding = sb.run_ok("grep", &["CapBnd", "/proc/self/status"])?;
    assert_eq!(read("privileged").split_whitespace().nth(1), bounding.split_whitespace().nth(1), "a privileged hook has every capability");
    assert_eq!(read("pre_stop"), "", "no pre_stop yet");

    for (step, args) in [("stop", &["stop", "-t", "1"][..]), ("restart", &["restart", "-t", "1"]), ("down", &["down", "-t", "1"])] {
        std::fs::write(marks.join("post_start"), "")?;
        xcompose(&sb, &dir, &["start"])?;
        std::fs::remove_file(marks.join("pre_stop")).or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })?;
        xcompose(&sb, &dir, args)?;
        assert_eq!(read("pre_stop"), "1\n", "{step}: pre_stop ran while the main process still ran");
        if step == "restart" {
            assert_eq!(read("post_start"), "hook 1000 /tmp\n", "restart runs post_start again");
        }
    }

    let broken = project(&sb, "broken", "services:\n  broken:\n    image: busybox:latest\n    command: [sleep, '1000']\n    post_start:\n      - command: [sh, -c, 'exit 3']\n")?;
    let err = xcompose_fails(&sb, &broken, &["up", "-d"])?;
    assert!(err.trim().ends_with("broken hook exited with status 3"), "{err}");
    xcompose(&sb, &broken, &["down", "-t", "1"])?;
    Ok(())
}

/// `tty`: the main process runs on a terminal of the container's own /dev/pts, and its output
/// is logged; `stdin_open` keeps its stdin open (a `read` waits instead of seeing the end);
/// `attach: false` keeps a service out of `up`'s attached output.
#[test]
fn tty_stdin_open_and_attach() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(
        &sb,
        "terminals",
        r#"
services:
  term:
    image: busybox:latest
    tty: true
    command: ["sh", "-c", "test -t 0 && echo on-a-terminal; exec sleep 1000"]
  open:
    image: busybox:latest
    init: true
    stdin_open: true
    command: ["sh", "-c", "read line; echo stdin-closed; sleep 1000"]
  closed:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "read line; echo stdin-closed; sleep 1000"]
"#,
    )?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !xcompose(&sb, &dir, &["logs", "closed"])?.contains("stdin-closed") || !xcompose(&sb, &dir, &["logs", "term"])?.contains("on-a-terminal") {
        assert!(Instant::now() < deadline, "term and closed logged their lines");
        std::thread::sleep(Duration::from_millis(50));
    }
    let fd0 = xcompose(&sb, &dir, &["exec", "-T", "term", "readlink", "/proc/1/fd/0"])?;
    assert!(fd0.trim().starts_with("/dev/pts/"), "PID 1's stdin is a terminal of the container: {fd0}");
    xcompose(&sb, &dir, &["exec", "-T", "term", "test", "-c", fd0.trim()])?;
    let logs = xcompose(&sb, &dir, &["logs", "--no-log-prefix", "term"])?;
    assert_eq!(logs.trim_end_matches(['\r', '\n']), "on-a-terminal", "the terminal's output is logged: {logs:?}");
    assert!(!xcompose(&sb, &dir, &["logs", "open"])?.contains("stdin-closed"), "stdin_open: stdin stays open");
    xcompose(&sb, &dir, &["down", "-t", "1"])?;

    let dir = project(
        &sb,
        "quietly",
        "services:\n  shown:\n    image: busybox:latest\n    command: [echo, shown-line]\n  hidden:\n    image: busybox:latest\n    attach: false\n    command: [echo, hidden-line]\n",
    )?;
    let out = xcompose(&sb, &dir, &["up"])?;
    assert!(out.contains("Attaching to shown-1\n") && out.contains("shown-line"), "{out}");
    assert!(!out.contains("hidden"), "attach: false keeps hidden out of the output: {out}");
    assert!(xcompose(&sb, &dir, &["logs", "hidden"])?.contains("hidden-line"), "hidden ran all the same");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}
