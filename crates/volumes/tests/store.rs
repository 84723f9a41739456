//! The volume store on a private state root: create, get, list, remove, prune, bind volumes, and
//! what concurrent writers and interrupted ones leave.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use xcompose_volumes::{Pruned, VolumeError, VolumeStore, ANONYMOUS_LABEL};

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn names(store: &VolumeStore) -> Vec<String> {
    store.list().unwrap().into_iter().map(|v| v.name).collect()
}

/// The entries of the volumes directory, besides the lock file.
fn entries(root: &Path) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(root.join("volumes"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".lock")
        .collect();
    out.sort();
    out
}

#[test]
fn create_stores_the_record_and_is_idempotent() {
    let root = tempfile::tempdir().unwrap();
    let store = VolumeStore::open(root.path()).unwrap();
    let labels = map(&[("com.docker.compose.project", "demo"), ("tier", "db")]);
    let before = chrono::Utc::now();
    let created = store.create("demo_data", labels.clone(), BTreeMap::new()).unwrap();
    assert_eq!(created.name, "demo_data");
    assert_eq!(created.driver, "local");
    assert_eq!(created.labels, labels);
    assert!(created.options.is_empty());
    assert!(created.created >= before && created.created <= chrono::Utc::now());
    let dir = root.path().join("volumes/demo_data");
    assert_eq!(created.mountpoint, dir.join("_data"));
    assert!(created.mountpoint.is_dir());
    for dir in [&dir, &created.mountpoint] {
        assert_eq!(fs::metadata(dir).unwrap().permissions().mode() & 0o7777, 0o755, "{}", dir.display());
    }

    let record: serde_json::Value = serde_json::from_slice(&fs::read(dir.join("volume.json")).unwrap()).unwrap();
    assert_eq!(record["name"], "demo_data");
    assert_eq!(record["driver"], "local");
    assert_eq!(record["labels"]["tier"], "db");
    assert_eq!(record["options"], serde_json::json!({}));
    assert_eq!(record["mountpoint"], dir.join("_data").to_str().unwrap());
    let stamp = record["created"].as_str().unwrap();
    assert_eq!(chrono::DateTime::parse_from_rfc3339(stamp).unwrap(), created.created, "created is RFC 3339: {stamp}");

    fs::write(created.mountpoint.join("kept"), "x").unwrap();
    let again = store.create("demo_data", map(&[("other", "label")]), map(&[("foo", "bar")])).unwrap();
    assert_eq!(again, created, "an existing volume is returned as it is, other labels and options ignored");
    assert_eq!(fs::read_to_string(created.mountpoint.join("kept")).unwrap(), "x");
    assert_eq!(store.get("demo_data").unwrap(), created);
    assert_eq!(VolumeStore::open(root.path()).unwrap().get("demo_data").unwrap(), created, "a new handle reads the same record");
}

#[test]
fn list_get_and_remove() {
    let root = tempfile::tempdir().unwrap();
    let store = VolumeStore::open(root.path()).unwrap();
    assert!(store.list().unwrap().is_empty());
    for name in ["b1", "a1", "c1"] {
        store.create(name, BTreeMap::new(), BTreeMap::new()).unwrap();
    }
    assert_eq!(names(&store), ["a1", "b1", "c1"]);
    fs::create_dir_all(root.path().join("volumes/a1/_data/sub")).unwrap();
    fs::write(root.path().join("volumes/a1/_data/sub/f"), "data").unwrap();
    store.remove("a1").unwrap();
    assert_eq!(names(&store), ["b1", "c1"]);
    assert_eq!(entries(root.path()), ["b1", "c1"], "the volume's directory is gone");
    assert_eq!(store.get("a1").unwrap_err().to_string(), "get a1: no such volume");
    assert_eq!(store.remove("a1").unwrap_err().to_string(), "get a1: no such volume");
    assert!(matches!(store.get("zz").unwrap_err(), VolumeError::NotFound(n) if n == "zz"));
}

