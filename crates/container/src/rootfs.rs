//! The container's filesystem view, built inside its own mount namespace: overlay root, extra
//! mounts, /proc, /dev, /sys, the /etc files, then `pivot_root`; afterwards the masking and the
//! read-only remounts.

use std::fs::{self, File};
use std::os::fd::BorrowedFd;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{chdir, fchdir, pivot_root};

use crate::propagation::{mount_of, mount_point, root_propagation, Propagation};
use crate::spec::{ContainerSpec, MountKind, Recursive, RootFs, Shm};

type Result<T> = std::result::Result<T, String>;

fn sys<T>(what: impl FnOnce() -> String, r: nix::Result<T>) -> Result<T> {
    r.map_err(|e| format!("{}: {e}", what()))
}

fn io<T>(what: impl FnOnce() -> String, r: std::io::Result<T>) -> Result<T> {
    r.map_err(|e| format!("{}: {e}", what()))
}

/// Resolves `path` (absolute, inside the container) under `root` without ever leaving `root`:
/// symlinks met on the way are followed as if `root` were `/`, so a malicious image cannot make
/// a mount land on the host.
pub fn secure_join(root: &Path, path: &Path) -> Result<PathBuf> {
    let mut resolved = PathBuf::new();
    let mut pending: Vec<PathBuf> = vec![path.to_path_buf()];
    let mut links = 0;
    while let Some(p) = pending.pop() {
        let mut components: Vec<Component> = p.components().collect();
        components.reverse();
        while let Some(c) = components.pop() {
            match c {
                Component::RootDir => resolved = PathBuf::new(),
                Component::CurDir | Component::Prefix(_) => {}
                Component::ParentDir => {
                    resolved.pop();
                }
                Component::Normal(name) => {
                    let candidate = resolved.join(name);
                    let host = root.join(&candidate);
                    match fs::symlink_metadata(&host) {
                        Ok(m) if m.file_type().is_symlink() => {
                            links += 1;
                            if links > 40 {
                                return Err(format!("too many symlinks resolving {}", path.display()));
                            }
                            let target = io(|| format!("reading link {}", host.display()), fs::read_link(&host))?;
                            let rest: PathBuf = components.iter().rev().collect();
                            components.clear();
                            if target.is_absolute() {
                                resolved = PathBuf::new();
                            }
                            pending.push(rest);
                            pending.push(target);
                            break;
                        }
                        _ => resolved = candidate,
                    }
                }
            }
        }
    }
    Ok(root.join(resolved))
}

/// Mounts everything up to and including `pivot_root`; the process is then inside the container
/// root. With `userns` (the container's user namespace), its layers are seen through its maps,
/// unless they are stored shifted already (`rootfs_ids_shifted`).
pub fn enter(spec: &ContainerSpec, userns: Option<BorrowedFd<'_>>) -> Result<()> {
    let binds = spec.mounts.iter().filter_map(|m| match m.kind {
        MountKind::Bind { propagation, .. } => Some(propagation),
        MountKind::Tmpfs { .. } => None,
    });
    let root_propagation = root_propagation(binds);
    sys(|| "setting the mounts' propagation".into(), mount(None::<&str>, "/", None::<&str>, root_propagation.flags(), None::<&str>))?;
    if root_propagation == Propagation::Rshared {
        // As runc: the root's own mount must not propagate to the host, nor be shared for pivot_root.
        make_parent_private(root_dir(&spec.rootfs))?;
    }
    if let Some(userns) = userns.filter(|_| !spec.rootfs_ids_shifted) {
        idmap_layers(&spec.rootfs, userns)?;
    }
    let root = mount_root(&spec.rootfs)?;
    for m in &spec.mounts {
        extra_mount(&root, m)?;
    }
    mount_proc_sys_dev(&root, spec)?;
    for (target, source) in &spec.etc_files {
        let at = secure_join(&root, target)?;
        ensure_file(&at)?;
        sys(|| format!("binding {} on {}", source.display(), target.display()), mount(Some(source.as_path()), &at, None::<&str>, MsFlags::MS_BIND, None::<&str>))?;
    }
    // The old root, to come back to after pivot_root: "." would name the new one.
    let old_root = io(|| "opening /".into(), File::open("/"))?;
    sys(|| format!("entering {}", root.display()), chdir(&root))?;
    if root_propagation == Propagation::Rshared {
        // pivot_root refuses a shared current root; the binds keep their peers.
        sys(|| "making / private".into(), mount(None::<&str>, "/", None::<&str>, MsFlags::MS_PRIVATE, None::<&str>))?;
    }
    sys(|| "pivot_root".into(), pivot_root(".", "."))?;
    sys(|| "entering the old root".into(), fchdir(&old_root))?;
    drop(old_root);
    // As runc: the old root's unmount must not propagate to the host.
    sys(|| "making the old root a slave".into(), mount(None::<&str>, ".", None::<&str>, MsFlags::MS_SLAVE | MsFlags::MS_REC, None::<&str>))?;
    sys(|| "detaching the old root".into(), umount2(".", MntFlags::MNT_DETACH))?;
    sys(|| "chdir /".into(), chdir("/"))
}

