//! Real-world stacks behave as under Docker Engine and Docker Compose: a dependency that
//! crash-loops fails `up` at once; the image's config (STOPSIGNAL, HEALTHCHECK, LABEL) counts as
//! the Docker Engine merges it with the service's.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use xcompose_testkit::Sandbox;

mod common;
use common::{project, sandbox_with_busybox, xcompose, XCOMPOSE};

/// Loads `reference` into the sandbox's store as a `docker save` archive: the busybox test
/// image's files as its one layer, under the run `config` given (Docker's `config` object).
fn load_image(sb: &Sandbox, reference: &str, config: serde_json::Value) -> Result<()> {
    let dir = sb.temp_dir().join(format!("archive-{}", reference.replace([':', '/'], "-")));
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(xcompose_testkit::busybox_image_tar()?, dir.join("layer.tar"))?;
    let sum = Command::new("sha256sum").arg(dir.join("layer.tar")).output()?;
    let digest = String::from_utf8(sum.stdout)?.split_whitespace().next().context("sha256sum printed nothing")?.to_string();
    let image = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{digest}")]},
    });
    std::fs::write(dir.join("config.json"), serde_json::to_vec(&image)?)?;
    let manifest = serde_json::json!([{"Config": "config.json", "RepoTags": [reference], "Layers": ["layer.tar"]}]);
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&manifest)?)?;
    let archive = dir.with_extension("tar");
    let tar = Command::new("tar").arg("-cf").arg(&archive).arg("-C").arg(&dir).args(["manifest.json", "config.json", "layer.tar"]).status()?;
    ensure!(tar.success(), "tar failed");
    sb.run_ok(XCOMPOSE, &["--root", sb.root().to_str().unwrap(), "image", "load", "-i", archive.to_str().unwrap()])?;
    Ok(())
}

/// `ps -a --format json`, by service.
fn ps(sb: &Sandbox, dir: &Path) -> Result<BTreeMap<String, serde_json::Value>> {
    xcompose(sb, dir, &["ps", "-a", "--format", "json"])?
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)?;
            Ok((v["Service"].as_str().unwrap_or_default().to_string(), v))
        })
        .collect()
}

/// `db` exits at once; `web` waits for it under `condition`.
fn crash_looping_dependency(restart: &str, condition: &str) -> String {
    format!(
        r#"
services:
  db:
    image: busybox:latest
    command: ["sh", "-c", "exit 1"]
    restart: "{restart}"
    healthcheck:
      test: ["CMD", "true"]
      interval: 30s
  web:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    depends_on:
      db: {{condition: {condition}}}
"#
    )
}

/// As compose: `up -d` fails with exit code 1 and compose's message as soon as the dependency
/// exits, instead of waiting for probes (or forever for a crash loop).
#[test]
fn a_crash_looping_dependency_fails_up_at_once() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let cases = [
        ("always", "service_healthy", "dependency failed to start: container deps1-db-1 is unhealthy"),
        ("no", "service_healthy", "dependency failed to start: container deps2-db-1 exited (1)"),
        ("always", "service_completed_successfully", "service \"db\" didn't complete successfully: exit 1"),
    ];
    for (n, (restart, condition, message)) in cases.iter().enumerate() {
        let dir = project(&sb, &format!("deps{}", n + 1), &crash_looping_dependency(restart, condition))?;
        let started = Instant::now();
        let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["up", "-d"]).output()?;
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(out.status.code() == Some(1), "{restart}/{condition}: up exited {:?}: {stderr}", out.status.code());
        ensure!(stderr.lines().any(|l| l == *message), "{restart}/{condition}: no line {message:?} in:\n{stderr}");
        // db starts and exits at once: the 30 s probe interval must not matter.
        ensure!(took < Duration::from_secs(5), "{restart}/{condition}: up took {took:?}");
        xcompose(&sb, &dir, &["down", "-t", "0"])?;
    }
    Ok(())
}

/// A process that only a SIGINT ends (with 0), ready once it runs: a postgres-like image.
const INT_ONLY: &str = "trap 'exit 0' INT; trap '' TERM; touch /tmp/ready; while true; do sleep 0.1; done";

const IMAGE_CONFIG_STACK: &str = r#"
services:
  db:
    image: sig:latest
    labels: {tier: db}
  app:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    depends_on:
      db: {condition: service_healthy}
  unchecked:
    image: sig:latest
    healthcheck: {disable: true}
  term:
    image: sig:latest
    stop_signal: SIGTERM
    stop_grace_period: 1s
    healthcheck: {interval: 30s, start_interval: 30s}
"#;

/// The image's STOPSIGNAL stops the container (the service's `stop_signal` wins), its
/// HEALTHCHECK gates dependents (`disable: true` turns it off; the service's fields go over
/// the image's), and its labels go under the service's.
#[test]
fn the_images_stop_signal_healthcheck_and_labels_count() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    load_image(
        &sb,
        "sig:latest",
        serde_json::json!({
            "Cmd": ["sh", "-c", INT_ONLY],
            "StopSignal": "SIGINT",
            "Healthcheck": {"Test": ["CMD-SHELL", "test -f /tmp/ready"], "Interval": 100_000_000u64, "StartPeriod": 10_000_000_000u64, "StartInterval": 100_000_000u64},
            "Labels": {"org.example.from": "image", "tier": "image"},
            "OnBuild": ["RUN exit 1"],
        }),
    )?;
    let dir = project(&sb, "sig", IMAGE_CONFIG_STACK)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let before = ps(&sb, &dir)?;
    ensure!(before["db"]["Health"] == "healthy", "the image's healthcheck made db healthy: {}", before["db"]);
    let labels = before["db"]["Labels"].as_str().unwrap_or_default();
    ensure!(labels.split(',').any(|l| l == "org.example.from=image") && labels.split(',').any(|l| l == "tier=db"), "labels: {labels}");
    ensure!(before["unchecked"]["Health"] == "", "disable: true: {}", before["unchecked"]);
    ensure!(before["term"]["Health"] == "starting", "the service's interval over the image's test: {}", before["term"]);

    let started = Instant::now();
    xcompose(&sb, &dir, &["stop", "db"])?;
    let took = started.elapsed();
    let after = ps(&sb, &dir)?;
    ensure!(after["db"]["State"] == "exited" && after["db"]["ExitCode"] == 0, "SIGINT ended db with 0: {}", after["db"]);
    ensure!(took < Duration::from_secs(1), "stop took {took:?}: the 10 s grace ran out");
    xcompose(&sb, &dir, &["stop", "term"])?;
    let term = &ps(&sb, &dir)?["term"];
    ensure!(term["ExitCode"] == 137, "stop_signal SIGTERM (ignored) over the image's SIGINT: killed after the grace: {term}");
    xcompose(&sb, &dir, &["down", "-t", "0"])?;
    Ok(())
}