#[test]
fn invalid_names_are_refused_and_never_reach_the_disk() {
    let root = tempfile::tempdir().unwrap();
    let store = VolumeStore::open(root.path()).unwrap();
    for bad in ["a/b", "../escape", "..", ".hidden", "-x", "with space", "x"] {
        let err = store.create(bad, BTreeMap::new(), BTreeMap::new()).unwrap_err();
        assert!(matches!(err, VolumeError::InvalidName(_) | VolumeError::NameTooShort(_)), "{bad}: {err}");
        assert!(err.to_string().starts_with(&format!("create {bad}: ")), "{err}");
    }
    assert!(entries(root.path()).is_empty());
    assert!(!root.path().join("escape").exists());
    // Reading by a path-like name finds nothing, even where such a path exists.
    fs::create_dir_all(root.path().join("volumes/../volumes")).unwrap();
    assert_eq!(store.get("../volumes").unwrap_err().to_string(), "get ../volumes: no such volume");
    assert!(matches!(store.remove("..").unwrap_err(), VolumeError::NotFound(_)));
}

#[test]
fn bad_driver_options_create_nothing() {
    let root = tempfile::tempdir().unwrap();
    let store = VolumeStore::open(root.path()).unwrap();
    let err = store.create("v1", BTreeMap::new(), map(&[("foo", "bar")])).unwrap_err();
    assert_eq!(err.to_string(), "create v1: invalid option: \"foo\"");
    let err = store.create("v1", BTreeMap::new(), map(&[("type", "none"), ("o", "bind"), ("device", "/nonexistent/dir")])).unwrap_err();
    assert!(matches!(err, VolumeError::BadDevice { .. }), "{err}");
    assert!(entries(root.path()).is_empty(), "{:?}", entries(root.path()));
}

#[test]
fn bind_volume_mounts_its_device_and_removing_it_keeps_the_device() {
    let root = tempfile::tempdir().unwrap();
    let host = tempfile::tempdir().unwrap();
    fs::write(host.path().join("precious"), "keep me").unwrap();
    let store = VolumeStore::open(root.path()).unwrap();
    let opts = map(&[("type", "none"), ("o", "bind"), ("device", host.path().to_str().unwrap())]);
    let volume = store.create("hostdir", BTreeMap::new(), opts.clone()).unwrap();
    assert_eq!(volume.mountpoint, host.path().canonicalize().unwrap());
    assert_eq!(volume.options, opts);
    assert!(volume.is_bind());
    store.remove("hostdir").unwrap();
    assert_eq!(fs::read_to_string(host.path().join("precious")).unwrap(), "keep me");
    assert!(entries(root.path()).is_empty());
}

#[test]
fn prune_removes_unused_anonymous_volumes_or_all_unused_ones() {
    let root = tempfile::tempdir().unwrap();
    let host = tempfile::tempdir().unwrap();
    fs::write(host.path().join("big"), vec![1u8; 5000]).unwrap();
    let store = VolumeStore::open(root.path()).unwrap();
    let anonymous = map(&[(ANONYMOUS_LABEL, "")]);
    for name in ["anon1", "anon2"] {
        store.create(name, anonymous.clone(), BTreeMap::new()).unwrap();
    }
    store.create("named", BTreeMap::new(), BTreeMap::new()).unwrap();
    store.create("busy", BTreeMap::new(), BTreeMap::new()).unwrap();
    store.create("bound", BTreeMap::new(), map(&[("type", "none"), ("o", "bind"), ("device", host.path().to_str().unwrap())])).unwrap();
    fs::write(root.path().join("volumes/anon1/_data/f"), vec![0u8; 1000]).unwrap();
    fs::create_dir(root.path().join("volumes/anon1/_data/d")).unwrap();
    fs::write(root.path().join("volumes/anon1/_data/d/g"), vec![0u8; 234]).unwrap();
    fs::write(root.path().join("volumes/named/_data/f"), vec![0u8; 10]).unwrap();

    let in_use = |name: &str| name == "anon2" || name == "busy";
    assert_eq!(store.prune_anonymous(&in_use).unwrap(), Pruned { removed: vec!["anon1".into()], reclaimed: 1234 });
    assert_eq!(names(&store), ["anon2", "bound", "busy", "named"]);
    assert_eq!(store.prune(&in_use).unwrap(), Pruned { removed: vec!["bound".into(), "named".into()], reclaimed: 10 });
    assert_eq!(names(&store), ["anon2", "busy"]);
    assert!(host.path().join("big").exists(), "a bind volume's device survives prune");
    assert_eq!(store.prune(&|_| false).unwrap().removed, ["anon2", "busy"]);
    assert_eq!(store.prune(&|_| false).unwrap(), Pruned::default());
}

