//! `build:` end to end in a sandbox, on the busybox test image: `xcompose build` and `up` of a
//! service that builds its image (FROM, COPY, RUN, CMD), multi-stage builds with `COPY --from`,
//! layers with whiteouts, the cache (a no-op rebuild runs nothing; a changed file re-runs only
//! what follows it; an ARG change invalidates from its first use), cache mounts, secrets, and a
//! failing RUN that leaves nothing behind.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use xcompose_testkit::Sandbox;

mod common;
#[path = "common/killed_build.rs"]
mod killed_build;
use common::{project, sandbox_with_busybox, xcompose, XCOMPOSE};
use killed_build::kill_build_once_started;

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
    let container = xcompose(&sb, &dir, &["ps", "-q"])?;
    let (ok, rebuilt) = compose(&sb, &dir, &["up", "-d", "--build"])?;
    ensure!(ok, "up --build failed:\n{rebuilt}");
    assert!(rebuilt.contains("CACHED") && rebuilt.contains("Built"), "up --build builds, from the cache:\n{rebuilt}");
    assert_eq!(xcompose(&sb, &dir, &["ps", "-q"])?, container, "the same image: the container is not recreated");
    // A changed file makes a new image, and `up --build` recreates the container with it.
    write(&dir, "greeting.txt", "rebuilt\n")?;
    xcompose(&sb, &dir, &["up", "-d", "--build"])?;
    assert_ne!(xcompose(&sb, &dir, &["ps", "-q"])?, container, "a new image: the container is recreated");
    assert_eq!(xcompose(&sb, &dir, &["exec", "-T", "web", "cat", "/srv/greeting.txt"])?, "rebuilt\n");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

/// The lines the steps appended to the cache mount's log, which survives builds.
fn cache_log(sb: &Sandbox) -> Result<String> {
    let mounts = sb.root().join("builder/cache/mounts");
    let mut out = String::new();
    for entry in std::fs::read_dir(&mounts)? {
        let log = entry?.path().join("log");
        if log.exists() {
            out.push_str(&std::fs::read_to_string(log)?);
        }
    }
    Ok(out)
}

const CACHED: &str = r#"FROM busybox:latest
COPY a.txt /a.txt
RUN --mount=type=cache,target=/probe echo first >> /probe/log
COPY b.txt /b.txt
ARG V=1
RUN --mount=type=cache,target=/probe echo "second $V" >> /probe/log
"#;

#[test]
fn the_cache_runs_only_what_changed() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "cache", "services:\n  app:\n    build: .\n")?;
    write(&dir, "Dockerfile", CACHED)?;
    write(&dir, "a.txt", "a\n")?;
    write(&dir, "b.txt", "b\n")?;

    build(&sb, &dir, &[])?;
    assert_eq!(cache_log(&sb)?, "first\nsecond 1\n");
    let first_id = inspect(&sb, &dir, "cache-app")?["Id"].clone();

    // Nothing changed: every step is CACHED and no RUN runs.
    let output = build(&sb, &dir, &[])?;
    assert_eq!(output.lines().filter(|l| l.ends_with(" CACHED")).count(), 5, "FROM and the four steps are cached:\n{output}");
    assert_eq!(cache_log(&sb)?, "first\nsecond 1\n", "a no-op rebuild runs nothing");
    assert_eq!(inspect(&sb, &dir, "cache-app")?["Id"], first_id, "a rebuild from the cache makes the same image");

    // b.txt changed: only what follows its COPY runs again.
    write(&dir, "b.txt", "b, edited\n")?;
    build(&sb, &dir, &[])?;
    assert_eq!(cache_log(&sb)?, "first\nsecond 1\nsecond 1\n", "the first RUN stays cached");

    // An ARG change invalidates from its first use: the second RUN only.
    build(&sb, &dir, &["--build-arg", "V=2"])?;
    assert_eq!(cache_log(&sb)?, "first\nsecond 1\nsecond 1\nsecond 2\n");

    // --no-cache runs everything; the cache mount keeps its content.
    build(&sb, &dir, &["--no-cache", "--build-arg", "V=2"])?;
    assert_eq!(cache_log(&sb)?, "first\nsecond 1\nsecond 1\nsecond 2\nfirst\nsecond 2\n");

    // `builder prune` forgets every step and empties the cache mounts.
    let (ok, pruned) = compose(&sb, &dir, &["builder", "prune", "-f"])?;
    ensure!(ok, "builder prune failed:\n{pruned}");
    assert!(pruned.contains("Total reclaimed space:"), "{pruned}");
    build(&sb, &dir, &["--build-arg", "V=2"])?;
    assert_eq!(cache_log(&sb)?, "first\nsecond 2\n", "after a prune everything runs again, on an empty cache mount");
    Ok(())
}

