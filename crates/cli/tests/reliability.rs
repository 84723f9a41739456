//! What xcompose promises when real machines misbehave, each test in its own sandbox, checking
//! the state after the fault (containers answer, names resolve, nothing leaked), not only exit
//! codes: a killed resolver is back at once; after a reboot (every process, link, rule and mount
//! gone, the state root kept) one `up -d` repairs everything, and `system boot` brings back what
//! the restart policies say; a killed supervisor takes its container down cleanly and the
//! container comes back by its restart policy; concurrent commands serialize; `up`, `down`,
//! `run --rm`, `image load`, `volume rm` and `watch` killed at any step converge when run
//! again; `image load`, `up` and volume seeding on a full disk fail cleanly and converge once
//! space is freed, and a log that fills the disk loses lines, never the container or its log's
//! readability.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use xcompose_testkit::Sandbox;

mod common;
use common::{project, sandbox_with_busybox, xcompose, XCOMPOSE};

/// A web server published on the sandbox's loopback, a database-like service, both found by
/// name; `restart: always` on the server, none on the one-shot job.
const STACK: &str = r#"
services:
  web:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "echo hello > /tmp/index.html && exec httpd -f -p 80 -h /tmp"]
    ports: ["127.0.0.1:18082:80"]
    restart: always
  db:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    restart: unless-stopped
    volumes: [data:/data]
  job:
    image: busybox:latest
    command: ["true"]
    restart: "no"
volumes:
  data:
"#;

/// The addresses `name` resolves to inside `service`'s container (empty if it does not).
fn resolve(sb: &Sandbox, dir: &Path, service: &str, name: &str) -> Result<Vec<String>> {
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["exec", "-T", service, "nslookup", name]).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut addresses: Vec<String> = text.lines().skip_while(|l| !l.starts_with("Name:")).filter_map(|l| l.strip_prefix("Address:")).map(|a| a.trim().to_string()).collect();
    addresses.sort();
    Ok(addresses)
}

/// Retries `resolve` for up to 2 s until it gives `want`; the last answer.
fn resolves_to(sb: &Sandbox, dir: &Path, service: &str, name: &str, want: &[String]) -> Result<Vec<String>> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let got = resolve(sb, dir, service, name)?;
        if got == want || Instant::now() > deadline {
            return Ok(got);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The address of `service`'s container, as it sees itself.
fn address(sb: &Sandbox, dir: &Path, service: &str) -> Result<String> {
    Ok(xcompose(sb, dir, &["exec", "-T", service, "hostname", "-i"])?.trim().to_string())
}

/// Service containers by name: (id, state, when it started).
fn containers(sb: &Sandbox, dir: &Path) -> Result<BTreeMap<String, (String, String, String)>> {
    let mut out = BTreeMap::new();
    for line in xcompose(sb, dir, &["ps", "-a", "--format", "json"])?.lines() {
        let c: serde_json::Value = serde_json::from_str(line)?;
        let id = c["ID"].as_str().context("ID")?.to_string();
        let state: serde_json::Value = serde_json::from_slice(&std::fs::read(sb.root().join("containers").join(&id).join("state.json"))?)?;
        out.insert(c["Name"].as_str().context("Name")?.to_string(), (id, c["State"].as_str().context("State")?.to_string(), state["started_at"].to_string()));
    }
    Ok(out)
}

/// The containers of `containers` but the one-shot job (which every `up` runs again, as
/// compose's does).
fn long_running(mut containers: BTreeMap<String, (String, String, String)>) -> BTreeMap<String, (String, String, String)> {
    containers.retain(|name, _| !name.ends_with("-job-1"));
    containers
}

/// Service containers by name: their state.
fn states(sb: &Sandbox, dir: &Path) -> Result<BTreeMap<String, String>> {
    Ok(containers(sb, dir)?.into_iter().map(|(name, (_, state, _))| (name, state)).collect())
}

/// The page the web service serves on the sandbox's 127.0.0.1:18082 (published port).
fn page(sb: &Sandbox) -> Result<String> {
    sb.run_ok("timeout", &["3", "busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:18082/index.html"])
}

/// The pid the project's resolver serves as (its `dns.pid`).
fn resolver_pid(sb: &Sandbox, project: &str) -> Result<String> {
    let path = sb.root().join("dns").join(project).join("dns.pid");
    Ok(std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?.trim().to_string())
}

/// xcompose processes of the sandbox's state root (resolvers, supervisors and proxies).
fn helpers(sb: &Sandbox) -> Result<String> {
    let out = std::process::Command::new("pgrep").args(["-a", "-f", &format!("xcompose (__dns|__supervise|__proxy) (--serve )?{}", sb.root().display())]).output()?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Non-loopback links of the sandbox (bridges, veths), by name.
fn links(sb: &Sandbox) -> Result<Vec<String>> {
    let out = sb.run_ok("ip", &["-o", "link", "show"])?;
    Ok(out.lines().filter_map(|l| l.split(": ").nth(1)).map(|n| n.split('@').next().unwrap_or(n).to_string()).filter(|n| n != "lo" && !n.starts_with("xu")).collect())
}

/// Asserts `down -v` left no container, network, volume, resolver, supervisor or link.
fn assert_nothing_left(sb: &Sandbox, dir: &Path, after: &str) -> Result<()> {
    xcompose(sb, dir, &["down", "-v"])?;
    for kind in ["containers", "volumes", "networks", "endpoints", "ipam"] {
        let left: Vec<_> = std::fs::read_dir(sb.root().join(kind)).map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).filter(|n| !n.to_string_lossy().ends_with(".lock")).collect()).unwrap_or_default();
        assert!(left.is_empty(), "{kind} left {after}: {left:?}");
    }
    assert!(!sb.root().join("dns").exists(), "resolver files left {after}");
    let proxies: Vec<_> = std::fs::read_dir(sb.root().join("ports")).map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).filter(|n| n.to_string_lossy().contains(".proxy.")).collect()).unwrap_or_default();
    assert!(proxies.is_empty(), "proxy files left {after}: {proxies:?}");
    assert_eq!(helpers(sb)?, "", "helper processes left {after}");
    assert_eq!(links(sb)?, Vec::<String>::new(), "links left {after}");
    Ok(())
}

