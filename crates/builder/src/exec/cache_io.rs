//! Local build caches (compose's `build.cache_to: [type=local,dest=DIR]` and `build.cache_from:
//! [type=local,src=DIR]`, buildx's `--cache-to`/`--cache-from`): the cache records of a build's
//! steps and the layers they name, written to a directory and read back into another state root
//! (or the same one after `builder prune`), so that a build there takes those steps from the cache.
//!
//! The directory is an OCI image layout, as BuildKit's local cache is: `oci-layout`,
//! `index.json`, `blobs/sha256/`. Its index names one blob of records (media type
//! [`RECORDS_MEDIA_TYPE`]: step key to the layer it made, and when), and the layers are blobs
//! beside it. The records are xcompose's cache keys, not BuildKit's cache config, so only
//! xcompose reads such a directory. Every step the build went through is exported, those of
//! intermediate stages too (BuildKit's `mode=max`; `mode=min` exports the same here). A new
//! export replaces the index; blobs are content-addressed, written whole before the index names
//! them, so a killed export leaves the previous cache readable.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use xcompose_images::ImageStore;

use crate::exec::cache::{BuildCache, CachedStep};

/// The media type of the records blob.
pub const RECORDS_MEDIA_TYPE: &str = "application/vnd.xcompose.buildcache.records.v1+json";

/// The records blob: step key to what the step made.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Records {
    records: BTreeMap<String, CachedStep>,
}

/// What an import found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Imported {
    /// Cache records added.
    pub records: usize,
    /// Layers added to the image store.
    pub layers: usize,
}

fn blob_path(dir: &Path, digest: &str) -> PathBuf {
    dir.join("blobs").join("sha256").join(digest.trim_start_matches("sha256:"))
}

fn context(what: String) -> impl FnOnce(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Writes `bytes` as the blob `digest` of `dir` unless it is there; whole or not at all.
fn write_blob(dir: &Path, digest: &str, source: &mut dyn io::Read) -> io::Result<()> {
    let path = blob_path(dir, digest);
    if path.exists() {
        return Ok(());
    }
    let parent = path.parent().unwrap_or(dir);
    fs::create_dir_all(parent).map_err(context(format!("creating {}", parent.display())))?;
    let mut tmp = tempfile::Builder::new().prefix(".blob-").tempfile_in(parent).map_err(context(format!("writing into {}", parent.display())))?;
    io::copy(source, &mut tmp).map_err(context(format!("writing {}", path.display())))?;
    tmp.as_file().sync_all()?;
    tmp.persist(&path).map_err(|e| io::Error::new(e.error.kind(), format!("writing {}: {}", path.display(), e.error)))?;
    Ok(())
}

/// Exports `steps` (step key to record) to the local cache directory `dir` (created if
/// missing), with the layers they name from `store`. The digests written, for the output.
pub fn export(dir: &Path, steps: &BTreeMap<String, CachedStep>, store: &ImageStore) -> io::Result<Vec<String>> {
    let mut written = Vec::new();
    for step in steps.values() {
        if let Some(layer) = &step.layer {
            let mut blob = store.open_blob(&layer.digest).map_err(|e| io::Error::other(format!("reading layer {}: {e}", layer.digest)))?;
            write_blob(dir, &layer.digest, &mut blob)?;
            if !written.contains(&layer.digest) {
                written.push(layer.digest.clone());
            }
        }
    }
    let records = serde_json::to_vec(&Records { records: steps.clone() }).map_err(io::Error::other)?;
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&records)));
    write_blob(dir, &digest, &mut &records[..])?;
    written.push(digest.clone());
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": RECORDS_MEDIA_TYPE, "digest": digest, "size": records.len()}],
    });
    let write = |name: &str, bytes: &[u8]| xcompose_images::store::atomic_write(&dir.join(name), bytes).map_err(io::Error::other);
    write("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    write("index.json", &serde_json::to_vec(&index).map_err(io::Error::other)?)?;
    Ok(written)
}

