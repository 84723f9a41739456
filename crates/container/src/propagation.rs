//! Mount propagation of bind mounts (`bind.propagation`), set as runc sets it: the container's
//! root is made rshared when a bind is shared, rslave when one is a slave, rprivate otherwise;
//! each bind then gets its own propagation after it is mounted. Docker refuses a shared bind
//! whose source's mount is not shared, and a slave one whose source's mount is neither shared
//! nor a slave; [`check_source`] does the same, with Docker's words.

use std::path::{Path, PathBuf};

use nix::mount::MsFlags;
use procfs_core::process::{MountInfo, MountInfos, MountOptFields};
use procfs_core::FromRead;
use serde::{Deserialize, Serialize};

/// How mount events propagate between a bind mount and its source (`bind.propagation`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Propagation {
    /// No events either way, for the mount itself only.
    Private,
    /// No events either way, for the mount and those under it (Docker's default).
    #[default]
    Rprivate,
    /// Events both ways, for the mount itself only.
    Shared,
    /// Events both ways, for the mount and those under it.
    Rshared,
    /// Events from the host in only, for the mount itself only.
    Slave,
    /// Events from the host in only, for the mount and those under it.
    Rslave,
}

impl Propagation {
    /// The propagation named `text` as compose writes it (`rslave`); `None` for an unknown one.
    pub fn parse(text: &str) -> Option<Propagation> {
        Some(match text {
            "private" => Propagation::Private,
            "rprivate" => Propagation::Rprivate,
            "shared" => Propagation::Shared,
            "rshared" => Propagation::Rshared,
            "slave" => Propagation::Slave,
            "rslave" => Propagation::Rslave,
            _ => return None,
        })
    }

    /// The mount(2) flags that set it.
    pub(crate) fn flags(self) -> MsFlags {
        match self {
            Propagation::Private => MsFlags::MS_PRIVATE,
            Propagation::Rprivate => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
            Propagation::Shared => MsFlags::MS_SHARED,
            Propagation::Rshared => MsFlags::MS_SHARED | MsFlags::MS_REC,
            Propagation::Slave => MsFlags::MS_SLAVE,
            Propagation::Rslave => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        }
    }

    fn is_shared(self) -> bool {
        matches!(self, Propagation::Shared | Propagation::Rshared)
    }

    fn is_slave(self) -> bool {
        matches!(self, Propagation::Slave | Propagation::Rslave)
    }
}

/// The propagation the container's root gets before anything is mounted, given its binds'
/// (runc's `rootfsPropagation` as Docker picks it): rshared if one is shared, else rslave if one
/// is a slave, else rprivate.
pub(crate) fn root_propagation(binds: impl Iterator<Item = Propagation>) -> Propagation {
    binds.fold(Propagation::Rprivate, |root, bind| match (root, bind) {
        (_, b) if b.is_shared() => Propagation::Rshared,
        (Propagation::Rprivate, b) if b.is_slave() => Propagation::Rslave,
        (root, _) => root,
    })
}

/// Fails as Docker does when `source`'s mount cannot give `propagation`: a shared bind needs a
/// shared mount, a slave one a shared or slave mount.
pub fn check_source(source: &Path, propagation: Propagation) -> Result<(), String> {
    if !propagation.is_shared() && !propagation.is_slave() {
        return Ok(());
    }
    let source = std::fs::canonicalize(source).map_err(|e| format!("{}: {e}", source.display()))?;
    let mount = mount_of(&source)?;
    let shared = mount.opt_fields.iter().any(|f| matches!(f, MountOptFields::Shared(_)));
    let slave = mount.opt_fields.iter().any(|f| matches!(f, MountOptFields::Master(_)));
    let point = mount_point(&mount);
    if propagation.is_shared() && !shared {
        return Err(format!("path {} is mounted on {} but it is not a shared mount", source.display(), point.display()));
    }
    if propagation.is_slave() && !shared && !slave {
        return Err(format!("path {} is mounted on {} but it is not a shared or slave mount", source.display(), point.display()));
    }
    Ok(())
}

/// The mount `path` (absolute, symbolic links resolved) is on: the last mounted of those whose
/// mount point is the longest prefix of it.
pub(crate) fn mount_of(path: &Path) -> Result<MountInfo, String> {
    let mounts = MountInfos::from_file("/proc/self/mountinfo").map_err(|e| format!("reading /proc/self/mountinfo: {e}"))?;
    mounts
        .into_iter()
        .filter(|m| path.starts_with(mount_point(m)))
        .fold(None::<MountInfo>, |best, m| match best {
            Some(b) if mount_point(&b).as_os_str().len() > mount_point(&m).as_os_str().len() => Some(b),
            _ => Some(m),
        })
        .ok_or_else(|| format!("no mount holds {}", path.display()))
}

/// A mount's mount point, its octal escapes undone.
pub(crate) fn mount_point(mount: &MountInfo) -> PathBuf {
    crate::rootfs::unescape_mountinfo(&mount.mount_point.to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_names_parse_and_others_do_not() {
        assert_eq!(Propagation::parse("rslave"), Some(Propagation::Rslave));
        assert_eq!(Propagation::parse("private"), Some(Propagation::Private));
        assert_eq!(Propagation::parse("RSLAVE"), None);
        assert_eq!(Propagation::parse(""), None);
    }

    #[test]
    fn the_root_is_shared_for_a_shared_bind_and_a_slave_for_a_slave_one() {
        use Propagation::*;
        assert_eq!(root_propagation([].into_iter()), Rprivate);
        assert_eq!(root_propagation([Private, Rprivate].into_iter()), Rprivate);
        assert_eq!(root_propagation([Rprivate, Slave].into_iter()), Rslave);
        assert_eq!(root_propagation([Rslave, Shared, Private].into_iter()), Rshared);
    }

    #[test]
    fn private_binds_need_nothing_of_their_source() {
        check_source(Path::new("/nonexistent/xcompose"), Propagation::Rprivate).unwrap();
        assert!(mount_of(Path::new("/proc/self")).unwrap().fs_type == "proc");
    }
}
