//! The command line as docker compose users know it: output piped into `head` ends quietly,
//! `--dry-run` goes before or after the command and changes nothing, `--format` takes Go
//! templates, and the details compose users read (status words, prefixes) are compose's.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use xcompose_testkit::Sandbox;

mod common;
use common::{project, sandbox_with_busybox, xcompose, XCOMPOSE};

/// xcompose run in the sandbox on the project in `dir`, whatever its exit.
fn xcompose_output(sb: &Sandbox, dir: &Path, args: &[&str], stdout: Stdio) -> Result<Output> {
    Ok(sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(args).stdout(stdout).output()?)
}

/// Waits until `logs` shows `text`.
fn wait_for_log(sb: &Sandbox, dir: &Path, text: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !xcompose(sb, dir, &["logs", "--no-log-prefix", "--tail", "1"])?.contains(text) {
        ensure!(Instant::now() < deadline, "{text:?} never showed in the logs");
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Every command that prints, writing into a pipe nobody reads any more (its reader closed before
/// the first byte), ends quietly as Unix tools do: killed by SIGPIPE or exit 0, nothing on
/// stderr, no panic (exit 101) and no "Broken pipe" error (exit 1). And `logs | head` through a
/// real shell pipe exits 0 with nothing on stderr.
#[test]
fn output_into_a_closed_pipe_ends_quietly() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(
        &sb,
        "pipes",
        "services:\n  talker:\n    image: busybox:latest\n    init: true\n    command: [\"sh\", \"-c\", \"seq 1 20000; exec sleep 1000\"]\n",
    )?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    wait_for_log(&sb, &dir, "20000")?;
    let commands: [&[&str]; 12] = [
        &["ps", "--format", "json"],
        &["ps"],
        &["images"],
        &["config"],
        &["ls"],
        &["version"],
        &["top"],
        &["logs"],
        &["events", "--since", "1h", "--until", "0s"],
        &["stats", "--no-stream"],
        &["image", "ls"],
        &["volume", "ls"],
    ];
    for args in commands {
        let (reader, writer) = nix::unistd::pipe()?;
        drop(reader);
        let out = xcompose_output(&sb, &dir, args, Stdio::from(writer))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty(), "xcompose {args:?} into a closed pipe printed {stderr:?}");
        assert!(out.status.success() || out.status.signal() == Some(nix::libc::SIGPIPE), "xcompose {args:?} into a closed pipe: {}", out.status);
    }
    let errors = sb.temp_dir().join("pipes.err");
    let line = format!("{XCOMPOSE} --root {} -f {} logs 2>{} | head -n 2", sb.root().display(), dir.join("compose.yaml").display(), errors.display());
    let out = sb.command("sh").args(["-c", &line]).output()?;
    assert!(out.status.success(), "{}", out.status);
    assert_eq!(String::from_utf8(out.stdout)?, "talker-1  | 1\ntalker-1  | 2\n");
    assert_eq!(std::fs::read_to_string(&errors)?, "", "logs | head printed an error");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

/// Every file, directory and link under `root`, with the files' contents and the links' targets.
fn tree(root: &Path) -> Result<BTreeMap<PathBuf, Vec<u8>>> {
    let mut found = BTreeMap::new();
    let mut queue = vec![root.to_path_buf()];
    while let Some(path) = queue.pop() {
        let meta = std::fs::symlink_metadata(&path)?;
        let content = if meta.is_dir() {
            queue.extend(std::fs::read_dir(&path)?.map(|e| e.map(|e| e.path())).collect::<Result<Vec<_>, _>>()?);
            Vec::new()
        } else if meta.file_type().is_symlink() {
            std::fs::read_link(&path)?.into_os_string().into_encoded_bytes()
        } else if meta.is_file() {
            std::fs::read(&path)?
        } else {
            Vec::new()
        };
        found.insert(path, content);
    }
    Ok(found)
}

/// The tree under `root` once the containers' supervisors have written what they write as they
/// start (their `start` events come just after `up` returns).
fn settled_tree(root: &Path) -> Result<BTreeMap<PathBuf, Vec<u8>>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = tree(root)?;
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = tree(root)?;
        if now == last {
            return Ok(now);
        }
        ensure!(Instant::now() < deadline, "the state root kept changing: {:?}", changed(&last, &now));
        last = now;
    }
}

