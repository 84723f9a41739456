//! The compose commands beyond the lifecycle ones, end to end in a sandbox: `cp` both ways.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Output, Stdio};

use anyhow::{ensure, Result};
use xcompose_testkit::Sandbox;

mod common;
use common::{project, sandbox_with_busybox, xcompose, XCOMPOSE};

const STACK: &str = r#"
services:
  web:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    scale: 2
"#;

/// xcompose run on the project in `dir` with `stdin` as its input, whatever its exit.
fn xcompose_output(sb: &Sandbox, dir: &Path, args: &[&str], stdin: &[u8]) -> Result<Output> {
    let mut child = sb
        .command(XCOMPOSE)
        .arg("--root")
        .arg(sb.root())
        .arg("-f")
        .arg(dir.join("compose.yaml"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child.stdin.take().expect("piped").write_all(stdin)?;
    Ok(child.wait_with_output()?)
}

/// The failure of xcompose `args`: the last line of its stderr (after compose's progress lines),
/// the exit code checked to be 1.
fn failure(sb: &Sandbox, dir: &Path, args: &[&str]) -> Result<String> {
    let out = xcompose_output(sb, dir, args, b"")?;
    let stderr = String::from_utf8(out.stderr)?;
    ensure!(out.status.code() == Some(1), "xcompose {args:?} exited {} ({stderr})", out.status);
    Ok(stderr.trim().lines().last().unwrap_or_default().to_string())
}

fn in_web(sb: &Sandbox, dir: &Path, index: &str, script: &str) -> Result<String> {
    Ok(xcompose(sb, dir, &["exec", "-T", "--index", index, "web", "sh", "-c", script])?.trim().to_string())
}

#[test]
fn cp_copies_both_ways_by_docker_rules() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "cpdemo", STACK)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let host = sb.temp_dir().join("host");
    std::fs::create_dir_all(host.join("tree/sub"))?;
    std::fs::write(host.join("tree/sub/a.txt"), "alpha")?;
    std::fs::write(host.join("note.txt"), "hello")?;
    std::os::unix::fs::chown(host.join("note.txt"), Some(1234), Some(4321))?;
    let path = |p: &str| host.join(p).to_str().unwrap().to_string();

    // Into an existing directory, in every container of the service; the files become root's.
    xcompose(&sb, &dir, &["cp", &path("note.txt"), "web:/tmp/"])?;
    for index in ["1", "2"] {
        assert_eq!(in_web(&sb, &dir, index, "cat /tmp/note.txt; echo; stat -c %u:%g /tmp/note.txt")?, "hello\n0:0");
    }
    // --archive keeps the owner; --index picks one container; a new name renames the copy.
    xcompose(&sb, &dir, &["cp", "-a", "--index", "2", &path("note.txt"), "web:/tmp/kept.txt"])?;
    assert_eq!(in_web(&sb, &dir, "2", "stat -c %u:%g /tmp/kept.txt")?, "1234:4321");
    assert_eq!(in_web(&sb, &dir, "1", "test -e /tmp/kept.txt && echo there || echo absent")?, "absent");
    // A directory into an existing one, then only its content (`/.`) into a new one.
    xcompose(&sb, &dir, &["cp", "--index", "1", &path("tree"), "web:/tmp"])?;
    xcompose(&sb, &dir, &["cp", "--index", "1", &format!("{}/.", path("tree")), "web:/tmp/flat"])?;
    assert_eq!(in_web(&sb, &dir, "1", "cat /tmp/tree/sub/a.txt /tmp/flat/sub/a.txt")?, "alphaalpha");

    // Out of the container: the first container unless --index; a file into a directory.
    in_web(&sb, &dir, "1", "echo one > /tmp/who; ln -s /tmp/who /tmp/link")?;
    in_web(&sb, &dir, "2", "echo two > /tmp/who")?;
    let out = host.join("out");
    std::fs::create_dir_all(&out)?;
    xcompose(&sb, &dir, &["cp", "web:/tmp/who", out.to_str().unwrap()])?;
    assert_eq!(std::fs::read_to_string(out.join("who"))?, "one\n");
    xcompose(&sb, &dir, &["cp", "--index", "2", "web:/tmp/who", &path("out/who2")])?;
    assert_eq!(std::fs::read_to_string(out.join("who2"))?, "two\n");
    assert_eq!(std::fs::metadata(out.join("who2"))?.uid(), 0);
    // A symlink is copied as a link, or, with -L, as what it points to under the link's name.
    xcompose(&sb, &dir, &["cp", "web:/tmp/link", &path("out/asis")])?;
    assert_eq!(std::fs::read_link(out.join("asis"))?, Path::new("/tmp/who"));
    xcompose(&sb, &dir, &["cp", "-L", "web:/tmp/link", &path("out")])?;
    assert_eq!(std::fs::read_to_string(out.join("link"))?, "one\n");
    xcompose(&sb, &dir, &["cp", "web:/tmp/tree", &path("out/copy")])?;
    assert_eq!(std::fs::read_to_string(out.join("copy/sub/a.txt"))?, "alpha");

    // `-`: a tar stream on stdout, and one read from stdin into a directory.
    let streamed = xcompose_output(&sb, &dir, &["cp", "web:/tmp/who", "-"], b"")?;
    ensure!(streamed.status.success(), "cp to stdout: {}", String::from_utf8_lossy(&streamed.stderr));
    assert!(streamed.stdout.starts_with(b"who\0"), "a tar entry named who");
    assert_eq!(&streamed.stdout[257..262], b"ustar");
    assert_eq!(&streamed.stdout[512..516], b"one\n");
    let taken = xcompose_output(&sb, &dir, &["cp", "--index", "1", "-", "web:/tmp/flat"], &streamed.stdout)?;
    ensure!(taken.status.success(), "cp from stdin: {}", String::from_utf8_lossy(&taken.stderr));
    assert_eq!(in_web(&sb, &dir, "1", "cat /tmp/flat/who")?, "one");

    // A symlink in the container pointing at a host path leads inside the container's root.
    let host_dir = out.to_str().unwrap();
    in_web(&sb, &dir, "1", &format!("mkdir -p {host_dir} && ln -s {host_dir} /tmp/escape"))?;
    xcompose(&sb, &dir, &["cp", "--index", "1", &path("tree/sub/a.txt"), "web:/tmp/escape/planted"])?;
    assert!(!out.join("planted").exists(), "the copy escaped the container's root");
    assert_eq!(in_web(&sb, &dir, "1", &format!("cat {host_dir}/planted"))?, "alpha");

    // A stopped container is copied into and out of as well.
    xcompose(&sb, &dir, &["stop", "web"])?;
    xcompose(&sb, &dir, &["cp", "--index", "1", &path("note.txt"), "web:/tmp/while-stopped"])?;
    xcompose(&sb, &dir, &["cp", "--index", "1", "web:/tmp/who", &path("out/stopped")])?;
    assert_eq!(std::fs::read_to_string(out.join("stopped"))?, "one\n");
    xcompose(&sb, &dir, &["start", "web"])?;
    assert_eq!(in_web(&sb, &dir, "1", "cat /tmp/while-stopped")?, "hello");

    // compose's errors.
    let id = xcompose(&sb, &dir, &["ps", "-q", "web"])?.lines().next().unwrap_or_default().to_string();
    let missing = failure(&sb, &dir, &["cp", "--index", "1", "web:/nope", &path("out")])?;
    assert!(missing.starts_with("Error response from daemon: Could not find the file /nope in container "), "{missing}");
    assert!(id.len() >= 12 && missing.contains(&id[..12]), "{missing} names the container {id}");
    assert_eq!(failure(&sb, &dir, &["cp", "db:/x", &path("out")])?, "no container found for service \"db\"");
    assert_eq!(failure(&sb, &dir, &["cp", "--index", "3", "web:/x", &path("out")])?, "service \"web\" is not running container #3");
    assert_eq!(failure(&sb, &dir, &["cp", "web:/x", "web:/y"])?, "copying between services is not supported");
    assert_eq!(failure(&sb, &dir, &["cp", &path("nope"), "web:/tmp"])?, format!("lstat {}: no such file or directory", path("nope")));
    assert_eq!(failure(&sb, &dir, &["cp", "--index", "1", &path("tree"), "web:/tmp/who"])?, "cannot copy a directory to a file");
    let not_dir = failure(&sb, &dir, &["cp", "--index", "1", "-", "web:/tmp/who"])?;
    assert!(not_dir.starts_with("destination \"") && not_dir.ends_with(":/tmp/who\" must be a directory"), "{not_dir}");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

const VOLUMES: &str = r#"
services:
  db:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    volumes: [data:/data]
  web:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    volumes: [cache:/cache]
volumes:
  data:
  cache:
"#;

#[test]
fn volumes_lists_the_projects_volumes() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "vols", VOLUMES)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let other = project(&sb, "other", VOLUMES)?;
    xcompose(&sb, &other, &["up", "-d"])?;
    assert_eq!(xcompose(&sb, &dir, &["volumes", "-q"])?, "vols_cache\nvols_data\n");
    assert_eq!(xcompose(&sb, &dir, &["volumes"])?, "DRIVER    VOLUME NAME\nlocal     vols_cache\nlocal     vols_data\n");
    assert_eq!(xcompose(&sb, &dir, &["volumes", "--quiet", "db"])?, "vols_data\n");
    let json = xcompose(&sb, &dir, &["volumes", "--format", "json", "web"])?;
    let line: serde_json::Value = serde_json::from_str(json.trim())?;
    assert_eq!((line["Name"].as_str(), line["Driver"].as_str()), (Some("vols_cache"), Some("local")));
    assert_eq!(failure(&sb, &dir, &["volumes", "nope"])?, "no such service: nope");
    xcompose(&sb, &other, &["down", "-v"])?;
    xcompose(&sb, &dir, &["down", "-v"])?;
    assert_eq!(xcompose(&sb, &dir, &["volumes", "-q"])?, "");
    Ok(())
}

