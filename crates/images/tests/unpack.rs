//! Layer unpacking: ordinary content keeps its modes and owners, whiteouts become overlayfs
//! whiteouts, gzip layers work, and every malicious entry is refused with nothing written
//! outside the layer directory and no partial layer left behind.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use tar::{Builder, EntryType, Header};
use xcompose_images::{unpack_layer, UnpackError};

fn header(path: &str, kind: EntryType, mode: u32, size: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(1000);
    h.set_gid(1000);
    h.set_size(size);
    h.set_mtime(1_000_000_000);
    // set_path refuses `..` and absolute paths; write the raw name so tests can build hostile tars.
    let name = path.as_bytes();
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_cksum();
    h
}

/// One tar entry: path, kind, and link target or file content.
type Entry<'a> = (&'a str, EntryType, &'a str);

/// A tar from its entries.
fn layer(entries: &[Entry]) -> Vec<u8> {
    let mut b = Builder::new(Vec::new());
    for (path, kind, data) in entries {
        match kind {
            EntryType::Symlink | EntryType::Link => {
                let mut h = header(path, *kind, 0o777, 0);
                let target = data.as_bytes();
                h.as_old_mut().linkname[..target.len()].copy_from_slice(target);
                h.set_cksum();
                b.append(&h, std::io::empty()).unwrap();
            }
            EntryType::Directory => b.append(&header(path, *kind, 0o750, 0), std::io::empty()).unwrap(),
            _ => b.append(&header(path, *kind, 0o640, data.len() as u64), data.as_bytes()).unwrap(),
        }
    }
    b.into_inner().unwrap()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn ordinary_layers_keep_content_modes_and_owners() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("layer");
    let tar = layer(&[
        ("etc/", EntryType::Directory, ""),
        ("etc/motd", EntryType::Regular, "hello\n"),
        ("bin/sh", EntryType::Symlink, "busybox"),
        ("etc/motd2", EntryType::Link, "etc/motd"),
    ]);
    unpack_layer(&tar[..], &dest).unwrap();
    assert_eq!(std::fs::read_to_string(dest.join("etc/motd")).unwrap(), "hello\n");
    let m = std::fs::metadata(dest.join("etc/motd")).unwrap();
    assert_eq!((m.permissions().mode() & 0o7777, m.uid(), m.gid()), (0o640, 1000, 1000));
    assert_eq!(std::fs::metadata(dest.join("etc")).unwrap().permissions().mode() & 0o7777, 0o750);
    assert_eq!(std::fs::read_link(dest.join("bin/sh")).unwrap(), Path::new("busybox"));
    assert_eq!(std::fs::metadata(dest.join("etc/motd2")).unwrap().ino(), m.ino());
}

#[test]
fn gzip_layers_are_detected() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&layer(&[("a.txt", EntryType::Regular, "zipped")])).unwrap();
    unpack_layer(&gz.finish().unwrap()[..], &dir.path().join("layer")).unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("layer/a.txt")).unwrap(), "zipped");
}

#[test]
fn whiteouts_become_overlayfs_whiteouts() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("layer");
    let tar = layer(&[("etc/.wh.passwd", EntryType::Regular, ""), ("var/cache/.wh..wh..opq", EntryType::Regular, "")]);
    unpack_layer(&tar[..], &dest).unwrap();
    let wh = std::fs::symlink_metadata(dest.join("etc/passwd")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0, "a 0/0 character device");
    assert_eq!(xattr::get(dest.join("var/cache"), "trusted.overlay.opaque").unwrap(), Some(b"y".to_vec()));
    assert!(!dest.join("etc/.wh.passwd").exists() && !dest.join("var/cache/.wh..wh..opq").exists());
}

/// A device node with its numbers, as in a debootstrap tree.
fn device(path: &str, kind: EntryType, major: u32, minor: u32) -> Header {
    let mut h = header(path, kind, 0o666, 0);
    h.set_device_major(major).unwrap();
    h.set_device_minor(minor).unwrap();
    h.set_uid(0);
    h.set_gid(0);
    h.set_cksum();
    h
}

