//! `xcompose up -d` / `down -v` end to end on a real stack in a sandbox: a one-shot migration
//! fills a named volume, a healthcheck-gated "db", a web server on two custom networks, and a
//! worker. Proves that the stack comes up and serves, that a second `up` changes nothing, that
//! an edit recreates only the edited service (and restarts its `restart: true` dependents), that
//! two projects with the same service names live side by side, and that `down -v` leaves nothing.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{ensure, Context, Result};
use xcompose_testkit::Sandbox;

mod common;
use common::{project, sandbox_with_busybox, xcompose, XCOMPOSE};

const STACK: &str = r#"
services:
  migrate:
    image: busybox:latest
    command: ["sh", "-c", "echo 41 > /data/counter"]
    volumes: [data:/data]
  db:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "touch /tmp/ready; exec sleep 1000"]
    volumes: [data:/data]
    networks: [back]
    environment: {DB_VERSION: "1"}
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 100ms
      start_interval: 100ms
    depends_on:
      migrate: {condition: service_completed_successfully}
  web:
    image: busybox:latest
    init: true
    command: ["httpd", "-f", "-p", "80", "-h", "/data"]
    volumes: [data:/data:ro]
    networks: [front, back]
    depends_on:
      db: {condition: service_healthy, restart: true}
  worker:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    environment: {WORKER: "1"}
    networks: [back]
    depends_on: [db]
  edge:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    networks: [front]
networks:
  front:
  back:
volumes:
  data:
"#;

/// Service containers by name: (id, state, when it started).
fn containers(sb: &Sandbox, dir: &Path) -> Result<BTreeMap<String, (String, String, String)>> {
    let mut out = BTreeMap::new();
    for line in xcompose(sb, dir, &["ps", "-a", "--format", "json"])?.lines() {
        let c: serde_json::Value = serde_json::from_str(line)?;
        let id = c["ID"].as_str().context("ID")?.to_string();
        let state: serde_json::Value = serde_json::from_slice(&std::fs::read(sb.root().join("containers").join(&id).join("state.json"))?)?;
        out.insert(
            c["Name"].as_str().context("Name")?.to_string(),
            (id, c["State"].as_str().context("State")?.to_string(), state["started_at"].to_string()),
        );
    }
    Ok(out)
}

/// The address of a service's container, as the container itself sees it.
fn address(sb: &Sandbox, dir: &Path, service: &str) -> Result<String> {
    Ok(xcompose(sb, dir, &["exec", "-T", service, "hostname", "-i"])?.trim().to_string())
}

/// Names in `dir`, apart from hidden ones (locks).
fn entries(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            names.push(name);
        }
    }
    Ok(names)
}

fn links(sb: &Sandbox) -> Result<String> {
    sb.run_ok("ip", &["-o", "link", "show"]).map(|s| s.lines().map(|l| l.split_once(": ").map_or(l, |(_, r)| r).split(':').next().unwrap_or("").to_string()).collect::<Vec<_>>().join("\n"))
}

