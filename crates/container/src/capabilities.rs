//! Docker's default capability set and compose's `cap_add` / `cap_drop`.

use std::str::FromStr;

use caps::Capability;

/// The capabilities Docker gives a container by default.
pub const DEFAULT_CAPABILITIES: [Capability; 14] = [
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FSETID,
    Capability::CAP_FOWNER,
    Capability::CAP_MKNOD,
    Capability::CAP_NET_RAW,
    Capability::CAP_SETGID,
    Capability::CAP_SETUID,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETPCAP,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_SYS_CHROOT,
    Capability::CAP_KILL,
    Capability::CAP_AUDIT_WRITE,
];

fn parse(name: &str) -> Result<Capability, String> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") };
    Capability::from_str(&full).map_err(|_| format!("unknown capability: {name:?}"))
}

/// The defaults with `drop` removed then `add` added (either may say `ALL`), as Docker applies them.
/// `privileged` gives every capability of this process's bounding set (what the host allows:
/// one missing there cannot be given, and is not asked for).
pub fn capability_set(add: &[String], drop: &[String], privileged: bool) -> Result<Vec<Capability>, String> {
    let all: Vec<Capability> = caps::all().into_iter().collect();
    if privileged {
        let bounding = caps::read(None, caps::CapSet::Bounding).map_err(|e| format!("reading the capability bounding set: {e}"))?;
        let mut all: Vec<Capability> = all.into_iter().filter(|c| bounding.contains(c)).collect();
        all.sort_by_key(|c| c.index());
        return Ok(all);
    }
    let is_all = |list: &[String]| list.iter().any(|c| c.eq_ignore_ascii_case("all"));
    let mut set: Vec<Capability> = if is_all(drop) { Vec::new() } else { DEFAULT_CAPABILITIES.to_vec() };
    for name in drop.iter().filter(|c| !c.eq_ignore_ascii_case("all")) {
        let cap = parse(name)?;
        set.retain(|c| *c != cap);
    }
    if is_all(add) {
        set = all;
    } else {
        for name in add {
            let cap = parse(name)?;
            if !set.contains(&cap) {
                set.push(cap);
            }
        }
    }
    set.sort_by_key(|c| c.index());
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn defaults_add_and_drop() {
        assert_eq!(capability_set(&[], &[], false).unwrap().len(), 14);
        let set = capability_set(&s(&["NET_ADMIN"]), &s(&["CAP_MKNOD", "kill"]), false).unwrap();
        assert!(set.contains(&Capability::CAP_NET_ADMIN));
        assert!(!set.contains(&Capability::CAP_MKNOD) && !set.contains(&Capability::CAP_KILL));
        assert_eq!(set.len(), 13);
    }

    #[test]
    fn all_keywords() {
        assert_eq!(capability_set(&s(&["CHOWN"]), &s(&["ALL"]), false).unwrap(), vec![Capability::CAP_CHOWN]);
        assert!(capability_set(&s(&["ALL"]), &[], false).unwrap().contains(&Capability::CAP_SYS_ADMIN));
        assert!(capability_set(&[], &[], true).unwrap().contains(&Capability::CAP_SYS_ADMIN));
    }

    #[test]
    fn unknown_names_are_errors() {
        assert!(capability_set(&s(&["FLY"]), &[], false).unwrap_err().contains("FLY"));
    }
}
