//! RUN: the command in a container of xcompose's runtime whose root is the step's
//! [`Snapshot`], with the build's environment, user, working directory and mounts; its output
//! streamed line by line. The build waits for it (no supervisor). Afterwards the mount points
//! the container needed but the image did not have (`/proc`, `/etc/hosts`, a `--mount` target...)
//! are removed from the upper directory again, as BuildKit removes its mount stubs, so they are
//! not part of the layer.

use std::fs;
use std::io::{self, BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use xcompose_container::{ContainerSpec, Mount, NetworkNamespace, Stdio};

use crate::exec::cancel::Cancel;
use crate::exec::snapshot::Snapshot;

/// How many of the last output lines a failed RUN's error repeats.
const LAST_LINES: usize = 10;

/// BuildKit's hostname for RUN containers.
const HOSTNAME: &str = "buildkitsandbox";

/// What a RUN step runs, and how.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The full command line (the SHELL and the command, or the exec form).
    pub args: Vec<String>,
    /// `KEY=value` environment.
    pub env: Vec<String>,
    /// The working directory (created if missing, as Docker does).
    pub cwd: PathBuf,
    /// Who runs it.
    pub uid: u32,
    /// Its primary group.
    pub gid: u32,
    /// Its supplementary groups.
    pub additional_gids: Vec<u32>,
    /// The network namespace (`--network`).
    pub network: NetworkNamespace,
    /// The content of its `/etc/resolv.conf`.
    pub resolv_conf: String,
    /// `--mount`s, resolved to host paths.
    pub mounts: Vec<Mount>,
    /// Lines added to `/etc/hosts` (compose's `extra_hosts`: `name ip`).
    pub extra_hosts: Vec<(String, String)>,
    /// Run privileged (compose's `build.privileged`, `--security=insecure`).
    pub privileged: bool,
    /// Size of `/dev/shm` (compose's `build.shm_size`), Docker's 64 MiB by default.
    pub shm_size: Option<u64>,
}

/// Why a RUN step did not complete.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The command ran and failed, in BuildKit's words; the last lines of its output follow.
    #[error("process \"{command}\" did not complete successfully: exit code: {code}{}", last_output(.output))]
    Failed {
        /// The command line, joined by spaces as BuildKit prints it.
        command: String,
        /// Its exit code (128 + signal when killed).
        code: i32,
        /// Its last lines of output.
        output: Vec<String>,
    },
    /// The container could not be set up or started.
    #[error("running the RUN container: {0}")]
    Container(String),
}

