//! Independent stages built at the same time, end to end in a sandbox on the busybox test image,
//! proved without timing: two stages whose RUNs each wait for the other's file in a shared cache
//! mount can only both finish if they run together. Their output interleaves in blocks, each
//! under its own step's name, as BuildKit's plain progress prints it; a failing stage cancels the
//! other and leaves no container, snapshot, mount or image.

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

/// A RUN that marks `mine` in the shared cache mount `id`, then waits (at most 600 x 0.1 s) for
/// `theirs`, failing if it never comes.
fn rendezvous(id: &str, mine: &str, theirs: &str) -> String {
    format!(
        "RUN --mount=type=cache,id={id},sharing=shared,target=/shared echo {mine} waiting; touch /shared/{mine}; i=0; while [ ! -e /shared/{theirs} ]; do i=$((i+1)); if [ $i -gt 600 ]; then echo {theirs} never came; exit 1; fi; sleep 0.1; done; echo {mine} saw {theirs}; echo {mine} > /{mine}.txt"
    )
}

/// Checks that every output line (`#N 0.123 text`) follows its own vertex's name (`#N [...`)
/// with no other vertex's line in between: interleaved stages read step by step.
fn blocks_are_readable(output: &str) -> Result<()> {
    let mut block: Option<&str> = None;
    for line in output.lines() {
        let Some(rest) = line.strip_prefix('#') else { continue };
        let (number, text) = rest.split_once(' ').unwrap_or((rest, ""));
        if text.starts_with('[') {
            block = Some(number);
        } else if text.split(' ').next().is_some_and(|t| t.parse::<f64>().is_ok()) {
            ensure!(block == Some(number), "output line {line:?} is not under its step's name:\n{output}");
        }
    }
    Ok(())
}

/// The ID of the project's built image.
fn image_id(sb: &Sandbox, dir: &Path) -> Result<String> {
    let list: serde_json::Value = serde_json::from_str(&xcompose(sb, dir, &["image", "inspect", "together-app"])?)?;
    list[0]["Id"].as_str().map(String::from).context("image inspect printed no Id")
}

#[test]
fn independent_stages_run_together_and_interleave_readably() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "together", "services:\n  app:\n    build: .\n")?;
    let dockerfile = format!(
        "FROM busybox:latest AS left\n{}\nFROM busybox:latest AS right\n{}\nFROM busybox:latest AS unused\nRUN exit 9\nFROM busybox:latest\nCOPY --from=left /left.txt /\nCOPY --from=right /right.txt /\n",
        rendezvous("meet", "left", "right"),
        rendezvous("meet", "right", "left")
    );
    std::fs::write(dir.join("Dockerfile"), dockerfile)?;
    let (ok, output) = compose(&sb, &dir, &["build"])?;
    assert!(ok, "both stages saw each other's file, so they ran at the same time:\n{output}");
    assert!(output.contains(" left saw right") && output.contains(" right saw left"), "{output}");
    assert!(!output.contains("RUN exit 9"), "a stage the target does not need is not built:\n{output}");
    assert!(output.lines().any(|l| l.starts_with('#') && l.ends_with(" ...")), "a step left while running is marked `#N ...`:\n{output}");
    blocks_are_readable(&output)?;
    assert_eq!(xcompose(&sb, &dir, &["run", "--rm", "app", "cat", "/left.txt", "/right.txt"])?, "left\nright\n");

    let image = image_id(&sb, &dir)?;
    let (ok, again) = compose(&sb, &dir, &["build"])?;
    assert!(ok && !again.lines().any(|l| l.ends_with(" waiting")), "a rebuild takes both stages from the cache:\n{again}");
    assert_eq!(image_id(&sb, &dir)?, image, "and makes the same image");
    Ok(())
}

#[test]
fn a_failing_stage_cancels_the_others_and_leaves_nothing() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "cancelled", "services:\n  app:\n    build: .\n")?;
    let dockerfile = "FROM busybox:latest AS slow\n\
        RUN --mount=type=cache,id=fail,sharing=shared,target=/shared touch /shared/slow; i=0; while [ $i -lt 600 ]; do i=$((i+1)); sleep 0.1; done; echo slow-stage-finished; exit 1\n\
        FROM busybox:latest AS bad\n\
        RUN --mount=type=cache,id=fail,sharing=shared,target=/shared i=0; while [ ! -e /shared/slow ] && [ $i -lt 600 ]; do i=$((i+1)); sleep 0.1; done; echo bad-stage-fails; exit 3\n\
        FROM busybox:latest\nCOPY --from=slow /etc/hostname /a\nCOPY --from=bad /etc/hostname /b\n";
    std::fs::write(dir.join("Dockerfile"), dockerfile)?;
    let (ok, output) = compose(&sb, &dir, &["build"])?;
    assert!(!ok, "the build fails:\n{output}");
    assert!(output.contains("bad-stage-fails") && output.contains("exit code: 3"), "the failing stage's error is the build's:\n{output}");
    assert!(output.contains(" CANCELED") && !output.lines().any(|l| l.ends_with(" slow-stage-finished")), "the other stage's RUN was stopped:\n{output}");
    let running = sb.run("pgrep", &["-f", "slow-stage-finished"])?;
    assert!(!running.status.success(), "no RUN container is left running");
    let tmp = sb.root().join("builder/tmp");
    assert_eq!(std::fs::read_dir(&tmp)?.count(), 0, "no snapshot is left in {}", tmp.display());
    let mounts = sb.run_ok("cat", &["/proc/self/mountinfo"])?;
    assert!(!mounts.contains(tmp.to_str().context("path")?), "no mount is left:\n{mounts}");
    let (found, _) = compose(&sb, &dir, &["image", "inspect", "cancelled-app"])?;
    assert!(!found, "no image is tagged");
    Ok(())
}