const MULTI: &str = r#"FROM busybox:latest AS builder
WORKDIR /src
COPY tool.sh .
RUN chmod 755 tool.sh && mkdir -p /out && cp tool.sh /out/tool

FROM busybox:latest AS unused
RUN exit 1

FROM busybox:latest
COPY --from=builder /out/tool /usr/local/bin/tool
RUN --mount=type=bind,from=builder,source=/out,target=/mnt cp /mnt/tool /tool-copy
RUN rm -rf /home && mkdir /home && echo only > /home/only && rm /bin/vi
CMD ["tool"]
"#;

#[test]
fn multi_stage_copies_from_an_earlier_stage_and_skips_unused_ones() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "multi", "services:\n  app:\n    build: .\n")?;
    write(&dir, "Dockerfile", MULTI)?;
    write(&dir, "tool.sh", "#!/bin/sh\necho tool ran; ls /home; ls /bin/vi 2>/dev/null || echo no-vi\n")?;
    let output = build(&sb, &dir, &[])?;
    assert!(output.contains("[builder 2/4] WORKDIR /src") && output.contains("[stage-2 2/4] COPY --from=builder /out/tool /usr/local/bin/tool"), "{output}");
    assert!(!output.contains("RUN exit 1"), "the unused stage is not built:\n{output}");
    let image = inspect(&sb, &dir, "multi-app")?;
    assert_eq!(image["Config"]["WorkingDir"], serde_json::Value::Null, "the final stage has no WORKDIR of its own: {image}");
    let ran = xcompose(&sb, &dir, &["run", "--rm", "app"])?;
    assert_eq!(ran, "tool ran\nonly\nno-vi\n", "the tool from the builder stage runs, /home is opaque, /bin/vi whited out");
    let copied = xcompose(&sb, &dir, &["run", "--rm", "app", "sh", "-c", "head -1 /tool-copy; ls /mnt 2>/dev/null || echo no-mnt"])?;
    assert_eq!(copied, "#!/bin/sh\nno-mnt\n", "a RUN read the builder stage through a bind mount, which left nothing at /mnt");
    Ok(())
}

#[test]
fn a_failing_run_says_why_and_leaves_nothing() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "broken", "services:\n  app:\n    build: .\n")?;
    write(&dir, "Dockerfile", "FROM busybox:latest\nRUN echo about to fail && exit 3\n")?;
    let (ok, output) = compose(&sb, &dir, &["build"])?;
    assert!(!ok, "the build fails");
    assert!(output.contains("process \"/bin/sh -c echo about to fail && exit 3\" did not complete successfully: exit code: 3"), "{output}");
    assert!(output.contains("about to fail"), "the RUN's output is shown:\n{output}");
    let (found, _) = compose(&sb, &dir, &["image", "inspect", "broken-app"])?;
    assert!(!found, "no image is tagged");
    let tmp = sb.root().join("builder/tmp");
    assert_eq!(std::fs::read_dir(&tmp)?.count(), 0, "no snapshot is left in {}", tmp.display());
    let mounts = sb.run_ok("cat", &["/proc/self/mountinfo"])?;
    assert!(!mounts.contains(tmp.to_str().context("path")?), "no mount is left:\n{mounts}");
    Ok(())
}

#[test]
fn a_killed_build_leaves_nothing_the_next_build_does_not_clean() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "killed", "services:\n  app:\n    build: .\n")?;
    write(&dir, "Dockerfile", "FROM busybox:latest\nRUN echo started && sleep 7177\n")?;
    kill_build_once_started(&sb, &dir)?;
    let sleeping = || -> Result<bool> { Ok(sb.run("pgrep", &["-f", "sleep 7177"])?.status.success()) };
    assert!(sleeping()?, "the RUN's container outlived the killed build");
    write(&dir, "Dockerfile", "FROM busybox:latest\nRUN echo done\n")?;
    build(&sb, &dir, &[])?;
    assert!(!sleeping()?, "the next build killed the abandoned container");
    assert_eq!(std::fs::read_dir(sb.root().join("builder/tmp"))?.count(), 0, "and removed its snapshot");
    Ok(())
}