fn last_output(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    format!("\nlast output:\n{}", lines.iter().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n"))
}

/// Runs `spec` on `snapshot`, handing each line of its output (stdout and stderr together) to
/// `on_line` as it comes; the mount stubs it needed are removed from the upper directory after.
/// The container is killed if `cancel` cancels the build.
pub fn run(snapshot: &Snapshot, spec: &RunSpec, cancel: &Cancel, on_line: &(dyn Fn(&str) + Sync)) -> Result<(), RunError> {
    let container = container_spec(snapshot, spec).map_err(|e| RunError::Container(e.to_string()))?;
    let stubs: Vec<PathBuf> = stub_candidates(&container).into_iter().filter(|p| !exists_in_layers(&snapshot.lower(), p)).collect();
    let result = run_container(snapshot, &container, cancel, on_line);
    remove_stubs(&snapshot.upper(), &snapshot.lower(), &stubs).map_err(|e| RunError::Container(format!("removing mount points from the layer: {e}")))?;
    match result? {
        (0, _) => Ok(()),
        (code, output) => Err(RunError::Failed { command: spec.args.join(" "), code, output }),
    }
}

/// The container for `spec`: Docker's defaults, the snapshot as root, `/etc/hosts` and
/// `/etc/resolv.conf` of the build.
fn container_spec(snapshot: &Snapshot, spec: &RunSpec) -> io::Result<ContainerSpec> {
    let mut container = ContainerSpec::new(snapshot.rootfs(), spec.args.clone());
    container.process.env = spec.env.clone();
    container.process.cwd = spec.cwd.clone();
    container.process.uid = spec.uid;
    container.process.gid = spec.gid;
    container.process.additional_gids = spec.additional_gids.clone();
    container.hostname = HOSTNAME.into();
    container.network = spec.network.clone();
    container.mounts = spec.mounts.clone();
    container.privileged = spec.privileged;
    if spec.privileged {
        // Every capability the host's bounding set allows, as a privileged container gets.
        container.process.capabilities = xcompose_container::capability_set(&[], &[], true).map_err(io::Error::other)?;
    }
    if let Some(size) = spec.shm_size {
        container.shm_size = size;
    }
    let mut hosts = format!("127.0.0.1\tlocalhost {HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    for (name, ip) in &spec.extra_hosts {
        hosts.push_str(&format!("{ip}\t{name}\n"));
    }
    for (name, content) in [("hosts", hosts), ("resolv.conf", spec.resolv_conf.clone())] {
        let path = snapshot.dir().join(name);
        fs::write(&path, content)?;
        container.etc_files.insert(Path::new("/etc").join(name), path);
    }
    Ok(container)
}

/// Starts the container, streams its output, waits: its exit code and last lines of output.
fn run_container(snapshot: &Snapshot, container: &ContainerSpec, cancel: &Cancel, on_line: &(dyn Fn(&str) + Sync)) -> Result<(i32, Vec<String>), RunError> {
    let failed = |e: &dyn std::fmt::Display| RunError::Container(e.to_string());
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| failed(&e))?;
    let write_err: OwnedFd = write.try_clone().map_err(|e| failed(&e))?;
    let stdin: OwnedFd = fs::File::open("/dev/null").map_err(|e| failed(&e))?.into();
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || stream_lines(read, on_line));
        let mut pid = None;
        let started = xcompose_container::spawn(container, Stdio { stdin: Some(stdin), stdout: Some(write), stderr: Some(write_err) }).and_then(|pending| {
            let _ = snapshot.record_container(pending.pid());
            pid = Some(pending.pid());
            cancel.started(pending.pid());
            pending.start()
        });
        let code = started.and_then(|running| running.wait()).map_err(|e| failed(&e));
        if let Some(pid) = pid {
            cancel.ended(pid);
        }
        let output = reader.join().unwrap_or_default();
        Ok((code?, output))
    })
}

/// Hands every line read from `read` to `on_line`; the last [`LAST_LINES`] lines.
fn stream_lines(read: OwnedFd, on_line: &(dyn Fn(&str) + Sync)) -> Vec<String> {
    let mut last = std::collections::VecDeque::new();
    let mut reader = BufReader::new(fs::File::from(read));
    let mut buf = Vec::new();
    while reader.read_until(b'\n', &mut buf).map(|n| n > 0).unwrap_or(false) {
        let line = String::from_utf8_lossy(&buf).trim_end_matches(['\n', '\r']).to_string();
        on_line(&line);
        if last.len() == LAST_LINES {
            last.pop_front();
        }
        last.push_back(line);
        buf.clear();
    }
    last.into()
}

/// The paths (relative to the root) the container's setup creates if missing: its mount points.
fn stub_candidates(container: &ContainerSpec) -> Vec<PathBuf> {
    let fixed = ["proc", "sys", "dev"].map(PathBuf::from);
    let targets = container.mounts.iter().map(|m| m.target.clone()).chain(container.etc_files.keys().cloned());
    fixed.into_iter().chain(targets.map(|t| t.components().filter(|c| matches!(c, Component::Normal(_))).collect())).collect()
}