#[test]
fn up_noop_edit_two_projects_and_down() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let links_before = links(&sb)?;
    let dir = project(&sb, "shop", STACK)?;

    xcompose(&sb, &dir, &["up", "-d"])?;
    let first = containers(&sb, &dir)?;
    let states: BTreeMap<&str, &str> = first.iter().map(|(n, (_, s, _))| (n.as_str(), s.as_str())).collect();
    assert_eq!(
        states,
        BTreeMap::from([("shop-db-1", "running"), ("shop-edge-1", "running"), ("shop-migrate-1", "exited"), ("shop-web-1", "running"), ("shop-worker-1", "running")])
    );
    let web = address(&sb, &dir, "web")?;
    let page = sb.run_ok("busybox", &["wget", "-q", "-O", "-", &format!("http://{web}/counter")])?;
    assert_eq!(page.trim(), "41", "the web server serves what the migration wrote into the volume");
    // Services find each other by name on the networks they share, and only there.
    let db = address(&sb, &dir, "db")?;
    let resolved = xcompose(&sb, &dir, &["exec", "-T", "web", "nslookup", "db"])?;
    assert!(resolved.contains(&db), "web resolves db to {db}: {resolved}");
    let by_name = xcompose(&sb, &dir, &["exec", "-T", "worker", "wget", "-q", "-O", "-", "http://web/counter"])?;
    assert_eq!(by_name.trim(), "41", "the worker reaches web by its service name");
    let edge = |args: &[&str]| sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["exec", "-T", "edge"]).args(args).output();
    assert!(edge(&["nslookup", "web"])?.status.success(), "edge (front) resolves web (front, back)");
    assert!(!edge(&["nslookup", "db"])?.status.success(), "edge (front) does not resolve db (back only)");
    assert!(!edge(&["ping", "-c", "1", "-W", "1", &db])?.status.success(), "edge cannot reach db, on a network it is not on");
    let isolated = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["exec", "-T", "migrate", "true"]).output()?;
    assert!(!isolated.status.success(), "exec into an exited container fails");

    // A second `up` changes nothing running: same containers, not restarted.
    xcompose(&sb, &dir, &["up", "-d"])?;
    let second = containers(&sb, &dir)?;
    for name in ["shop-db-1", "shop-web-1", "shop-worker-1"] {
        assert_eq!(first[name], second[name], "{name} untouched by a no-op up");
    }

    // Editing the worker recreates the worker only.
    std::fs::write(dir.join("compose.yaml"), STACK.replace("WORKER: \"1\"", "WORKER: \"2\""))?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let third = containers(&sb, &dir)?;
    assert_ne!(third["shop-worker-1"].0, second["shop-worker-1"].0, "the edited worker is recreated");
    for name in ["shop-db-1", "shop-web-1"] {
        assert_eq!(third[name], second[name], "{name} untouched by the worker's edit");
    }
    assert_eq!(xcompose(&sb, &dir, &["exec", "-T", "worker", "sh", "-c", "echo $WORKER"])?.trim(), "2");

    // Editing db recreates it and restarts web (restart: true), not the worker.
    let edited = STACK.replace("WORKER: \"1\"", "WORKER: \"2\"").replace("DB_VERSION: \"1\"", "DB_VERSION: \"2\"");
    std::fs::write(dir.join("compose.yaml"), &edited)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let fourth = containers(&sb, &dir)?;
    assert_ne!(fourth["shop-db-1"].0, third["shop-db-1"].0, "db is recreated");
    assert_eq!(fourth["shop-web-1"].0, third["shop-web-1"].0, "web keeps its container");
    assert_ne!(fourth["shop-web-1"].2, third["shop-web-1"].2, "web is restarted for its restart: true dependency");
    assert_eq!(fourth["shop-worker-1"], third["shop-worker-1"], "the worker is not restarted");

    // The same services under another project name run beside the first.
    let other = project(&sb, "other", &edited)?;
    xcompose(&sb, &other, &["-p", "shop2", "up", "-d"])?;
    let names = xcompose(&sb, &other, &["-p", "shop2", "ps", "--format", "json"])?;
    assert_eq!(names.lines().count(), 4, "shop2's db, edge, web and worker run: {names}");
    assert_eq!(containers(&sb, &dir)?.len(), 5, "shop is unaffected by shop2");

    xcompose(&sb, &other, &["-p", "shop2", "down", "-v"])?;
    xcompose(&sb, &dir, &["down", "-v"])?;
    for kind in ["containers", "volumes", "networks", "endpoints", "ipam"] {
        assert_eq!(entries(&sb.root().join(kind))?, Vec::<String>::new(), "no {kind} left");
    }
    assert_eq!(links(&sb)?, links_before, "no bridge or veth left");
    let daemons = std::process::Command::new("pgrep").args(["-a", "-f", &format!("__(supervise|dns) {}", sb.root().display())]).output()?;
    assert!(daemons.stdout.is_empty(), "no supervisor or DNS server left: {}", String::from_utf8_lossy(&daemons.stdout));
    Ok(())
}

const JOBS: &str = r#"
services:
  job:
    image: busybox:latest
    command: ["sh", "-c", "echo out; echo err >&2; exit 3"]
  side:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
  homes:
    image: busybox:latest
    profiles: [seed]
    command: ["ls", "/home"]
    volumes: [homes:/home]
