//! User namespace remapping for a whole state root, as dockerd's `--userns-remap`: every
//! container (but those with `userns_mode: host`) gets a user namespace whose root is the first
//! subordinate id of a host user's range.
//!
//! dockerd holds the setting daemon-wide and keeps a remapped daemon's state apart
//! (`/var/lib/docker/100000.100000`). xcompose has no daemon, so the setting is recorded in the
//! state root (`userns-remap.json`) by the first command given `--userns-remap` and holds for
//! every later command on that root, flag or not: containers and volumes made with and without
//! remapping never mix in one root. A different setting, or remapping asked of a root that
//! already holds containers or volumes, is refused.
//!
//! The containers' files get the range's ids one of two ways, chosen when the setting is recorded
//! and kept with it ([`Shift`]): idmapped mounts of the layers where the kernel and the state
//! root's file system have them, else (or with `XCOMPOSE_USERNS_SHIFT=copy`) layers copied once
//! per range with their owners shifted, as dockerd's storage does in remap mode.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use xcompose_container::{IdMap, IdRange};
use xcompose_images::IdShift;

/// The file in the state root recording the setting.
const RECORD: &str = "userns-remap.json";

/// The environment variable choosing how the containers' files get the range's ids.
const SHIFT_VARIABLE: &str = "XCOMPOSE_USERNS_SHIFT";

/// What `--userns-remap default` maps to, as dockerd.
const DEFAULT_USER: &str = "dockremap";

/// A state root's remapping: the user and group asked for and the ranges they own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remap {
    /// The host user whose subordinate uids are used.
    pub user: String,
    /// The host group whose subordinate gids are used.
    pub group: String,
    /// The container's ids and the host ids they are.
    pub ids: IdMap,
    /// How the containers' files get those ids (a record made before there was a choice:
    /// idmapped mounts).
    #[serde(default)]
    pub shift: Shift,
}

/// How a remapped root's containers see their files with the range's ids.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shift {
    /// Idmapped mounts of the layers as unpacked (no copy; Linux 5.12+, a file system that has
    /// them).
    #[default]
    Idmap,
    /// Layers copied once per range with their owners shifted, writable layers owned by the
    /// range (dockerd's way; works everywhere, costs a copy of each layer).
    Copy,
}

impl Shift {
    /// Its name, as `XCOMPOSE_USERNS_SHIFT` and the record spell it.
    fn name(self) -> &'static str {
        match self {
            Shift::Idmap => "idmap",
            Shift::Copy => "copy",
        }
    }
}

/// The shift `XCOMPOSE_USERNS_SHIFT` forces, if any (unset or empty: chosen by what the host
/// offers).
fn forced_shift() -> Result<Option<Shift>, RemapError> {
    parse_shift(&std::env::var(SHIFT_VARIABLE).unwrap_or_default())
}

/// A value of `XCOMPOSE_USERNS_SHIFT`.
fn parse_shift(value: &str) -> Result<Option<Shift>, RemapError> {
    match value {
        "" => Ok(None),
        "idmap" => Ok(Some(Shift::Idmap)),
        "copy" => Ok(Some(Shift::Copy)),
        other => Err(RemapError(format!("{SHIFT_VARIABLE}={other:?} is not idmap or copy (unset: idmapped mounts where the host has them, else copy)"))),
    }
}

impl Remap {
    /// The range layers are shifted into when [`Shift::Copy`]: the container's ids from 0.
    pub fn layer_shift(&self) -> Result<IdShift, RemapError> {
        match (self.ids.uids.as_slice(), self.ids.gids.as_slice()) {
            ([u], [g]) if u.container == 0 && g.container == 0 => Ok(IdShift { uid: u.host, uids: u.size, gid: g.host, gids: g.size }),
            _ => Err(RemapError("shifting layers needs one uid and one gid range from container id 0".into())),
        }
    }

    /// Refuses a shift forced by `XCOMPOSE_USERNS_SHIFT` other than the recorded one.
    fn check_forced(&self, root: &Path) -> Result<(), RemapError> {
        match forced_shift()? {
            Some(forced) if forced != self.shift => Err(RemapError(format!(
                "state root {} shifts ids with {}, not {} ({SHIFT_VARIABLE}); a state root keeps its remapping: use another --root",
                root.display(),
                self.shift.name(),
                forced.name()
            ))),
            _ => Ok(()),
        }
    }
}