/// Promise: a resolver killed with SIGKILL is back within a second, serving every container
/// with the same records, and the next `up -d` has nothing to do.
#[test]
fn a_killed_resolver_comes_back_at_once_and_up_has_nothing_to_do() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "dnskill", STACK)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let db = address(&sb, &dir, "db")?;
    assert_eq!(resolve(&sb, &dir, "web", "db")?, vec![db.clone()]);
    let before = containers(&sb, &dir)?;
    let killed = resolver_pid(&sb, "dnskill")?;
    sb.run_ok("kill", &["-9", &killed])?;

    assert_eq!(resolves_to(&sb, &dir, "web", "db", std::slice::from_ref(&db))?, vec![db.clone()], "db resolves again");
    assert_eq!(resolves_to(&sb, &dir, "db", "web", &[address(&sb, &dir, "web")?])?, vec![address(&sb, &dir, "web")?]);
    let respawned = resolver_pid(&sb, "dnskill")?;
    assert_ne!(respawned, killed, "a new resolver serves");

    xcompose(&sb, &dir, &["up", "-d"])?;
    assert_eq!(long_running(containers(&sb, &dir)?), long_running(before), "up -d recreated or restarted nothing");
    assert_eq!(resolver_pid(&sb, "dnskill")?, respawned, "up -d left the resolver alone");
    assert_nothing_left(&sb, &dir, "after the resolver was killed")
}

/// Promise: after a reboot (every process, link, firewall rule and mount gone, the state root
/// kept) one `up -d` brings the project back: containers run, names resolve, the published port
/// answers; a second `up -d` has nothing to do; `down -v` leaves nothing.
#[test]
fn up_after_a_reboot_repairs_everything_in_one_run() -> Result<()> {
    let mut sb = sandbox_with_busybox()?;
    let dir = project(&sb, "boot", STACK)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    assert_eq!(page(&sb)?, "hello\n");
    sb.reboot()?;
    assert_eq!(helpers(&sb)?, "", "the reboot killed every helper");
    assert_eq!(links(&sb)?, Vec::<String>::new(), "the reboot removed every link");

    xcompose(&sb, &dir, &["up", "-d"]).context("up after the reboot")?;
    let expected: BTreeMap<String, String> = [("boot-db-1", "running"), ("boot-job-1", "exited"), ("boot-web-1", "running")].map(|(a, b)| (a.into(), b.into())).into();
    assert_eq!(states(&sb, &dir)?, expected);
    assert_eq!(page(&sb)?, "hello\n", "the published port answers");
    let db = address(&sb, &dir, "db")?;
    assert_eq!(resolves_to(&sb, &dir, "web", "db", std::slice::from_ref(&db))?, vec![db], "names resolve");
    let after = long_running(containers(&sb, &dir)?);
    xcompose(&sb, &dir, &["up", "-d"])?;
    assert_eq!(long_running(containers(&sb, &dir)?), after, "a second up -d has nothing to do");
    assert_nothing_left(&sb, &dir, "after a reboot")
}

/// The pid recorded in container `name`'s `file` (`supervisor.pid`, or the state's `pid`).
fn container_pid(sb: &Sandbox, dir: &Path, name: &str, file: &str) -> Result<Option<String>> {
    let id = containers(sb, dir)?.remove(name).with_context(|| format!("no container {name}"))?.0;
    let path = sb.root().join("containers").join(&id).join(file);
    Ok(match file {
        "state.json" => serde_json::from_slice::<serde_json::Value>(&std::fs::read(&path)?)?["pid"].as_u64().map(|p| p.to_string()),
        _ => std::fs::read_to_string(&path).ok().map(|p| p.trim().to_string()),
    })
}

/// Whether process `pid` is gone (or a zombie).
fn gone(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')))
}

