//! An image's final filesystem as a sorted list of entries, computed from its layers applied in
//! order (OCI whiteouts and opaque directories honoured), without unpacking anything to disk.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Read;

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};

/// Prefix of a whiteout entry's name (`.wh.NAME` deletes `NAME` of the layers below).
const WHITEOUT_PREFIX: &str = ".wh.";
/// Name of the entry that makes its directory opaque (hides the lower layers' contents).
const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// One path of an image's filesystem: what a container would see, without timestamps.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TreeEntry {
    /// Absolute path (`/etc/passwd`).
    pub path: String,
    /// `file`, `dir`, `symlink`, `char`, `block` or `fifo` (hard links are files).
    pub kind: String,
    /// Permission bits with setuid, setgid and sticky (`mode & 0o7777`).
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// A symlink's target.
    pub link: Option<String>,
    /// A regular file's content as lowercase hex sha256.
    pub sha256: Option<String>,
}

impl fmt::Display for TreeEntry {
    /// `PATH KIND MODE UID:GID [-> TARGET] [sha256:PREFIX]`, one line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {:04o} {}:{}",
            self.path, self.kind, self.mode, self.uid, self.gid
        )?;
        if let Some(link) = &self.link {
            write!(f, " -> {link}")?;
        }
        if let Some(sum) = &self.sha256 {
            write!(f, " sha256:{}", &sum[..16.min(sum.len())])?;
        }
        Ok(())
    }
}

/// A filesystem being assembled from layers: path -> entry.
#[derive(Default, Debug)]
pub struct FsTree {
    entries: BTreeMap<String, TreeEntry>,
    /// The path whose contents are kept ([`FsTree::capture`]), and its latest contents.
    capture: Option<(String, Option<Vec<u8>>)>,
}

impl FsTree {
    /// An empty filesystem (`FROM scratch`).
    pub fn new() -> FsTree {
        FsTree::default()
    }

    /// Keeps the contents of the regular file at `path` (absolute) as layers are applied, for
    /// [`FsTree::captured`].
    pub fn capture(&mut self, path: &str) {
        self.capture = Some((normalize(path), None));
    }

    /// The contents of the captured file, if it is a regular file of the tree.
    pub fn captured(&self) -> Option<&[u8]> {
        let (path, contents) = self.capture.as_ref()?;
        match self.entries.get(path) {
            Some(entry) if entry.kind == "file" => contents.as_deref(),
            _ => None,
        }
    }

    /// Applies one uncompressed layer tar on top: entries added or replaced, `.wh.NAME` removes
    /// `NAME` (and what is under it), `.wh..wh..opq` hides what the lower layers had in its
    /// directory; hard links become copies of their target's entry.
    pub fn apply_layer(&mut self, layer: impl Read) -> anyhow::Result<()> {
        let mut archive = tar::Archive::new(layer);
        // Paths this layer put in place: an opaque marker only hides the lower layers' entries.
        let mut from_this_layer = BTreeSet::new();
        for entry in archive.entries().context("reading a layer tar")? {
            let mut entry = entry.context("reading a layer tar entry")?;
            let path = normalize(&entry.path()?.to_string_lossy());
            if path == "/" {
                continue;
            }
            let (parent, name) = split(&path);
            if name == OPAQUE_MARKER {
                self.remove_under(parent, &from_this_layer);
                continue;
            }
            if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
                let target = join(parent, hidden);
                self.entries.remove(&target);
                self.remove_under(&target, &BTreeSet::new());
                continue;
            }
            let header = entry.header().clone();
            let mode = header.mode()? & 0o7777;
            let (uid, gid) = (header.uid()?, header.gid()?);
            let entry_type = header.entry_type();
            let new = if entry_type.is_hard_link() {
                let target = normalize(
                    &entry
                        .link_name()?
                        .context("a hard link without a target")?
                        .to_string_lossy(),
                );
                let original = self
                    .entries
                    .get(&target)
                    .with_context(|| format!("hard link {path} to {target}, which is not there"))?;
                TreeEntry {
                    path: path.clone(),
                    ..original.clone()
                }
            } else {
                let (kind, link, sha256) = if entry_type.is_dir() {
                    ("dir", None, None)
                } else if entry_type.is_symlink() {
                    let target = entry
                        .link_name()?
                        .context("a symlink without a target")?
                        .to_string_lossy()
                        .into_owned();
                    ("symlink", Some(target), None)
                } else if entry_type.is_character_special() {
                    ("char", None, None)
                } else if entry_type.is_block_special() {
                    ("block", None, None)
                } else if entry_type.is_fifo() {
                    ("fifo", None, None)
                } else if entry_type.is_file() || entry_type.is_contiguous() {
                    let mut hasher = Sha256::new();
                    match &mut self.capture {
                        Some((captured, contents)) if *captured == path => {
                            let mut data = Vec::new();
                            entry
                                .read_to_end(&mut data)
                                .with_context(|| format!("reading {path} in a layer"))?;
                            hasher.update(&data);
                            *contents = Some(data);
                        }
                        _ => {
                            std::io::copy(&mut entry, &mut hasher)
                                .with_context(|| format!("reading {path} in a layer"))?;
                        }
                    }
                    ("file", None, Some(hex::encode(hasher.finalize())))
                } else {
                    anyhow::bail!("{path}: unexpected tar entry type {entry_type:?} in a layer");
                };
                TreeEntry {
                    path: path.clone(),
                    kind: kind.into(),
                    mode,
                    uid,
                    gid,
                    link,
                    sha256,
                }
            };
            if new.kind != "dir" {
                self.remove_under(&path, &BTreeSet::new());
            }
            from_this_layer.insert(path.clone());
            self.entries.insert(path, new);
        }
        Ok(())
    }

    /// Removes every entry strictly under directory `dir`, except those in `keep`.
    fn remove_under(&mut self, dir: &str, keep: &BTreeSet<String>) {
        let prefix = if dir == "/" {
            "/".to_string()
        } else {
            format!("{dir}/")
        };
        self.entries
            .retain(|path, _| !path.starts_with(&prefix) || keep.contains(path));
    }

    /// The entries, sorted by path.
    pub fn into_entries(self) -> Vec<TreeEntry> {
        self.entries.into_values().collect()
    }
}

