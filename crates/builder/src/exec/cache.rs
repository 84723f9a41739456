//! The build cache: for each step that changes the filesystem, its key (the parent's key, the
//! instruction with its arguments expanded, the environment and settings it runs with, and for
//! COPY/ADD the digest of the files it copies) mapped to the layer it made, if any. Records live
//! under `<root>/builder/cache/records/`, one JSON file per key, written atomically; cache mounts
//! (`RUN --mount=type=cache`) under `<root>/builder/cache/mounts/`. A record whose layer the
//! image store no longer has is a miss.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use xcompose_images::{ImageStore, StoredLayer};

/// The file of remembered context file digests, in the cache directory.
const CONTENT_HASHES: &str = "contenthash.json";

/// How RUNs running at the same time share a cache mount (`--mount=type=cache,sharing=...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sharing {
    /// Every user at once (BuildKit's default).
    #[default]
    Shared,
    /// One user at a time; the others wait.
    Locked,
    /// An instance of its own when another user holds it.
    Private,
}

/// A step's cache key, built from everything its result depends on.
#[derive(Debug, Clone)]
pub struct CacheKey(Sha256);

impl CacheKey {
    /// A key starting from `parent` (the previous step's key, or the base image's ID).
    pub fn new(parent: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(parent.as_bytes());
        Self(hasher)
    }

    /// Adds one labelled part (the instruction, the environment, a content digest...).
    pub fn with(mut self, label: &str, value: &str) -> Self {
        for part in [label, value] {
            self.0.update((part.len() as u64).to_le_bytes());
            self.0.update(part.as_bytes());
        }
        self
    }

    /// The key as hex.
    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// What a cached step made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedStep {
    /// The layer it added; `None` when it changed nothing.
    pub layer: Option<CachedLayer>,
    /// When the step ran (its history entry's `created`): a rebuild from the cache makes the
    /// same image, with the same ID, as BuildKit's does.
    pub created: String,
}

/// A layer as a cache record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedLayer {
    /// The blob's digest.
    pub digest: String,
    /// Its diff_id.
    pub diff_id: String,
    /// The blob's size.
    pub size: u64,
    /// Its media type.
    pub media_type: String,
}

impl From<&StoredLayer> for CachedLayer {
    fn from(layer: &StoredLayer) -> Self {
        Self { digest: layer.digest.clone(), diff_id: layer.diff_id.clone(), size: layer.size, media_type: layer.media_type.to_string() }
    }
}

impl CachedLayer {
    /// The layer as the image store names it.
    pub fn stored(&self) -> StoredLayer {
        StoredLayer { digest: self.digest.clone(), diff_id: self.diff_id.clone(), size: self.size, media_type: self.media_type.as_str().into() }
    }
}

/// The cache of one state root.
#[derive(Debug, Clone)]
pub struct BuildCache {
    dir: PathBuf,
}

/// What `builder prune` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Cache records removed.
    pub records: usize,
    /// Cache mounts removed.
    pub mounts: usize,
    /// Bytes freed by removing cache mounts.
    pub bytes: u64,
}

impl BuildCache {
    /// The cache under `<root>/builder/cache`.
    pub fn open(root: &Path) -> Self {
        Self { dir: root.join("builder").join("cache") }
    }

    fn record_path(&self, key: &str) -> PathBuf {
        self.dir.join("records").join(format!("{key}.json"))
    }

    /// The step recorded under `key`, if its layer is still in `store`.
    pub fn lookup(&self, key: &str, store: &ImageStore) -> Option<CachedStep> {
        let bytes = fs::read(self.record_path(key)).ok()?;
        let step: CachedStep = serde_json::from_slice(&bytes).ok()?;
        match &step.layer {
            Some(layer) if !store.has_stored_layer(&layer.stored()) => None,
            _ => Some(step),
        }
    }

    /// The remembered digests of context files (`<root>/builder/cache/contenthash.json`).
    pub fn content_hashes(&self) -> crate::context::ContentHashes {
        crate::context::ContentHashes::load(&self.dir.join(CONTENT_HASHES))
    }

    /// Records what the step of `key` made.
    pub fn record(&self, key: &str, step: &CachedStep) -> io::Result<()> {
        let path = self.record_path(key);
        fs::create_dir_all(path.parent().unwrap_or(&self.dir))?;
        let bytes = serde_json::to_vec(step).map_err(io::Error::other)?;
        xcompose_images::store::atomic_write(&path, &bytes).map_err(io::Error::other)
    }