const SECRETS: &str = r#"
services:
  app:
    build:
      context: .
      secrets: [token]
      args:
        GREETING: hi
secrets:
  token:
    file: ./token.txt
"#;

#[test]
fn secrets_are_mounted_for_a_run_and_not_kept() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "secret", SECRETS)?;
    write(&dir, "token.txt", "s3cr3t")?;
    write(&dir, "Dockerfile", "FROM busybox:latest\nARG GREETING\nRUN --mount=type=secret,id=token,required=true echo \"$GREETING $(cat /run/secrets/token | wc -c)\" > /seen\nRUN --network=none ip -o link show | cut -d: -f2 | tr -d ' ' | tr '\\n' ' ' >> /seen; echo >> /seen\n")?;
    build(&sb, &dir, &[])?;
    let seen = xcompose(&sb, &dir, &["run", "--rm", "app", "sh", "-c", "cat /seen; ls /run/secrets 2>&1 || true"])?;
    assert!(seen.starts_with("hi 6\nlo \n"), "the RUN read the 6-byte secret; --network=none has loopback only: {seen}");
    assert!(seen.contains("No such file or directory"), "the secret's mount point is not in the image: {seen}");
    Ok(())
}

const WATCHED: &str = r#"
services:
  web:
    build: .
    init: true
    command: ["sh", "-c", "cat /version; exec sleep 1000"]
    develop:
      watch:
        - {path: ./version.txt, action: rebuild}
"#;

#[test]
fn watch_rebuilds_and_recreates_and_run_builds_on_demand() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "watched", WATCHED)?;
    write(&dir, "Dockerfile", "FROM busybox:latest\nCOPY version.txt /version\n")?;
    write(&dir, "version.txt", "v1\n")?;
    let mut watch = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).arg("watch").stderr(std::process::Stdio::piped()).spawn()?;
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
                if lines.recv_timeout(std::time::Duration::from_secs(30))?.contains(wanted) {
                    return Ok(());
                }
            }
        };
        wait_line("Watch enabled")?;
        assert_eq!(xcompose(&sb, &dir, &["exec", "-T", "web", "cat", "/version"])?, "v1\n", "watch built the image and started it");
        let first = xcompose(&sb, &dir, &["ps", "-q"])?;
        write(&dir, "version.txt", "v2\n")?;
        wait_line("successfully built")?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while xcompose(&sb, &dir, &["exec", "-T", "web", "cat", "/version"]).unwrap_or_default() != "v2\n" {
            ensure!(std::time::Instant::now() < deadline, "the rebuilt image did not come up");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert_ne!(xcompose(&sb, &dir, &["ps", "-q"])?, first, "the container was recreated from the new image");
        Ok(())
    })();
    let _ = watch.kill();
    let _ = watch.wait();
    result?;
    // `run --build` builds the changed file into the image before running.
    write(&dir, "version.txt", "v3\n")?;
    assert_eq!(xcompose(&sb, &dir, &["run", "--rm", "web", "cat", "/version"])?, "v2\n", "run uses the existing image");
    let (ok, output) = compose(&sb, &dir, &["run", "--rm", "--build", "web", "cat", "/version"])?;
    ensure!(ok, "run --build failed:\n{output}");
    assert!(output.contains("v3\n"), "run --build runs the rebuilt image:\n{output}");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

const BUILD_KEYS: &str = r#"
services:
  app:
    image: keys-app
    command: ["sh", "-c", "cat /note /shared.txt /hosts /shm /links /sandboxed /priv"]
    build:
      context: ctx
      dockerfile_inline: |
        FROM busybox:latest AS base
        ARG NOTE
        RUN echo "$$NOTE" > /note
        FROM base AS final
        COPY --from=extra shared.txt /shared.txt
        RUN grep -q "10.1.2.3.*gateway.test" /etc/hosts && echo hosts-ok > /hosts
        RUN df -k /dev/shm | tail -1 | awk '{print $2}' > /shm
        RUN ip -o link show | wc -l > /links
        RUN mkdir -p /mnt/u && mount -t tmpfs none /mnt/u || echo sandboxed > /sandboxed
        RUN --security=insecure mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && echo privileged > /priv; umount /mnt/t || true
        FROM base AS unused
        RUN exit 1
      args:
        NOTE: from-args
      target: final
      labels:
        com.example.key: value
      tags: ["keys-app:extra"]
      extra_hosts: ["gateway.test=10.1.2.3"]
      shm_size: 33554432
      network: none
      privileged: true
      no_cache: true
      additional_contexts:
        extra: ./extra
