//! Subordinate id ranges (`/etc/subuid`, `/etc/subgid`: `NAME:START:COUNT` lines) and the
//! `dockremap` user dockerd makes for `--userns-remap default`.

use std::path::Path;
use std::process::Command;

/// The size dockerd gives the range it makes for `dockremap`.
const DEFAULT_RANGE: u32 = 65536;

/// The first id dockerd hands out when no range is taken yet.
const FIRST_SUBORDINATE_ID: u32 = 100000;

/// One `NAME:START:COUNT` line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SubordinateRange {
    owner: String,
    start: u32,
    count: u32,
}

fn ranges(text: &str) -> Vec<SubordinateRange> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().split(':');
            let owner = fields.next()?.to_string();
            let start = fields.next()?.parse().ok()?;
            let count = fields.next()?.parse().ok()?;
            (!owner.is_empty() && !owner.starts_with('#')).then_some(SubordinateRange { owner, start, count })
        })
        .collect()
}

/// The first range of `file` whose owner is `name` or the id `id` (lines may name either), as
/// `(start, count)`.
pub(crate) fn first_range(file: &Path, name: &str, id: u32) -> Result<Option<(u32, u32)>, String> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("reading {}: {e}", file.display())),
    };
    let id = id.to_string();
    Ok(ranges(&text).into_iter().find(|r| r.owner == name || r.owner == id).map(|r| (r.start, r.count)))
}

/// The first start of [`DEFAULT_RANGE`] free ids from [`FIRST_SUBORDINATE_ID`] overlapping no
/// range of `text`, as dockerd picks it.
fn next_free_start(text: &str) -> u32 {
    let mut taken: Vec<(u64, u64)> = ranges(text).iter().map(|r| (u64::from(r.start), u64::from(r.start) + u64::from(r.count))).collect();
    taken.sort();
    let mut start = u64::from(FIRST_SUBORDINATE_ID);
    for (from, to) in taken {
        if from < start + u64::from(DEFAULT_RANGE) && to > start {
            start = to;
        }
    }
    u32::try_from(start).unwrap_or(u32::MAX)
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program).args(args).output().map_err(|e| format!("running {program}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!("{program} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
}

/// Makes the system user `name` (and its group) if missing, and gives it a range of 65536
/// subordinate user and group ids where it has none, as dockerd does for `dockremap`
/// (`useradd -r -s /bin/false`, then `usermod -v -w` with the first free range from 100000).
pub(crate) fn ensure_remap_user(name: &str) -> Result<(), String> {
    let exists = nix::unistd::User::from_name(name).map_err(|e| format!("looking up user {name}: {e}"))?.is_some();
    if !exists {
        run("useradd", &["--system", "--shell", "/bin/false", name])?;
    }
    let user = nix::unistd::User::from_name(name).map_err(|e| format!("looking up user {name}: {e}"))?.ok_or_else(|| format!("useradd made no user {name}"))?;
    let has_uids = first_range(Path::new("/etc/subuid"), name, user.uid.as_raw())?.is_some();
    let has_gids = first_range(Path::new("/etc/subgid"), name, user.gid.as_raw())?.is_some();
    if has_uids && has_gids {
        return Ok(());
    }
    // usermod gives ranges only where the files exist.
    for file in ["/etc/subuid", "/etc/subgid"] {
        std::fs::OpenOptions::new().create(true).append(true).open(file).map_err(|e| format!("creating {file}: {e}"))?;
    }
    let taken = |file: &str| std::fs::read_to_string(file).unwrap_or_default();
    let start = next_free_start(&format!("{}\n{}", taken("/etc/subuid"), taken("/etc/subgid")));
    let span = format!("{start}-{}", start + DEFAULT_RANGE - 1);
    let mut args = Vec::new();
    if !has_uids {
        args.extend(["--add-subuids", span.as_str()]);
    }
    if !has_gids {
        args.extend(["--add-subgids", span.as_str()]);
    }
    args.push(name);
    run("usermod", &args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_by_name_or_id() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("subuid");
        std::fs::write(&file, "# comment\nalice:100000:65536\n1001:165536:1000\nbroken line\n").unwrap();
        assert_eq!(first_range(&file, "alice", 1000).unwrap(), Some((100000, 65536)));
        assert_eq!(first_range(&file, "bob", 1001).unwrap(), Some((165536, 1000)));
        assert_eq!(first_range(&file, "carol", 1002).unwrap(), None);
        assert_eq!(first_range(&dir.path().join("missing"), "alice", 0).unwrap(), None);
    }

    #[test]
    fn the_next_range_skips_the_taken_ones() {
        assert_eq!(next_free_start(""), 100000);
        assert_eq!(next_free_start("a:100000:65536\n"), 165536);
        assert_eq!(next_free_start("a:300000:10\n"), 100000);
        assert_eq!(next_free_start("a:150000:10\nb:100000:65536\n"), 165536);
    }
}
