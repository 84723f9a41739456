//! Real-world stacks behave as under Docker Engine and Docker Compose: a dependency that
//! crash-loops fails `up` at once.

use std::time::{Duration, Instant};

use anyhow::{ensure, Result};

mod common;
use common::{project, sandbox_with_busybox, XCOMPOSE};

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
        sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["down", "-t", "0"]).output()?;
    }
    Ok(())
}
