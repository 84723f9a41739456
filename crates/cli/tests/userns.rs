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

/// How a test's remapped state root gives the containers' files the range's ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shift {
    /// Chosen by xcompose: idmapped mounts on this machine's kernel and file systems.
    Chosen,
    /// Layers copied with shifted owners (`XCOMPOSE_USERNS_SHIFT=copy`), as where idmapped
    /// mounts are missing.
    Copy,
}

/// Both ways, for the tests that must hold whichever is taken.
const SHIFTS: [Shift; 2] = [Shift::Chosen, Shift::Copy];

/// xcompose with `--userns-remap default` on the project in `dir` (with `shift` forced or not):
/// (success, stdout + stderr).
fn remapped(sb: &Sandbox, shift: Shift, dir: &Path, args: &[&str]) -> Result<(bool, String)> {
    let mut command = sb.command(XCOMPOSE);
    if shift == Shift::Copy {
        command.env("XCOMPOSE_USERNS_SHIFT", "copy");
    }
    let out = command.arg("--root").arg(sb.root()).arg("--userns-remap").arg("default").arg("-f").arg(dir.join("compose.yaml")).args(args).output()?;
    Ok((out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))))
}

/// The directory of the image store holding layers shifted into the range from `uid` and `gid`.
fn shifted_layers(sb: &Sandbox, uid: u32, gid: u32) -> std::path::PathBuf {
    sb.root().join(format!("images/shifted/{uid}.{gid}"))
}

