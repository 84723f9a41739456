//! User namespace remapping end to end in a sandbox (`--userns-remap`, `userns_mode`): the
//! sandbox gets a private copy of /etc, so the `dockremap` user and its subordinate ranges made
//! by `--userns-remap default` never reach the host's.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{ensure, Context, Result};
use xcompose_testkit::Sandbox;

mod common;
use common::{project, sandbox_with_busybox, xcompose, XCOMPOSE};

/// A sandbox with the busybox image whose /etc is its own (users made in it stay in it).
fn sandbox_with_private_etc() -> Result<Sandbox> {
    let sb = sandbox_with_busybox()?;
    sb.run_ok("sh", &["-c", "cp -a /etc /run/etc && mount --bind /run/etc /etc"])?;
    Ok(sb)
}

/// xcompose with `--userns-remap default` on the project in `dir`: (success, stdout + stderr).
fn remapped(sb: &Sandbox, dir: &Path, args: &[&str]) -> Result<(bool, String)> {
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("--userns-remap").arg("default").arg("-f").arg(dir.join("compose.yaml")).args(args).output()?;
    Ok((out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))))
}

/// The first subordinate id and the range size of `dockremap` in the sandbox's `file`.
fn dockremap_range(sb: &Sandbox, file: &str) -> Result<(u32, u32)> {
    let text = sb.run_ok("cat", &[file])?;
    let line = text.lines().find_map(|l| l.strip_prefix("dockremap:")).with_context(|| format!("no dockremap range in {file}: {text}"))?;
    let (start, size) = line.split_once(':').context("a NAME:START:COUNT line")?;
    Ok((start.parse()?, size.parse()?))
}

/// The entries of `dir` but its hidden lock files.
fn entries(dir: &Path) -> Result<Vec<String>> {
    Ok(std::fs::read_dir(dir)?.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| !n.starts_with('.')).collect())
}

fn owner(path: &Path) -> Result<(u32, u32)> {
    let meta = std::fs::metadata(path).with_context(|| format!("stat {}", path.display()))?;
    Ok((meta.uid(), meta.gid()))
}

const SERVICES: &str = "services:
  app:
    image: busybox:latest
    init: true
    command: [sleep, '1000']
    volumes: [data:/data, home:/home, ./shared:/shared]
    configs: [{source: greeting, target: /greeting, uid: '1000'}]
  admin:
    image: busybox:latest
    init: true
    command: [sleep, '1000']
    cap_add: [SYS_ADMIN]
  hosty:
    image: busybox:latest
    init: true
    command: [sleep, '1000']
    userns_mode: host
volumes:
  data:
  home:
configs:
  greeting:
    content: hello
";

