//! Seeding a volume from an image's directory: what is copied, exactly; that symbolic links are
//! never followed; and that a volume is seeded whenever it is empty, as Docker does.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::AT_FDCWD;
use nix::sys::stat::{makedev, mknod, utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, Gid, Uid};
use nix::fcntl::AtFlags;
use xcompose_volumes::{VolumeError, VolumeStore};

fn chown(path: &Path, uid: u32, gid: u32) {
    fchownat(AT_FDCWD, path, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)), AtFlags::AT_SYMLINK_NOFOLLOW).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn set_times(path: &Path, sec: i64, nsec: i64) {
    let t = TimeSpec::new(sec, nsec);
    utimensat(AT_FDCWD, path, &TimeSpec::new(sec - 100, 5), &t, UtimensatFlags::NoFollowSymlink).unwrap();
}

/// An image directory with every kind of entry and unusual metadata, next to an `outside`
/// directory its symbolic links point into.
fn image_dir(base: &Path) -> PathBuf {
    let outside = base.join("outside");
    fs::create_dir_all(outside.join("secrets")).unwrap();
    fs::write(outside.join("secrets/key"), "do not copy").unwrap();
    let src = base.join("image/var/lib/app");
    fs::create_dir_all(src.join("conf/deep/er")).unwrap();
    fs::create_dir_all(src.join("tmp")).unwrap();
    fs::write(src.join("conf/app.conf"), "listen 80\n").unwrap();
    fs::write(src.join("conf/deep/er/blob"), vec![7u8; 70_000]).unwrap();
    fs::write(src.join("suid-tool"), "#!/bin/sh\n").unwrap();
    fs::write(src.join("empty"), "").unwrap();
    fs::hard_link(src.join("conf/app.conf"), src.join("conf/deep/app.conf.link")).unwrap();
    symlink("conf/app.conf", src.join("relative-link")).unwrap();
    symlink("../../../../outside/secrets", src.join("up-and-out")).unwrap();
    symlink(outside.join("secrets"), src.join("absolute-out")).unwrap();
    symlink("/etc/passwd", src.join("conf/passwd")).unwrap();
    symlink("dangling-target", src.join("dangling")).unwrap();
    mknod(&src.join("fifo"), SFlag::S_IFIFO, Mode::from_bits_truncate(0o640), 0).unwrap();
    mknod(&src.join("null"), SFlag::S_IFCHR, Mode::from_bits_truncate(0o666), makedev(1, 3)).unwrap();
    xattr::set(src.join("conf/app.conf"), "user.origin", b"image").unwrap();
    xattr::set(src.join("conf"), "user.dir-note", b"dir").unwrap();

    chown(&src, 999, 999);
    chmod(&src, 0o750);
    chown(&src.join("conf"), 1000, 1001);
    chmod(&src.join("conf"), 0o2750);
    chown(&src.join("conf/app.conf"), 1000, 1001);
    chmod(&src.join("conf/app.conf"), 0o640);
    chown(&src.join("suid-tool"), 0, 50);
    chmod(&src.join("suid-tool"), 0o4755);
    chmod(&src.join("tmp"), 0o1777);
    chown(&src.join("relative-link"), 33, 34);
    chown(&src.join("fifo"), 5, 6);
    chmod(&src.join("fifo"), 0o640);
    for (i, entry) in walk(&src).iter().rev().enumerate() {
        set_times(entry, 1_600_000_000 + i as i64, 123_456_789);
    }
    set_times(&src, 1_500_000_000, 42);
    src
}

/// Every path under `root` (not following links), parents before children.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = fs::read_dir(root).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        out.push(path.clone());
        if fs::symlink_metadata(&path).unwrap().is_dir() {
            out.extend(walk(&path));
        }
    }
    out
}

/// The metadata of `root` and everything under it, by path relative to `root`.
fn snapshot(root: &Path) -> Vec<(PathBuf, fs::Metadata)> {
    let mut paths = vec![root.to_path_buf()];
    paths.extend(walk(root));
    paths.into_iter().map(|p| (p.strip_prefix(root).unwrap().to_path_buf(), fs::symlink_metadata(&p).unwrap())).collect()
}