/// Checks the state root recorded `shift`, and that layers were copied only with the copy shift,
/// owned by the range's ids as the host sees them.
fn check_layers(sb: &Sandbox, shift: Shift, uid: u32, gid: u32) -> Result<()> {
    let record = std::fs::read_to_string(sb.root().join("userns-remap.json"))?;
    let shifted = shifted_layers(sb, uid, gid);
    if shift == Shift::Chosen {
        ensure!(record.contains(r#""shift": "idmap""#), "idmapped mounts were not chosen where the kernel has them: {record}");
        ensure!(!sb.root().join("images/shifted").exists(), "layers were copied though idmapped mounts were used");
        return Ok(());
    }
    ensure!(record.contains(r#""shift": "copy""#), "XCOMPOSE_USERNS_SHIFT=copy was not recorded: {record}");
    let layers = entries(&shifted)?;
    ensure!(layers.len() == 1, "busybox's one layer was not copied once into the range: {layers:?}");
    let layer = shifted.join(&layers[0]);
    ensure!(owner(&layer.join("bin/busybox"))? == (uid, gid), "the copied layer's files are not the range's root's");
    ensure!(owner(&layer.join("home/app"))? == (uid + 1000, gid + 1000), "the copied layer's uid 1000 is not the range's 1000");
    ensure!(owner(&sb.root().join("images/layers").join(&layers[0]).join("bin/busybox"))? == (0, 0), "the layer itself was changed");
    Ok(())
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
    SHIFTS.into_iter().try_for_each(|shift| remapped_root_is_a_subordinate_range(shift).with_context(|| format!("with {shift:?}")))
}

fn remapped_root_is_a_subordinate_range(shift: Shift) -> Result<()> {
    let sb = sandbox_with_private_etc()?;
    let dir = project(&sb, "remap", SERVICES)?;
    let shared = dir.join("shared");
    std::fs::create_dir(&shared)?;
    std::fs::write(shared.join("host-file"), "host\n")?;

    let (ok, out) = remapped(&sb, shift, &dir, &["up", "-d"])?;
    ensure!(ok, "up in remap mode failed: {out}");
    let (uid, uids) = dockremap_range(&sb, "/etc/subuid")?;
    let (gid, gids) = dockremap_range(&sb, "/etc/subgid")?;
    ensure!((uids, gids) == (65536, 65536), "dockremap got {uids} uids and {gids} gids, not 65536 as dockerd gives");
    check_layers(&sb, shift, uid, gid)?;
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
    // And into a stopped one, whose files are not seen through its user namespace meanwhile.
    xcompose(&sb, &dir, &["stop", "-t", "0", "app"])?;
    xcompose(&sb, &dir, &["cp", dir.join("copied.txt").to_str().unwrap(), "app:/tmp/while-stopped.txt"])?;
    xcompose(&sb, &dir, &["start", "app"])?;
    let copied = exec("app", "stat -c %u:%g /tmp/while-stopped.txt")?;
    ensure!(copied == "0:0\n", "cp into a stopped remapped container: {copied:?}");

    // A commit's layer holds the container's ids, however the writable layer stores them.
    exec("app", "mkdir /owned && chown 1000:1000 /owned && touch /owned/by-root")?;
    xcompose(&sb, &dir, &["commit", "app", "committed:1"])?;
    let committed = sb.run_ok("sh", &["-c", &format!("stat -c %u:%g {0}/images/layers/*/owned {0}/images/layers/*/owned/by-root", sb.root().display())])?;
    ensure!(committed.split_whitespace().collect::<Vec<_>>() == ["1000:1000", "0:0"], "the committed layer's owners are not the container's: {committed}");

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

    let (ok, out) = remapped(&sb, shift, &dir, &["down", "-v", "-t", "0"])?;
    ensure!(ok, "down failed: {out}");
    ensure!(!sb.root().join("volumes/remap_data").exists(), "down -v left the volume");

    // The image goes with its shifted copy.
    xcompose(&sb, &dir, &["image", "rm", "committed:1", "busybox:latest"])?;
    ensure!(entries(&sb.root().join("images/layers"))?.is_empty(), "image rm left the layer");
    if shift == Shift::Copy {
        ensure!(entries(&shifted_layers(&sb, uid, gid))?.is_empty(), "image rm left the shifted copy");
    }
    Ok(())
}

#[test]
fn what_needs_host_ids_is_refused_when_remapped() -> Result<()> {
    let sb = sandbox_with_private_etc()?;
    let dir = project(&sb, "refused", "services:\n  p:\n    image: busybox:latest\n    privileged: true\n    command: [\"true\"]\n")?;
    let (ok, out) = remapped(&sb, Shift::Chosen, &dir, &["up", "-d"])?;
    ensure!(!ok && out.contains("privileged mode is incompatible with user namespaces"), "privileged was not refused: {out}");
    ensure!(entries(&sb.root().join("containers"))?.is_empty(), "a refused up made a container");
    let dir = project(&sb, "refused-net", "services:\n  p:\n    image: busybox:latest\n    network_mode: host\n    command: [\"true\"]\n")?;
    let (ok, out) = remapped(&sb, Shift::Chosen, &dir, &["up", "-d"])?;
    ensure!(!ok && out.contains("cannot share the host's network namespace when user namespaces are enabled"), "network_mode: host was not refused: {out}");
    let dir = project(&sb, "host-ok", "services:\n  p:\n    image: busybox:latest\n    privileged: true\n    userns_mode: host\n    command: [cat, /proc/self/uid_map]\n")?;
    let (ok, out) = remapped(&sb, Shift::Chosen, &dir, &["run", "--rm", "-T", "p"])?;
    ensure!(ok && out.split_whitespace().take(3).collect::<Vec<_>>() == ["0", "0", "4294967295"], "privileged with userns_mode: host did not run with host ids: {out}");
    Ok(())
}

#[test]
fn a_root_with_containers_is_not_switched_to_remapping() -> Result<()> {
    let sb = sandbox_with_private_etc()?;
    let dir = project(&sb, "mixed", "services:\n  a:\n    image: busybox:latest\n    command: [sleep, '1000']\n    init: true\n")?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let (ok, out) = remapped(&sb, Shift::Chosen, &dir, &["ps"])?;
    ensure!(!ok && out.contains("already holds containers made without user namespace remapping"), "mixing was not refused: {out}");
    ensure!(!sb.root().join("userns-remap.json").exists(), "the refused setting was recorded");
    xcompose(&sb, &dir, &["down", "-t", "0"])?;
    Ok(())
}

#[test]
fn the_shift_is_forced_only_to_a_known_way_and_kept_with_the_root() -> Result<()> {
    let sb = sandbox_with_private_etc()?;
    let dir = project(&sb, "forced", "services:\n  a:\n    image: busybox:latest\n    command: [\"true\"]\n")?;
    let run = |value: &str, flag: bool| -> Result<(bool, String)> {
        let mut command = sb.command(XCOMPOSE);
        command.env("XCOMPOSE_USERNS_SHIFT", value).arg("--root").arg(sb.root());
        if flag {
            command.args(["--userns-remap", "default"]);
        }
        let out = command.arg("-f").arg(dir.join("compose.yaml")).arg("ps").output()?;
        Ok((out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned()))
    };
    let (ok, err) = run("shifted", true)?;
    ensure!(!ok && err.trim_end().lines().count() == 1 && err.contains("XCOMPOSE_USERNS_SHIFT=\"shifted\" is not idmap or copy"), "an unknown shift was not refused in one line: {err}");
    ensure!(!sb.root().join("userns-remap.json").exists(), "the refused setting was recorded");
    let (ok, err) = run("copy", true)?;
    ensure!(ok, "remapping with the copy shift failed: {err}");
    let (ok, err) = run("idmap", false)?;
    ensure!(!ok && err.contains("shifts ids with copy, not idmap (XCOMPOSE_USERNS_SHIFT)"), "another shift for a remapped root was not refused: {err}");
    let (ok, err) = run("copy", false)?;
    ensure!(ok, "the recorded shift forced again was refused: {err}");
    Ok(())
}

#[test]
fn the_example_stack_works_in_remap_mode() -> Result<()> {
    SHIFTS.into_iter().try_for_each(|shift| example_stack_in_remap_mode(shift).with_context(|| format!("with {shift:?}")))
}

fn example_stack_in_remap_mode(shift: Shift) -> Result<()> {
    let sb = sandbox_with_private_etc()?;
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/web-stack");
    let dir = project(&sb, "web-stack", &std::fs::read_to_string(example.join("compose.yaml"))?)?;
    std::fs::create_dir(dir.join("site"))?;
    std::fs::copy(example.join("site/index.html"), dir.join("site/index.html"))?;

    let (ok, out) = remapped(&sb, shift, &dir, &["up", "-d", "--wait"])?;
    ensure!(ok, "the example stack did not come up in remap mode: {out}");
    let (uid, _) = dockremap_range(&sb, "/etc/subuid")?;
    let (gid, _) = dockremap_range(&sb, "/etc/subgid")?;
    check_layers(&sb, shift, uid, gid)?;
    let maps = xcompose(&sb, &dir, &["exec", "-T", "web", "cat", "/proc/self/uid_map"])?;
    ensure!(maps.split_whitespace().nth(1) == Some(uid.to_string().as_str()), "web is not remapped: {maps}");
    // web reaches db by name on the internal network; db serves what migrate wrote to the volume.
    let counter = xcompose(&sb, &dir, &["exec", "-T", "web", "sh", "-c", "nc db 5000 </dev/null"])?;
    ensure!(counter.trim() == "0", "web did not reach db by name: {counter:?}");
    let page = sb.command("timeout").args(["3", "busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/index.html"]).output()?;
    let expected = std::fs::read_to_string(example.join("site/index.html"))?;
    ensure!(page.status.success() && String::from_utf8_lossy(&page.stdout) == expected, "the published port did not serve the page: {}", String::from_utf8_lossy(&page.stderr));

    let (ok, out) = remapped(&sb, shift, &dir, &["down", "-v", "--rmi", "all"])?;
    ensure!(ok, "down -v --rmi all failed: {out}");
    ensure!(!shifted_layers(&sb, uid, gid).exists() || entries(&shifted_layers(&sb, uid, gid))?.is_empty(), "down --rmi all left the shifted copy");
    let containers = entries(&sb.root().join("containers"))?;
    ensure!(containers.is_empty(), "down -v left containers: {containers:?}");
    let volumes = entries(&sb.root().join("volumes"))?;
    ensure!(volumes.is_empty(), "down -v left volumes: {volumes:?}");
    Ok(())
}

#[test]
fn a_state_root_without_idmapped_mounts_shifts_owners_by_copying() -> Result<()> {
    let sb = sandbox_with_private_etc()?;
    let dir = project(&sb, "ramfs", "services:\n  a:\n    image: busybox:latest\n    command: [sh, -c, 'cat /proc/self/uid_map; stat -c bin=%u:%g /bin/busybox; touch /made && echo made']\n")?;
    // ramfs has no idmapped mounts; it is mounted in the sandbox only, so everything about the
    // root is seen from there.
    let root = dir.join("state");
    let root_arg = root.to_str().context("a UTF-8 path")?;
    sb.run_ok("sh", &["-c", &format!("mkdir {root_arg} && mount -t ramfs ramfs {root_arg}")])?;
    let image = xcompose_testkit::busybox_image_tar()?;
    sb.run_ok(XCOMPOSE, &["--root", root_arg, "image", "import", image.to_str().context("a UTF-8 path")?, "busybox:latest"])?;

    let compose = dir.join("compose.yaml");
    let out = sb.run_ok(XCOMPOSE, &["--root", root_arg, "--userns-remap", "default", "-f", compose.to_str().context("a UTF-8 path")?, "run", "--rm", "-T", "a"])?;
    let (uid, _) = dockremap_range(&sb, "/etc/subuid")?;
    let (gid, _) = dockremap_range(&sb, "/etc/subgid")?;
    ensure!(out.split_whitespace().take(3).collect::<Vec<_>>() == ["0", uid.to_string().as_str(), "65536"], "the container is not remapped: {out}");
    ensure!(out.contains("bin=0:0") && out.contains("made"), "the image's files are not the container root's, or its root is not writable: {out}");
    let record = sb.run_ok("cat", &[&format!("{root_arg}/userns-remap.json")])?;
    ensure!(record.contains(r#""shift": "copy""#), "copying was not chosen where idmapped mounts are missing: {record}");
    let owners = sb.run_ok("sh", &["-c", &format!("stat -c %u:%g {root_arg}/images/shifted/{uid}.{gid}/*/bin/busybox")])?;
    ensure!(owners.trim() == format!("{uid}:{gid}"), "the copied layer is not owned by the range: {owners}");
    Ok(())
}