/// The paths whose content differs between two trees, for a readable failure.
fn changed(before: &BTreeMap<PathBuf, Vec<u8>>, after: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<PathBuf> {
    before.keys().chain(after.keys()).filter(|p| before.get(*p) != after.get(*p)).cloned().collect()
}

/// xcompose's progress lines (stderr) of a successful command.
fn progress(out: &Output) -> Result<Vec<String>> {
    ensure!(out.status.success(), "failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8(out.stderr.clone())?.lines().map(str::to_string).collect())
}

/// `--dry-run` after the command (or before it) prints compose's lines with the resources' names
/// and leaves the state root exactly as it was, on a new project and on a running one; a command
/// without a dry run is refused rather than carried out.
#[test]
fn dry_run_prints_compose_lines_and_changes_nothing() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(
        &sb,
        "dry",
        "services:\n  web:\n    image: busybox:latest\n    init: true\n    command: [sleep, \"1000\"]\n    volumes: [data:/data]\nvolumes:\n  data:\n",
    )?;
    let before = tree(sb.root())?;
    let lines = progress(&xcompose_output(&sb, &dir, &["up", "-d", "--dry-run"], Stdio::piped())?)?;
    assert_eq!(
        lines,
        [
            " DRY-RUN MODE -  Network dry_default  Creating",
            " DRY-RUN MODE -  Network dry_default  Created",
            " DRY-RUN MODE -  Volume \"dry_data\"  Creating",
            " DRY-RUN MODE -  Volume \"dry_data\"  Created",
            " DRY-RUN MODE -  Container dry-web-1  Creating",
            " DRY-RUN MODE -  Container dry-web-1  Created",
            " DRY-RUN MODE -  Container dry-web-1  Starting",
            " DRY-RUN MODE -  Container dry-web-1  Started",
        ]
    );
    assert_eq!(changed(&before, &tree(sb.root())?), Vec::<PathBuf>::new(), "up --dry-run changed the state root");
    let lines = progress(&xcompose_output(&sb, &dir, &["create", "--dry-run"], Stdio::piped())?)?;
    assert_eq!(lines.len(), 6, "create does not start: {lines:?}");
    assert_eq!(lines[5], " DRY-RUN MODE -  Container dry-web-1  Created");
    assert_eq!(changed(&before, &tree(sb.root())?), Vec::<PathBuf>::new(), "create --dry-run changed the state root");
    assert!(xcompose(&sb, &dir, &["ps", "-a", "-q"])?.is_empty());

    xcompose(&sb, &dir, &["up", "-d"])?;
    let running = settled_tree(sb.root())?;
    let lines = progress(&xcompose_output(&sb, &dir, &["--dry-run", "up", "-d", "--force-recreate"], Stdio::piped())?)?;
    assert_eq!(
        lines,
        [
            " DRY-RUN MODE -  Container dry-web-1  Recreate",
            " DRY-RUN MODE -  Container dry-web-1  Recreated",
            " DRY-RUN MODE -  Container dry-web-1  Starting",
            " DRY-RUN MODE -  Container dry-web-1  Started",
        ]
    );
    assert_eq!(changed(&running, &tree(sb.root())?), Vec::<PathBuf>::new(), "up --force-recreate --dry-run changed the state root");

    let refused = xcompose_output(&sb, &dir, &["down", "--dry-run"], Stdio::piped())?;
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(refused.stderr)?,
        "--dry-run is not supported by `xcompose down` yet: run it without --dry-run; nothing was changed\n"
    );
    assert_eq!(changed(&running, &tree(sb.root())?), Vec::<PathBuf>::new(), "a refused down --dry-run changed the state root");
    xcompose(&sb, &dir, &["down", "-v"])?;
    Ok(())
}