#[test]
fn concurrent_creates_make_each_volume_once() {
    let root = tempfile::tempdir().unwrap();
    let root_path = Arc::new(root.path().to_path_buf());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let root = Arc::clone(&root_path);
            std::thread::spawn(move || {
                let store = VolumeStore::open(&root).unwrap();
                let mut made = Vec::new();
                for i in 0..15 {
                    let labels = map(&[("thread", &t.to_string())]);
                    made.push(store.create(&format!("shared{i}"), labels.clone(), BTreeMap::new()).unwrap());
                    made.push(store.create(&format!("own{t}-{i}"), labels, BTreeMap::new()).unwrap());
                    store.list().unwrap();
                }
                made
            })
        })
        .collect();
    let made: Vec<_> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    let store = VolumeStore::open(root.path()).unwrap();
    let listed = store.list().unwrap();
    assert_eq!(listed.len(), 15 + 8 * 15);
    for volume in &made {
        let stored = listed.iter().find(|v| v.name == volume.name).unwrap();
        assert_eq!(stored, volume, "every creator of {} got the one stored record", volume.name);
    }
    assert_eq!(entries(root.path()).len(), listed.len(), "nothing else is left in the store");
}

#[test]
fn leftovers_of_interrupted_writers_are_hidden_then_cleared() {
    let root = tempfile::tempdir().unwrap();
    let store = VolumeStore::open(root.path()).unwrap();
    store.create("real", BTreeMap::new(), BTreeMap::new()).unwrap();
    // What a crash during create (before the rename) and remove (after it) leaves.
    for leftover in [".new-abc/_data", ".removing-def/_data/x"] {
        fs::create_dir_all(root.path().join("volumes").join(leftover)).unwrap();
    }
    fs::copy(root.path().join("volumes/real/volume.json"), root.path().join("volumes/.removing-def/volume.json")).unwrap();
    assert_eq!(names(&store), ["real"]);
    store.create("next", BTreeMap::new(), BTreeMap::new()).unwrap();
    assert_eq!(entries(root.path()), ["next", "real"]);
}

#[test]
fn a_volume_directory_without_a_record_is_adopted_by_create() {
    let root = tempfile::tempdir().unwrap();
    let store = VolumeStore::open(root.path()).unwrap();
    let data = root.path().join("volumes/legacy/_data");
    fs::create_dir_all(&data).unwrap();
    fs::write(data.join("db"), "rows").unwrap();
    fs::set_permissions(&data, fs::Permissions::from_mode(0o700)).unwrap();
    assert!(store.list().unwrap().is_empty(), "no record, no volume");
    assert!(matches!(store.get("legacy").unwrap_err(), VolumeError::NotFound(_)));
    let volume = store.create("legacy", map(&[("k", "v")]), BTreeMap::new()).unwrap();
    assert_eq!(volume.mountpoint, data);
    assert_eq!(fs::read_to_string(data.join("db")).unwrap(), "rows");
    assert_eq!(fs::metadata(&data).unwrap().permissions().mode() & 0o7777, 0o700, "its content is left as it is");
    assert_eq!(store.list().unwrap(), [volume]);
}