const WAIT: &str = r#"
services:
  job:
    image: busybox:latest
    command: ["sh", "-c", "while [ ! -f /tmp/go ]; do sleep 0.05; done; exit 3"]
  server:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
"#;

/// Runs `wait` with `flags` on the job, lets the job end once `wait` has had a second to start
/// watching it, and returns wait's output.
fn wait_for_job(sb: &Sandbox, dir: &Path, flags: &[&str]) -> Result<Output> {
    let mut args = vec!["--root", sb.root().to_str().unwrap(), "-f"];
    let file = dir.join("compose.yaml");
    args.push(file.to_str().unwrap());
    args.push("wait");
    args.extend_from_slice(flags);
    args.push("job");
    let waiting = sb.command(XCOMPOSE).args(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    std::thread::sleep(std::time::Duration::from_secs(1));
    xcompose(sb, dir, &["exec", "-T", "job", "touch", "/tmp/go"])?;
    Ok(waiting.wait_with_output()?)
}

#[test]
fn wait_exits_with_the_containers_code_and_can_take_the_project_down() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "waitp", WAIT)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let id = xcompose(&sb, &dir, &["ps", "-q", "job"])?.trim().to_string();
    let out = wait_for_job(&sb, &dir, &[])?;
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout)?;
    assert!(printed.starts_with("container \"") && printed.ends_with("\" exited with status code 3\n") && printed.contains(&id), "{printed} for {id}");
    // Nothing of the service runs any more.
    assert_eq!(failure(&sb, &dir, &["wait", "job"])?, "no containers for project \"waitp\"");
    assert!(xcompose(&sb, &dir, &["ps", "-q"])?.lines().count() == 1, "the server still runs");

    // A fresh job container (the old one has its /tmp/go).
    xcompose(&sb, &dir, &["up", "-d", "--force-recreate"])?;
    let out = wait_for_job(&sb, &dir, &["--down-project"])?;
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(xcompose(&sb, &dir, &["ps", "-a", "-q"])?, "", "the project is down");
    Ok(())
}

