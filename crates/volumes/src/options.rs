//! The local driver's options (`docker volume create -o`, compose's `driver_opts`).
//!
//! Docker's local driver takes `type`, `device`, `o` and `size`, and hands the first three to
//! mount(2). Without mounting anything, the one form that can be honoured is the bind form,
//! `type=none,o=bind,device=/dir`: the volume's content is then that directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Result, VolumeError};

const KNOWN: [&str; 4] = ["type", "device", "o", "size"];
/// An option and the options Docker requires alongside it.
const REQUIRED_WITH: [(&str, &[&str]); 3] = [("device", &["type"]), ("type", &["device"]), ("o", &["device", "type"])];

/// Checks a new volume's driver options; the bind device (canonical) if they ask for a bind volume.
pub(crate) fn bind_device(name: &str, opts: &BTreeMap<String, String>) -> Result<Option<PathBuf>> {
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
    if opts.contains_key("size") {
        return Err(unsupported("size (a quota)".into()));
    }
    let (Some(kind), Some(device)) = (opts.get("type"), opts.get("device")) else { return Ok(None) };
    if kind != "none" {
        return Err(unsupported(format!("type={kind}")));
    }
    let flags = opts.get("o").map(String::as_str).unwrap_or("");
    let flags: Vec<&str> = flags.split(',').filter(|f| !f.is_empty()).collect();
    if flags.is_empty() || flags.iter().any(|f| !matches!(*f, "bind" | "rbind")) {
        return Err(unsupported(format!("type=none with o={:?}", flags.join(","))));
    }
    Ok(Some(checked_device(name, device)?))
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
        assert_eq!(bind_device("v1", &opts(&[])).unwrap(), None);
    }

    #[test]
    fn bind_form_gives_the_canonical_device() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        std::os::unix::fs::symlink("real", dir.path().join("link")).unwrap();
        let device = dir.path().join("link").to_string_lossy().into_owned();
        for o in ["bind", "rbind", "bind,rbind"] {
            let got = bind_device("v1", &opts(&[("type", "none"), ("o", o), ("device", &device)])).unwrap();
            assert_eq!(got, Some(dir.path().canonicalize().unwrap().join("real")), "o={o}");
        }
    }

    #[test]
    fn dockers_option_errors() {
        let err = |pairs: &[(&str, &str)]| bind_device("v1", &opts(pairs)).unwrap_err().to_string();
        assert_eq!(err(&[("foo", "bar")]), "create v1: invalid option: \"foo\"");
        assert_eq!(err(&[("device", "/tmp")]), "create v1: missing required option: \"type\"");
        assert_eq!(err(&[("type", "none")]), "create v1: missing required option: \"device\"");
        assert_eq!(err(&[("o", "bind"), ("type", "none")]), "create v1: missing required option: \"device\"");
    }

    #[test]
    fn what_cannot_be_honoured_is_refused() {
        let err = |pairs: &[(&str, &str)]| bind_device("v1", &opts(pairs)).unwrap_err();
        assert!(matches!(err(&[("type", "tmpfs"), ("device", "tmpfs")]), VolumeError::Unsupported { .. }));
        assert!(matches!(err(&[("type", "none"), ("device", "/tmp")]), VolumeError::Unsupported { .. }));
        assert!(matches!(err(&[("type", "none"), ("o", "bind,ro"), ("device", "/tmp")]), VolumeError::Unsupported { .. }));
        assert!(matches!(err(&[("size", "10G")]), VolumeError::Unsupported { .. }));
        let missing = err(&[("type", "none"), ("o", "bind"), ("device", "/nonexistent/xcompose-volume-device")]);
        assert!(matches!(missing, VolumeError::BadDevice { .. }), "{missing}");
        assert!(missing.to_string().contains("No such file or directory"), "{missing}");
        assert!(matches!(err(&[("type", "none"), ("o", "bind"), ("device", "relative/dir")]), VolumeError::BadDevice { .. }));
        let file = tempfile::NamedTempFile::new().unwrap();
        let not_dir = err(&[("type", "none"), ("o", "bind"), ("device", file.path().to_str().unwrap())]);
        assert!(not_dir.to_string().contains("not a directory"), "{not_dir}");
    }
}