/// Imports the local cache directory `dir` into `cache` and `store`: every record whose key the
/// cache does not know yet, with the layers it names (checked against their digests).
pub fn import(dir: &Path, cache: &BuildCache, store: &ImageStore) -> io::Result<Imported> {
    let index_path = dir.join("index.json");
    let index: serde_json::Value = serde_json::from_slice(&fs::read(&index_path).map_err(context(format!("could not read {}", index_path.display())))?)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", index_path.display())))?;
    let digest = index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["mediaType"] == RECORDS_MEDIA_TYPE)
        .and_then(|m| m["digest"].as_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("{} names no xcompose build cache (was it exported by another builder?)", index_path.display())))?;
    let bytes = read_verified(dir, digest)?;
    let records: Records = serde_json::from_slice(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("cache records {digest}: {e}")))?;
    let mut imported = Imported::default();
    for (key, step) in &records.records {
        if cache.lookup(key, store).is_some() {
            continue;
        }
        if let Some(layer) = &step.layer {
            if !store.has_stored_layer(&layer.stored()) {
                let blob = read_verified(dir, &layer.digest)?;
                let mut writer = store.layer_writer().map_err(io::Error::other)?;
                io::copy(&mut &blob[..], &mut writer)?;
                let added = writer.finish().map_err(io::Error::other)?;
                if added.diff_id != layer.diff_id {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, format!("layer {} of the cache is not the one its record names", layer.digest)));
                }
                imported.layers += 1;
            }
        }
        cache.record(key, step)?;
        imported.records += 1;
    }
    Ok(imported)
}

/// The blob `digest` of `dir`, checked against its digest.
fn read_verified(dir: &Path, digest: &str) -> io::Result<Vec<u8>> {
    let path = blob_path(dir, digest);
    let mut bytes = Vec::new();
    fs::File::open(&path).and_then(|mut f| f.read_to_end(&mut bytes)).map_err(context(format!("reading {}", path.display())))?;
    let actual = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    if actual != digest {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{} is corrupt: its digest is {actual}", path.display())));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::exec::cache::CachedLayer;

    fn layer_tar(content: &[u8]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, "made-by-run", content).unwrap();
        builder.into_inner().unwrap()
    }

    #[test]
    fn records_and_layers_go_to_another_state_root() {
        let first = tempfile::tempdir().unwrap();
        let store = ImageStore::open(first.path()).unwrap();
        let mut writer = store.layer_writer().unwrap();
        writer.write_all(&layer_tar(b"built")).unwrap();
        let layer = writer.finish().unwrap();
        let steps: BTreeMap<String, CachedStep> = [
            ("run".to_string(), CachedStep { layer: Some(CachedLayer::from(&layer)), created: "2026-01-01T00:00:00Z".into() }),
            ("workdir".to_string(), CachedStep { layer: None, created: "2026-01-01T00:00:01Z".into() }),
        ]
        .into();
        let exported = tempfile::tempdir().unwrap();
        let written = export(exported.path(), &steps, &store).unwrap();
        assert_eq!(written.len(), 2, "the layer and the records: {written:?}");

        let second = tempfile::tempdir().unwrap();
        let (store2, cache2) = (ImageStore::open(second.path()).unwrap(), BuildCache::open(second.path()));
        assert_eq!(import(exported.path(), &cache2, &store2).unwrap(), Imported { records: 2, layers: 1 });
        assert_eq!(cache2.lookup("run", &store2), Some(steps["run"].clone()));
        assert_eq!(cache2.lookup("workdir", &store2), Some(steps["workdir"].clone()));
        assert_eq!(fs::read(store2.layer_path(&layer.diff_id).join("made-by-run")).unwrap(), b"built");
        assert_eq!(import(exported.path(), &cache2, &store2).unwrap(), Imported::default(), "known records are kept");
    }

    #[test]
    fn a_corrupt_or_foreign_cache_is_refused_with_where() {
        let dir = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let (store, cache) = (ImageStore::open(root.path()).unwrap(), BuildCache::open(root.path()));
        let missing = import(dir.path(), &cache, &store).unwrap_err().to_string();
        assert!(missing.starts_with("could not read ") && missing.contains("index.json"), "{missing}");
        fs::write(dir.path().join("index.json"), r#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.buildkit.cacheconfig.v0","digest":"sha256:00"}]}"#).unwrap();
        assert!(import(dir.path(), &cache, &store).unwrap_err().to_string().contains("names no xcompose build cache"));
        let steps = BTreeMap::from([("k".to_string(), CachedStep { layer: None, created: "t".into() })]);
        let written = export(dir.path(), &steps, &store).unwrap();
        fs::write(blob_path(dir.path(), &written[0]), b"tampered").unwrap();
        assert!(import(dir.path(), &cache, &store).unwrap_err().to_string().contains("is corrupt"));
    }
}
