//! The local driver's options (`docker volume create -o`, compose's `driver_opts`).
//!
//! Docker's local driver takes `type`, `device`, `o` and `size`, and hands the first three to
//! mount(2) when a container using the volume starts: `type=tmpfs,device=tmpfs,o=size=64m` is a
//! tmpfs, `type=ext4,device=/dev/sdb1` that filesystem. `o` holds mount flags (`ro`, `nosuid`,
//! ...) and filesystem options (`size=64m,uid=1000`), told apart as moby's `mount.Mount` does.
//! The bind form, `type=none,o=bind,device=/dir`, needs no mount: the volume's content is that
//! directory. `size` asks for a project quota, which dockerd sets only on XFS with project
//! quotas and refuses elsewhere ("quota size requested but no quota support"); xcompose sets no
//! quotas, so a size above zero is refused with dockerd's reason wherever it is asked for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;
use xcompose_loader::units::Bytes;

use crate::error::{Result, VolumeError};

const KNOWN: [&str; 4] = ["type", "device", "o", "size"];
/// An option and the options Docker requires alongside it.
const REQUIRED_WITH: [(&str, &[&str]); 3] = [("device", &["type"]), ("type", &["device"]), ("o", &["device", "type"])];

/// The mount flags `o` may hold, as moby's mount package reads them (true: the flag is set,
/// false: cleared); every other entry of `o` is a filesystem option.
const FLAGS: [(&str, bool, MsFlags); 18] = [
    ("ro", true, MsFlags::MS_RDONLY),
    ("rw", false, MsFlags::MS_RDONLY),
    ("nosuid", true, MsFlags::MS_NOSUID),
    ("suid", false, MsFlags::MS_NOSUID),
    ("nodev", true, MsFlags::MS_NODEV),
    ("dev", false, MsFlags::MS_NODEV),
    ("noexec", true, MsFlags::MS_NOEXEC),
    ("exec", false, MsFlags::MS_NOEXEC),
    ("sync", true, MsFlags::MS_SYNCHRONOUS),
    ("async", false, MsFlags::MS_SYNCHRONOUS),
    ("dirsync", true, MsFlags::MS_DIRSYNC),
    ("noatime", true, MsFlags::MS_NOATIME),
    ("atime", false, MsFlags::MS_NOATIME),
    ("nodiratime", true, MsFlags::MS_NODIRATIME),
    ("diratime", false, MsFlags::MS_NODIRATIME),
    ("relatime", true, MsFlags::MS_RELATIME),
    ("norelatime", false, MsFlags::MS_RELATIME),
    ("strictatime", true, MsFlags::MS_STRICTATIME),
];

/// What a local volume's options make of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Local {
    /// A directory of the store.
    Plain,
    /// A directory of the host (canonical), used as it is.
    Bind(PathBuf),
    /// A filesystem mounted on the volume's directory while containers use it.
    Mounted(MountOptions),
}

/// What mount(2) is given for a mounted volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountOptions {
    /// `type`.
    pub fs_type: String,
    /// `device`.
    pub device: String,
    /// The flags of `o`.
    pub flags: MsFlags,
    /// The rest of `o`, comma separated.
    pub data: String,
}

/// Checks the local driver's options `opts` of volume `name` as creating it would, without
/// creating anything: the error is the one [`crate::VolumeStore::create`] would give.
pub fn check(name: &str, opts: &BTreeMap<String, String>) -> Result<()> {
    local(name, opts).map(|_| ())
}

/// Checks a volume's driver options and tells what they make of it.
pub(crate) fn local(name: &str, opts: &BTreeMap<String, String>) -> Result<Local> {
    if let Some(option) = opts.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(VolumeError::InvalidOption { name: name.to_string(), option: option.clone() });
    }
    for (option, required) in REQUIRED_WITH {
        if opts.contains_key(option) {
            if let Some(missing) = required.iter().find(|r| !opts.contains_key(**r)) {
                return Err(VolumeError::MissingOption { name: name.to_string(), option: missing.to_string() });
            }
        }
    }
    let unsupported = |what: String| VolumeError::Unsupported { name: name.to_string(), what };
    if let Some(size) = opts.get("size") {
        // dockerd reads the size as go-units' RAMInBytes does and ignores a zero one.
        let bytes = Bytes::parse(size).map_err(|reason| VolumeError::InvalidSize { name: name.to_string(), reason })?;
        if bytes.0 > 0 {
            return Err(VolumeError::NoQuotaSupport { name: name.to_string() });
        }
    }
    let (Some(kind), Some(device)) = (opts.get("type"), opts.get("device")) else { return Ok(Local::Plain) };
    let o: Vec<&str> = opts.get("o").map(String::as_str).unwrap_or("").split(',').filter(|f| !f.is_empty()).collect();
    if o.iter().any(|f| matches!(*f, "bind" | "rbind")) {
        if kind != "none" || o.iter().any(|f| !matches!(*f, "bind" | "rbind")) {
            return Err(unsupported(format!("a bind with type={kind} o={:?}", o.join(","))));
        }
        return Ok(Local::Bind(checked_device(name, device)?));
    }
    if kind == "none" {
        return Err(unsupported(format!("type=none with o={:?} (use o=bind with a directory as device)", o.join(","))));
    }
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for entry in o {
        match FLAGS.iter().find(|(flag, _, _)| *flag == entry) {
            Some((_, true, bits)) => flags |= *bits,
            Some((_, false, bits)) => flags &= !*bits,
            None => data.push(entry),
        }
    }
    Ok(Local::Mounted(MountOptions { fs_type: kind.clone(), device: device.clone(), flags, data: data.join(",") }))
}