volumes:
  homes:
"#;

#[test]
fn run_rm_and_exit_code_from() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "jobs", JOBS)?;
    let compose = |args: &[&str]| sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(args).output();

    let out = compose(&["run", "--rm", "job"])?;
    assert_eq!(out.status.code(), Some(3), "run returns the container's exit code");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("err\n"), "the container's stderr goes to stderr");
    let out = compose(&["run", "--rm", "-e", "CODE=5", "job", "sh", "-c", "exit $CODE"])?;
    assert_eq!(out.status.code(), Some(5), "the command and environment given to run are used");
    assert_eq!(entries(&sb.root().join("containers"))?, Vec::<String>::new(), "--rm removed the one-off containers");
    let out = compose(&["run", "--rm", "homes"])?;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "app\n", "a new named volume is seeded from the image's /home");

    let out = compose(&["up", "--exit-code-from", "job"])?;
    assert_eq!(out.status.code(), Some(3), "up --exit-code-from returns job's code: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Compose prefixes with the service and number, padded to one more than the longest.
    assert!(stdout.contains("job-1   | out") || stdout.contains("job-1  | out"), "attached output is prefixed: {stdout}");
    assert!(!stdout.contains("jobs-job-1"), "the project is not in the prefix: {stdout}");
    assert!(stdout.contains("Aborting on container exit..."), "{stdout}");
    let ps = xcompose(&sb, &dir, &["ps", "--format", "json"])?;
    assert!(ps.trim().is_empty(), "every container was stopped after the abort: {ps}");
    xcompose(&sb, &dir, &["down", "-v"])?;
    assert_eq!(entries(&sb.root().join("volumes"))?, Vec::<String>::new(), "down -v removed the seeded volume");
    Ok(())
}

/// `up -d` killed with SIGKILL at points spread over a cold start, then run again: the second
/// `up` always brings the stack up, and `down -v` then leaves nothing.
#[test]
fn killed_up_converges() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let links_before = links(&sb)?;
    let dir = project(&sb, "crash", STACK)?;
    for delay_ms in [0, 5, 15, 30, 60, 100, 150, 250, 400] {
        let mut up = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["up", "-d"]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn()?;
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = up.kill();
        up.wait()?;
        xcompose(&sb, &dir, &["up", "-d"]).with_context(|| format!("up after a kill at {delay_ms} ms"))?;
        let states: BTreeMap<String, String> = containers(&sb, &dir)?.into_iter().map(|(n, (_, s, _))| (n, s)).collect();
        let expected: BTreeMap<String, String> =
            [("crash-db-1", "running"), ("crash-edge-1", "running"), ("crash-migrate-1", "exited"), ("crash-web-1", "running"), ("crash-worker-1", "running")]
                .map(|(a, b)| (a.into(), b.into()))
                .into();
        assert_eq!(states, expected, "after a kill at {delay_ms} ms");
        let web = address(&sb, &dir, "web").with_context(|| format!("web's address after a kill at {delay_ms} ms"))?;
        sb.run_ok("busybox", &["wget", "-q", "-O", "-", &format!("http://{web}/counter")]).with_context(|| format!("web serves after a kill at {delay_ms} ms"))?;
        xcompose(&sb, &dir, &["down", "-v"])?;
        for kind in ["containers", "volumes", "networks", "endpoints", "ipam"] {
            assert_eq!(entries(&sb.root().join(kind))?, Vec::<String>::new(), "no {kind} left after a kill at {delay_ms} ms");
        }
        assert_eq!(links(&sb)?, links_before, "no bridge or veth left after a kill at {delay_ms} ms");
    }
    Ok(())
}