/// Docker keeps device nodes and fifos of a layer (created as root, as the tests run).
#[test]
fn device_nodes_and_fifos_are_created() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("layer");
    let mut b = Builder::new(Vec::new());
    b.append(&header("dev/", EntryType::Directory, 0o755, 0), std::io::empty()).unwrap();
    b.append(&device("dev/full", EntryType::Char, 1, 7), std::io::empty()).unwrap();
    b.append(&device("dev/loop9", EntryType::Block, 7, 9), std::io::empty()).unwrap();
    let mut fifo = header("run/initctl", EntryType::Fifo, 0o600, 0);
    fifo.set_mode(0o600);
    fifo.set_cksum();
    b.append(&fifo, std::io::empty()).unwrap();
    unpack_layer(&b.into_inner().unwrap()[..], &dest).unwrap();
    let full = std::fs::symlink_metadata(dest.join("dev/full")).unwrap();
    assert!(full.file_type().is_char_device(), "{full:?}");
    assert_eq!((nix::sys::stat::major(full.rdev()), nix::sys::stat::minor(full.rdev())), (1, 7));
    assert_eq!((full.permissions().mode() & 0o7777, full.uid()), (0o666, 0), "mode kept despite the umask");
    let block = std::fs::symlink_metadata(dest.join("dev/loop9")).unwrap();
    assert!(block.file_type().is_block_device() && nix::sys::stat::minor(block.rdev()) == 9);
    let fifo = std::fs::symlink_metadata(dest.join("run/initctl")).unwrap();
    assert!(fifo.file_type().is_fifo());
    assert_eq!((fifo.permissions().mode() & 0o7777, fifo.uid()), (0o600, 1000));
}

/// Each hostile layer is refused; the directory holding the layer (and a sentinel directory
/// outside it) is exactly as before.
#[test]
fn malicious_layers_are_refused_and_write_nothing_outside() {
    let cases: Vec<(&str, Vec<Entry>)> = vec![
        ("dot-dot", vec![("../escaped", EntryType::Regular, "x")]),
        ("nested dot-dot", vec![("a/../../escaped", EntryType::Regular, "x")]),
        ("absolute", vec![("/escaped", EntryType::Regular, "x")]),
        ("absolute symlink then write through", vec![("evil", EntryType::Symlink, "OUTSIDE"), ("evil/escaped", EntryType::Regular, "x")]),
        ("relative symlink then write through", vec![("up", EntryType::Symlink, "../../.."), ("up/escaped", EntryType::Regular, "x")]),
        ("symlinked directory then opaque whiteout", vec![("evil", EntryType::Symlink, "OUTSIDE"), ("evil/.wh..wh..opq", EntryType::Regular, "")]),
        ("symlinked directory then whiteout", vec![("evil", EntryType::Symlink, "OUTSIDE"), ("evil/.wh.target", EntryType::Regular, "")]),
        ("hard link outside", vec![("hl", EntryType::Link, "../outside/secret")]),
        ("hard link through a symlink", vec![("evil", EntryType::Symlink, "OUTSIDE"), ("hl", EntryType::Link, "evil/secret")]),
        ("device node through a symlink", vec![("dev", EntryType::Symlink, "OUTSIDE"), ("dev/full", EntryType::Char, "")]),
        ("fifo through a symlink", vec![("run", EntryType::Symlink, "OUTSIDE"), ("run/pipe", EntryType::Fifo, "")]),
        ("directory replaced by a symlink then chmod", vec![("d/", EntryType::Directory, ""), ("d", EntryType::Symlink, "OUTSIDE"), ("d/x", EntryType::Regular, "")]),
    ];
    for (name, entries) in cases {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("secret"), "keep").unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o755)).unwrap();
        let store = dir.path().join("store");
        std::fs::create_dir(&store).unwrap();
        let entries: Vec<(&str, EntryType, String)> =
            entries.into_iter().map(|(p, k, d)| (p, k, d.replace("OUTSIDE", outside.to_str().unwrap()))).collect();
        let borrowed: Vec<Entry> = entries.iter().map(|(p, k, d)| (*p, *k, d.as_str())).collect();
        let before = (listing(dir.path()), listing(&outside), listing(&store));
        let result = unpack_layer(&layer(&borrowed)[..], &store.join("layer"));
        assert!(matches!(result, Err(UnpackError::Unsafe { .. })), "{name}: {result:?}");
        assert_eq!((listing(dir.path()), listing(&outside), listing(&store)), before, "{name}: something was written");
        assert_eq!(std::fs::read_to_string(outside.join("secret")).unwrap(), "keep", "{name}");
        assert_eq!(std::fs::metadata(&outside).unwrap().permissions().mode() & 0o7777, 0o755, "{name}: outside dir mode changed");
        assert!(!dir.path().join("escaped").exists() && !Path::new("/escaped").exists(), "{name}");
    }
}

#[test]
fn a_leftover_from_an_interrupted_unpack_does_not_break_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("layer");
    let leftover = dir.path().join(format!(".layer.unpacking-{}", std::process::id()));
    std::fs::create_dir_all(leftover.join("half")).unwrap();
    unpack_layer(&layer(&[("ok", EntryType::Regular, "1")])[..], &dest).unwrap();
    assert!(dest.join("ok").exists() && !dest.join("half").exists() && !leftover.exists());
}