const EXPORT: &str = r#"
services:
  web:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    volumes: [data:/data]
volumes:
  data:
"#;

#[test]
fn export_writes_the_containers_filesystem_without_its_mounts() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "exp", EXPORT)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    xcompose(&sb, &dir, &["exec", "-T", "web", "sh", "-c", "echo marked > /tmp/mark; echo v > /data/in-volume"])?;
    let file = sb.temp_dir().join("web.tar");
    xcompose(&sb, &dir, &["export", "-o", file.to_str().unwrap(), "web"])?;
    assert_eq!(std::fs::metadata(&file)?.permissions().mode() & 0o777, 0o600);
    let listing = std::process::Command::new("tar").arg("-tf").arg(&file).output()?;
    ensure!(listing.status.success(), "tar -tf: {}", String::from_utf8_lossy(&listing.stderr));
    let entries: Vec<String> = String::from_utf8(listing.stdout)?.lines().map(|l| l.trim_end_matches('/').to_string()).collect();
    for wanted in ["bin/busybox", "tmp/mark", "data", "proc"] {
        assert!(entries.iter().any(|e| e == wanted), "{wanted} missing from the export");
    }
    for unwanted in ["data/in-volume", "proc/1"] {
        assert!(!entries.iter().any(|e| e.starts_with(unwanted)), "{unwanted} (a mount's content) exported");
    }
    let content = std::process::Command::new("tar").arg("-xOf").arg(&file).arg("tmp/mark").output()?;
    assert_eq!(String::from_utf8(content.stdout)?, "marked\n");
    // To stdout when it is not a terminal; a service not running is refused.
    let streamed = xcompose_output(&sb, &dir, &["export", "web"], b"")?;
    ensure!(streamed.status.success() && streamed.stdout.len() > 512, "export to stdout: {}", String::from_utf8_lossy(&streamed.stderr));
    assert_eq!(failure(&sb, &dir, &["export", "--index", "2", "web"])?, "service \"web\" is not running container #2");
    xcompose(&sb, &dir, &["stop", "web"])?;
    assert_eq!(failure(&sb, &dir, &["export", "web"])?, "service \"web\" is not running");
    xcompose(&sb, &dir, &["down", "-v"])?;
    Ok(())
}

const SCALE: &str = r#"
services:
  db:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
  web:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    depends_on: [db]
"#;

/// The names of the project's running containers.
fn running(sb: &Sandbox, dir: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = xcompose(sb, dir, &["ps", "--format", "{{.Name}}"])?.lines().map(str::to_string).collect();
    names.sort();
    Ok(names)
}

#[test]
fn scale_sets_the_number_of_containers() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "sc", SCALE)?;
    xcompose(&sb, &dir, &["scale", "--no-deps", "web=2"])?;
    assert_eq!(running(&sb, &dir)?, ["sc-web-1", "sc-web-2"]);
    xcompose(&sb, &dir, &["scale", "web=3"])?;
    assert_eq!(running(&sb, &dir)?, ["sc-db-1", "sc-web-1", "sc-web-2", "sc-web-3"]);
    xcompose(&sb, &dir, &["scale", "web=1", "db=2"])?;
    assert_eq!(running(&sb, &dir)?, ["sc-db-1", "sc-db-2", "sc-web-1"]);
    assert_eq!(failure(&sb, &dir, &["scale", "nope=1"])?, "no such service: nope");
    assert_eq!(failure(&sb, &dir, &["scale", "web=x"])?, "invalid scale specifier: can't parse replica value as int: web=x");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

const REPLICAS: &str = r#"
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "echo I am $$(hostname)"]
    scale: 2
"#;

#[test]
fn logs_index_shows_one_replica() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "lg", REPLICAS)?;
    xcompose(&sb, &dir, &["up"])?;
    let second = xcompose(&sb, &dir, &["logs", "--no-log-prefix", "--index", "2", "web"])?;
    let host = xcompose(&sb, &dir, &["ps", "-a", "--format", "{{.Name}} {{.ID}}"])?;
    let id = host.lines().find(|l| l.starts_with("lg-web-2 ")).and_then(|l| l.split(' ').nth(1)).unwrap_or_default().to_string();
    assert_eq!(second, format!("I am {}\n", &id[..12]));
    assert_eq!(xcompose(&sb, &dir, &["logs", "--no-log-prefix", "web"])?.lines().count(), 2);
    assert_eq!(failure(&sb, &dir, &["logs", "--index", "3", "web"])?, "service \"web\" is not running container #3");
    assert_eq!(failure(&sb, &dir, &["logs", "--index", "1"])?, "--index requires one service to be selected");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

