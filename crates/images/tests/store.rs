//! The image store with the busybox test image: import, resolve, tag, list, removal and pruning
//! with Docker's semantics and layer reference counting; concurrent writers; unsafe layers refused.

use std::fs::File;
use std::path::Path;

use xcompose_images::{ImageStore, Pruned, Removed, StoreError};

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
    // Forced, the reference goes but the image stays, untagged, for the container using it.
    assert_eq!(store.remove("busybox", true, &used).unwrap(), vec![Removed::Untagged("docker.io/library/busybox:latest".into())]);
    let list = store.list().unwrap();
    assert_eq!((list[0].id.as_str(), list[0].references.len()), (id.as_str(), 0));
    assert!(store.resolve(&id).unwrap().layer_dirs[0].join("bin/busybox").is_file());
    assert_eq!(store.remove(&id, false, &|_| None).unwrap(), vec![Removed::Deleted(id)], "once unused it goes by ID");
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn retagging_leaves_the_old_image_dangling_and_prune_removes_only_that() {
    let root = tempfile::tempdir().unwrap();
    let store = ImageStore::open(root.path()).unwrap();
    let nobody = |_: &str| None;
    assert_eq!(store.prune(false, &nobody).unwrap(), Pruned::default(), "nothing to prune");
    let old = store.import(busybox(), "app").unwrap();
    let new = store.import(busybox(), "app").unwrap();
    let other = store.import(busybox(), "other").unwrap();
    assert_ne!(old, new, "a new import is a new image (its config records when)");
    let dangling: Vec<String> = store.list().unwrap().into_iter().filter(|i| i.references.is_empty()).map(|i| i.id).collect();
    assert_eq!(dangling, vec![old.clone()]);
    // A dangling image a container uses is kept.
    let used = |id: &str| (id == old).then(|| "c0ffee".to_string());
    assert_eq!(store.prune(false, &used).unwrap(), Pruned::default());
    let pruned = store.prune(false, &nobody).unwrap();
    assert_eq!(pruned.removed, vec![Removed::Deleted(old.clone())]);
    let config_and_manifest = 2000;
    assert!(pruned.reclaimed > 0 && pruned.reclaimed < config_and_manifest, "only its config and manifest: the layer is shared ({})", pruned.reclaimed);
    assert!(matches!(store.resolve(&old), Err(StoreError::NotFound(_))));
    assert_eq!(store.resolve("app").unwrap().id, new);
    assert_eq!(store.resolve("other").unwrap().id, other);
    assert_eq!(entries(&root.path().join("images/layers")), 1);
}

#[test]
fn prune_all_removes_every_image_no_container_uses_and_keeps_shared_layers() {
    let root = tempfile::tempdir().unwrap();
    let store = ImageStore::open(root.path()).unwrap();
    let used_id = store.import(busybox(), "used").unwrap();
    let unused_id = store.import(busybox(), "unused").unwrap();
    store.tag("unused", "unused:2").unwrap();
    let used = |id: &str| (id == used_id).then(|| "c0ffee".to_string());
    let pruned = store.prune(true, &used).unwrap();
    assert_eq!(
        pruned.removed,
        vec![
            Removed::Untagged("docker.io/library/unused:2".into()),
            Removed::Untagged("docker.io/library/unused:latest".into()),
            Removed::Deleted(unused_id),
        ]
    );
    let image = store.resolve("used").unwrap();
    assert!(image.layer_dirs[0].join("bin/busybox").is_file(), "the layer it shared with a kept image stays");
    let pruned = store.prune(true, &|_| None).unwrap();
    assert_eq!(pruned.removed, vec![Removed::Untagged("docker.io/library/used:latest".into()), Removed::Deleted(used_id)]);
    let busybox_binary = std::fs::metadata("/bin/busybox").map(|m| m.len()).unwrap_or(1_000_000);
    assert!(pruned.reclaimed > busybox_binary, "the last image took its layer: {} bytes", pruned.reclaimed);
    assert_eq!(entries(&root.path().join("images/layers")), 0);
    assert_eq!(entries(&root.path().join("images/blobs/sha256")), 0);
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