/// Promise: a supervisor killed with SIGKILL does not leave its container unsupervised: the
/// container's restart policy decides, as for an exit 255 — `always` brings it back at once (a
/// new run, serving again), `no` leaves it exited with nothing of it running — and `down -v`
/// then leaves nothing.
#[test]
fn a_killed_supervisor_restarts_its_container_by_its_policy() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let once = "  once:\n    image: busybox:latest\n    init: true\n    command: [\"sleep\", \"1000\"]\n    restart: \"no\"\n";
    let text = STACK.replace("volumes:\n  data:\n", &format!("{once}volumes:\n  data:\n"));
    let dir = project(&sb, "supkill", &text)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let before = containers(&sb, &dir)?;

    let web_container = container_pid(&sb, &dir, "supkill-web-1", "state.json")?.context("web runs")?;
    let web_supervisor = container_pid(&sb, &dir, "supkill-web-1", "supervisor.pid")?.context("web's supervisor")?;
    sb.run_ok("kill", &["-9", &web_supervisor])?;
    let deadline = Instant::now() + Duration::from_secs(3);
    while !(states(&sb, &dir)?["supkill-web-1"] == "running" && container_pid(&sb, &dir, "supkill-web-1", "state.json")?.is_some_and(|p| p != web_container)) {
        anyhow::ensure!(Instant::now() < deadline, "web did not come back after its supervisor was killed: {:?}", containers(&sb, &dir)?);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(gone(&web_container), "the old run of web is gone");
    assert_ne!(containers(&sb, &dir)?["supkill-web-1"].2, before["supkill-web-1"].2, "web started anew");
    assert_eq!(containers(&sb, &dir)?["supkill-web-1"].0, before["supkill-web-1"].0, "the same container");
    let deadline = Instant::now() + Duration::from_secs(3);
    while page(&sb).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(page(&sb)?, "hello\n", "web serves again");

    let once_container = container_pid(&sb, &dir, "supkill-once-1", "state.json")?.context("once runs")?;
    let once_supervisor = container_pid(&sb, &dir, "supkill-once-1", "supervisor.pid")?.context("once's supervisor")?;
    sb.run_ok("kill", &["-9", &once_supervisor])?;
    let deadline = Instant::now() + Duration::from_secs(3);
    while !gone(&once_container) {
        anyhow::ensure!(Instant::now() < deadline, "once's container still runs without a supervisor");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(states(&sb, &dir)?["supkill-once-1"], "exited", "restart: no keeps it exited");
    let ps = xcompose(&sb, &dir, &["ps", "-a", "--format", "{{.Name}} {{.Status}}"])?;
    assert!(ps.contains("supkill-once-1 Exited (255)"), "{ps}");
    assert_eq!(states(&sb, &dir)?["supkill-db-1"], "running", "the other containers were left alone");

    xcompose(&sb, &dir, &["up", "-d"])?;
    assert_eq!(states(&sb, &dir)?["supkill-once-1"], "running", "up starts it again");
    assert_nothing_left(&sb, &dir, "after supervisors were killed")
}

/// Runs `xcompose system boot` on the sandbox's state root (from anywhere: no project files
/// named); its stderr.
fn system_boot(sb: &Sandbox) -> Result<String> {
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).args(["system", "boot"]).current_dir("/").output()?;
    anyhow::ensure!(out.status.success(), "system boot failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8(out.stderr)?)
}

/// Promise: after `system shutdown` and a reboot, `xcompose system boot` (what
/// `examples/systemd/xcompose.service` runs) brings back, in every project of the state root, the containers Docker's daemon would:
/// `always`, `unless-stopped` unless the user stopped it, `on-failure` unless it exited cleanly;
/// not `no`. They answer and resolve names; a second `system boot` changes nothing.
#[test]
fn system_boot_after_a_reboot_starts_what_the_restart_policies_say() -> Result<()> {
    let mut sb = sandbox_with_busybox()?;
    let extra = "  flaky:\n    image: busybox:latest\n    init: true\n    command: [\"sleep\", \"1000\"]\n    restart: on-failure\n  \
                 clean:\n    image: busybox:latest\n    command: [\"true\"]\n    restart: on-failure\n  \
                 stopped:\n    image: busybox:latest\n    init: true\n    command: [\"sleep\", \"1000\"]\n    restart: unless-stopped\n  \
                 plain:\n    image: busybox:latest\n    init: true\n    command: [\"sleep\", \"1000\"]\n";
    let dir = project(&sb, "sysboot", &STACK.replace("volumes:\n  data:\n", &format!("{extra}volumes:\n  data:\n")))?;
    let other = project(&sb, "other", "services:\n  app:\n    image: busybox:latest\n    init: true\n    command: [\"sleep\", \"1000\"]\n    restart: always\n  peer:\n    image: busybox:latest\n    init: true\n    command: [\"sleep\", \"1000\"]\n    restart: always\n")?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    xcompose(&sb, &other, &["up", "-d"])?;
    xcompose(&sb, &dir, &["stop", "stopped"])?;
    // The machine shuts down (xcompose.service's ExecStop), then comes back.
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).args(["system", "shutdown"]).output()?;
    anyhow::ensure!(out.status.success(), "system shutdown failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(states(&sb, &dir)?.values().chain(states(&sb, &other)?.values()).all(|s| s == "exited"), "system shutdown stopped everything");
    sb.reboot()?;

    system_boot(&sb)?;
    let expected: BTreeMap<String, String> = [
        ("sysboot-clean-1", "exited"),
        ("sysboot-db-1", "running"),
        ("sysboot-flaky-1", "running"),
        ("sysboot-job-1", "exited"),
        ("sysboot-plain-1", "exited"),
        ("sysboot-stopped-1", "exited"),
        ("sysboot-web-1", "running"),
    ]
    .map(|(a, b)| (a.into(), b.into()))
    .into();
    assert_eq!(states(&sb, &dir)?, expected);
    let others: BTreeMap<String, String> = [("other-app-1", "running"), ("other-peer-1", "running")].map(|(a, b)| (a.into(), b.into())).into();
    assert_eq!(states(&sb, &other)?, others, "every project of the state root");
    assert_eq!(page(&sb)?, "hello\n", "the published port answers");
    let db = address(&sb, &dir, "db")?;
    assert_eq!(resolves_to(&sb, &dir, "web", "db", std::slice::from_ref(&db))?, vec![db], "names resolve");
    let peer = address(&sb, &other, "peer")?;
    assert_eq!(resolves_to(&sb, &other, "app", "peer", std::slice::from_ref(&peer))?, vec![peer]);

    let after = (containers(&sb, &dir)?, containers(&sb, &other)?);
    system_boot(&sb)?;
    assert_eq!((containers(&sb, &dir)?, containers(&sb, &other)?), after, "a second system boot changes nothing");
    xcompose(&sb, &other, &["down", "-v"])?;
    assert_nothing_left(&sb, &dir, "after system boot")
}

/// A small project for the concurrency tests: a web server on a random host port of the
/// sandbox's loopback and a client that finds it by name.
const SMALL: &str = r#"
services:
  web:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "hostname > /tmp/index.html && exec httpd -f -p 80 -h /tmp"]
    ports: ["127.0.0.1::80"]
  client:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
"#;

/// Starts xcompose `args` on the project in `dir` without waiting.
fn spawn_xcompose(sb: &Sandbox, dir: &Path, args: &[&str]) -> Result<std::process::Child> {
    Ok(sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn()?)
}