"#;

#[test]
fn compose_build_keys_take_effect() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "buildkeys", BUILD_KEYS)?;
    std::fs::create_dir_all(dir.join("ctx"))?;
    write(&dir, "extra/shared.txt", "from-extra\n")?;
    let first = build(&sb, &dir, &[])?;
    let config = inspect(&sb, &dir, "keys-app:extra")?;
    assert_eq!(config["Config"]["Labels"]["com.example.key"], "value", "labels and tags: {config}");
    let out = xcompose(&sb, &dir, &["run", "--rm", "app"])?;
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["from-args", "from-extra", "hosts-ok", "32768", "1", "sandboxed", "privileged"],
        "args, target (the unused stage's failing RUN never ran), additional_contexts, extra_hosts, shm_size, network: none, privileged (only for RUN --security=insecure, as BuildKit):\n{first}"
    );
    let again = build(&sb, &dir, &[])?;
    // no_cache: every RUN and COPY step runs again (FROM lines may still say CACHED, as BuildKit's).
    let steps: Vec<&str> = again.lines().filter(|l| l.contains("] RUN ") || l.contains("] COPY ")).filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(steps.len(), 7, "seven RUN and COPY steps:\n{again}");
    assert!(steps.iter().all(|id| !again.contains(&format!("{id} CACHED\n"))), "no_cache: nothing comes from the cache:\n{again}");
    Ok(())
}

/// Debian's ssh-agent serving `socket` inside the sandbox, in the foreground; killed when dropped.
struct Agent(std::process::Child);

impl Agent {
    fn start(sb: &Sandbox, socket: &Path) -> Result<Agent> {
        let child = sb.command("ssh-agent").arg("-D").arg("-a").arg(socket).stdout(std::process::Stdio::null()).spawn().context("ssh-agent (openssh-client) must be installed")?;
        for _ in 0..100 {
            if std::fs::symlink_metadata(socket).is_ok() {
                return Ok(Agent(child));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        anyhow::bail!("ssh-agent made no socket at {}", socket.display())
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const SSH_FORWARDED: &str = r#"FROM busybox:latest
RUN --mount=type=ssh test -S "$SSH_AUTH_SOCK" && echo "$SSH_AUTH_SOCK" > /seen
RUN --mount=type=ssh,id=deploy,target=/tmp/deploy.sock,required=true test -S /tmp/deploy.sock && echo "$SSH_AUTH_SOCK" >> /seen
"#;

#[test]
fn ssh_mounts_forward_the_agent_and_fail_without_one() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let (default_socket, deploy_socket) = (sb.temp_dir().join("agent-default.sock"), sb.temp_dir().join("agent-deploy.sock"));
    let _agents = (Agent::start(&sb, &default_socket)?, Agent::start(&sb, &deploy_socket)?);
    let text = format!("services:\n  app:\n    build:\n      context: .\n      ssh:\n        - default\n        - deploy={}\n", deploy_socket.display());
    let dir = project(&sb, "ssh", &text)?;
    write(&dir, "Dockerfile", SSH_FORWARDED)?;
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).arg("build").env("SSH_AUTH_SOCK", &default_socket).output()?;
    ensure!(out.status.success(), "build with agents failed: {}", String::from_utf8_lossy(&out.stderr));
    let seen = xcompose(&sb, &dir, &["run", "--rm", "app", "sh", "-c", "cat /seen; ls /run/buildkit /tmp/deploy.sock 2>&1 || true"])?;
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(lines[..2], ["/run/buildkit/ssh_agent.0", "/tmp/deploy.sock"], "each RUN saw its agent's socket and SSH_AUTH_SOCK naming it: {seen}");
    assert!(lines[2..].iter().all(|l| l.contains("No such file or directory")), "the sockets' mount points are not in the image: {seen}");

    // `default` without SSH_AUTH_SOCK: refused before building, as buildx does.
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).arg("build").env_remove("SSH_AUTH_SOCK").output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("SSH_AUTH_SOCK is not set"), "{stderr}");

