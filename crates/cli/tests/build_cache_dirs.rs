//! compose's `build.cache_to` / `build.cache_from` as local caches, end to end in a sandbox on
//! the busybox test image: a build exports its steps and their layers to a directory; a build in
//! an empty state root, or after `builder prune`, imports them and runs no RUN step, making the
//! same image. Registry caches are refused with the reason.

use std::path::Path;

use anyhow::{Context, Result};
use xcompose_testkit::Sandbox;

mod common;
use common::{project, sandbox_with_busybox, xcompose, XCOMPOSE};

/// Runs xcompose with state root `root` on the project in `dir`: (success, stdout and stderr).
fn compose(sb: &Sandbox, root: &Path, dir: &Path, args: &[&str]) -> Result<(bool, String)> {
    let out = sb.command(XCOMPOSE).arg("--root").arg(root).arg("-f").arg(dir.join("compose.yaml")).args(args).output()?;
    Ok((out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))))
}

/// Like [`compose`], failing unless it succeeds.
fn compose_ok(sb: &Sandbox, root: &Path, dir: &Path, args: &[&str]) -> Result<String> {
    let (ok, output) = compose(sb, root, dir, args)?;
    anyhow::ensure!(ok, "xcompose {args:?} failed:\n{output}");
    Ok(output)
}

/// The ID of the project's image in state root `root`.
fn image_id(sb: &Sandbox, root: &Path, dir: &Path) -> Result<String> {
    let list: serde_json::Value = serde_json::from_str(&compose_ok(sb, root, dir, &["image", "inspect", "cached-app"])?)?;
    list[0]["Id"].as_str().map(String::from).context("image inspect printed no Id")
}

/// Whether a RUN step ran: its output line (`#N 0.123 ran-step`) is in the build's output.
fn ran(output: &str) -> bool {
    output.lines().any(|l| l.starts_with('#') && l.ends_with(" ran-step"))
}

const DOCKERFILE: &str = "FROM busybox:latest AS tool\nRUN echo ran-step && echo tool > /tool\nFROM busybox:latest\nCOPY greeting.txt /srv/\nRUN echo ran-step && echo built > /srv/built\nWORKDIR /srv/app\nCOPY --from=tool /tool /srv/tool\n";

#[test]
fn a_build_exports_its_cache_and_an_empty_state_root_imports_it() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let cache = sb.temp_dir().join("cache");
    let compose_file = format!("services:\n  app:\n    build:\n      context: .\n      cache_from: [\"type=local,src={0}\"]\n      cache_to: [\"type=local,dest={0}\"]\n", cache.display());
    let dir = project(&sb, "cached", &compose_file)?;
    std::fs::write(dir.join("Dockerfile"), DOCKERFILE)?;
    std::fs::write(dir.join("greeting.txt"), "hello\n")?;

    let first = compose_ok(&sb, sb.root(), &dir, &["build"])?;
    assert!(ran(&first), "{first}");
    assert!(first.contains("WARNING: local cache import at") && first.contains("exporting cache to client directory"), "a missing cache is a warning; the steps are exported:\n{first}");
    assert!(cache.join("index.json").exists() && cache.join("oci-layout").exists(), "an OCI layout in {}", cache.display());
    let built = image_id(&sb, sb.root(), &dir)?;

    // Another state root with only the base image (loaded, so it has the same ID).
    let other = sb.temp_dir().join("other-root");
    let base = sb.temp_dir().join("busybox.tar");
    xcompose(&sb, &dir, &["image", "save", "-o", base.to_str().context("path")?, "busybox:latest"])?;
    compose_ok(&sb, &other, &dir, &["image", "load", "-i", base.to_str().context("path")?])?;
    let imported = compose_ok(&sb, &other, &dir, &["build"])?;
    assert!(!ran(&imported), "a build on an empty state root with cache_from runs no RUN step:\n{imported}");
    assert_eq!(image_id(&sb, &other, &dir)?, built, "and makes the same image");
    let content = compose_ok(&sb, &other, &dir, &["run", "--rm", "app", "cat", "/srv/greeting.txt", "/srv/built", "/srv/tool"])?;
    assert!(content.starts_with("hello\nbuilt\ntool\n"), "the imported layers are the image's: {content}");

    xcompose(&sb, &dir, &["builder", "prune", "-f"])?;
    let after_prune = compose_ok(&sb, sb.root(), &dir, &["build"])?;
    assert!(!ran(&after_prune), "after builder prune, cache_from brings the steps back:\n{after_prune}");

    std::fs::write(dir.join("greeting.txt"), "changed\n")?;
    let changed = compose_ok(&sb, &other, &dir, &["build"])?;
    assert!(ran(&changed), "a changed file still re-runs what follows it:\n{changed}");
    Ok(())
}

#[test]
fn registry_caches_are_refused_with_the_reason() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    for (key, entry) in [("cache_from", "myapp:buildcache"), ("cache_to", "type=registry,ref=myapp:buildcache")] {
        let dir = project(&sb, &format!("refused-{}", key.replace('_', "-")), &format!("services:\n  app:\n    build:\n      context: .\n      {key}: [\"{entry}\"]\n"))?;
        std::fs::write(dir.join("Dockerfile"), "FROM busybox:latest\nRUN echo ran-step\n")?;
        let (ok, output) = compose(&sb, sb.root(), &dir, &["build"])?;
        assert!(!ok && !ran(&output), "{output}");
        assert!(output.contains(&format!("build.{key} \"{entry}\": registry caches are not supported")) && output.contains("use type=local,"), "{output}");
    }
    Ok(())
}