/// Waits for every child; fails naming the first that did not exit 0.
fn all_succeed(children: Vec<(String, std::process::Child)>) -> Result<()> {
    for (what, child) in children {
        let out = child.wait_with_output()?;
        anyhow::ensure!(out.status.success(), "{what} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// Promise: two `up -d` on one project at once serialize on the project's lock and both end
/// with the project up (one container per service, running, serving).
#[test]
fn two_concurrent_ups_of_one_project_serialize() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "twice", SMALL)?;
    let ups = (0..2).map(|i| Ok((format!("up #{i}"), spawn_xcompose(&sb, &dir, &["up", "-d"])?))).collect::<Result<Vec<_>>>()?;
    all_succeed(ups)?;
    let expected: BTreeMap<String, String> = [("twice-client-1", "running"), ("twice-web-1", "running")].map(|(a, b)| (a.into(), b.into())).into();
    assert_eq!(states(&sb, &dir)?, expected, "one container per service");
    let web = address(&sb, &dir, "web")?;
    assert_eq!(resolves_to(&sb, &dir, "client", "web", std::slice::from_ref(&web))?, vec![web]);
    assert_nothing_left(&sb, &dir, "after two concurrent ups")
}

/// Promise: 20 projects brought up at once from separate processes (as a CI runner does) all
/// come up with their own subnets, addresses, host ports and names, serve, and all come down
/// clean at once.
#[test]
fn twenty_projects_up_and_down_in_parallel_without_collisions() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dirs: Vec<_> = (0..20).map(|i| project(&sb, &format!("ci{i:02}"), SMALL)).collect::<Result<_>>()?;
    all_succeed(dirs.iter().enumerate().map(|(i, d)| Ok((format!("up of ci{i:02}"), spawn_xcompose(&sb, d, &["up", "-d"])?))).collect::<Result<Vec<_>>>()?)?;

    let mut subnets = std::collections::BTreeSet::new();
    let mut ports = std::collections::BTreeSet::new();
    let mut addresses = std::collections::BTreeSet::new();
    for (i, dir) in dirs.iter().enumerate() {
        let name = format!("ci{i:02}");
        let record: serde_json::Value = serde_json::from_slice(&std::fs::read(sb.root().join("networks").join(format!("{name}_default.json")))?)?;
        assert!(subnets.insert(record["subnet"]["subnet"].to_string()), "{name}'s subnet is another project's: {record}");
        let port = xcompose(&sb, dir, &["port", "web", "80"])?.trim().to_string();
        assert!(ports.insert(port.clone()), "{name}'s host port {port} is another project's");
        assert_eq!(sb.run_ok("timeout", &["3", "busybox", "wget", "-q", "-O", "-", &format!("http://{port}/index.html")])?.trim(), xcompose(&sb, dir, &["exec", "-T", "web", "hostname"])?.trim(), "{name} serves on {port}");
        let web = address(&sb, dir, "web")?;
        assert_eq!(resolves_to(&sb, dir, "client", "web", std::slice::from_ref(&web))?, vec![web.clone()], "{name}'s names");
        addresses.insert((record["subnet"]["subnet"].to_string(), web));
    }
    assert_eq!(addresses.len(), 20);

    all_succeed(dirs.iter().enumerate().map(|(i, d)| Ok((format!("down of ci{i:02}"), spawn_xcompose(&sb, d, &["down", "-v"])?))).collect::<Result<Vec<_>>>()?)?;
    assert_nothing_left(&sb, &dirs[0], "after 20 projects came down in parallel")
}

/// The steps (fault points) `args` passes on the project in `dir`, in order, each as
/// `NAME#N` for its N-th pass: only the first and the last pass of each point, which bounds the
/// runs while still cutting the first and the last of repeated steps.
fn steps_of(sb: &Sandbox, dir: &Path, args: &[&str]) -> Result<Vec<String>> {
    let trace = sb.temp_dir().join("fault-trace");
    let _ = std::fs::remove_file(&trace);
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(args).env("XCOMPOSE_FAULT_TRACE", &trace).output()?;
    anyhow::ensure!(out.status.success(), "{args:?} failed while traced: {}", String::from_utf8_lossy(&out.stderr));
    let names: Vec<String> = std::fs::read_to_string(&trace).unwrap_or_default().lines().map(str::to_string).collect();
    let mut steps = Vec::new();
    for name in names.iter().collect::<std::collections::BTreeSet<_>>() {
        let passes = names.iter().filter(|n| *n == name).count();
        steps.push(format!("{name}#1"));
        if passes > 1 {
            steps.push(format!("{name}#{passes}"));
        }
    }
    Ok(steps)
}

/// Runs `args` on the project in `dir` with `XCOMPOSE_FAULT_AT=step`; fails unless it died of
/// SIGKILL there.
fn killed_at(sb: &Sandbox, dir: &Path, args: &[&str], step: &str) -> Result<()> {
    use std::os::unix::process::ExitStatusExt;
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(args).env("XCOMPOSE_FAULT_AT", step).output()?;
    anyhow::ensure!(out.status.signal() == Some(9), "{args:?} was not killed at {step} ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    Ok(())
}

/// Asserts the small project runs as it should: both containers running, the web server
/// answering on its published port, the client resolving it.
fn assert_small_up(sb: &Sandbox, dir: &Path, project: &str, after: &str) -> Result<()> {
    let expected: BTreeMap<String, String> = [(format!("{project}-client-1"), "running".to_string()), (format!("{project}-web-1"), "running".to_string())].into();
    assert_eq!(states(sb, dir)?, expected, "{after}");
    let port = xcompose(sb, dir, &["port", "web", "80"])?.trim().to_string();
    assert!(sb.run_ok("timeout", &["3", "busybox", "wget", "-q", "-O", "-", &format!("http://{port}/index.html")]).is_ok(), "web serves on {port} {after}");
    let web = address(sb, dir, "web")?;
    assert_eq!(resolves_to(sb, dir, "client", "web", std::slice::from_ref(&web))?, vec![web], "names resolve {after}");
    Ok(())
}

/// Promise: `up -d` killed with SIGKILL at any of its steps converges when run again (the
/// project runs, serves and resolves), and `down -v` then leaves nothing.
#[test]
fn up_killed_at_every_step_converges() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "fup", SMALL)?;
    let steps = steps_of(&sb, &dir, &["up", "-d"])?;
    assert!(steps.len() >= 10, "up passes its steps: {steps:?}");
    assert_nothing_left(&sb, &dir, "after the traced up")?;
    for step in &steps {
        killed_at(&sb, &dir, &["up", "-d"], step)?;
        xcompose(&sb, &dir, &["up", "-d"]).with_context(|| format!("up after a kill at {step}"))?;
        assert_small_up(&sb, &dir, "fup", &format!("after a kill at {step}"))?;
        assert_nothing_left(&sb, &dir, &format!("after up was killed at {step}"))?;
    }
    Ok(())
}