    // No agent forwarded: an optional ssh mount is skipped (BuildKit's required=false); a
    // required one fails naming the line, and no image is made.
    let bare = project(&sb, "nossh", "services:\n  app:\n    build: .\n")?;
    write(&bare, "Dockerfile", "FROM busybox:latest\nRUN --mount=type=ssh echo \"[$SSH_AUTH_SOCK]\" > /seen\n")?;
    build(&sb, &bare, &[])?;
    assert_eq!(xcompose(&sb, &bare, &["run", "--rm", "app", "cat", "/seen"])?, "[]\n", "an optional ssh mount without an agent is skipped");
    xcompose(&sb, &bare, &["image", "rm", "nossh-app"])?;
    write(&bare, "Dockerfile", "FROM busybox:latest\nRUN echo ok\nRUN --mount=type=ssh,required=true echo never\n")?;
    let (ok, output) = compose(&sb, &bare, &["build"])?;
    assert!(!ok, "a required ssh mount without an agent fails: {output}");
    let error = output.lines().last().unwrap_or_default();
    assert!(error.contains("Dockerfile:3") && error.contains("no SSH agent: set SSH_AUTH_SOCK or build.ssh"), "one line naming the Dockerfile line: {output}");
    let (present, _) = compose(&sb, &bare, &["image", "inspect", "nossh-app"])?;
    assert!(!present, "no image is left");
    Ok(())
}

const PRINTED: &str = r#"
services:
  api:
    build:
      context: ./api
      dockerfile: api.Dockerfile
      target: runtime
      args: {VERSION: "1.2"}
      labels: {com.example.team: core}
      network: host
      tags: ["registry.example/api:1.2"]
      ssh: [default]
      pull: true
  web:
    image: web:dev
    build:
      context: .
      dockerfile_inline: "FROM busybox:latest\nRUN echo $${HOME}\n"
      privileged: true
      extra_hosts: ["db=10.0.0.5"]
  db:
    image: busybox:latest
"#;

#[test]
fn build_print_shows_compose_s_bake_definition_and_builds_nothing() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "printed", PRINTED)?;
    std::fs::create_dir_all(dir.join("api"))?;
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["build", "--print", "--build-arg", "EXTRA=1"]).env_remove("SSH_AUTH_SOCK").output()?;
    ensure!(out.status.success(), "build --print failed: {}", String::from_utf8_lossy(&out.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let project_dir = dir.clone();
    let dir = dir.display();
    let labels = |service: &str| serde_json::json!({"com.docker.compose.project": "printed", "com.docker.compose.service": service, "com.docker.compose.version": "2.40.3"});
    let mut api_labels = labels("api");
    api_labels["com.example.team"] = "core".into();
    let expected = serde_json::json!({
        "group": {"default": {"targets": ["api", "web"]}},
        "target": {
            "api": {
                "context": format!("{dir}/api"),
                "dockerfile": format!("{dir}/api/api.Dockerfile"),
                "args": {"EXTRA": "1", "VERSION": "1.2"},
                "labels": api_labels,
                "tags": ["registry.example/api:1.2", "printed-api"],
                "target": "runtime",
                "ssh": ["default"],
                "pull": true,
                "network": "host",
                "output": ["type=docker,load=true,push=false"]
            },
            "web": {
                "context": dir.to_string(),
                "dockerfile-inline": "FROM busybox:latest\nRUN echo $${HOME}\n",
                "args": {"EXTRA": "1"},
                "labels": labels("web"),
                "tags": ["web:dev"],
                "entitlements": ["security.insecure"],
                "extra-hosts": {"db": "10.0.0.5"},
                "output": ["type=docker,load=true,push=false"]
            }
        }
    });
    assert_eq!(printed, expected, "{}", String::from_utf8_lossy(&out.stdout));
    let keys: Vec<&String> = printed["target"]["api"].as_object().context("api target")?.keys().collect();
    assert_eq!(keys, ["context", "dockerfile", "args", "labels", "tags", "target", "ssh", "pull", "network", "output"], "compose's key order");
    let (present, _) = compose(&sb, &project_dir, &["image", "inspect", "printed-api"])?;
    assert!(!present, "--print builds nothing");
    Ok(())
}