/// `./etc/x/`, `etc/x` and `/etc/x` all become `/etc/x`.
fn normalize(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

/// `/etc/x` -> (`/etc`, `x`); `/x` -> (`/`, `x`).
fn split(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some(("", name)) => ("/", name),
        Some((parent, name)) => (parent, name),
        None => ("/", path),
    }
}

fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        builder.into_inner().unwrap()
    }

    fn add(builder: &mut tar::Builder<Vec<u8>>, path: &str, kind: tar::EntryType, data: &[u8]) {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
        header.set_uid(0);
        header.set_gid(0);
        header.set_size(data.len() as u64);
        builder.append_data(&mut header, path, data).unwrap();
    }

    fn paths(tree: FsTree) -> Vec<String> {
        tree.into_entries().into_iter().map(|e| e.path).collect()
    }

    #[test]
    fn whiteouts_remove_paths_and_opaque_dirs_hide_only_lower_layers() {
        let mut tree = FsTree::new();
        tree.apply_layer(
            &layer(|b| {
                add(b, "data/", tar::EntryType::Directory, b"");
                add(b, "data/keep", tar::EntryType::Regular, b"k");
                add(b, "data/gone", tar::EntryType::Regular, b"g");
                add(b, "cache/", tar::EntryType::Directory, b"");
                add(b, "cache/old", tar::EntryType::Regular, b"o");
            })[..],
        )
        .unwrap();
        tree.apply_layer(
            &layer(|b| {
                add(b, "data/.wh.gone", tar::EntryType::Regular, b"");
                add(b, "cache/new", tar::EntryType::Regular, b"n");
                add(b, "cache/.wh..wh..opq", tar::EntryType::Regular, b"");
            })[..],
        )
        .unwrap();
        assert_eq!(paths(tree), ["/cache", "/cache/new", "/data", "/data/keep"]);
    }

    #[test]
    fn a_file_replacing_a_directory_drops_its_contents_and_hard_links_copy_their_target() {
        let mut tree = FsTree::new();
        tree.apply_layer(
            &layer(|b| {
                add(b, "d/", tar::EntryType::Directory, b"");
                add(b, "d/f", tar::EntryType::Regular, b"x");
                add(b, "orig", tar::EntryType::Regular, b"same");
            })[..],
        )
        .unwrap();
        tree.apply_layer(
            &layer(|b| {
                add(b, "d", tar::EntryType::Regular, b"now a file");
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(tar::EntryType::Link);
                header.set_mode(0o644);
                header.set_uid(0);
                header.set_gid(0);
                header.set_size(0);
                b.append_link(&mut header, "copy", "orig").unwrap();
            })[..],
        )
        .unwrap();
        let entries = tree.into_entries();
        assert_eq!(
            entries.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
            ["/copy", "/d", "/orig"]
        );
        assert_eq!(entries[0].sha256, entries[2].sha256);
        assert_eq!(entries[0].kind, "file");
    }

    #[test]
    fn a_captured_file_has_its_latest_contents_and_none_once_whited_out() {
        let mut tree = FsTree::new();
        tree.capture("/etc/log");
        tree.apply_layer(
            &layer(|b| {
                add(b, "etc/", tar::EntryType::Directory, b"");
                add(b, "etc/log", tar::EntryType::Regular, b"first");
            })[..],
        )
        .unwrap();
        assert_eq!(tree.captured(), Some(&b"first"[..]));
        tree.apply_layer(&layer(|b| add(b, "etc/log", tar::EntryType::Regular, b"second"))[..])
            .unwrap();
        assert_eq!(tree.captured(), Some(&b"second"[..]));
        tree.apply_layer(&layer(|b| add(b, "etc/.wh.log", tar::EntryType::Regular, b""))[..])
            .unwrap();
        assert_eq!(tree.captured(), None);
    }
}