/// Promise: `down -v` killed with SIGKILL at any of its steps leaves nothing once run again.
#[test]
fn down_killed_at_every_step_converges() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "fdown", SMALL)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let steps = steps_of(&sb, &dir, &["down", "-v"])?;
    assert!(steps.len() >= 8, "down passes its steps: {steps:?}");
    for step in &steps {
        xcompose(&sb, &dir, &["up", "-d"])?;
        killed_at(&sb, &dir, &["down", "-v"], step)?;
        assert_nothing_left(&sb, &dir, &format!("after down was killed at {step}"))?;
    }
    Ok(())
}

/// Promise: `run --rm` killed with SIGKILL at any of its steps: running it again works, the
/// killed run's container goes with `down` (as compose's), and nothing is left.
#[test]
fn run_rm_killed_at_every_step_converges() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "frun", SMALL)?;
    let args = ["run", "--rm", "client", "nslookup", "web"];
    xcompose(&sb, &dir, &["up", "-d", "web"])?;
    let steps = steps_of(&sb, &dir, &args)?;
    assert!(steps.iter().any(|s| s.starts_with("run.started")), "run passes its steps: {steps:?}");
    for step in &steps {
        xcompose(&sb, &dir, &["up", "-d", "web"])?;
        killed_at(&sb, &dir, &args, step)?;
        let answer = xcompose(&sb, &dir, &args).with_context(|| format!("run after a kill at {step}"))?;
        assert!(answer.contains(&address(&sb, &dir, "web")?), "the one-off resolves web after a kill at {step}: {answer}");
        assert_nothing_left(&sb, &dir, &format!("after run was killed at {step}"))?;
    }
    Ok(())
}

/// One service that needs no network: what a one-off run of a loaded image uses.
const ONE_OFF: &str = r#"
services:
  t:
    image: busybox:latest
    network_mode: none
"#;

/// Names that only a write in progress makes: `image load`'s staging directories, atomic
/// writes' temporary files, layers being unpacked, volumes being made or removed.
fn is_temporary(name: &str) -> bool {
    [".load-", ".tmp-", ".new-", ".removing-", ".creating-"].iter().any(|p| name.starts_with(p)) || name.contains(".unpacking-")
}

/// Asserts that no file or directory under the state root is one a write in progress makes.
fn assert_no_temporaries(sb: &Sandbox, after: &str) -> Result<()> {
    let mut pending = vec![sb.root().to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(!is_temporary(&name), "{} left {after}", entry.path().display());
            if entry.file_type()?.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    Ok(())
}

/// Promise: `image load` killed with SIGKILL at any of its steps: loading again works, the image
/// is listed and runs, and no staging or temporary file is left in the state root.
#[test]
fn image_load_killed_at_every_step_converges() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "fload", ONE_OFF)?;
    let archive = sb.temp_dir().join("busybox-saved.tar");
    let archive = archive.to_str().context("the archive's path is not UTF-8")?;
    xcompose(&sb, &dir, &["image", "save", "-o", archive, "busybox:latest"])?;
    let load = ["image", "load", "-i", archive];
    xcompose(&sb, &dir, &["image", "rm", "busybox:latest"])?;
    let steps = steps_of(&sb, &dir, &load)?;
    assert!(steps.iter().any(|s| s.starts_with("image.commit.indexed")) && steps.len() >= 5, "image load passes its steps: {steps:?}");
    for step in &steps {
        xcompose(&sb, &dir, &["image", "rm", "busybox:latest"]).with_context(|| format!("image rm before a kill at {step}"))?;
        killed_at(&sb, &dir, &load, step)?;
        let loaded = xcompose(&sb, &dir, &load).with_context(|| format!("image load after a kill at {step}"))?;
        assert_eq!(loaded, "Loaded image: busybox:latest\n", "after a kill at {step}");
        let listed = xcompose(&sb, &dir, &["image", "ls"])?;
        assert!(listed.lines().any(|l| l.split_whitespace().take(2).eq(["busybox", "latest"])), "busybox:latest listed after a kill at {step}: {listed}");
        assert_eq!(xcompose(&sb, &dir, &["run", "--rm", "t", "echo", "usable"])?, "usable\n", "the image runs after a kill at {step}");
        assert_no_temporaries(&sb, &format!("after image load was killed at {step}"))?;
    }
    Ok(())
}

/// Promise: `volume rm` killed with SIGKILL at any of its steps: the volume is gone (running
/// the command again removes it, or says, as Docker does, that there is no such volume), its
/// content with it (a volume made again under its name is empty), and nothing is left behind.
#[test]
fn volume_rm_killed_at_every_step_converges() -> Result<()> {
    let sb = Sandbox::new()?;
    let dir = project(&sb, "fvol", ONE_OFF)?;
    let data = sb.root().join("volumes/doomed/_data");
    let remove = ["volume", "rm", "doomed"];
    xcompose(&sb, &dir, &["volume", "create", "doomed"])?;
    let steps = steps_of(&sb, &dir, &remove)?;
    assert!(steps.iter().any(|s| s.starts_with("volume.remove.hidden")), "volume rm passes its steps: {steps:?}");
    for step in &steps {
        xcompose(&sb, &dir, &["volume", "create", "doomed"])?;
        std::fs::write(data.join("kept"), "content")?;
        killed_at(&sb, &dir, &remove, step)?;
        let again = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).args(remove).output()?;
        let said = String::from_utf8_lossy(&again.stderr);
        assert!(again.status.success() || said.contains("no such volume"), "volume rm after a kill at {step}: {said}");
        let listed = xcompose(&sb, &dir, &["volume", "ls", "-q"])?;
        assert!(!listed.lines().any(|l| l == "doomed"), "doomed still listed after a kill at {step}: {listed}");
        assert_no_temporaries(&sb, &format!("after volume rm was killed at {step}"))?;
        xcompose(&sb, &dir, &["volume", "create", "doomed"])?;
        assert!(!data.join("kept").exists(), "a volume made again after a kill at {step} has the old content");
        xcompose(&sb, &dir, &["volume", "rm", "doomed"])?;
    }
    Ok(())
}