const PS: &str = r#"
services:
  web:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "sleep 1000; echo a long command"]
  job:
    image: busybox:latest
    command: ["true"]
"#;

#[test]
fn ps_filter_no_trunc_and_orphans() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "pf", PS)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    // The job has ended (wait refuses when it has already).
    xcompose(&sb, &dir, &["wait", "job"]).ok();
    assert_eq!(xcompose(&sb, &dir, &["ps", "--filter", "status=exited", "--format", "{{.Name}}"])?, "pf-job-1\n");
    assert_eq!(xcompose(&sb, &dir, &["ps", "--filter", "status=running", "--format", "{{.Name}}"])?, "pf-web-1\n");
    assert_eq!(xcompose(&sb, &dir, &["ps", "--format", "{{.Command}}", "web"])?, "\"sh -c sleep 1000; e…\"\n");
    assert_eq!(xcompose(&sb, &dir, &["ps", "--no-trunc", "--format", "{{.Command}}", "web"])?, "\"sh -c sleep 1000; echo a long command\"\n");
    assert_eq!(failure(&sb, &dir, &["ps", "--filter", "status"])?, "arguments to --filter should be in form KEY=VAL");
    assert_eq!(failure(&sb, &dir, &["ps", "--filter", "name=x"])?, "unknown filter name");
    // web is an orphan once the file no longer has it.
    std::fs::write(dir.join("compose.yaml"), PS.replace("  web:\n", "  other:\n"))?;
    assert!(xcompose(&sb, &dir, &["ps", "--format", "{{.Name}}"])?.contains("pf-web-1"));
    assert_eq!(xcompose(&sb, &dir, &["ps", "--orphans=false", "--format", "{{.Name}}"])?, "");
    xcompose(&sb, &dir, &["down", "--remove-orphans"])?;
    Ok(())
}

const RESTART: &str = r#"
x-svc: &svc
  image: busybox:latest
  init: true
  command: ["sh", "-c", "echo started; exec sleep 1000"]
services:
  db: *svc
  web:
    <<: *svc
    depends_on:
      db: {condition: service_started, restart: true}
  worker:
    <<: *svc
    depends_on: [db]
"#;

/// How many times each service's container has started, from its logs, once they show
/// `expected` (a started container's line reaches its log a moment after the start) or have had
/// five seconds to.
fn starts(sb: &Sandbox, dir: &Path, expected: [usize; 3]) -> Result<Vec<usize>> {
    let count = || -> Result<Vec<usize>> { ["db", "web", "worker"].iter().map(|s| Ok(xcompose(sb, dir, &["logs", "--no-log-prefix", s])?.lines().count())).collect() };
    for _ in 0..100 {
        if count()? == expected {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    count()
}

#[test]
fn restart_takes_restarting_dependents_unless_no_deps() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "rs", RESTART)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    assert_eq!(starts(&sb, &dir, [1, 1, 1])?, [1, 1, 1]);
    xcompose(&sb, &dir, &["restart", "db"])?;
    assert_eq!(starts(&sb, &dir, [2, 2, 1])?, [2, 2, 1], "db and web (restart: true) restarted, not worker");
    xcompose(&sb, &dir, &["restart", "--no-deps", "db"])?;
    assert_eq!(starts(&sb, &dir, [3, 2, 1])?, [3, 2, 1], "only db restarted");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

const ATTACH: &str = r#"
services:
  talk:
    image: busybox:latest
    command: ["sh", "-c", "echo before; while [ ! -f /tmp/stop ]; do sleep 0.05; done; echo out-line; echo err-line >&2; exit 5"]
  trapper:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "trap 'echo got-term; exit 3' TERM; while true; do sleep 0.05; done"]
"#;

/// Starts `attach` with `args` and `stdin` as its standard input, gives it a second to attach,
/// and returns the process.
fn attach(sb: &Sandbox, dir: &Path, args: &[&str], stdin: Stdio) -> Result<std::process::Child> {
    let child = sb
        .command(XCOMPOSE)
        .arg("--root")
        .arg(sb.root())
        .arg("-f")
        .arg(dir.join("compose.yaml"))
        .arg("attach")
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    std::thread::sleep(std::time::Duration::from_secs(1));
    Ok(child)
}

#[test]
fn attach_shows_new_output_and_exits_with_the_containers_code() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "at", ATTACH)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let attached = attach(&sb, &dir, &["talk"], Stdio::inherit())?;
    xcompose(&sb, &dir, &["exec", "-T", "talk", "touch", "/tmp/stop"])?;
    let out = attached.wait_with_output()?;
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(String::from_utf8(out.stdout)?, "out-line\n", "only what came after attaching, stderr apart");
    assert_eq!(String::from_utf8(out.stderr)?, "err-line\n");
    // A signal to attach goes to the container (--sig-proxy).
    let attached = attach(&sb, &dir, &["trapper"], Stdio::inherit())?;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(attached.id() as i32), nix::sys::signal::Signal::SIGTERM)?;
    let out = attached.wait_with_output()?;
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout)?, "got-term\n");
    assert_eq!(failure(&sb, &dir, &["attach", "talk"])?, "service \"talk\" is not running");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

const STDIN: &str = r#"
services:
  lines:
    image: busybox:latest
    init: true
    stdin_open: true
    command: ["cat"]
  term:
    image: busybox:latest
    init: true
    stdin_open: true
    tty: true
    command: ["cat"]