/// After the last writes to /proc/sys: hides and freezes what the container must not touch.
pub fn lock_down(spec: &ContainerSpec) -> Result<()> {
    if !spec.privileged {
        for path in &spec.masked_paths {
            mask(path)?;
        }
        for path in &spec.readonly_paths {
            if path.exists() {
                bind_read_only(path)?;
            }
        }
    }
    if spec.read_only_rootfs {
        sys(|| "remounting / read-only".into(), mount(None::<&str>, "/", None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY, None::<&str>))?;
    }
    Ok(())
}

/// Shifts the ids of the root filesystem's layers into the user namespace's range: each image
/// layer, and the directory holding the writable layer and overlay's work directory (overlay
/// wants both on one mount).
fn idmap_layers(rootfs: &RootFs, userns: BorrowedFd<'_>) -> Result<()> {
    match rootfs {
        RootFs::Overlay { lower, upper, work, .. } => {
            let writable = upper.parent().filter(|dir| work.parent() == Some(*dir)).ok_or_else(|| {
                format!("with a user namespace, {} and {} must be in one directory", upper.display(), work.display())
            })?;
            for layer in lower.iter().map(PathBuf::as_path).chain([writable]) {
                crate::userns::idmap_in_place(layer, userns).map_err(|e| e.message)?;
            }
            Ok(())
        }
        RootFs::Directory(dir) => crate::userns::idmap_in_place(dir, userns).map_err(|e| e.message),
    }
}

/// The directory the container's root is mounted on.
fn root_dir(rootfs: &RootFs) -> &Path {
    match rootfs {
        RootFs::Overlay { merged, .. } => merged,
        RootFs::Directory(dir) => dir,
    }
}

/// Makes the mount holding `dir` private, so that what is mounted on `dir` stays in the container.
fn make_parent_private(dir: &Path) -> Result<()> {
    let point = mount_point(&mount_of(dir)?);
    sys(|| format!("making {} private", point.display()), mount(None::<&str>, &point, None::<&str>, MsFlags::MS_PRIVATE, None::<&str>))
}

fn mount_root(rootfs: &RootFs) -> Result<PathBuf> {
    match rootfs {
        RootFs::Overlay { lower, upper, work, merged } => {
            let lowers: Vec<String> = lower.iter().rev().map(|p| p.display().to_string()).collect();
            let data = xcompose_rootless::overlay_mount_options(format!("lowerdir={},upperdir={},workdir={}", lowers.join(":"), upper.display(), work.display()));
            sys(|| format!("mounting overlay on {}", merged.display()), mount(Some("overlay"), merged, Some("overlay"), MsFlags::empty(), Some(data.as_str())))?;
            Ok(merged.clone())
        }
        RootFs::Directory(dir) => {
            sys(|| format!("binding {}", dir.display()), mount(Some(dir), dir, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>))?;
            Ok(dir.clone())
        }
    }
}

fn ensure_dir(path: &Path) -> Result<()> {
    io(|| format!("creating {}", path.display()), fs::create_dir_all(path))
}

fn ensure_file(path: &Path) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        ensure_dir(parent)?;
    }
    io(|| format!("creating {}", path.display()), File::create(path)).map(drop)
}