/// Runs xcompose `args` with the state root `root` inside the sandbox.
fn xcompose_at(sb: &Sandbox, root: &Path, args: &[&str]) -> Result<std::process::Output> {
    Ok(sb.command(XCOMPOSE).arg("--root").arg(root).args(args).output()?)
}

/// Mounts a 16 MiB tmpfs at `<temp>/small` inside the sandbox and fills it with `<small>/filler`
/// until only `left` KiB are free; the mount point.
fn small_full_root(sb: &Sandbox, left: u64) -> Result<std::path::PathBuf> {
    let small = sb.temp_dir().join("small");
    std::fs::create_dir_all(&small)?;
    let path = small.to_str().context("the mount point is not UTF-8")?;
    sb.run_ok("mount", &["-t", "tmpfs", "-o", "size=16m", "tmpfs", path])?;
    fill(sb, &format!("{path}/filler"), left)?;
    Ok(small)
}

/// Fills the file system of `filler` to the end with that file, then gives `left` KiB back.
fn fill(sb: &Sandbox, filler: &str, left: u64) -> Result<()> {
    let filled = sb.run("dd", &["if=/dev/zero", &format!("of={filler}"), "bs=64k"])?;
    assert!(!filled.status.success(), "dd filled the tmpfs to the end");
    sb.run_ok("truncate", &["-s", &format!("-{left}K"), filler])?;
    Ok(())
}

/// A small tmpfs state root (see [`small_full_root`]), its filler removed, with the busybox
/// image of project `dir` loaded into it: (the root, the filler's path, to fill it again).
fn small_root_with_busybox(sb: &Sandbox, dir: &Path) -> Result<(std::path::PathBuf, String)> {
    let archive = sb.temp_dir().join("busybox-saved.tar");
    let archive = archive.to_str().context("the archive's path is not UTF-8")?;
    xcompose(sb, dir, &["image", "save", "-o", archive, "busybox:latest"])?;
    let small = small_full_root(sb, 1024)?;
    let filler = format!("{}/filler", small.display());
    sb.run_ok("rm", &[&filler])?;
    let loaded = xcompose_at(sb, &small, &["image", "load", "-i", archive])?;
    anyhow::ensure!(loaded.status.success(), "load: {}", String::from_utf8_lossy(&loaded.stderr));
    Ok((small, filler))
}

/// Asserts that every JSON file under `root` (seen inside the sandbox) parses and that no
/// temporary name is left there.
fn assert_state_whole(sb: &Sandbox, root: &Path, after: &str) -> Result<()> {
    let root = root.to_str().context("the state root is not UTF-8")?;
    for path in sb.run_ok("find", &[root])?.lines() {
        let name = path.rsplit('/').next().unwrap_or(path);
        assert!(!is_temporary(name), "{path} left {after}");
        if name.ends_with(".json") && sb.run_ok("test", &["-f", path]).is_ok() {
            let text = sb.run_ok("cat", &[path])?;
            assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok(), "{path} is not whole JSON {after}: {text:?}");
        }
    }
    Ok(())
}

/// Promise: `image load` onto a full disk fails with one line naming ENOSPC and where, leaves
/// every state file whole and no staging behind; once space is freed the same load gives a
/// listed image that runs.
#[test]
fn image_load_on_a_full_disk_fails_cleanly_and_converges_once_freed() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "fullload", ONE_OFF)?;
    let archive = sb.temp_dir().join("busybox-saved.tar");
    let archive = archive.to_str().context("the archive's path is not UTF-8")?;
    xcompose(&sb, &dir, &["image", "save", "-o", archive, "busybox:latest"])?;
    let small = small_full_root(&sb, 32)?;
    let load = ["image", "load", "-i", archive];
    let failed = xcompose_at(&sb, &small, &load)?;
    let said = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success(), "image load on a full disk failed");
    assert_eq!(said.trim_end().lines().count(), 1, "one line: {said}");
    assert!(said.to_lowercase().contains("no space left on device") && said.contains(&*small.to_string_lossy()), "names ENOSPC and where: {said}");
    assert_state_whole(&sb, &small, "after a load on a full disk")?;
    sb.run_ok("rm", &[&format!("{}/filler", small.display())])?;
    let loaded = xcompose_at(&sb, &small, &load)?;
    assert_eq!(String::from_utf8_lossy(&loaded.stdout), "Loaded image: busybox:latest\n", "load once freed: {}", String::from_utf8_lossy(&loaded.stderr));
    let compose = dir.join("compose.yaml");
    let run = xcompose_at(&sb, &small, &["-f", compose.to_str().context("path")?, "run", "--rm", "t", "echo", "usable"])?;
    assert_eq!(String::from_utf8_lossy(&run.stdout), "usable\n", "the loaded image runs: {}", String::from_utf8_lossy(&run.stderr));
    assert_state_whole(&sb, &small, "after the load once freed")?;
    Ok(())
}