"#;

/// Waits until the logs of `service` contain `text`.
fn wait_for_log(sb: &Sandbox, dir: &Path, service: &str, text: &str) -> Result<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let logs = xcompose(sb, dir, &["logs", "--no-log-prefix", service])?;
        if logs.contains(text) {
            return Ok(logs);
        }
        ensure!(std::time::Instant::now() < deadline, "{service} never logged {text:?}: {logs:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `attach` feeds a `stdin_open` container's stdin; its stdin stays open when `attach` goes, so a
/// second `attach` feeds it too; `--no-stdin` feeds nothing. On a terminal container the detach
/// sequence (ctrl-p,ctrl-q, or `--detach-keys`) ends `attach`, the container still running.
#[test]
fn attach_feeds_stdin_and_detaches_on_the_sequence() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "stdin", STDIN)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let mut first = attach(&sb, &dir, &["lines"], Stdio::piped())?;
    first.stdin.take().unwrap().write_all(b"first-line\n")?;
    assert_eq!(wait_for_log(&sb, &dir, "lines", "first-line")?, "first-line\n");
    first.kill()?;
    first.wait()?;
    let mut quiet = attach(&sb, &dir, &["--no-stdin", "lines"], Stdio::piped())?;
    quiet.stdin.take().unwrap().write_all(b"not-sent\n")?;
    let mut second = attach(&sb, &dir, &["lines"], Stdio::piped())?;
    second.stdin.take().unwrap().write_all(b"second-line\n")?;
    assert_eq!(wait_for_log(&sb, &dir, "lines", "second-line")?, "first-line\nsecond-line\n", "stdin stayed open; --no-stdin sent nothing");
    for mut child in [quiet, second] {
        child.kill()?;
        child.wait()?;
    }

    let mut term = attach(&sb, &dir, &["term"], Stdio::piped())?;
    let mut input = term.stdin.take().unwrap();
    input.write_all(b"typed\n")?;
    wait_for_log(&sb, &dir, "term", "typed")?;
    input.write_all(b"\x10\x11")?;
    let out = term.wait_with_output()?;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stderr)?, "read escape sequence\n");
    let mut custom = attach(&sb, &dir, &["--detach-keys", "ctrl-x,q", "term"], Stdio::piped())?;
    custom.stdin.take().unwrap().write_all(b"\x10\x11still-attached\n\x18q")?;
    let out = custom.wait_with_output()?;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    wait_for_log(&sb, &dir, "term", "still-attached")?;
    let ps = xcompose(&sb, &dir, &["ps", "--format", "{{.Service}} {{.State}}"])?;
    assert!(ps.contains("term running") && ps.contains("lines running"), "detaching leaves the containers running: {ps}");
    assert!(failure(&sb, &dir, &["attach", "--detach-keys", "ctrl-1", "term"])?.contains("invalid detach keys (ctrl-1)"));
    xcompose(&sb, &dir, &["down", "-t", "1"])?;
    Ok(())
}

/// `run -i` (the default): the caller's stdin is the one-off's, ended when it ends; with
/// `-i=false` the one-off reads nothing.
#[test]
fn run_passes_its_stdin_to_the_one_off() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "runin", "services:\n  svc:\n    image: busybox:latest\n    command: [cat]\n")?;
    let out = xcompose_output(&sb, &dir, &["run", "--rm", "-q", "svc", "cat"], b"hi\nthere\n")?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout)?, "hi\nthere\n");
    let out = xcompose_output(&sb, &dir, &["run", "--rm", "-q", "--interactive=false", "svc", "cat"], b"unread\n")?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout)?, "", "without -i the one-off has no input");
    ensure!(xcompose(&sb, &dir, &["ps", "-a", "-q"])?.trim().is_empty(), "--rm removed both");
    Ok(())
}

const DOWN: &str = r#"
services:
  db:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    volumes: [data:/data, /anon]
  web:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    depends_on: [db]
    volumes: [data:/shared]
    networks: [default, front]
  cache:
    image: dncache:1
    init: true
    command: ["sleep", "1000"]
    networks: [back]
volumes:
  data:
networks:
  front:
  back:
"#;

/// The stderr of a successful xcompose `args`.
fn progress(sb: &Sandbox, dir: &Path, args: &[&str]) -> Result<String> {
    let out = xcompose_output(sb, dir, args, b"")?;
    let stderr = String::from_utf8(out.stderr)?;
    ensure!(out.status.success(), "xcompose {args:?} exited {} ({stderr})", out.status);
    Ok(stderr)
}