/// Every stack in `examples/` comes up with `up -d --wait`, runs, and goes with `down -v`.
#[test]
fn examples_come_up_and_go() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").canonicalize()?;
    let links_before = links(&sb)?;
    let mut seen = 0;
    for entry in std::fs::read_dir(&examples)? {
        let dir = entry?.path();
        if !dir.join("compose.yaml").exists() {
            continue;
        }
        seen += 1;
        xcompose(&sb, &dir, &["up", "-d", "--wait"]).with_context(|| format!("{}", dir.display()))?;
        let running = xcompose(&sb, &dir, &["ps", "--format", "json"])?;
        assert!(running.lines().count() >= 1, "{} runs: {running}", dir.display());
        for line in running.lines() {
            let c: serde_json::Value = serde_json::from_str(line)?;
            assert_eq!(c["State"], "running", "{}: {line}", dir.display());
        }
        xcompose(&sb, &dir, &["down", "-v"])?;
    }
    assert!(seen >= 3, "at least three example stacks, found {seen}");
    assert_eq!(links(&sb)?, links_before, "the examples left no bridge or veth");
    Ok(())
}

const PAIR: &str = r#"
services:
  a:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
  b:
    image: busybox:latest
    init: true
    command: ["sleep", "1001"]
    restart: "no"
"#;

/// The state of each container of the project, by name.
fn states(sb: &Sandbox, dir: &Path) -> Result<BTreeMap<String, String>> {
    Ok(containers(sb, dir)?.into_iter().map(|(n, (_, s, _))| (n, s)).collect())
}

/// The freezer state of process `pid`'s cgroup (v1 `freezer.state`, or v2 `cgroup.freeze`).
fn freezer_state(pid: &str) -> Result<String> {
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    if let Some(path) = cgroups.lines().find_map(|l| l.split_once(":freezer:").map(|(_, p)| p.to_string())) {
        return Ok(std::fs::read_to_string(format!("/sys/fs/cgroup/freezer{path}/freezer.state"))?.trim().to_string());
    }
    let path = cgroups.lines().find_map(|l| l.strip_prefix("0::")).context("no freezer cgroup")?;
    let frozen = std::fs::read_to_string(format!("/sys/fs/cgroup{path}/cgroup.freeze"))?;
    Ok(if frozen.trim() == "1" { "FROZEN" } else { "THAWED" }.to_string())
}

#[test]
fn create_start_pause_kill_top_and_friends() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "pair", PAIR)?;
    let both = |a: &str, b: &str| BTreeMap::from([("pair-a-1".to_string(), a.to_string()), ("pair-b-1".to_string(), b.to_string())]);

    xcompose(&sb, &dir, &["create"])?;
    assert_eq!(states(&sb, &dir)?, both("created", "created"));
    xcompose(&sb, &dir, &["start"])?;
    assert_eq!(states(&sb, &dir)?, both("running", "running"));

    xcompose(&sb, &dir, &["pause", "a"])?;
    assert_eq!(states(&sb, &dir)?, both("paused", "running"));
    let top = xcompose(&sb, &dir, &["top", "a"])?;
    let sleeper = top.lines().find(|l| l.ends_with("sleep 1000")).context("top shows a's sleep")?.split_whitespace().nth(1).context("pid")?.to_string();
    assert_eq!(freezer_state(&sleeper)?, "FROZEN", "a's processes are frozen");
    xcompose(&sb, &dir, &["unpause", "a"])?;
    assert_eq!(states(&sb, &dir)?, both("running", "running"));
    assert_eq!(freezer_state(&sleeper)?, "THAWED", "a's processes run again");

    xcompose(&sb, &dir, &["kill", "-s", "KILL", "b"])?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while states(&sb, &dir)?["pair-b-1"] != "exited" {
        assert!(std::time::Instant::now() < deadline, "b exits after kill");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    xcompose(&sb, &dir, &["restart", "b"])?;
    assert_eq!(states(&sb, &dir)?, both("running", "running"));

    let ls = xcompose(&sb, &dir, &["ls"])?;
    assert!(ls.lines().any(|l| l.starts_with("pair") && l.contains("running(2)")), "{ls}");
    let images = xcompose(&sb, &dir, &["images"])?;
    assert!(images.lines().any(|l| l.starts_with("pair-a-1") && l.contains("busybox") && l.contains("latest")), "{images}");
    assert!(xcompose(&sb, &dir, &["version"])?.starts_with("xcompose version"));

    xcompose(&sb, &dir, &["stop", "a"])?;
    assert_eq!(states(&sb, &dir)?, both("exited", "running"));
    xcompose(&sb, &dir, &["rm", "-f", "a"])?;
    assert_eq!(states(&sb, &dir)?.len(), 1, "rm removed the stopped a only");
    xcompose(&sb, &dir, &["down"])?;
    assert!(states(&sb, &dir)?.is_empty());
    Ok(())
}