/// Promise: `up -d` onto a full disk fails with an error line naming ENOSPC and where, leaves
/// every state file whole; once space is freed the same `up -d` brings the project up and
/// serving, and `down -v` leaves nothing of it.
#[test]
fn up_on_a_full_disk_fails_cleanly_and_converges_once_freed() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "fullup", SMALL)?;
    let (small, filler) = small_root_with_busybox(&sb, &dir)?;
    fill(&sb, &filler, 8)?;
    let compose = dir.join("compose.yaml");
    let compose = compose.to_str().context("path")?;
    let failed = xcompose_at(&sb, &small, &["-f", compose, "up", "-d"])?;
    let said = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success(), "up -d on a full disk failed");
    let errors: Vec<&str> = said.lines().filter(|l| l.to_lowercase().contains("no space left on device")).collect();
    assert_eq!(errors.len(), 1, "one error line naming ENOSPC: {said}");
    assert!(errors[0].contains(&*small.to_string_lossy()), "the error names where: {said}");
    assert_state_whole(&sb, &small, "after up on a full disk")?;
    sb.run_ok("rm", &[&filler])?;
    let up = xcompose_at(&sb, &small, &["-f", compose, "up", "-d"])?;
    anyhow::ensure!(up.status.success(), "up once freed: {}", String::from_utf8_lossy(&up.stderr));
    let port = String::from_utf8(xcompose_at(&sb, &small, &["-f", compose, "port", "web", "80"])?.stdout)?;
    let page = sb.run_ok("timeout", &["3", "busybox", "wget", "-q", "-O", "-", &format!("http://{}/index.html", port.trim())])?;
    assert!(!page.trim().is_empty(), "web serves on {port} once freed");
    assert_state_whole(&sb, &small, "after up once freed")?;
    let down = xcompose_at(&sb, &small, &["-f", compose, "down", "-v"])?;
    anyhow::ensure!(down.status.success(), "down: {}", String::from_utf8_lossy(&down.stderr));
    let root = small.to_str().context("path")?;
    for kind in ["containers", "volumes", "networks", "endpoints"] {
        let left = sb.run_ok("find", &[&format!("{root}/{kind}"), "-mindepth", "1", "-maxdepth", "1", "-not", "-name", "*.lock"]).unwrap_or_default();
        assert_eq!(left, "", "{kind} left after down -v");
    }
    Ok(())
}

/// A service whose named volume is mounted over the image's `/bin` (one busybox binary, about a
/// MiB, hard-linked under every command's name), so seeding the volume copies that binary.
const SEEDED: &str = r#"
services:
  app:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    volumes: [tools:/bin]
volumes:
  tools:
"#;

/// Promise: `up -d` whose named-volume seeding hits a full disk fails with an error line naming
/// ENOSPC and where, leaves every state file whole and the volume empty (Docker seeds a volume
/// only while it is empty, so a half copy would never be completed); once space is freed the
/// same `up -d` seeds the volume whole and the container runs from it.
#[test]
fn volume_seeding_on_a_full_disk_fails_cleanly_and_converges_once_freed() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "fullseed", SEEDED)?;
    let (small, filler) = small_root_with_busybox(&sb, &dir)?;
    fill(&sb, &filler, 256)?;
    let compose = dir.join("compose.yaml");
    let compose = compose.to_str().context("path")?;
    let root = small.to_str().context("path")?;
    let failed = xcompose_at(&sb, &small, &["-f", compose, "up", "-d"])?;
    let said = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success(), "up -d with seeding on a full disk failed");
    let errors: Vec<&str> = said.lines().filter(|l| l.to_lowercase().contains("no space left on device")).collect();
    assert_eq!(errors.len(), 1, "one error line naming ENOSPC: {said}");
    let volume = format!("{root}/volumes/fullseed_tools/");
    assert!(errors[0].contains(&volume), "the error names the volume's file: {said}");
    assert_state_whole(&sb, &small, "after seeding on a full disk")?;
    let half = sb.run_ok("find", &[&format!("{root}/volumes"), "-path", "*tools*", "-mindepth", "3"])?;
    assert_eq!(half, "", "the volume is left empty, not half seeded");
    sb.run_ok("rm", &[&filler])?;
    let up = xcompose_at(&sb, &small, &["-f", compose, "up", "-d"])?;
    anyhow::ensure!(up.status.success(), "up once freed: {}", String::from_utf8_lossy(&up.stderr));
    let ran = xcompose_at(&sb, &small, &["-f", compose, "exec", "app", "ls", "/bin/busybox", "/bin/sleep"])?;
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "/bin/busybox\n/bin/sleep\n", "the volume is seeded whole: {}", String::from_utf8_lossy(&ran.stderr));
    assert_state_whole(&sb, &small, "after up once freed")?;
    let down = xcompose_at(&sb, &small, &["-f", compose, "down", "-v"])?;
    anyhow::ensure!(down.status.success(), "down: {}", String::from_utf8_lossy(&down.stderr));
    Ok(())
}

/// A service printing a numbered 4 KiB line every few milliseconds.
const CHATTY: &str = r#"
services:
  app:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "pad=$(head -c 4000 /dev/zero | tr '\\0' x); i=0; while :; do i=$((i+1)); echo \"tick $$i $$pad\"; sleep 0.01; done"]
"#;

/// The numbers of the `tick` lines `logs app` shows, checking that each line is whole.
fn ticks(sb: &Sandbox, root: &Path, compose: &str) -> Result<Vec<u64>> {
    let logs = xcompose_at(sb, root, &["-f", compose, "logs", "--no-log-prefix", "app"])?;
    anyhow::ensure!(logs.status.success(), "logs: {}", String::from_utf8_lossy(&logs.stderr));
    let text = String::from_utf8(logs.stdout)?;
    text.lines()
        .map(|line| {
            let mut words = line.split(' ');
            let (tick, n, pad) = (words.next(), words.next(), words.next());
            anyhow::ensure!(tick == Some("tick") && pad.is_some_and(|p| p.len() == 4000), "a whole line: {line:?}");
            Ok(n.context("a number")?.parse()?)
        })
        .collect()
}