#[test]
fn remapped_containers_root_is_a_subordinate_range() -> Result<()> {
    let sb = sandbox_with_private_etc()?;
    let dir = project(&sb, "remap", SERVICES)?;
    let shared = dir.join("shared");
    std::fs::create_dir(&shared)?;
    std::fs::write(shared.join("host-file"), "host\n")?;

    let (ok, out) = remapped(&sb, &dir, &["up", "-d"])?;
    ensure!(ok, "up in remap mode failed: {out}");
    let (uid, uids) = dockremap_range(&sb, "/etc/subuid")?;
    let (gid, gids) = dockremap_range(&sb, "/etc/subgid")?;
    ensure!((uids, gids) == (65536, 65536), "dockremap got {uids} uids and {gids} gids, not 65536 as dockerd gives");
    std::os::unix::fs::chown(&shared, Some(uid), Some(gid))?;

    let exec = |service: &str, script: &str| xcompose(&sb, &dir, &["exec", "-T", service, "sh", "-c", script]);
    let maps = exec("app", "cat /proc/self/uid_map /proc/self/gid_map; id -u; grep Seccomp: /proc/self/status")?;
    let words: Vec<&str> = maps.split_whitespace().collect();
    ensure!(words[..6] == ["0", &uid.to_string(), "65536", "0", &gid.to_string(), "65536"], "container root is not dockremap's range: {maps}");
    ensure!(words[6] == "0", "the command does not run as the container's root: {maps}");
    ensure!(maps.contains("Seccomp:\t2"), "the seccomp filter is not loaded in a user namespace: {maps}");

    // A named volume belongs to the mapped root; what root writes there is the range's on the host.
    let written = exec("app", "echo x > /data/root-file && touch /data/user-file && chown 1000:1000 /data/user-file && echo chowned")?;
    ensure!(written.contains("chowned"), "chown within the range failed: {written}");
    let volume = sb.root().join("volumes/remap_data/_data");
    ensure!(owner(&volume)? == (uid, gid), "the volume is not owned by the mapped root");
    ensure!(owner(&volume.join("root-file"))? == (uid, gid), "a file root wrote is not the range's first id on the host");
    ensure!(owner(&volume.join("user-file"))? == (uid + 1000, gid + 1000), "chown 1000 did not give the range's id 1000");

    // A volume seeded from the image (its /home/app is 1000's) gets the owners shifted, as the
    // container sees the image.
    let seeded = exec("app", "stat -c %u:%g /home/app")?;
    ensure!(seeded.trim() == "1000:1000", "the seeded volume shows other owners than the image: {seeded}");
    ensure!(owner(&sb.root().join("volumes/remap_home/_data/app"))? == (uid + 1000, gid + 1000), "seeded owners are not shifted into the range");

    // A bind mount: host ids appear shifted, unmapped ones as nobody; writes land as the range's.
    let bind = exec("app", "stat -c 'dir=%u file=%U' /shared /shared/host-file | tr '\\n' ' '; echo new > /shared/new && echo wrote; echo no >> /shared/host-file || echo protected")?;
    ensure!(bind.contains("dir=0") && bind.contains("file=nobody"), "bind mount ids not shown as Docker shows them: {bind}");
    ensure!(bind.contains("wrote") && bind.contains("protected"), "bind mount permissions wrong: {bind}");
    ensure!(owner(&shared.join("new"))? == (uid, gid), "a file written to a bind mount is not the range's");

    // A config written for the container belongs to its uid within the range.
    let config = exec("app", "stat -c %u /greeting; cat /greeting")?;
    ensure!(config == "1000\nhello", "config owner or content: {config:?}");

    // A restarted container gets a user namespace of the same range again.
    xcompose(&sb, &dir, &["restart", "-t", "0", "app"])?;
    let restarted = exec("app", "cat /proc/self/uid_map")?;
    ensure!(restarted.split_whitespace().nth(1) == Some(uid.to_string().as_str()), "a restarted container is not remapped: {restarted}");

    // `cp` into the running container makes files of the container's root.
    std::fs::write(dir.join("copied.txt"), "copied\n")?;
    xcompose(&sb, &dir, &["cp", dir.join("copied.txt").to_str().unwrap(), "app:/tmp/copied.txt"])?;
    let copied = exec("app", "stat -c %u:%g /tmp/copied.txt; cat /tmp/copied.txt")?;
    ensure!(copied == "0:0\ncopied\n", "cp into a remapped container: {copied:?}");

    // Capabilities act within the namespace only: even SYS_ADMIN mounts nothing.
    let admin = exec("admin", "grep Seccomp: /proc/self/status; mount --bind /etc /mnt && echo mounted; mount -t tmpfs none /mnt && echo tmpfs-mounted; true")?;
    ensure!(admin.contains("Seccomp:\t2") && !admin.contains("mounted"), "a remapped root mounted something: {admin}");

    let host = exec("hosty", "cat /proc/self/uid_map")?;
    ensure!(host.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"], "userns_mode: host is not the identity map: {host}");

    // The state root keeps its remapping without the flag, and refuses another.
    let again = xcompose(&sb, &dir, &["run", "--rm", "-T", "app", "cat", "/proc/self/uid_map"])?;
    ensure!(again.split_whitespace().nth(1) == Some(uid.to_string().as_str()), "a command without the flag did not remap: {again}");
    let other = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).args(["--userns-remap", "nobody", "-f"]).arg(dir.join("compose.yaml")).arg("ps").output()?;
    let other_err = String::from_utf8_lossy(&other.stderr);
    ensure!(!other.status.success() && other_err.contains("is remapped to dockremap:dockremap, not nobody:nobody"), "another remapping was not refused: {other_err}");

    let (ok, out) = remapped(&sb, &dir, &["down", "-v", "-t", "0"])?;
    ensure!(ok, "down failed: {out}");
    ensure!(!sb.root().join("volumes/remap_data").exists(), "down -v left the volume");
    Ok(())
}