/// Whether `rel` exists in the merged view of `layers` (bottom first), whiteouts respected.
fn exists_in_layers(layers: &[PathBuf], rel: &Path) -> bool {
    for layer in layers.iter().rev() {
        if let Ok(meta) = fs::symlink_metadata(layer.join(rel)) {
            return !is_whiteout(&meta);
        }
    }
    false
}

fn is_whiteout(meta: &fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// Removes the stubs `stubs` (absent from the lower layers) from `upper` if they are still empty,
/// then their parent directories the stubs alone brought into the upper directory: created
/// ones left empty, and copied-up ones left empty with the lower directory's owner and mode.
fn remove_stubs(upper: &Path, lower: &[PathBuf], stubs: &[PathBuf]) -> io::Result<()> {
    for stub in stubs {
        let path = upper.join(stub);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => {
                let _ = fs::remove_dir(&path);
            }
            Ok(m) if m.is_file() && m.len() == 0 => fs::remove_file(&path)?,
            _ => continue,
        }
        let mut parent = stub.parent();
        while let Some(rel) = parent.filter(|p| !p.as_os_str().is_empty()) {
            if !is_redundant_dir(upper, lower, rel) || fs::remove_dir(upper.join(rel)).is_err() {
                break;
            }
            parent = rel.parent();
        }
    }
    Ok(())
}

/// Whether the upper directory `rel` is empty and adds nothing: absent below, or the same owner
/// and mode as the lower one (a copy-up for a stub).
fn is_redundant_dir(upper: &Path, lower: &[PathBuf], rel: &Path) -> bool {
    let path = upper.join(rel);
    let empty = fs::read_dir(&path).map(|mut d| d.next().is_none()).unwrap_or(false);
    let opaque = matches!(xattr::get(&path, "trusted.overlay.opaque"), Ok(Some(v)) if v == b"y");
    if !empty || opaque {
        return false;
    }
    let Ok(mine) = fs::symlink_metadata(&path) else { return false };
    let below = lower.iter().rev().find_map(|l| fs::symlink_metadata(l.join(rel)).ok());
    match below {
        None => true,
        Some(theirs) => theirs.is_dir() && theirs.mode() == mine.mode() && theirs.uid() == mine.uid() && theirs.gid() == mine.gid(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_stubs_leave_no_trace_in_the_layer() {
        let dir = tempfile::tempdir().unwrap();
        let lower = dir.path().join("lower");
        fs::create_dir_all(lower.join("etc")).unwrap();
        let upper = dir.path().join("upper");
        fs::create_dir_all(upper.join("etc")).unwrap();
        fs::set_permissions(upper.join("etc"), fs::metadata(lower.join("etc")).unwrap().permissions()).unwrap();
        fs::write(upper.join("etc/hosts"), b"").unwrap();
        fs::create_dir_all(upper.join("proc")).unwrap();
        fs::create_dir_all(upper.join("cache/a")).unwrap();
        fs::write(upper.join("kept"), b"x").unwrap();
        let stubs = ["etc/hosts", "proc", "cache/a"].map(PathBuf::from);
        remove_stubs(&upper, &[lower], &stubs).unwrap();
        let left: Vec<_> = fs::read_dir(&upper).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["kept"]);
    }

    #[test]
    fn a_stub_the_command_wrote_to_stays() {
        let dir = tempfile::tempdir().unwrap();
        let upper = dir.path().join("upper");
        fs::create_dir_all(upper.join("etc")).unwrap();
        fs::write(upper.join("etc/hosts"), b"10.0.0.1 db\n").unwrap();
        remove_stubs(&upper, &[], &[PathBuf::from("etc/hosts")]).unwrap();
        assert!(upper.join("etc/hosts").exists());
    }

    #[test]
    fn a_failed_run_reads_as_buildkit_says_it() {
        let error = RunError::Failed { command: "/bin/sh -c exit 3".into(), code: 3, output: vec!["oops".into()] };
        assert_eq!(error.to_string(), "process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3\nlast output:\n  oops");
    }
}
