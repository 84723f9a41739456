//! Layers copied with their owners shifted into a remapped range (user namespace remapping
//! without idmapped mounts): owners, modes, links, whiteouts and attributes as the host sees the
//! copy, ids past the range refused, and the copies removed with their layer.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use xcompose_images::{IdShift, ImageStore, StoreError};

const SHIFT: IdShift = IdShift { uid: 100000, uids: 65536, gid: 300000, gids: 65536 };

/// A rootfs tar of entries `(path, kind, uid, gid, mode)`; `kind` is `dir`, `file`, `link:TARGET`
/// (hard), `sym:TARGET`, `char` (1:3) or `fifo`. `etc/secret` gets a pax extended attribute.
fn rootfs(entries: &[(&str, &str, u64, u64, u32)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, kind, uid, gid, mode) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_uid(*uid);
        header.set_gid(*gid);
        header.set_mode(*mode);
        header.set_mtime(1_600_000_000);
        header.set_size(0);
        let body: &[u8] = if *kind == "file" { b"content\n" } else { b"" };
        match *kind {
            "dir" => header.set_entry_type(tar::EntryType::Directory),
            "file" => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(body.len() as u64);
            }
            "char" => {
                header.set_entry_type(tar::EntryType::Char);
                header.set_device_major(1).unwrap();
                header.set_device_minor(3).unwrap();
            }
            "fifo" => header.set_entry_type(tar::EntryType::Fifo),
            other => {
                let (kind, target) = other.split_once(':').unwrap();
                header.set_entry_type(if kind == "link" { tar::EntryType::Link } else { tar::EntryType::Symlink });
                header.set_link_name(target).unwrap();
            }
        }
        if *path == "etc/secret" {
            tar.append_pax_extensions([("SCHILY.xattr.user.note", b"kept".as_slice())]).unwrap();
        }
        header.set_path(path).unwrap();
        header.set_cksum();
        tar.append(&header, body).unwrap();
    }
    tar.into_inner().unwrap()
}

fn owner(path: &Path) -> (u32, u32) {
    let meta = std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (meta.uid(), meta.gid())
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default()
}

#[test]
fn a_shifted_layer_keeps_everything_but_its_owners() {
    let root = tempfile::tempdir().unwrap();
    let store = ImageStore::open(root.path()).unwrap();
    let tar = rootfs(&[
        ("etc", "dir", 0, 0, 0o755),
        ("etc/secret", "file", 1000, 1001, 0o640),
        ("etc/again", "link:etc/secret", 0, 0, 0),
        ("bin", "dir", 0, 0, 0o755),
        ("bin/su", "file", 0, 0, 0o4755),
        ("bin/sh", "sym:su", 5, 6, 0o777),
        ("dev", "dir", 0, 0, 0o755),
        ("dev/null", "char", 0, 0, 0o666),
        ("dev/pipe", "fifo", 65535, 65535, 0o600),
        ("home", "dir", 1000, 1000, 0o700),
        ("home/.wh..wh..opq", "file", 0, 0, 0o644),
        ("home/.wh.gone", "file", 0, 0, 0o644),
    ]);
    store.import(tar.as_slice(), "shifty").unwrap();
    let image = store.resolve("shifty").unwrap();
    let dirs = store.shifted_layers(&image, &SHIFT).unwrap();
    assert_eq!(dirs.len(), 1);
    let layer = &dirs[0];
    let hex = image.layer_dirs[0].file_name().unwrap();
    assert_eq!(*layer, root.path().join("images/shifted/100000.300000").join(hex), "the copy is kept per range, named by the layer");

    assert_eq!(owner(layer), (100000, 300000), "the layer's root");
    assert_eq!(owner(&layer.join("etc/secret")), (101000, 301001));
    assert_eq!(owner(&layer.join("bin/sh")), (100005, 300006), "a symlink's own owner");
    assert_eq!(owner(&layer.join("dev/pipe")), (165535, 365535), "the range's last id");
    assert_eq!(owner(&layer.join("home")), (101000, 301000));
    let secret = std::fs::metadata(layer.join("etc/secret")).unwrap();
    assert_eq!(std::fs::read(layer.join("etc/secret")).unwrap(), b"content\n");
    assert_eq!(secret.mode() & 0o7777, 0o640);
    assert_eq!(secret.mtime(), 1_600_000_000, "times are kept");
    assert_eq!(std::fs::metadata(layer.join("etc/again")).unwrap().ino(), secret.ino(), "hard links stay links");
    assert_eq!(xattr::get(layer.join("etc/secret"), "user.note").unwrap().as_deref(), Some(b"kept".as_slice()));
    assert_eq!(std::fs::metadata(layer.join("bin/su")).unwrap().mode() & 0o7777, 0o4755, "set-id bits survive the chown");
    assert_eq!(std::fs::read_link(layer.join("bin/sh")).unwrap(), Path::new("su"));
    let null = std::fs::metadata(layer.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device() && null.rdev() == nix::sys::stat::makedev(1, 3));
    assert!(std::fs::metadata(layer.join("dev/pipe")).unwrap().file_type().is_fifo());
    let gone = std::fs::symlink_metadata(layer.join("home/gone")).unwrap();
    assert!(gone.file_type().is_char_device() && gone.rdev() == 0, "a whiteout stays a whiteout");
    assert_eq!(xattr::get(layer.join("home"), "trusted.overlay.opaque").unwrap().as_deref(), Some(b"y".as_slice()), "an opaque directory stays opaque");
    assert_eq!(owner(&image.layer_dirs[0].join("etc/secret")), (1000, 1001), "the unshifted layer is untouched");

    let again = store.shifted_layers(&image, &SHIFT).unwrap();
    assert_eq!(std::fs::metadata(again[0].join("etc/secret")).unwrap().ino(), secret.ino(), "a layer is shifted once per range");
    let other = IdShift { uid: 200000, uids: 65536, gid: 200000, gids: 65536 };
    let other_dirs = store.shifted_layers(&image, &other).unwrap();
    assert_eq!(owner(&other_dirs[0].join("etc/secret")), (201000, 201001), "another range gets a copy of its own");
}