/// `logs`: prefixed and interleaved by time, `--no-log-prefix`, `--tail`, `--since` and
/// `--until` (absolute and relative), `-t`, coloured prefixes on a terminal only, and a clear
/// error for a time it cannot read.
#[test]
fn logs_tail_since_and_until() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(
        &sb,
        "talk",
        r#"
services:
  talker:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "echo one; sleep 0.2; echo two >&2; sleep 1.5; echo three; exec sleep 1000"]
"#,
    )?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !xcompose(&sb, &dir, &["logs"])?.contains("three") {
        ensure!(std::time::Instant::now() < deadline, "the third line never came");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(xcompose(&sb, &dir, &["logs"])?, "talker-1  | one\ntalker-1  | two\ntalker-1  | three\n");
    assert_eq!(xcompose(&sb, &dir, &["logs", "--no-log-prefix", "--tail", "1"])?, "three\n");
    // The third line came 1.5 s after the first two: a time between them splits the log.
    let stamped = xcompose(&sb, &dir, &["logs", "--no-log-prefix", "-t"])?;
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> =
        stamped.lines().map(|l| chrono::DateTime::parse_from_rfc3339(l.split_whitespace().next().unwrap_or_default())).collect::<Result<_, _>>()?;
    assert_eq!(times.len(), 3, "{stamped}");
    let between = (times[1] + (times[2] - times[1]) / 2).to_rfc3339();
    assert_eq!(xcompose(&sb, &dir, &["logs", "--no-log-prefix", "--since", &between])?, "three\n");
    assert_eq!(xcompose(&sb, &dir, &["logs", "--no-log-prefix", "--until", &between])?, "one\ntwo\n");
    assert_eq!(xcompose(&sb, &dir, &["logs", "--no-log-prefix", "--since", "1h"])?, "one\ntwo\nthree\n");
    assert_eq!(xcompose(&sb, &dir, &["logs", "--no-log-prefix", "--since", "-1h"])?, "");
    // On a terminal the prefix takes the container's colour (compose's first is cyan), unless
    // --no-color or NO_COLOR says otherwise.
    let on_terminal = |extra: &str| -> Result<String> {
        let command = format!("{extra} {XCOMPOSE} --root {} -f {} logs --tail 1", sb.root().display(), dir.join("compose.yaml").display());
        Ok(String::from_utf8(sb.command("script").args(["-qec", &command, "/dev/null"]).output()?.stdout)?)
    };
    let coloured = on_terminal("")?;
    assert!(coloured.contains("\x1b[36mtalker-1  | \x1b[0mthree"), "{coloured:?}");
    assert!(!on_terminal("NO_COLOR=1")?.contains('\x1b'));
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["logs", "--since", "yesterday"]).output()?;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value for \"since\""), "{}", String::from_utf8_lossy(&out.stderr));
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