#[test]
fn down_services_removes_only_them_and_what_nothing_else_uses() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "dn", DOWN)?;
    xcompose(&sb, &dir, &["image", "tag", "busybox:latest", "dncache:1"])?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let anonymous = xcompose(&sb, &dir, &["volume", "ls", "-q"])?;
    let anonymous: Vec<&str> = anonymous.lines().filter(|v| v.len() == 64).collect();
    assert_eq!(anonymous.len(), 1, "db's anonymous volume: {anonymous:?}");

    // web goes; the default network and the data volume stay for db, front goes.
    let shown = progress(&sb, &dir, &["down", "-v", "web"])?;
    assert_eq!(running(&sb, &dir)?, ["dn-cache-1", "dn-db-1"]);
    for line in ["Container dn-web-1  Removed", "Network dn_front  Removed", "Network dn_default  Resource is still in use", "Volume dn_data  Resource is still in use"] {
        assert!(shown.contains(line), "{line:?} not in {shown}");
    }
    assert!(!shown.contains("dn_back") && !shown.contains("dn-db-1"), "{shown}");

    // db goes with its anonymous volume, data and default; cache and back stay.
    let shown = progress(&sb, &dir, &["down", "-v", "db"])?;
    assert_eq!(running(&sb, &dir)?, ["dn-cache-1"]);
    for line in ["Container dn-db-1  Removed", "Network dn_default  Removed", "Volume dn_data  Removed", &format!("Volume {}  Removed", anonymous[0])] {
        assert!(shown.contains(line), "{line:?} not in {shown}");
    }
    assert!(!shown.contains("dn_back"), "{shown}");
    assert_eq!(xcompose(&sb, &dir, &["volume", "ls", "-q"])?, "");
    assert_eq!(failure(&sb, &dir, &["down", "nope"])?, "no such service: nope");
    assert_eq!(running(&sb, &dir)?, ["dn-cache-1"]);

    // --rmi takes the named services' images only.
    let shown = progress(&sb, &dir, &["down", "--rmi", "all", "cache"])?;
    assert!(shown.contains("Network dn_back  Removed") && shown.contains("Image dncache:1  Removed") && !shown.contains("busybox"), "{shown}");
    assert_eq!(xcompose(&sb, &dir, &["ps", "-a", "-q"])?, "");
    Ok(())
}

const COMMITTED: &str = r#"
services:
  copy:
    image: snap:1
    init: true
    command: ["sleep", "1000"]
"#;

#[test]
fn commit_makes_an_image_of_the_containers_changes() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "cm", STACK)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    in_web(&sb, &dir, "2", "echo written > /hello && rm /bin/vi")?;
    let dry = progress(&sb, &dir, &["commit", "--dry-run", "web", "dry:1"])?;
    assert!(dry.contains("Commit cm-web-1  Committed"), "{dry}");
    let shown = progress(&sb, &dir, &["commit", "--index", "2", "-a", "me", "-m", "a snapshot", "-c", "ENV FOO=bar", "-c", "WORKDIR /tmp", "web", "snap:1"])?;
    assert!(shown.contains("Commit cm-web-2  Committed as sha256:"), "{shown}");
    let copy = project(&sb, "cmcopy", COMMITTED)?;
    xcompose(&sb, &copy, &["up", "-d"])?;
    let seen = xcompose(&sb, &copy, &["exec", "-T", "copy", "sh", "-c", "cat /hello; echo $FOO; pwd; test -e /bin/vi || echo no vi"])?;
    assert_eq!(seen, "written\nbar\n/tmp\nno vi\n");
    // The first replica had no change.
    let seen = xcompose(&sb, &dir, &["exec", "-T", "--index", "1", "web", "sh", "-c", "test -e /hello || echo clean"])?;
    assert_eq!(seen, "clean\n");
    assert!(failure(&sb, &dir, &["image", "inspect", "dry:1"]).is_ok(), "the dry run made no image");
    let inspect: serde_json::Value = serde_json::from_str(&xcompose(&sb, &dir, &["image", "inspect", "snap:1", "busybox:latest"])?)?;
    let layers = |i: usize| inspect[i]["RootFS"]["diff_ids"].as_array().map_or(0, Vec::len);
    assert_eq!(layers(0), layers(1) + 1, "one layer more than busybox: {inspect}");
    assert!(failure(&sb, &dir, &["commit", "-c", "FROM x", "web"])?.starts_with("invalid --change \"FROM x\": FROM is not a valid change command"));
    assert_eq!(failure(&sb, &dir, &["commit", "--index", "5", "web"])?, "service \"web\" is not running container #5");
    xcompose(&sb, &copy, &["down"])?;
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

const ATTACHING: &str = r#"
services:
  db:
    image: busybox:latest
    command: ["echo", "from db"]
  web:
    image: busybox:latest
    command: ["sh", "-c", "echo from web; exit 3"]
    depends_on: [db]
  noisy:
    image: busybox:latest
    command: ["echo", "from noisy"]
  sleeper:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    profiles: [long]
"#;

/// The exit code and stdout of an attached `up` with `args` (global flags first, then `up`'s).
fn attached_up(sb: &Sandbox, dir: &Path, global: &[&str], args: &[&str]) -> Result<(Option<i32>, String)> {
    let all: Vec<&str> = global.iter().copied().chain(["up"]).chain(args.iter().copied()).collect();
    let out = xcompose_output(sb, dir, &all, b"")?;
    let stdout = String::from_utf8(out.stdout)?;
    ensure!(out.status.code() != Some(2), "xcompose {all:?}: {}", String::from_utf8_lossy(&out.stderr));
    Ok((out.status.code(), stdout))
}