    /// The directory of the cache mount `id` for one RUN (created if missing, owned and moded as
    /// given when new), with the lock that keeps it until the RUN ends. As BuildKit's `sharing`:
    /// `shared` users use it together, a `locked` one waits until it is the only user, and a
    /// `private` one takes an instance no one else is using (a new one when all are busy).
    pub fn mount_dir(&self, id: &str, uid: u32, gid: u32, mode: u32, sharing: Sharing) -> io::Result<(PathBuf, Flock<fs::File>)> {
        let name = hex::encode(Sha256::digest(id.as_bytes()));
        let mut instance = 0;
        let lock = loop {
            let lock_path = ensure(&self.dir.join("mount-locks"))?.join(format!("{name}-{instance}"));
            let file = fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path)?;
            let arg = match sharing {
                Sharing::Shared => FlockArg::LockShared,
                Sharing::Locked => FlockArg::LockExclusive,
                Sharing::Private => FlockArg::LockExclusiveNonblock,
            };
            match Flock::lock(file, arg) {
                Ok(lock) => break lock,
                Err((_, nix::errno::Errno::EWOULDBLOCK)) if sharing == Sharing::Private => instance += 1,
                Err((_, e)) => return Err(e.into()),
            }
        };
        let dir = self.dir.join("mounts").join(if instance == 0 { name } else { format!("{name}-{instance}") });
        if !dir.exists() {
            let tmp = tempfile::Builder::new().prefix(".new-").tempdir_in(ensure(&self.dir.join("mounts"))?)?;
            std::os::unix::fs::chown(tmp.path(), Some(uid), Some(gid))?;
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(tmp.path(), fs::Permissions::from_mode(mode))?;
            match fs::rename(tmp.path(), &dir) {
                Ok(()) => std::mem::forget(tmp),
                Err(_) if dir.exists() => {}
                Err(e) => return Err(e),
            }
        }
        Ok((dir, lock))
    }

    /// Removes every record and every cache mount (`builder prune`).
    pub fn prune(&self) -> io::Result<PruneReport> {
        let mut report = PruneReport::default();
        match fs::remove_file(self.dir.join(CONTENT_HASHES)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        for (sub, is_mount) in [("records", false), ("mounts", true)] {
            let Ok(entries) = fs::read_dir(self.dir.join(sub)) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                if is_mount {
                    report.bytes += disk_usage(&path);
                    fs::remove_dir_all(&path)?;
                    report.mounts += 1;
                } else {
                    fs::remove_file(&path)?;
                    report.records += 1;
                }
            }
        }
        Ok(report)
    }
}

fn ensure(dir: &Path) -> io::Result<&Path> {
    fs::create_dir_all(dir)?;
    Ok(dir)
}

/// Bytes used by the files under `path`.
fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = fs::symlink_metadata(path) else { return 0 };
    if !meta.is_dir() {
        return meta.blocks() * 512;
    }
    fs::read_dir(path).map(|entries| entries.flatten().map(|e| disk_usage(&e.path())).sum()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_any_part() {
        let a = CacheKey::new("p").with("cmd", "echo a").finish();
        assert_eq!(a, CacheKey::new("p").with("cmd", "echo a").finish());
        assert_ne!(a, CacheKey::new("q").with("cmd", "echo a").finish());
        assert_ne!(a, CacheKey::new("p").with("cmd", "echo b").finish());
        assert_ne!(CacheKey::new("p").with("ab", "c").finish(), CacheKey::new("p").with("a", "bc").finish());
    }

    #[test]
    fn records_survive_until_pruned_and_miss_without_their_layer() {
        let root = tempfile::tempdir().unwrap();
        let store = ImageStore::open(root.path()).unwrap();
        let cache = BuildCache::open(root.path());
        cache.record("k1", &CachedStep { layer: None, created: "2026-01-01T00:00:00Z".into() }).unwrap();
        assert_eq!(cache.lookup("k1", &store), Some(CachedStep { layer: None, created: "2026-01-01T00:00:00Z".into() }));
        let ghost = CachedLayer { digest: "sha256:00".into(), diff_id: "sha256:00".into(), size: 1, media_type: "application/vnd.oci.image.layer.v1.tar".into() };
        cache.record("k2", &CachedStep { layer: Some(ghost), created: "2026-01-01T00:00:00Z".into() }).unwrap();
        assert_eq!(cache.lookup("k2", &store), None);
        let (mount, held) = cache.mount_dir("go-cache", 1000, 1000, 0o755, Sharing::Shared).unwrap();
        fs::write(mount.join("counter"), b"1").unwrap();
        assert_eq!(cache.mount_dir("go-cache", 0, 0, 0o700, Sharing::Shared).unwrap().0, mount);
        drop(held);
        let report = cache.prune().unwrap();
        assert_eq!((report.records, report.mounts), (2, 1));
        assert_eq!(cache.lookup("k1", &store), None);
        assert!(!mount.exists());
    }

    #[test]
    fn cache_mounts_are_shared_locked_or_private_as_buildkit_shares_them() {
        let root = tempfile::tempdir().unwrap();
        let cache = BuildCache::open(root.path());
        let (shared, first) = cache.mount_dir("m", 0, 0, 0o755, Sharing::Shared).unwrap();
        let (again, second) = cache.mount_dir("m", 0, 0, 0o755, Sharing::Shared).unwrap();
        assert_eq!(again, shared, "shared users use one directory at once");
        let (private, private_lock) = cache.mount_dir("m", 0, 0, 0o755, Sharing::Private).unwrap();
        assert_ne!(private, shared, "a private user gets an instance no one is using");
        drop(private_lock);
        assert_eq!(cache.mount_dir("m", 0, 0, 0o755, Sharing::Private).unwrap().0, private, "a free instance is used again");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let (dir, _lock) = cache.mount_dir("m", 0, 0, 0o755, Sharing::Locked).unwrap();
                tx.send(dir).unwrap();
            });
            assert!(rx.recv_timeout(std::time::Duration::from_millis(300)).is_err(), "a locked user waits while others hold the mount");
            drop((first, second));
            assert_eq!(rx.recv().unwrap(), shared, "and gets it once they are done");
        });
    }
}