/// `down --rmi`: `local` keeps images with a custom tag, `all` removes the services' images,
/// refusing (exit 1, Docker's conflict message) one another project's container still uses;
/// a bad value is refused before anything is taken down.
#[test]
fn down_rmi_local_and_all() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let root = sb.root().to_str().unwrap().to_string();
    let stack = "services:\n  idle:\n    image: busybox:latest\n    init: true\n    command: [sleep, '1000']\n";
    let (one, two) = (project(&sb, "one", stack)?, project(&sb, "two", stack)?);
    xcompose(&sb, &one, &["up", "-d"])?;
    xcompose(&sb, &two, &["up", "-d"])?;
    let down = |dir: &Path, rmi: &str| sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["down", "--rmi", rmi]).output();
    let bad = down(&one, "some")?;
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid value for --rmi: \"some\""), "{}", String::from_utf8_lossy(&bad.stderr));
    assert_eq!(containers(&sb, &one)?["one-idle-1"].1, "running", "a refused down takes nothing down");
    xcompose(&sb, &one, &["down", "--rmi", "local"])?;
    let images = || -> Result<String> {
        Ok(sb.run_ok(XCOMPOSE, &["--root", &root, "image", "ls"])?.lines().skip(1).filter_map(|l| Some(format!("{}:{}\n", l.split_whitespace().next()?, l.split_whitespace().nth(1)?))).collect())
    };
    assert!(images()?.contains("busybox:latest"), "local keeps a tagged image");
    xcompose(&sb, &one, &["up", "-d"])?;
    let conflict = down(&one, "all")?;
    let stderr = String::from_utf8_lossy(&conflict.stderr);
    assert_eq!(conflict.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("conflict: unable to remove repository reference \"busybox:latest\""), "{stderr}");
    assert!(images()?.contains("busybox:latest"), "an image in use stays");
    let removed = down(&two, "all")?;
    assert!(removed.status.success(), "{}", String::from_utf8_lossy(&removed.stderr));
    assert!(String::from_utf8_lossy(&removed.stderr).contains("Image busybox:latest  Removed"), "{}", String::from_utf8_lossy(&removed.stderr));
    assert!(!images()?.contains("busybox"), "{}", images()?);
    Ok(())
}

/// `events`: a follower started before `up` sees the project's container events in order, as
/// compose prints them (JSON lines without compose's labels), and nothing of another project;
/// `--since`/`--until` replay the history and end.
#[test]
fn events_follow_and_replay() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let stack = r#"
services:
  app:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    labels: {team: blue}
    healthcheck:
      test: ["CMD", "true"]
      interval: 100ms
      start_interval: 100ms
"#;
    let (watched, other) = (project(&sb, "watched", stack)?, project(&sb, "other", stack)?);
    let mut follower = sb
        .command(XCOMPOSE)
        .arg("--root")
        .arg(sb.root())
        .arg("-f")
        .arg(watched.join("compose.yaml"))
        .args(["events", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    std::thread::sleep(std::time::Duration::from_millis(300));
    xcompose(&sb, &other, &["up", "-d"])?;
    xcompose(&sb, &watched, &["up", "-d", "--wait"])?;
    xcompose(&sb, &watched, &["pause"])?;
    xcompose(&sb, &watched, &["unpause"])?;
    xcompose(&sb, &watched, &["down"])?;
    xcompose(&sb, &other, &["down"])?;
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = follower.kill();
    let out = follower.wait_with_output()?;
    let events: Vec<serde_json::Value> = String::from_utf8(out.stdout)?.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap_or_default()).collect();
    assert_eq!(actions, ["create", "start", "health_status: healthy", "pause", "unpause", "kill", "die", "stop", "destroy"], "{events:#?}");
    for e in &events {
        assert_eq!(e["type"], "container");
        assert_eq!(e["service"], "app");
        assert_eq!(e["attributes"]["name"], "watched-app-1");
        assert_eq!(e["attributes"]["image"], "busybox:latest");
        assert_eq!(e["attributes"]["team"], "blue");
        assert!(e["attributes"].as_object().is_some_and(|a| a.keys().all(|k| !k.starts_with("com.docker.compose."))), "{e}");
    }
    assert_eq!(events[6]["attributes"]["exitCode"], "143", "sleep under init dies of the stop signal: {}", events[6]);
    assert_eq!(events[5]["attributes"]["signal"], "15");
    // The history, replayed in the text format, ends by itself.
    let replay = xcompose(&sb, &other, &["events", "--since", "1h", "--until", "0s"])?;
    let lines: Vec<&str> = replay.lines().collect();
    assert_eq!(lines.len(), 7, "create, start, healthy, kill, die, stop, destroy: {replay}");
    assert!(lines[0].contains(" container create ") && lines[0].ends_with("(image=busybox:latest, name=other-app-1, team=blue)"), "{replay}");
    Ok(())
}