/// Promise: a container whose output fills the disk keeps running (as with Docker, a log that
/// cannot be written loses lines, never the container); no half line is left in its log, and
/// once space is freed new lines are logged and `logs` reads them all.
#[test]
fn logging_on_a_full_disk_keeps_the_container_and_resumes_once_freed() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "fulllog", CHATTY)?;
    let (small, filler) = small_root_with_busybox(&sb, &dir)?;
    let compose = dir.join("compose.yaml");
    let compose = compose.to_str().context("path")?;
    let up = xcompose_at(&sb, &small, &["-f", compose, "up", "-d"])?;
    anyhow::ensure!(up.status.success(), "up: {}", String::from_utf8_lossy(&up.stderr));
    fill(&sb, &filler, 0)?;
    // The log takes what dd left; then the lines printed meanwhile have nowhere to go.
    std::thread::sleep(Duration::from_millis(1500));
    sb.run_ok("rm", &[&filler])?;
    let before = ticks(&sb, &small, compose)?;
    let last = *before.last().context("lines logged before the disk filled")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let now = ticks(&sb, &small, compose)?;
        if now.last().is_some_and(|n| *n > last + 10) || Instant::now() > deadline {
            break now;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(after.last().is_some_and(|n| *n > last + 10), "new lines logged once freed: last {last}, now {:?}", after.last());
    assert!(after.windows(2).all(|w| w[0] < w[1]), "lines in order");
    assert!(after.windows(2).any(|w| w[1] > w[0] + 1), "lines were lost while the disk was full (it really filled)");
    let ps = xcompose_at(&sb, &small, &["-f", compose, "ps", "--format", "{{.State}}"])?;
    assert_eq!(String::from_utf8_lossy(&ps.stdout), "running\n", "the container kept running");
    assert_state_whole(&sb, &small, "after logging on a full disk")?;
    let down = xcompose_at(&sb, &small, &["-f", compose, "down", "-v"])?;
    anyhow::ensure!(down.status.success(), "down: {}", String::from_utf8_lossy(&down.stderr));
    Ok(())
}

/// A service watched with a `sync+restart` rule (a config file) and a `sync+exec` rule (a
/// source directory whose command records what it saw).
const WATCHED: &str = r#"
services:
  app:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    develop:
      watch:
        - {path: ./app.conf, action: sync+restart, target: /etc/app.conf}
        - {path: ./src, action: sync+exec, target: /app, exec: {command: ["sh", "-c", "cat /app/v > /tmp/ran"]}}
"#;

/// `watch` on the project in `dir`, killing itself at `fault` if given, its stderr lines sent on
/// the receiver.
fn spawn_watch(sb: &Sandbox, dir: &Path, fault: Option<&str>) -> Result<(std::process::Child, std::sync::mpsc::Receiver<String>)> {
    let mut command = sb.command(XCOMPOSE);
    command.arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).arg("watch").stderr(std::process::Stdio::piped());
    if let Some(step) = fault {
        command.env("XCOMPOSE_FAULT_AT", step);
    }
    let mut watch = command.spawn()?;
    let stderr = watch.stderr.take().context("stderr")?;
    let (sender, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    Ok((watch, lines))
}

/// Waits (up to 20 s) for a line containing `wanted`; false if the stream ended first.
fn saw_line(lines: &std::sync::mpsc::Receiver<String>, wanted: &str) -> Result<bool> {
    loop {
        match lines.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line.contains(wanted) => return Ok(true),
            Ok(_) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(false),
            Err(e) => anyhow::bail!("no {wanted:?} from watch: {e}"),
        }
    }
}

/// Changes both watched paths to `version`.
fn edit_watched(dir: &Path, version: &str) -> Result<()> {
    std::fs::write(dir.join("app.conf"), format!("{version}\n"))?;
    std::fs::write(dir.join("src/v"), format!("{version}\n"))?;
    Ok(())
}

/// Promise: `watch` killed with SIGKILL at any of its steps (its initial `up`, a sync, a restart,
/// a `sync+exec` command) converges when run again: the container gets the next change, is
/// restarted and runs the command, and `down -v` then leaves nothing.
#[test]
fn watch_killed_at_every_step_converges() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "fwatch", WATCHED)?;
    std::fs::create_dir(dir.join("src"))?;
    edit_watched(&dir, "v0")?;
    let steps = ["watch.up#1", "watch.synced#1", "watch.synced#2", "watch.restarted#1", "watch.executed#1"];
    for (i, step) in steps.iter().enumerate() {
        let (mut killed, lines) = spawn_watch(&sb, &dir, Some(step))?;
        if saw_line(&lines, "Watch enabled")? {
            edit_watched(&dir, &format!("k{i}"))?;
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = killed.try_wait()? {
                break status;
            }
            if Instant::now() > deadline {
                let _ = killed.kill();
                anyhow::bail!("watch was not killed at {step}");
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "watch died of SIGKILL at {step}");
        let (mut watch, lines) = spawn_watch(&sb, &dir, None)?;
        let converged = (|| -> Result<()> {
            anyhow::ensure!(saw_line(&lines, "Watch enabled")?, "watch started again after a kill at {step}");
            let started = containers(&sb, &dir)?["fwatch-app-1"].2.clone();
            let version = format!("v{}", i + 1);
            edit_watched(&dir, &version)?;
            let cat = |path: &str| xcompose(&sb, &dir, &["exec", "-T", "app", "cat", path]).unwrap_or_default();
            let deadline = Instant::now() + Duration::from_secs(20);
            while !(cat("/etc/app.conf") == format!("{version}\n") && cat("/tmp/ran") == format!("{version}\n") && containers(&sb, &dir).is_ok_and(|c| c["fwatch-app-1"].2 != started)) {
                anyhow::ensure!(Instant::now() < deadline, "the change {version} did not reach the container after a kill at {step}");
                std::thread::sleep(Duration::from_millis(100));
            }
            Ok(())
        })();
        let _ = watch.kill();
        let _ = watch.wait();
        converged?;
        assert_eq!(states(&sb, &dir)?, [("fwatch-app-1".to_string(), "running".to_string())].into(), "one running container after a kill at {step}");
    }
    assert_nothing_left(&sb, &dir, "after watch was killed at every step")
}