/// What compose users read: `(health: starting)` in `ps`, an exec error said once, `images` in
/// aligned columns with compose's headers.
#[test]
fn status_errors_and_images_read_as_compose() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(
        &sb,
        "details",
        "services:\n  web:\n    image: busybox:latest\n    init: true\n    command: [sleep, \"1000\"]\n    healthcheck:\n      test: [\"CMD\", \"false\"]\n      interval: 1h\n      start_period: 1h\n",
    )?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let ps = xcompose(&sb, &dir, &["ps", "--format", "json"])?;
    assert!(ps.contains("(health: starting)"), "{ps}");

    let out = xcompose_output(&sb, &dir, &["exec", "-T", "web", "/no/such/program"], Stdio::piped())?;
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr)?;
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert_eq!(stderr.matches("/no/such/program").count(), 1, "the error is said once: {stderr:?}");

    let images = xcompose(&sb, &dir, &["images"])?;
    let lines: Vec<&str> = images.lines().collect();
    assert_eq!(lines.len(), 2, "{images}");
    let header = ["CONTAINER", "REPOSITORY", "TAG", "PLATFORM", "IMAGE ID", "SIZE", "CREATED"];
    let starts: Vec<usize> = header.iter().map(|h| lines[0].find(h).unwrap()).collect();
    assert_eq!(starts, [0, 20, 40, 60, 80, 100, 120], "{images}");
    let row = lines[1];
    assert!(row.starts_with("details-web-1 ") && row[20..].starts_with("busybox ") && row[40..].starts_with("latest "), "{images}");
    assert!(row[60..].starts_with("linux/") && !row[80..].starts_with(' ') && row.ends_with(" ago"), "{images}");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

/// `--format` takes Go templates, with compose's field names, Docker's functions and `table`
/// headers, in `ps`, `images`, `ls`, `stats` and `version`; a broken template is one clear error.
#[test]
fn format_takes_go_templates() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(
        &sb,
        "tmpl",
        "services:\n  web:\n    image: busybox:latest\n    init: true\n    command: [sleep, \"1000\"]\n    labels: {tier: front}\n",
    )?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    assert_eq!(xcompose(&sb, &dir, &["ps", "--format", "{{.Name}}"])?, "tmpl-web-1\n");
    assert_eq!(xcompose(&sb, &dir, &["ps", "--format", "{{.Service}} {{upper .State}} {{.ExitCode}} {{.Project}}"])?, "web RUNNING 0 tmpl\n");
    let table = xcompose(&sb, &dir, &["ps", "--format", "table {{.Name}}\\t{{.Status}}"])?;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "NAME         STATUS", "{table}");
    assert!(lines[1].starts_with("tmpl-web-1   Up "), "{table}");
    let json: serde_json::Value = serde_json::from_str(&xcompose(&sb, &dir, &["ps", "--format", "{{json .}}"])?)?;
    let fields = [
        "ID", "Name", "Image", "Command", "Project", "Service", "CreatedAt", "State", "Status", "Health", "ExitCode", "Publishers", "Ports",
        "Labels", "LocalVolumes", "Mounts", "Networks", "RunningFor", "Size",
    ];
    for field in fields {
        assert!(json.get(field).is_some(), "{field} missing from {json}");
    }
    assert_eq!(json["Networks"], "tmpl_default");
    assert_eq!((&json["LocalVolumes"], &json["Size"], &json["ExitCode"]), (&"0".into(), &"0B".into(), &0.into()), "{json}");
    let labels = xcompose(&sb, &dir, &["ps", "--format", "{{join (split .Labels \",\") \";\"}}"])?;
    assert!(labels.contains(";tier=front;") || labels.ends_with(";tier=front\n"), "{labels}");
    assert_eq!(xcompose(&sb, &dir, &["images", "--format", "{{.ContainerName}} {{.Repository}}:{{.Tag}}"])?, "tmpl-web-1 busybox:latest\n");
    assert_eq!(xcompose(&sb, &dir, &["ls", "--format", "{{.Name}} {{.Status}}"])?, "tmpl running(1)\n");
    assert_eq!(xcompose(&sb, &dir, &["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}"])?, "tmpl-web-1 2\n");
    let version = xcompose(&sb, &dir, &["version", "--format", "{{.Version}}"])?;
    assert!(version.starts_with('v') && version.trim_end().len() > 1 && !version.contains(' '), "{version}");
    let out = xcompose_output(&sb, &dir, &["ps", "--format", "{{.Name"], Stdio::piped())?;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr)?;
    assert!(stderr.starts_with("invalid --format template \"{{.Name\"") && stderr.lines().count() == 1, "{stderr:?}");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}