#[test]
fn up_attach_flags_choose_the_output_shown() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "att", ATTACHING)?;
    let said = |out: &str| -> Vec<&str> { ["from db", "from web", "from noisy"].into_iter().filter(|l| out.contains(l)).collect() };

    let (code, out) = attached_up(&sb, &dir, &[], &["web"])?;
    assert_eq!((code, said(&out)), (Some(0), vec!["from web"]), "{out}");
    let (_, out) = attached_up(&sb, &dir, &[], &["--attach-dependencies", "-y", "web"])?;
    assert_eq!(said(&out), ["from db", "from web"], "{out}");
    let (_, out) = attached_up(&sb, &dir, &[], &["--no-attach", "db"])?;
    assert_eq!(said(&out), ["from web", "from noisy"], "{out}");
    let (_, out) = attached_up(&sb, &dir, &[], &["--attach", "noisy", "--timestamps"])?;
    assert_eq!(said(&out), ["from noisy"], "{out}");
    let line = out.lines().find(|l| l.contains("from noisy")).unwrap_or_default();
    let stamp = line.split(" | ").nth(1).and_then(|rest| rest.split(' ').next()).unwrap_or_default();
    assert!(chrono::DateTime::parse_from_rfc3339(stamp).is_ok(), "no timestamp in {line:?}");

    // db and noisy exit 0 first: only web's failure aborts, and its code is up's.
    let (code, out) = attached_up(&sb, &dir, &["--profile", "long"], &["--abort-on-container-failure"])?;
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("Aborting on container exit..."), "{out}");
    assert_eq!(xcompose(&sb, &dir, &["--profile", "long", "ps", "-q"])?, "", "the sleeper was stopped");

    assert_eq!(failure(&sb, &dir, &["up", "-d", "--attach", "web"])?, "--detach cannot be combined with --abort-on-container-exit, --abort-on-container-failure, --attach or --attach-dependencies");
    assert_eq!(failure(&sb, &dir, &["up", "--abort-on-container-exit", "--abort-on-container-failure"])?, "--abort-on-container-failure cannot be combined with --abort-on-container-exit");
    assert_eq!(failure(&sb, &dir, &["up", "--always-recreate-deps", "--no-recreate"])?, "--always-recreate-deps and --no-recreate are incompatible");
    assert_eq!(failure(&sb, &dir, &["up", "--attach", "nope"])?, "no such service: nope");

    // A dependency is kept unless --always-recreate-deps; the named service is kept either way.
    let ids = |sb: &Sandbox| -> Result<(String, String)> { Ok((xcompose(sb, &dir, &["ps", "-a", "-q", "db"])?, xcompose(sb, &dir, &["ps", "-a", "-q", "web"])?)) };
    let before = ids(&sb)?;
    xcompose(&sb, &dir, &["up", "-d", "web"])?;
    assert_eq!(ids(&sb)?, before);
    xcompose(&sb, &dir, &["up", "-d", "--always-recreate-deps", "web"])?;
    let after = ids(&sb)?;
    assert!(after.0 != before.0 && after.1 == before.1, "{before:?} -> {after:?}");
    xcompose(&sb, &dir, &["--profile", "long", "down"])?;
    Ok(())
}

const RUN_FLAGS: &str = r#"
services:
  web:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    cap_drop: [CHOWN]
    labels: {team: base, keep: "1"}
    networks:
      default:
        aliases: [www]
  probe:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
"#;

/// The addresses `name` resolves to from the probe service's container (busybox nslookup).
fn resolve_from_probe(sb: &Sandbox, dir: &Path, name: &str) -> Result<Vec<String>> {
    let text = xcompose(sb, dir, &["exec", "-T", "probe", "nslookup", name])?;
    let mut addresses: Vec<String> = text.lines().skip_while(|l| !l.starts_with("Name:")).filter_map(|l| l.strip_prefix("Address:")).map(|a| a.trim().to_string()).collect();
    addresses.sort();
    Ok(addresses)
}

#[test]
fn run_flags_change_the_one_off_container() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "rf", RUN_FLAGS)?;
    std::fs::create_dir_all(dir.join("shared"))?;
    std::fs::write(dir.join("shared/f"), "from-host\n")?;
    std::fs::write(dir.join("vars"), "A=from-file\nB=b-${A}\n")?;
    xcompose(&sb, &dir, &["up", "-d", "probe"])?;

    // -v (relative to the project directory), --env-from-file under -e, capabilities (Docker's
    // default set is a80425fb: the service drops CHOWN, bit 0, which --cap-add gives back;
    // --cap-drop takes NET_RAW, bit 13), and -q prints no progress.
    let script = "cat /shared/f; echo $A $B; grep CapEff /proc/self/status";
    let vars = dir.join("vars");
    let args = ["run", "--rm", "-q", "-v", "./shared:/shared:ro", "--env-from-file", vars.to_str().unwrap(), "-e", "A=flag", "--cap-add", "CHOWN", "--cap-drop", "NET_RAW", "web", "sh", "-c", script];
    let out = xcompose_output(&sb, &dir, &args, b"")?;
    let stderr = String::from_utf8(out.stderr)?;
    ensure!(out.status.success(), "run failed: {stderr}");
    assert_eq!(String::from_utf8(out.stdout)?, "from-host\nflag b-flag\nCapEff:\t00000000a80405fb\n");
    assert!(!stderr.contains("Container"), "-q printed progress: {stderr}");

    // -l adds to and overrides the service's labels.
    xcompose(&sb, &dir, &["run", "-d", "--name", "rf-labelled", "-l", "team=run", "-l", "extra=x", "web"])?;
    let listed = xcompose(&sb, &dir, &["ps", "-a", "--format", "{{.Name}} {{.Labels}}"])?;
    let line = listed.lines().find(|l| l.starts_with("rf-labelled ")).unwrap_or_default();
    for label in ["team=run", "extra=x", "keep=1"] {
        assert!(line.split([' ', ',']).any(|l| l == label), "{label} not in {line:?}");
    }

    // Without --use-aliases a one-off answers to its own name only; with it, to the service's
    // name and aliases too.
    let labelled = resolve_from_probe(&sb, &dir, "rf-labelled")?;
    assert_eq!(labelled.len(), 1, "rf-labelled: {labelled:?}");
    xcompose(&sb, &dir, &["run", "-d", "--use-aliases", "--name", "rf-aliased", "web"])?;
    let aliased = resolve_from_probe(&sb, &dir, "rf-aliased")?;
    assert_eq!(aliased.len(), 1, "rf-aliased: {aliased:?}");
    assert_eq!(resolve_from_probe(&sb, &dir, "web")?, aliased);
    assert_eq!(resolve_from_probe(&sb, &dir, "www")?, aliased);

    // -p publishes the given port (and only it); with -P it is refused, as compose refuses it.
    let http = ["run", "-d", "-p", "127.0.0.1:18091:80", "web", "sh", "-c", "echo published > /tmp/index.html; exec httpd -f -p 80 -h /tmp"];
    xcompose(&sb, &dir, &http)?;
    let fetch = || sb.command("timeout").args(["3", "busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:18091/index.html"]).output();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut out = fetch()?;
    while !out.status.success() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        out = fetch()?;
    }
    assert_eq!(String::from_utf8(out.stdout)?, "published\n");
    assert_eq!(failure(&sb, &dir, &["run", "-P", "-p", "8080:80", "web"])?, "--service-ports and --publish are incompatible");
    assert_eq!(failure(&sb, &dir, &["run", "-l", "nolabel", "web"])?, "--label \"nolabel\": label must be set as KEY=VALUE");
    xcompose(&sb, &dir, &["down", "-t", "0"])?;
    Ok(())
}