/// `volumes_from`: another service's volumes at the same paths, read-only with `:ro`; editing
/// the owner recreates the borrower too.
#[test]
fn volumes_from_shares_a_services_volumes() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let stack = |marker: &str| {
        format!(
            r#"
services:
  owner:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "echo {marker} > /data/file; exec sleep 1000"]
    volumes: [data:/data]
  reader:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    volumes_from: ["owner:ro"]
volumes:
  data:
"#
        )
    };
    let dir = project(&sb, "share", &stack("first"))?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let read = || xcompose(&sb, &dir, &["exec", "-T", "reader", "cat", "/data/file"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while read().map(|s| s.trim().to_string()).ok().as_deref() != Some("first") {
        ensure!(std::time::Instant::now() < deadline, "reader never saw owner's file: {:?}", read());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let write = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["exec", "-T", "reader", "touch", "/data/other"]).output()?;
    assert!(!write.status.success(), "volumes_from :ro is read-only");
    let before = containers(&sb, &dir)?;
    std::fs::write(dir.join("compose.yaml"), stack("second"))?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let after = containers(&sb, &dir)?;
    assert_ne!(before["share-owner-1"].0, after["share-owner-1"].0, "the edited owner is recreated");
    assert_ne!(before["share-reader-1"].0, after["share-reader-1"].0, "the borrower of its volumes too");
    xcompose(&sb, &dir, &["down", "-v"])?;
    Ok(())
}

/// `stats --no-stream`: a busy container's CPU, its memory limit and process count, an idle
/// one's near-zero CPU, and stopped containers only with `-a`.
#[test]
fn stats_show_cpu_memory_and_pids() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(
        &sb,
        "load",
        r#"
services:
  busy:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "while :; do :; done"]
    mem_limit: 64m
  idle:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
  done:
    image: busybox:latest
    command: ["true"]
"#,
    )?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let table = xcompose(&sb, &dir, &["stats", "--no-stream"])?;
    let rows: BTreeMap<String, Vec<String>> = table
        .lines()
        .skip(1)
        .map(|l| {
            // Columns are separated by runs of spaces; "MEM USAGE / LIMIT" and the I/O ones hold " / ".
            let cells: Vec<String> = l.split("  ").map(str::trim).filter(|c| !c.is_empty()).map(str::to_string).collect();
            (cells[1].clone(), cells)
        })
        .collect();
    assert!(table.starts_with("CONTAINER ID"), "{table}");
    assert_eq!(rows.keys().collect::<Vec<_>>(), ["load-busy-1", "load-idle-1"], "running containers only: {table}");
    let busy = &rows["load-busy-1"];
    let cpu: f64 = busy[2].trim_end_matches('%').parse()?;
    assert!(cpu > 5.0, "a busy loop uses CPU: {table}");
    assert!(busy[3].ends_with(" / 64MiB"), "the memory limit: {table}");
    assert!(busy[7].parse::<u32>()? >= 2, "init and sh: {table}");
    let idle_cpu: f64 = rows["load-idle-1"][2].trim_end_matches('%').parse()?;
    assert!(idle_cpu < 5.0, "sleep uses no CPU: {table}");
    let all = xcompose(&sb, &dir, &["stats", "--no-stream", "-a", "--no-trunc"])?;
    assert!(all.lines().any(|l| l.contains("load-done-1") && l.contains("0.00%") && l.trim_end().ends_with(" 0")), "{all}");
    assert!(all.lines().skip(1).all(|l| l.split_whitespace().next().is_some_and(|id| id.len() == 64)), "{all}");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