/// Asserts that `copy` has the type, mode, owner, times, size and device number in `a`.
fn assert_same_metadata(a: &fs::Metadata, copy: &Path) {
    let b = fs::symlink_metadata(copy).unwrap();
    let shown = copy.display();
    assert_eq!(a.mode(), b.mode(), "mode of {shown}");
    assert_eq!((a.uid(), a.gid()), (b.uid(), b.gid()), "owner of {shown}");
    assert_eq!((a.mtime(), a.mtime_nsec()), (b.mtime(), b.mtime_nsec()), "mtime of {shown}");
    if !a.file_type().is_symlink() {
        assert_eq!((a.atime(), a.atime_nsec()), (b.atime(), b.atime_nsec()), "atime of {shown}");
    }
    assert_eq!(a.rdev(), b.rdev(), "device number of {shown}");
    if !a.is_dir() {
        assert_eq!(a.len(), b.len(), "size of {shown}");
    }
}

/// Asserts that `copy` has the content, link target and extended attributes of `orig`.
fn assert_same_content(orig: &Path, copy: &Path) {
    let meta = fs::symlink_metadata(orig).unwrap();
    let shown = copy.display();
    if meta.file_type().is_symlink() {
        assert_eq!(fs::read_link(orig).unwrap(), fs::read_link(copy).unwrap(), "target of {shown}");
        return;
    }
    if meta.is_file() {
        assert_eq!(fs::read(orig).unwrap(), fs::read(copy).unwrap(), "content of {shown}");
    }
    if meta.is_file() || meta.is_dir() {
        let attrs = |p: &Path| -> Vec<(String, Vec<u8>)> {
            let mut v: Vec<_> = xattr::list(p).unwrap().map(|n| (n.to_string_lossy().into_owned(), xattr::get(p, &n).unwrap().unwrap())).collect();
            v.sort();
            v
        };
        assert_eq!(attrs(orig), attrs(copy), "extended attributes of {shown}");
    }
}

fn store_with(root: &Path, name: &str) -> (VolumeStore, PathBuf) {
    let store = VolumeStore::open(root).unwrap();
    let volume = store.create(name, BTreeMap::new(), BTreeMap::new()).unwrap();
    (store, volume.mountpoint)
}

#[test]
fn seeding_copies_the_tree_exactly() {
    let base = tempfile::tempdir().unwrap();
    let src = image_dir(base.path());
    let (store, data) = store_with(&base.path().join("state"), "appdata");
    let before = snapshot(&src);
    assert!(store.seed("appdata", &src).unwrap());
    // Metadata first, by stat alone: listing or reading the copies would change access times.
    for (rel, meta) in &before {
        assert_same_metadata(meta, &data.join(rel));
    }
    let rel = |root: &Path| walk(root).iter().map(|p| p.strip_prefix(root).unwrap().to_path_buf()).collect::<Vec<_>>();
    assert_eq!(rel(&src), rel(&data), "the same entries");
    for (rel, _) in &before {
        assert_same_content(&src.join(rel), &data.join(rel));
    }
    let ino = |p: &Path| fs::metadata(p).unwrap().ino();
    assert_eq!(ino(&data.join("conf/app.conf")), ino(&data.join("conf/deep/app.conf.link")), "hard links stay linked");
    assert_ne!(ino(&data.join("conf/app.conf")), ino(&src.join("conf/app.conf")));
    assert_eq!(fs::symlink_metadata(data.join("suid-tool")).unwrap().mode() & 0o7777, 0o4755, "set-uid survives the chown");
}

#[test]
fn symlinks_out_of_the_source_are_copied_as_links_not_followed() {
    let base = tempfile::tempdir().unwrap();
    let src = image_dir(base.path());
    let (store, data) = store_with(&base.path().join("state"), "appdata");
    store.seed("appdata", &src).unwrap();
    for link in ["up-and-out", "absolute-out", "conf/passwd"] {
        let meta = fs::symlink_metadata(data.join(link)).unwrap();
        assert!(meta.file_type().is_symlink(), "{link} stays a link");
        assert_eq!(fs::read_link(data.join(link)).unwrap(), fs::read_link(src.join(link)).unwrap());
    }
    let copied_files: Vec<_> = walk(&data).into_iter().filter(|p| fs::symlink_metadata(p).unwrap().is_file()).collect();
    assert!(copied_files.iter().all(|p| fs::read(p).unwrap() != b"do not copy"), "nothing from outside was copied: {copied_files:?}");
    assert!(!copied_files.iter().any(|p| p.ends_with("key")));
}

#[test]
fn source_that_is_a_symlink_or_a_file_is_refused() {
    let base = tempfile::tempdir().unwrap();
    let src = image_dir(base.path());
    let (store, data) = store_with(&base.path().join("state"), "appdata");
    symlink(&src, base.path().join("via-link")).unwrap();
    let err = store.seed("appdata", &base.path().join("via-link")).unwrap_err();
    assert!(matches!(err, VolumeError::BadSeedSource { .. }), "{err}");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    let err = store.seed("appdata", &src.join("empty")).unwrap_err();
    assert!(err.to_string().contains("not a directory"), "{err}");
    assert!(walk(&data).is_empty());
    assert_eq!(store.seed("nosuch", &src).unwrap_err().to_string(), "get nosuch: no such volume");
}