#[test]
fn an_id_past_the_range_is_refused_and_leaves_no_copy() {
    let root = tempfile::tempdir().unwrap();
    let store = ImageStore::open(root.path()).unwrap();
    store.import(rootfs(&[("data", "dir", 0, 0, 0o755), ("data/big", "file", 70000, 0, 0o644)]).as_slice(), "wide").unwrap();
    let image = store.resolve("wide").unwrap();
    let err = store.shifted_layers(&image, &SHIFT).unwrap_err();
    assert!(matches!(err, StoreError::Shift { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("/data/big: container uid 70000 cannot be mapped to a host uid: the remapped range has 65536 uids (0-65535)"), "{message}");
    assert_eq!(entries(&root.path().join("images/shifted/100000.300000")), Vec::<String>::new(), "nothing is left of the refused copy");
}

#[test]
fn shifted_copies_go_with_their_layer() {
    let root = tempfile::tempdir().unwrap();
    let store = ImageStore::open(root.path()).unwrap();
    let range = root.path().join("images/shifted/100000.300000");
    store.import(rootfs(&[("a", "file", 0, 0, 0o644)]).as_slice(), "one").unwrap();
    store.import(rootfs(&[("b", "file", 0, 0, 0o644)]).as_slice(), "two").unwrap();
    for name in ["one", "two"] {
        store.shifted_layers(&store.resolve(name).unwrap(), &SHIFT).unwrap();
    }
    assert_eq!(entries(&range).len(), 2);
    // What a copy killed midway leaves.
    std::fs::create_dir(range.join(".0123.shifting-4194305")).unwrap();
    let nobody = |_: &str| None;
    store.remove("one", false, &nobody).unwrap();
    let two = store.resolve("two").unwrap();
    assert_eq!(entries(&range), vec![two.layer_dirs[0].file_name().unwrap().to_string_lossy().into_owned()], "image rm removes the removed layer's copy (and a killed copy's leftovers) only");
    store.tag("two", "three").unwrap();
    store.remove("two", false, &nobody).unwrap();
    assert_eq!(entries(&range).len(), 1, "a layer still used keeps its copy");
    store.prune(true, &nobody).unwrap();
    assert!(entries(&range).is_empty(), "prune removes the copies of what it removes");
    assert!(entries(&root.path().join("images/layers")).is_empty());
}