/// `exec` from a terminal gives the command a terminal of its own (its controlling one, sized
/// like the user's), passes input through and returns the exit code; `-T` and piped input do not.
#[test]
fn exec_allocates_a_tty_on_a_terminal() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "term", "services:\n  box:\n    image: busybox:latest\n    init: true\n    command: [sleep, '1000']\n")?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let exec = format!("{XCOMPOSE} --root {} -f {} exec", sb.root().display(), dir.join("compose.yaml").display());
    // `script` runs the command on a terminal of its own (columns set to 100 first).
    let on_terminal = |command: &str, input: &str| -> Result<(Option<i32>, String)> {
        let mut child = sb
            .command("script")
            .args(["-qec", &format!("stty cols 100 rows 30; {command}"), "/dev/null"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        std::io::Write::write_all(child.stdin.as_mut().context("stdin")?, input.as_bytes())?;
        let out = child.wait_with_output()?;
        Ok((out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned()))
    };
    let (_, tty) = on_terminal(&format!("{exec} box sh -c 'tty; stty size; ps -o pid,tty | tail -1'"), "")?;
    assert!(tty.contains("/dev/pts/") && tty.contains("30 100"), "a terminal the user's size: {tty:?}");
    let (_, no_tty) = on_terminal(&format!("{exec} -T box tty"), "")?;
    assert!(no_tty.contains("not a tty"), "{no_tty:?}");
    let (code, echoed) = on_terminal(&format!("{exec} box sh -c 'read line; echo got:$line; exit 3'"), "hello\n")?;
    assert!(echoed.contains("got:hello"), "input reaches the command: {echoed:?}");
    assert_eq!(code, Some(3), "the command's exit code");
    let piped = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["exec", "box", "tty"]).stdin(std::process::Stdio::null()).output()?;
    assert!(String::from_utf8_lossy(&piped.stdout).contains("not a tty"), "no terminal without one");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

/// `watch`: brings the stack up, then syncs edits under a `sync` rule's path into the running
/// container (new files, new directories, removals; ignored patterns stay out) and restarts it
/// for a `sync+restart` rule.
#[test]
fn watch_syncs_and_restarts() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(
        &sb,
        "dev",
        r#"
services:
  app:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    develop:
      watch:
        - {path: ./src, action: sync, target: /app, ignore: ["*.tmp"]}
        - {path: ./app.conf, action: sync+restart, target: /etc/app.conf}
"#,
    )?;
    std::fs::create_dir(dir.join("src"))?;
    std::fs::write(dir.join("app.conf"), "v1\n")?;
    let mut watch = sb
        .command(XCOMPOSE)
        .arg("--root")
        .arg(sb.root())
        .arg("-f")
        .arg(dir.join("compose.yaml"))
        .arg("watch")
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let (lines_tx, lines) = std::sync::mpsc::channel();
    let stderr = watch.stderr.take().context("stderr")?;
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let result = (|| -> Result<()> {
        let wait_line = |wanted: &str| -> Result<()> {
            loop {
                let line = lines.recv_timeout(std::time::Duration::from_secs(20))?;
                if line.contains(wanted) {
                    return Ok(());
                }
            }
        };
        wait_line("Watch enabled")?;
        let cat = |path: &str| xcompose(&sb, &dir, &["exec", "-T", "app", "cat", path]).unwrap_or_default();
        let eventually = |what: &str, check: &dyn Fn() -> bool| -> Result<()> {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while !check() {
                ensure!(std::time::Instant::now() < deadline, "{what} did not happen");
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Ok(())
        };
        std::fs::write(dir.join("src/hello.txt"), "v1\n")?;
        std::fs::write(dir.join("src/skip.tmp"), "no\n")?;
        eventually("syncing a new file", &|| cat("/app/hello.txt") == "v1\n")?;
        std::fs::create_dir_all(dir.join("src/sub/deeper"))?;
        std::fs::write(dir.join("src/sub/deeper/f.txt"), "deep\n")?;
        eventually("syncing a new directory", &|| cat("/app/sub/deeper/f.txt") == "deep\n")?;
        assert_eq!(cat("/app/skip.tmp"), "", "an ignored file stays out");
        std::fs::remove_file(dir.join("src/hello.txt"))?;
        eventually("removing a deleted file", &|| cat("/app/hello.txt").is_empty())?;
        let started = containers(&sb, &dir)?["dev-app-1"].2.clone();
        std::fs::write(dir.join("app.conf"), "v2\n")?;
        eventually("sync+restart", &|| cat("/etc/app.conf") == "v2\n" && containers(&sb, &dir).is_ok_and(|c| c["dev-app-1"].2 != started))?;
        Ok(())
    })();
    let _ = watch.kill();
    let _ = watch.wait();
    result?;
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}