#[test]
fn what_needs_host_ids_is_refused_when_remapped() -> Result<()> {
    let sb = sandbox_with_private_etc()?;
    let dir = project(&sb, "refused", "services:\n  p:\n    image: busybox:latest\n    privileged: true\n    command: [\"true\"]\n")?;
    let (ok, out) = remapped(&sb, &dir, &["up", "-d"])?;
    ensure!(!ok && out.contains("privileged mode is incompatible with user namespaces"), "privileged was not refused: {out}");
    ensure!(entries(&sb.root().join("containers"))?.is_empty(), "a refused up made a container");
    let dir = project(&sb, "refused-net", "services:\n  p:\n    image: busybox:latest\n    network_mode: host\n    command: [\"true\"]\n")?;
    let (ok, out) = remapped(&sb, &dir, &["up", "-d"])?;
    ensure!(!ok && out.contains("cannot share the host's network namespace when user namespaces are enabled"), "network_mode: host was not refused: {out}");
    let dir = project(&sb, "host-ok", "services:\n  p:\n    image: busybox:latest\n    privileged: true\n    userns_mode: host\n    command: [cat, /proc/self/uid_map]\n")?;
    let (ok, out) = remapped(&sb, &dir, &["run", "--rm", "-T", "p"])?;
    ensure!(ok && out.split_whitespace().take(3).collect::<Vec<_>>() == ["0", "0", "4294967295"], "privileged with userns_mode: host did not run with host ids: {out}");
    Ok(())
}

#[test]
fn a_root_with_containers_is_not_switched_to_remapping() -> Result<()> {
    let sb = sandbox_with_private_etc()?;
    let dir = project(&sb, "mixed", "services:\n  a:\n    image: busybox:latest\n    command: [sleep, '1000']\n    init: true\n")?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let (ok, out) = remapped(&sb, &dir, &["ps"])?;
    ensure!(!ok && out.contains("already holds containers made without user namespace remapping"), "mixing was not refused: {out}");
    ensure!(!sb.root().join("userns-remap.json").exists(), "the refused setting was recorded");
    xcompose(&sb, &dir, &["down", "-t", "0"])?;
    Ok(())
}

#[test]
fn the_example_stack_works_in_remap_mode() -> Result<()> {
    let sb = sandbox_with_private_etc()?;
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/web-stack");
    let dir = project(&sb, "web-stack", &std::fs::read_to_string(example.join("compose.yaml"))?)?;
    std::fs::create_dir(dir.join("site"))?;
    std::fs::copy(example.join("site/index.html"), dir.join("site/index.html"))?;

    let (ok, out) = remapped(&sb, &dir, &["up", "-d", "--wait"])?;
    ensure!(ok, "the example stack did not come up in remap mode: {out}");
    let (uid, _) = dockremap_range(&sb, "/etc/subuid")?;
    let maps = xcompose(&sb, &dir, &["exec", "-T", "web", "cat", "/proc/self/uid_map"])?;
    ensure!(maps.split_whitespace().nth(1) == Some(uid.to_string().as_str()), "web is not remapped: {maps}");
    // web reaches db by name on the internal network; db serves what migrate wrote to the volume.
    let counter = xcompose(&sb, &dir, &["exec", "-T", "web", "sh", "-c", "nc db 5000 </dev/null"])?;
    ensure!(counter.trim() == "0", "web did not reach db by name: {counter:?}");
    let page = sb.command("timeout").args(["3", "busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/index.html"]).output()?;
    let expected = std::fs::read_to_string(example.join("site/index.html"))?;
    ensure!(page.status.success() && String::from_utf8_lossy(&page.stdout) == expected, "the published port did not serve the page: {}", String::from_utf8_lossy(&page.stderr));

    let (ok, out) = remapped(&sb, &dir, &["down", "-v"])?;
    ensure!(ok, "down -v failed: {out}");
    let containers = entries(&sb.root().join("containers"))?;
    ensure!(containers.is_empty(), "down -v left containers: {containers:?}");
    let volumes = entries(&sb.root().join("volumes"))?;
    ensure!(volumes.is_empty(), "down -v left volumes: {volumes:?}");
    Ok(())
}
