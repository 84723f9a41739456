//! `build:` end to end in a sandbox, on the busybox test image: `xcompose build` and `up` of a
//! service that builds its image (FROM, COPY, RUN, CMD), multi-stage builds with `COPY --from`,
//! layers with whiteouts, the cache (a no-op rebuild runs nothing; a changed file re-runs only
//! what follows it; an ARG change invalidates from its first use), cache mounts, secrets, and a
//! failing RUN that leaves nothing behind.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use xcompose_testkit::Sandbox;

mod common;
use common::{project, sandbox_with_busybox, xcompose, XCOMPOSE};

/// Runs xcompose on the project in `dir`: (success, stdout and stderr together).
fn compose(sb: &Sandbox, dir: &Path, args: &[&str]) -> Result<(bool, String)> {
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(args).output()?;
    Ok((out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))))
}

/// `xcompose build`, which must succeed; its output.
fn build(sb: &Sandbox, dir: &Path, args: &[&str]) -> Result<String> {
    let (ok, output) = compose(sb, dir, &[&["build"], args].concat())?;
    ensure!(ok, "xcompose build {args:?} failed:\n{output}");
    Ok(output)
}

/// The image's config as `image inspect` shows it.
fn inspect(sb: &Sandbox, dir: &Path, image: &str) -> Result<serde_json::Value> {
    let out = xcompose(sb, dir, &["image", "inspect", image])?;
    let list: serde_json::Value = serde_json::from_str(&out)?;
    list.get(0).cloned().context("image inspect printed no image")
}

/// A file in the project directory.
fn write(dir: &Path, name: &str, content: &str) -> Result<()> {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    Ok(std::fs::write(path, content)?)
}

const APP: &str = r#"
services:
  web:
    build: .
    init: true
"#;

const APP_DOCKERFILE: &str = r#"FROM busybox:latest
COPY greeting.txt /srv/greeting.txt
RUN echo "built by $(id -u)" > /srv/built.txt && rm /bin/vi
ENV GREETING_FILE=/srv/greeting.txt
CMD ["sh", "-c", "cat $GREETING_FILE /srv/built.txt; exec sleep 1000"]
"#;

#[test]
fn build_then_up_runs_the_built_image() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "app", APP)?;
    write(&dir, "Dockerfile", APP_DOCKERFILE)?;
    write(&dir, "greeting.txt", "hello from the context\n")?;

    let output = build(&sb, &dir, &[])?;
    for expected in ["[1/3] FROM docker.io/library/busybox:latest", "[2/3] COPY greeting.txt /srv/greeting.txt", "[3/3] RUN echo", "naming to docker.io/library/app-web:latest done"] {
        assert!(output.contains(expected), "build output shows {expected:?}:\n{output}");
    }
    let image = inspect(&sb, &dir, "app-web")?;
    let config = &image["Config"];
    assert_eq!(config["Cmd"], serde_json::json!(["sh", "-c", "cat $GREETING_FILE /srv/built.txt; exec sleep 1000"]));
    assert!(config["Env"].as_array().context("Env")?.iter().any(|e| e == "GREETING_FILE=/srv/greeting.txt"), "{config}");
    assert_eq!(config["Labels"]["com.docker.compose.project"], "app");
    assert_eq!(config["Labels"]["com.docker.compose.service"], "web");
    assert_eq!(image["RootFS"]["diff_ids"].as_array().context("diff_ids")?.len(), 3, "busybox's layer, COPY's and RUN's: {image}");

    xcompose(&sb, &dir, &["up", "-d"])?;
    let shown = xcompose(&sb, &dir, &["exec", "-T", "web", "sh", "-c", "cat /srv/greeting.txt /srv/built.txt; ls /bin/vi || echo vi-removed"])?;
    assert_eq!(shown, "hello from the context\nbuilt by 0\nvi-removed\n", "the container runs the built filesystem, whiteout included");
    let ps = xcompose(&sb, &dir, &["ps", "--format", "{{.Image}}"])?;
    assert_eq!(ps.trim(), "app-web");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

#[test]
fn up_builds_a_missing_image() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "fresh", APP)?;
    write(&dir, "Dockerfile", APP_DOCKERFILE)?;
    write(&dir, "greeting.txt", "built on up\n")?;
    let (ok, output) = compose(&sb, &dir, &["up", "-d"])?;
    ensure!(ok, "up failed:\n{output}");
    assert!(output.contains("Built"), "up reports the build:\n{output}");
    let shown = xcompose(&sb, &dir, &["exec", "-T", "web", "cat", "/srv/greeting.txt"])?;
    assert_eq!(shown, "built on up\n");
    // The image exists now: a second `up` builds nothing; `--build` builds again (all cached).
    let (ok, again) = compose(&sb, &dir, &["up", "-d"])?;
    ensure!(ok, "second up failed:\n{again}");
    assert!(!again.contains("Built"), "no build when the image exists:\n{again}");
    let (ok, rebuilt) = compose(&sb, &dir, &["up", "-d", "--build"])?;
    ensure!(ok, "up --build failed:\n{rebuilt}");
    assert!(rebuilt.contains("CACHED") && rebuilt.contains("Built"), "up --build builds, from the cache:\n{rebuilt}");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}