/// The canonical path of a bind device, which must be an existing absolute directory.
fn checked_device(name: &str, device: &str) -> Result<PathBuf> {
    let bad = |reason: String| VolumeError::BadDevice { name: name.to_string(), device: device.to_string(), reason };
    if !Path::new(device).is_absolute() {
        return Err(bad("not an absolute path".into()));
    }
    let canonical = std::fs::canonicalize(device).map_err(|e| bad(e.to_string()))?;
    if !canonical.is_dir() {
        return Err(bad("not a directory".into()));
    }
    Ok(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn no_options_is_a_plain_volume() {
        assert_eq!(local("v1", &opts(&[])).unwrap(), Local::Plain);
    }

    #[test]
    fn bind_form_gives_the_canonical_device() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        std::os::unix::fs::symlink("real", dir.path().join("link")).unwrap();
        let device = dir.path().join("link").to_string_lossy().into_owned();
        for o in ["bind", "rbind", "bind,rbind"] {
            let got = local("v1", &opts(&[("type", "none"), ("o", o), ("device", &device)])).unwrap();
            assert_eq!(got, Local::Bind(dir.path().canonicalize().unwrap().join("real")), "o={o}");
        }
    }

    #[test]
    fn other_types_are_mounted_with_flags_and_data_told_apart() {
        let got = local("v1", &opts(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=1m,uid=1000,ro,nosuid,rw")])).unwrap();
        assert_eq!(got, Local::Mounted(MountOptions { fs_type: "tmpfs".into(), device: "tmpfs".into(), flags: MsFlags::MS_NOSUID, data: "size=1m,uid=1000".into() }));
        let got = local("v1", &opts(&[("type", "ext4"), ("device", "/dev/sdz9")])).unwrap();
        assert_eq!(got, Local::Mounted(MountOptions { fs_type: "ext4".into(), device: "/dev/sdz9".into(), flags: MsFlags::empty(), data: String::new() }));
    }

    #[test]
    fn dockers_option_errors() {
        let err = |pairs: &[(&str, &str)]| local("v1", &opts(pairs)).unwrap_err().to_string();
        assert_eq!(err(&[("foo", "bar")]), "create v1: invalid option: \"foo\"");
        assert_eq!(err(&[("device", "/tmp")]), "create v1: missing required option: \"type\"");
        assert_eq!(err(&[("type", "none")]), "create v1: missing required option: \"device\"");
        assert_eq!(err(&[("o", "bind"), ("type", "none")]), "create v1: missing required option: \"device\"");
    }

    #[test]
    fn what_cannot_be_honoured_is_refused() {
        let err = |pairs: &[(&str, &str)]| local("v1", &opts(pairs)).unwrap_err();
        assert!(matches!(err(&[("type", "none"), ("device", "/tmp")]), VolumeError::Unsupported { .. }));
        assert!(matches!(err(&[("type", "none"), ("o", "bind,ro"), ("device", "/tmp")]), VolumeError::Unsupported { .. }));
        assert!(matches!(err(&[("type", "ext4"), ("o", "bind"), ("device", "/tmp")]), VolumeError::Unsupported { .. }));
        assert_eq!(err(&[("size", "10G")]).to_string(), "create v1: quota size requested but no quota support: xcompose sets no filesystem quotas; remove the size option (a tmpfs volume takes o: size=...)");
        assert_eq!(err(&[("size", "ten")]).to_string(), "create v1: invalid size: 'ten'");
        assert_eq!(local("v1", &opts(&[("size", "0")])).unwrap(), Local::Plain);
        let missing = err(&[("type", "none"), ("o", "bind"), ("device", "/nonexistent/xcompose-volume-device")]);
        assert!(matches!(missing, VolumeError::BadDevice { .. }), "{missing}");
        assert!(missing.to_string().contains("No such file or directory"), "{missing}");
        assert!(matches!(err(&[("type", "none"), ("o", "bind"), ("device", "relative/dir")]), VolumeError::BadDevice { .. }));
        let file = tempfile::NamedTempFile::new().unwrap();
        let not_dir = err(&[("type", "none"), ("o", "bind"), ("device", file.path().to_str().unwrap())]);
        assert!(not_dir.to_string().contains("not a directory"), "{not_dir}");
    }
}
