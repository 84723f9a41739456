//! Resolving compose's `user:` (`name`, `uid`, `name:group`, `uid:gid`) against the image's
//! `/etc/passwd` and `/etc/group`, as Docker does.

use std::path::Path;

/// A resolved user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups (those of `/etc/group` listing the user by name).
    pub additional_gids: Vec<u32>,
    /// Home directory (`HOME` when the image sets none), `/` when unknown.
    pub home: String,
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

fn passwd(rootfs: &Path) -> Vec<PasswdEntry> {
    std::fs::read_to_string(rootfs.join("etc/passwd"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(PasswdEntry { name: f.first()?.to_string(), uid: f.get(2)?.parse().ok()?, gid: f.get(3)?.parse().ok()?, home: f.get(5).unwrap_or(&"/").to_string() })
        })
        .collect()
}

/// (name, gid, members)
fn groups(rootfs: &Path) -> Vec<(String, u32, Vec<String>)> {
    std::fs::read_to_string(rootfs.join("etc/group"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let members = f.get(3).map(|m| m.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()).unwrap_or_default();
            Some((f.first()?.to_string(), f.get(2)?.parse().ok()?, members))
        })
        .collect()
}

/// Resolves `spec` (empty: root) in the root filesystem at `rootfs`.
pub fn resolve(spec: &str, rootfs: &Path) -> Result<ResolvedUser, String> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let users = passwd(rootfs);
    let entry = match user.parse::<u32>() {
        Ok(uid) => users.iter().find(|e| e.uid == uid),
        Err(_) => Some(
            users
                .iter()
                .find(|e| e.name == user)
                .ok_or_else(|| format!("unable to find user {user}: no matching entries in passwd file"))?,
        ),
    };
    let uid = match user.parse::<u32>() {
        Ok(uid) => uid,
        Err(_) => entry.map(|e| e.uid).unwrap_or(0),
    };
    let all_groups = groups(rootfs);
    let gid = match group {
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => all_groups
                .iter()
                .find(|(name, _, _)| name == g)
                .map(|(_, gid, _)| *gid)
                .ok_or_else(|| format!("unable to find group {g}: no matching entries in group file"))?,
        },
        None => entry.map(|e| e.gid).unwrap_or(0),
    };
    let additional_gids = match (group, entry) {
        (None, Some(e)) => all_groups.iter().filter(|(_, g, members)| *g != gid && members.contains(&e.name)).map(|(_, g, _)| *g).collect(),
        _ => Vec::new(),
    };
    Ok(ResolvedUser { uid, gid, additional_gids, home: entry.map(|e| e.home.clone()).unwrap_or_else(|| "/".into()) })
}

/// The gids of `group_add`: numbers as they are, names looked up in the image's /etc/group.
pub fn group_ids(names: &[String], rootfs: &Path) -> Result<Vec<u32>, String> {
    let all_groups = groups(rootfs);
    names
        .iter()
        .map(|g| match g.parse::<u32>() {
            Ok(gid) => Ok(gid),
            Err(_) => all_groups
                .iter()
                .find(|(name, _, _)| name == g)
                .map(|(_, gid, _)| *gid)
                .ok_or_else(|| format!("unable to find group {g}: no matching entries in group file")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rootfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n").unwrap();
        std::fs::write(dir.path().join("etc/group"), "root:x:0:\napp:x:1000:\nwheel:x:10:app\n").unwrap();
        dir
    }

    #[test]
    fn names_ids_and_groups() {
        let r = rootfs();
        assert_eq!(resolve("", r.path()).unwrap(), ResolvedUser { uid: 0, gid: 0, additional_gids: vec![], home: "/root".into() });
        assert_eq!(resolve("app", r.path()).unwrap(), ResolvedUser { uid: 1000, gid: 1000, additional_gids: vec![10], home: "/home/app".into() });
        assert_eq!(resolve("1000:10", r.path()).unwrap().gid, 10);
        assert_eq!(resolve("app:wheel", r.path()).unwrap().gid, 10);
        let unknown_uid = resolve("4242", r.path()).unwrap();
        assert_eq!((unknown_uid.uid, unknown_uid.gid), (4242, 0));
        assert!(resolve("nobody", r.path()).unwrap_err().contains("unable to find user nobody"));
        assert!(resolve("app:nogroup", r.path()).unwrap_err().contains("unable to find group nogroup"));
    }

    #[test]
    fn group_add_names_and_numbers() {
        let r = rootfs();
        assert_eq!(group_ids(&["wheel".into(), "4242".into()], r.path()).unwrap(), vec![10, 4242]);
        assert!(group_ids(&["nogroup".into()], r.path()).unwrap_err().contains("unable to find group nogroup"));
    }
}