fn extra_mount(root: &Path, m: &crate::spec::Mount) -> Result<()> {
    let at = secure_join(root, &m.target)?;
    match &m.kind {
        MountKind::Bind { source, recursive, propagation } => {
            if source.is_dir() { ensure_dir(&at)? } else { ensure_file(&at)? }
            let flags = match recursive {
                Recursive::Disabled => MsFlags::MS_BIND,
                _ => MsFlags::MS_BIND | MsFlags::MS_REC,
            };
            sys(|| format!("binding {} on {}", source.display(), m.target.display()), mount(Some(source.as_path()), &at, None::<&str>, flags, None::<&str>))?;
            sys(|| format!("setting the propagation of {}", m.target.display()), mount(None::<&str>, &at, None::<&str>, propagation.flags(), None::<&str>))?;
            if m.read_only {
                bind_read_only(&at)?;
                if matches!(recursive, Recursive::Enabled | Recursive::Readonly) {
                    submounts_read_only(&at)?;
                }
            }
        }
        MountKind::Tmpfs { size, mode } => {
            ensure_dir(&at)?;
            let mut data = format!("mode={:o}", mode.unwrap_or(0o1777));
            if let Some(size) = size {
                data.push_str(&format!(",size={size}"));
            }
            let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
            if m.read_only {
                flags |= MsFlags::MS_RDONLY;
            }
            sys(|| format!("mounting tmpfs on {}", m.target.display()), mount(Some("tmpfs"), &at, Some("tmpfs"), flags, Some(data.as_str())))?;
        }
    }
    Ok(())
}

/// Remounts read-only every mount under `at` (not `at` itself), as a recursively read-only bind
/// mount needs.
fn submounts_read_only(at: &Path) -> Result<()> {
    let mountinfo = io(|| "reading /proc/self/mountinfo".into(), std::fs::read_to_string("/proc/self/mountinfo"))?;
    let under: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(unescape_mountinfo)
        .filter(|point| point != at && point.starts_with(at))
        .collect();
    for point in under {
        sys(|| format!("making {} read-only", point.display()), mount(None::<&str>, &point, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY, None::<&str>))?;
    }
    Ok(())
}

/// A mount point as /proc/self/mountinfo writes it (space, tab, newline and backslash as
/// `\ooo` octal escapes) back as a path.
pub(crate) fn unescape_mountinfo(text: &str) -> PathBuf {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(out))
}

fn bind_read_only(at: &Path) -> Result<()> {
    sys(|| format!("binding {}", at.display()), mount(Some(at), at, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>))?;
    sys(|| format!("making {} read-only", at.display()), mount(None::<&str>, at, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY, None::<&str>))
}

fn mask(path: &Path) -> Result<()> {
    match fs::metadata(path) {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() => sys(|| format!("masking {}", path.display()), mount(Some("tmpfs"), path, Some("tmpfs"), MsFlags::MS_RDONLY, None::<&str>)),
        Ok(_) => sys(|| format!("masking {}", path.display()), mount(Some("/dev/null"), path, None::<&str>, MsFlags::MS_BIND, None::<&str>)),
    }
}

const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