/// Why remapping could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("--userns-remap: {0}")]
pub struct RemapError(String);

/// The remapping recorded in state root `root`, if any.
pub fn recorded(root: &Path) -> Result<Option<Remap>, RemapError> {
    let path = root.join(RECORD);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let remap: Remap = serde_json::from_slice(&bytes).map_err(|e| RemapError(format!("{}: {e}: remove the file only with every container and volume of this root", path.display())))?;
            remap.check_forced(root)?;
            Ok(Some(remap))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RemapError(format!("reading {}: {e}", path.display()))),
    }
}

/// Applies `--userns-remap SETTING` (`default` or `USER[:GROUP]`) to state root `root`: records
/// it on a root that has none (and holds no containers or volumes yet), or checks it is the one
/// recorded.
pub fn configure(root: &Path, setting: &str) -> Result<Remap, RemapError> {
    let (user, group) = parse(setting)?;
    if let Some(existing) = recorded(root)? {
        if existing.user == user && existing.group == group {
            return Ok(existing);
        }
        return Err(RemapError(format!(
            "state root {} is remapped to {}:{}, not {user}:{group}; a state root keeps its remapping: use another --root",
            root.display(),
            existing.user,
            existing.group
        )));
    }
    if let Some(what) = made_without_remapping(root) {
        return Err(RemapError(format!(
            "state root {} already holds {what} made without user namespace remapping; remapping applies to a whole state root: use another --root",
            root.display()
        )));
    }
    if user == DEFAULT_USER {
        crate::subids::ensure_remap_user(DEFAULT_USER).map_err(RemapError)?;
    }
    let mut remap = resolve(&user, &group)?;
    std::fs::create_dir_all(root).map_err(|e| RemapError(format!("creating {}: {e}", root.display())))?;
    remap.shift = match forced_shift()? {
        Some(Shift::Copy) => Shift::Copy,
        forced => match xcompose_container::userns::check_idmap(root, &remap.ids) {
            Ok(()) => Shift::Idmap,
            // As dockerd, whose storage shifts owners where it cannot map them.
            Err(e) if e.unsupported && forced.is_none() => Shift::Copy,
            Err(e) => return Err(RemapError(e.message)),
        },
    };
    let json = serde_json::to_vec_pretty(&remap).expect("a remapping serialises");
    xcompose_images::store::atomic_write(&root.join(RECORD), &json).map_err(|e| RemapError(e.to_string()))?;
    Ok(remap)
}

/// `default` or `USER[:GROUP]` (the group defaults to the user's name, as dockerd's).
fn parse(setting: &str) -> Result<(String, String), RemapError> {
    let setting = setting.trim();
    if setting == "default" {
        return Ok((DEFAULT_USER.into(), DEFAULT_USER.into()));
    }
    let (user, group) = setting.split_once(':').unwrap_or((setting, setting));
    if user.is_empty() || group.is_empty() {
        return Err(RemapError(format!("{setting:?} is not default or USER[:GROUP]")));
    }
    Ok((user.into(), group.into()))
}

/// The ids of `user`'s first subordinate uid range and `group`'s first subordinate gid range.
fn resolve(user: &str, group: &str) -> Result<Remap, RemapError> {
    let uid = host_uid(user)?;
    let gid = host_gid(group)?;
    if uid == 0 {
        return Err(RemapError("root cannot be remapped to itself: name a user with subordinate ids, or default".into()));
    }
    let range = |file: &str, name: &str, id: u32| {
        crate::subids::first_range(Path::new(file), name, id)
            .map_err(RemapError)?
            .ok_or_else(|| RemapError(format!("{name} has no subordinate ids in {file}: add a range (usermod --add-subuids/--add-subgids) or use default")))
    };
    let (first_uid, uids) = range("/etc/subuid", user, uid)?;
    let (first_gid, gids) = range("/etc/subgid", group, gid)?;
    let one_range = |host, size| vec![IdRange { container: 0, host, size }];
    let ids = IdMap { uids: one_range(first_uid, uids), gids: one_range(first_gid, gids) };
    Ok(Remap { user: user.into(), group: group.into(), ids, shift: Shift::Idmap })
}