#[test]
fn a_volume_is_seeded_whenever_it_is_empty() {
    let base = tempfile::tempdir().unwrap();
    let src = image_dir(base.path());
    let (store, data) = store_with(&base.path().join("state"), "appdata");
    assert!(store.seed("appdata", &src).unwrap());
    fs::write(data.join("conf/app.conf"), "changed by the app").unwrap();
    assert!(!store.seed("appdata", &src).unwrap());
    assert_eq!(fs::read_to_string(data.join("conf/app.conf")).unwrap(), "changed by the app");
    for entry in fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if fs::symlink_metadata(&path).unwrap().is_dir() { fs::remove_dir_all(path) } else { fs::remove_file(path) }.unwrap();
    }
    assert!(store.seed("appdata", &src).unwrap(), "an emptied volume is seeded again, as Docker does");
    assert!(data.join("conf/app.conf").is_file());
}

#[test]
fn a_volume_with_content_is_left_alone() {
    let base = tempfile::tempdir().unwrap();
    let src = image_dir(base.path());
    let (store, data) = store_with(&base.path().join("state"), "appdata");
    fs::write(data.join("mine"), "already here").unwrap();
    assert!(!store.seed("appdata", &src).unwrap());
    assert_eq!(walk(&data), [data.join("mine")]);
}

#[test]
fn an_empty_or_missing_source_leaves_the_volume_to_the_next_image() {
    let base = tempfile::tempdir().unwrap();
    let src = image_dir(base.path());
    let (store, data) = store_with(&base.path().join("state"), "appdata");
    assert!(!store.seed("appdata", &src.join("no/such/dir")).unwrap());
    let empty = base.path().join("empty-image-dir");
    fs::create_dir(&empty).unwrap();
    store.seed("appdata", &empty).unwrap();
    assert!(walk(&data).is_empty());
    assert!(store.seed("appdata", &src).unwrap(), "a later mount over image content seeds it");
    assert!(data.join("conf/app.conf").is_file());
}

#[test]
fn a_bind_volume_is_seeded_into_its_device() {
    let base = tempfile::tempdir().unwrap();
    let src = image_dir(base.path());
    let device = base.path().join("device");
    fs::create_dir(&device).unwrap();
    let store = VolumeStore::open(&base.path().join("state")).unwrap();
    let opts: BTreeMap<String, String> =
        [("type", "none"), ("o", "bind"), ("device", device.to_str().unwrap())].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    store.create("bound", BTreeMap::new(), opts).unwrap();
    let before = snapshot(&src);
    assert!(store.seed("bound", &src).unwrap());
    for (rel, meta) in &before {
        assert_same_metadata(meta, &device.join(rel));
    }
    assert!(walk(&base.path().join("state/volumes/bound/_data")).is_empty());
}

#[test]
fn a_failed_seed_leaves_the_volume_empty() {
    let base = tempfile::tempdir().unwrap();
    let src = base.path().join("image/data");
    fs::create_dir_all(src.join("a-small")).unwrap();
    fs::write(src.join("a-small/file"), "fits").unwrap();
    fs::write(src.join("z-big"), vec![1u8; 1 << 20]).unwrap();
    let device = base.path().join("tiny");
    fs::create_dir(&device).unwrap();
    xcompose_testkit::in_forked_sandbox(|| {
        // A 64 KiB file system the tree does not fit in: the copy fails part way.
        nix::mount::mount(Some("tmpfs"), &device, Some("tmpfs"), nix::mount::MsFlags::empty(), Some("size=64k"))
            .map_err(|e| format!("mounting a tmpfs: {e}"))?;
        let store = VolumeStore::open(&base.path().join("state")).unwrap();
        let opts: BTreeMap<String, String> =
            [("type", "none"), ("o", "bind"), ("device", device.to_str().unwrap())].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        store.create("small", BTreeMap::new(), opts).unwrap();
        let err = store.seed("small", &src).unwrap_err();
        assert!(err.to_string().contains("No space left on device"), "{err}");
        assert!(walk(&device).is_empty(), "what was copied before the failure is gone: {:?}", walk(&device));
        fs::remove_file(src.join("z-big")).unwrap();
        assert!(store.seed("small", &src).unwrap(), "a later attempt seeds it");
        assert_eq!(fs::read_to_string(device.join("a-small/file")).unwrap(), "fits");
        Ok(())
    });
}
