//! The image store with the busybox test image: import, resolve, tag, list, and removal with
//! Docker's semantics and layer reference counting; concurrent writers; unsafe layers refused.

use std::fs::File;
use std::path::Path;

use xcompose_images::{ImageStore, Removed, StoreError};

fn busybox() -> File {
    File::open(xcompose_testkit::busybox_image_tar().expect("busybox test image")).unwrap()
}

fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn import_resolve_tag_list() {
    let root = tempfile::tempdir().unwrap();
    let store = ImageStore::open(root.path()).unwrap();
    let id = store.import(busybox(), "busybox").unwrap();
    assert!(id.starts_with("sha256:") && id.len() == 71);
    let image = store.resolve("busybox:latest").unwrap();
    assert_eq!(image.id, id);
    assert_eq!(image.layer_dirs.len(), 1);
    assert!(image.layer_dirs[0].join("bin/busybox").is_file());
    assert!(std::fs::symlink_metadata(image.layer_dirs[0].join("bin/sh")).unwrap().file_type().is_symlink());
    assert_eq!(store.resolve(&id[7..19]).unwrap().id, id, "a short ID resolves");
    store.tag("busybox", "localhost:5000/bb:1").unwrap();
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].references, vec!["docker.io/library/busybox:latest", "localhost:5000/bb:1"]);
    assert!(matches!(store.resolve("nope"), Err(StoreError::NotFound(_))));
}

#[test]
fn layers_are_shared_and_removed_with_their_last_image() {
    let root = tempfile::tempdir().unwrap();
    let store = ImageStore::open(root.path()).unwrap();
    let layers = root.path().join("images/layers");
    let a = store.import(busybox(), "a").unwrap();
    let b = store.import(busybox(), "b").unwrap();
    assert_eq!(entries(&layers), 1, "the same layer is unpacked once");
    store.tag("a", "a:two").unwrap();
    let nobody = |_: &str| None;
    assert_eq!(store.remove("a:two", false, &nobody).unwrap(), vec![Removed::Untagged("docker.io/library/a:two".into())]);
    let removed = store.remove("a", false, &nobody).unwrap();
    assert_eq!(removed.last(), Some(&Removed::Deleted(a.clone())));
    if a != b {
        assert_eq!(entries(&layers), 1, "b still uses the layer");
    }
    store.remove("b", false, &nobody).unwrap();
    assert_eq!(entries(&layers), 0, "the last image took its layer with it");
    assert_eq!(entries(&root.path().join("images/blobs/sha256")), 0, "and every blob");
}

#[test]
fn an_image_in_use_is_kept_unless_forced() {
    let root = tempfile::tempdir().unwrap();
    let store = ImageStore::open(root.path()).unwrap();
    let id = store.import(busybox(), "busybox").unwrap();
    let used = |image: &str| (image == id).then(|| "0123456789abcdef".to_string());
    let err = store.remove("busybox", false, &used).unwrap_err().to_string();
    assert!(err.contains("container 0123456789ab is using its referenced image"), "{err}");
    assert!(store.resolve("busybox").is_ok());
    assert!(store.remove("busybox", true, &used).is_ok());
}

#[test]
fn concurrent_tagging_never_loses_a_reference() {
    let root = tempfile::tempdir().unwrap();
    let store = ImageStore::open(root.path()).unwrap();
    store.import(busybox(), "base").unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let store = store.clone();
            s.spawn(move || {
                for i in 0..10 {
                    store.tag("base", &format!("t{t}:{i}")).unwrap();
                }
            });
        }
    });
    assert_eq!(store.list().unwrap()[0].references.len(), 41);
}

#[test]
fn an_unsafe_layer_is_refused_and_leaves_no_layer() {
    let root = tempfile::tempdir().unwrap();
    let store = ImageStore::open(root.path()).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(1);
    h.as_old_mut().name[..9].copy_from_slice(b"../escape");
    h.set_cksum();
    b.append(&h, &b"x"[..]).unwrap();
    let bytes = b.into_inner().unwrap();
    let err = store.import(&bytes[..], "evil").unwrap_err();
    assert!(matches!(err, StoreError::Unpack(_)), "{err}");
    assert_eq!(entries(&root.path().join("images/layers")), 0);
    assert_eq!(entries(&root.path().join("images/blobs/sha256")), 0, "the refused layer's blob is gone too");
    assert!(!root.path().join("escape").exists() && !root.path().join("images/escape").exists());
    assert!(store.resolve("evil").is_err());
}