/// The uid of host user `user` (a name, or a uid that exists).
fn host_uid(user: &str) -> Result<u32, RemapError> {
    let lookup = |r: nix::Result<Option<nix::unistd::User>>| r.map_err(|e| RemapError(format!("looking up user {user:?}: {e}"))).map(|u| u.map(|u| u.uid.as_raw()));
    let by_number = user.parse::<u32>().ok().map(|uid| lookup(nix::unistd::User::from_uid(uid.into()))).transpose()?.flatten();
    lookup(nix::unistd::User::from_name(user))?.or(by_number).ok_or_else(|| RemapError(format!("no user {user:?} on this host")))
}

/// The gid of host group `group` (a name, or a gid that exists).
fn host_gid(group: &str) -> Result<u32, RemapError> {
    let lookup = |r: nix::Result<Option<nix::unistd::Group>>| r.map_err(|e| RemapError(format!("looking up group {group:?}: {e}"))).map(|g| g.map(|g| g.gid.as_raw()));
    let by_number = group.parse::<u32>().ok().map(|gid| lookup(nix::unistd::Group::from_gid(gid.into()))).transpose()?.flatten();
    lookup(nix::unistd::Group::from_name(group))?.or(by_number).ok_or_else(|| RemapError(format!("no group {group:?} on this host")))
}

/// What in `root` was made without remapping (containers, volumes), if anything.
fn made_without_remapping(root: &Path) -> Option<&'static str> {
    let has_entries = |dir: PathBuf| std::fs::read_dir(dir).is_ok_and(|mut entries| entries.any(|e| e.is_ok_and(|e| !e.file_name().to_string_lossy().starts_with('.'))));
    if has_entries(root.join("containers")) {
        return Some("containers");
    }
    has_entries(root.join("volumes")).then_some("volumes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_name_a_user_and_group() {
        assert_eq!(parse("default").unwrap(), ("dockremap".into(), "dockremap".into()));
        assert_eq!(parse("alice").unwrap(), ("alice".into(), "alice".into()));
        assert_eq!(parse("alice:staff").unwrap(), ("alice".into(), "staff".into()));
        assert!(parse(":staff").unwrap_err().to_string().contains("USER[:GROUP]"));
    }

    #[test]
    fn the_shift_is_idmap_copy_or_chosen() {
        assert_eq!(parse_shift("").unwrap(), None);
        assert_eq!(parse_shift("copy").unwrap(), Some(Shift::Copy));
        assert_eq!(parse_shift("idmap").unwrap(), Some(Shift::Idmap));
        let err = parse_shift("cp").unwrap_err().to_string();
        assert_eq!(err, "--userns-remap: XCOMPOSE_USERNS_SHIFT=\"cp\" is not idmap or copy (unset: idmapped mounts where the host has them, else copy)");
    }

    #[test]
    fn a_record_without_a_shift_is_idmapped_and_layers_shift_by_its_range() {
        let old = r#"{"user":"alice","group":"staff","ids":{"uids":[{"container":0,"host":100000,"size":65536}],"gids":[{"container":0,"host":300000,"size":1000}]}}"#;
        let remap: Remap = serde_json::from_str(old).unwrap();
        assert_eq!(remap.shift, Shift::Idmap);
        assert_eq!(remap.layer_shift().unwrap(), IdShift { uid: 100000, uids: 65536, gid: 300000, gids: 1000 });
        let two = Remap { ids: IdMap { uids: vec![IdRange { container: 0, host: 1, size: 1 }; 2], gids: remap.ids.gids.clone() }, ..remap };
        assert!(two.layer_shift().unwrap_err().to_string().contains("one uid and one gid range"));
    }

    #[test]
    fn a_root_with_containers_is_not_remapped() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("containers/abc")).unwrap();
        let err = configure(root.path(), "nobody-here-xyz").unwrap_err().to_string();
        assert!(err.contains("already holds containers"), "{err}");
        assert!(recorded(root.path()).unwrap().is_none());
    }

    #[test]
    fn a_recorded_remapping_cannot_change() {
        let root = tempfile::tempdir().unwrap();
        let remap = Remap { user: "alice".into(), group: "alice".into(), ids: IdMap::range(100000, 100000, 65536), shift: Shift::Idmap };
        std::fs::write(root.path().join(RECORD), serde_json::to_vec(&remap).unwrap()).unwrap();
        assert_eq!(configure(root.path(), "alice").unwrap(), remap);
        let err = configure(root.path(), "bob").unwrap_err().to_string();
        assert!(err.contains("remapped to alice:alice, not bob:bob"), "{err}");
    }
}