const THREE: &str = r#"
services:
  a:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
  b:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
  c:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
"#;

/// xcompose `args` on the project in `dir` with the variables `env` set; fails unless it exits 0.
fn with_env(sb: &Sandbox, dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Result<(String, String)> {
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).envs(env.iter().copied()).args(args).output()?;
    let (stdout, stderr) = (String::from_utf8(out.stdout)?, String::from_utf8(out.stderr)?);
    ensure!(out.status.success(), "xcompose {args:?} exited {}: {stderr}", out.status);
    Ok((stdout, stderr))
}

#[test]
fn progress_modes_parallel_limit_and_orphan_variables() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "gp", THREE)?;

    // --progress json: compose's JSON messages, one per line; --parallel 1: one container's
    // actions at a time, so each container's events come together.
    let (_, stderr) = with_env(&sb, &dir, &[], &["--progress", "json", "--parallel", "1", "up", "-d"])?;
    let events: Vec<serde_json::Value> = stderr.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    assert!(events.contains(&serde_json::json!({"id": "Container gp-b-1", "text": "Started"})), "{stderr}");
    let containers: Vec<&str> = events.iter().filter_map(|e| e["id"].as_str()).filter(|id| id.starts_with("Container")).collect();
    let mut runs = containers.clone();
    runs.dedup();
    assert_eq!(runs.len(), 3, "interleaved with --parallel 1: {containers:?}");

    // COMPOSE_PARALLEL_LIMIT does the same for stop; COMPOSE_STATUS_STDOUT moves the lines.
    let (stdout, stderr) = with_env(&sb, &dir, &[("COMPOSE_PARALLEL_LIMIT", "1"), ("COMPOSE_STATUS_STDOUT", "1")], &["--progress", "plain", "stop"])?;
    assert_eq!(stderr, "");
    let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
    assert_eq!(lines.len(), 6, "Stopping and Stopped for each: {stdout}");
    let mut runs: Vec<&str> = lines.iter().filter_map(|l| l.split("  ").next()).collect();
    runs.dedup();
    assert_eq!(runs.len(), 3, "one container at a time: {stdout}");

    // COMPOSE_PROGRESS=quiet prints nothing; the flag wins over it.
    assert_eq!(with_env(&sb, &dir, &[("COMPOSE_PROGRESS", "quiet")], &["start"])?, (String::new(), String::new()));
    let (_, stderr) = with_env(&sb, &dir, &[("COMPOSE_PROGRESS", "quiet")], &["--progress", "plain", "restart", "a"])?;
    assert!(stderr.contains("Container gp-a-1  Started"), "{stderr}");

    // Orphans: the warning unless COMPOSE_IGNORE_ORPHANS; removed with COMPOSE_REMOVE_ORPHANS.
    std::fs::write(dir.join("compose.yaml"), THREE.split("  c:").next().unwrap_or_default())?;
    let (_, warned) = with_env(&sb, &dir, &[], &["up", "-d"])?;
    assert!(warned.contains("Found orphan containers ([gp-c-1])"), "{warned}");
    let (_, quiet) = with_env(&sb, &dir, &[("COMPOSE_IGNORE_ORPHANS", "true")], &["up", "-d"])?;
    assert!(!quiet.contains("orphan"), "{quiet}");
    let (_, removed) = with_env(&sb, &dir, &[("COMPOSE_REMOVE_ORPHANS", "1")], &["up", "-d"])?;
    assert!(removed.contains("Container gp-c-1  Removed"), "{removed}");
    assert_eq!(running(&sb, &dir)?, ["gp-a-1", "gp-b-1"]);

    // Bad values: compose's messages, nothing done.
    assert_eq!(failure(&sb, &dir, &["--ansi", "never", "--progress", "tty", "down"])?, "can't use --progress tty while ANSI support is disabled");
    assert_eq!(failure(&sb, &dir, &["--progress", "fancy", "down"])?, "unsupported --progress value \"fancy\": use auto, tty, plain, json or quiet");
    assert_eq!(running(&sb, &dir)?, ["gp-a-1", "gp-b-1"]);
    xcompose(&sb, &dir, &["down", "-t", "0"])?;
    Ok(())
}