fn mount_proc_sys_dev(root: &Path, spec: &ContainerSpec) -> Result<()> {
    let proc_dir = secure_join(root, Path::new("/proc"))?;
    ensure_dir(&proc_dir)?;
    sys(|| "mounting /proc".into(), mount(Some("proc"), &proc_dir, Some("proc"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC, None::<&str>))?;

    let sys_dir = secure_join(root, Path::new("/sys"))?;
    ensure_dir(&sys_dir)?;
    let mut sys_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if !spec.privileged {
        sys_flags |= MsFlags::MS_RDONLY;
    }
    match mount(Some("sysfs"), &sys_dir, Some("sysfs"), sys_flags, None::<&str>) {
        Ok(()) => {}
        // In a user namespace sysfs can only be mounted where the host's is fully visible (no
        // mount over a part of it); otherwise the host's /sys is bound, as runc does rootless.
        Err(nix::errno::Errno::EPERM) if xcompose_rootless::active() => {
            sys(|| "binding the host's /sys".into(), mount(Some("/sys"), &sys_dir, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>))?;
            if !spec.privileged {
                let remount = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
                sys(|| "making the bound /sys read-only".into(), mount(None::<&str>, &sys_dir, None::<&str>, remount, None::<&str>))?;
            }
        }
        Err(e) => return Err(format!("mounting /sys: {e}")),
    }

    let dev = secure_join(root, Path::new("/dev"))?;
    ensure_dir(&dev)?;
    sys(|| "mounting /dev".into(), mount(Some("tmpfs"), &dev, Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME, Some("mode=755,size=65536k")))?;
    for name in DEVICES {
        let node = dev.join(name);
        ensure_file(&node)?;
        let host = Path::new("/dev").join(name);
        sys(|| format!("binding /dev/{name}"), mount(Some(host.as_path()), &node, None::<&str>, MsFlags::MS_BIND, None::<&str>))?;
    }
    let pts = dev.join("pts");
    ensure_dir(&pts)?;
    // Terminals belong to the tty group (5), the container's own with a user namespace.
    let tty_group = spec.user_namespace.as_ref().map_or(Some(5), |map| map.host_gid(5)).unwrap_or(5);
    let pts_opts = format!("newinstance,ptmxmode=0666,mode=0620,gid={tty_group}");
    sys(|| "mounting /dev/pts".into(), mount(Some("devpts"), &pts, Some("devpts"), MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC, Some(pts_opts.as_str())))?;
    let shm = dev.join("shm");
    match &spec.namespaces.shm {
        Shm::Own => {
            ensure_dir(&shm)?;
            let shm_opts = format!("mode=1777,size={}", spec.shm_size);
            sys(|| "mounting /dev/shm".into(), mount(Some("shm"), &shm, Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC, Some(shm_opts.as_str())))?;
        }
        Shm::None => {}
        Shm::Bind(source) => {
            ensure_dir(&shm)?;
            sys(|| format!("binding {} on /dev/shm", source.display()), mount(Some(source.as_path()), &shm, None::<&str>, MsFlags::MS_BIND, None::<&str>))?;
        }
    }
    let mqueue = dev.join("mqueue");
    ensure_dir(&mqueue)?;
    sys(|| "mounting /dev/mqueue".into(), mount(Some("mqueue"), &mqueue, Some("mqueue"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC, None::<&str>))?;
    // The host's devices, but for those bound above and the links made below.
    let made_otherwise = |d: &&crate::Device| d.path.strip_prefix("/dev").is_ok_and(|name| DEVICES.iter().chain(&["ptmx", "console"]).any(|n| name == Path::new(n)));
    let privileged: Vec<crate::Device> = if spec.privileged { crate::host_devices().into_iter().filter(|d| !made_otherwise(&d)).collect() } else { Vec::new() };
    for device in privileged.iter().chain(&spec.devices) {
        device.make(root)?;
    }
    for (link, target) in [("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"), ("core", "/proc/kcore")] {
        io(|| format!("linking /dev/{link}"), symlink(target, dev.join(link)))?;
    }
    io(|| "setting /dev mode".into(), fs::set_permissions(&dev, fs::Permissions::from_mode(0o755)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape_mountinfo("/a\\040b/c\\011d\\134e"), PathBuf::from("/a b/c\td\\e"));
        assert_eq!(unescape_mountinfo("/plain\\9x"), PathBuf::from("/plain\\9x"));
    }

    #[test]
    fn secure_join_never_leaves_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("a/b")).unwrap();
        symlink("/etc", root.join("evil")).unwrap();
        symlink("../../../../..", root.join("a/up")).unwrap();
        symlink("b", root.join("a/rel")).unwrap();
        assert_eq!(secure_join(root, Path::new("/evil/passwd")).unwrap(), root.join("etc/passwd"));
        assert_eq!(secure_join(root, Path::new("/a/up/etc")).unwrap(), root.join("etc"));
        assert_eq!(secure_join(root, Path::new("/a/rel/c")).unwrap(), root.join("a/b/c"));
        assert_eq!(secure_join(root, Path::new("/../../x")).unwrap(), root.join("x"));
        symlink("loop", root.join("loop")).unwrap();
        assert!(secure_join(root, Path::new("/loop")).is_err());
    }
}
