//! Pulled images: layers unpacked as they stream in (gzip, zstd, plain), both digests checked,
//! the registry's manifest and config kept byte for byte, and nothing stored on a mismatch.

use std::fs;
use std::io::Write;

use sha2::{Digest as _, Sha256};
use xcompose_images::{ExpectedLayer, ImageStore, PulledImage, Reference, StoreError};

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn layer_tar(name: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(946_684_800);
    h.set_size(content.len() as u64);
    b.append_data(&mut h, name, content).unwrap();
    b.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// A registry-style image: (config, manifest) bytes for layers given as (blob, tar).
fn image(layers: &[(Vec<u8>, Vec<u8>)]) -> (Vec<u8>, Vec<u8>) {
    let diff_ids: Vec<String> = layers.iter().map(|(_, tar)| sha256(tar)).collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": { "Cmd": ["/bin/sh"] },
        "rootfs": { "type": "layers", "diff_ids": diff_ids }
    }))
    .unwrap();
    let manifest = serde_json::to_vec_pretty(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": { "mediaType": "application/vnd.docker.container.image.v1+json", "size": config.len(), "digest": sha256(&config) },
        "layers": layers.iter().map(|(blob, _)| serde_json::json!({
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": blob.len(), "digest": sha256(blob)
        })).collect::<Vec<_>>()
    }))
    .unwrap();
    (config, manifest)
}

fn expected(blob: &[u8], tar: &[u8]) -> ExpectedLayer {
    ExpectedLayer { digest: sha256(blob), size: blob.len() as u64, diff_id: sha256(tar) }
}

fn staging_entries(root: &std::path::Path) -> Vec<String> {
    fs::read_dir(root.join("images")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).filter(|n| n.starts_with(".load-")).collect()
}

#[test]
fn layers_stream_in_and_the_registry_manifest_is_kept() {
    let root = tempfile::tempdir().unwrap();
    let store = ImageStore::open(root.path()).unwrap();
    let (base, top, plain) = (layer_tar("etc/base", b"base"), layer_tar("etc/top", b"top"), layer_tar("etc/plain", b"plain"));
    let layers = vec![(gzip(&base), base), (zstd::encode_all(&top[..], 3).unwrap(), top), (plain.clone(), plain)];
    let (config, manifest) = image(&layers);
    let staging = store.begin_pull().unwrap();
    let mut ingested = Vec::new();
    for (blob, tar) in &layers {
        let mut ingest = staging.ingest_layer(expected(blob, tar)).unwrap();
        // Small writes, as a network stream delivers them.
        for chunk in blob.chunks(7) {
            ingest.write_all(chunk).unwrap();
        }
        assert_eq!(ingest.written(), blob.len() as u64);
        ingested.push(ingest.finish().unwrap());
    }
    let reference = Reference::parse("localhost:5000/app:1").unwrap();
    let pinned = Reference::parse(&format!("localhost:5000/app@{}", sha256(&manifest))).unwrap();
    let id = staging.commit(PulledImage { manifest: manifest.clone(), config: config.clone(), layers: ingested, references: vec![reference, pinned] }).unwrap();
    assert_eq!(id, sha256(&config));
    let resolved = store.resolve("localhost:5000/app:1").unwrap();
    assert_eq!(resolved.id, id);
    let files: Vec<Vec<u8>> = ["etc/base", "etc/top", "etc/plain"].iter().zip(&resolved.layer_dirs).map(|(f, d)| fs::read(d.join(f)).unwrap()).collect();
    assert_eq!(files, vec![b"base".to_vec(), b"top".to_vec(), b"plain".to_vec()]);
    assert_eq!(fs::read(root.path().join("images/blobs/sha256").join(&sha256(&manifest)[7..])).unwrap(), manifest, "the manifest is kept byte for byte");
    assert_eq!(store.resolve(&format!("localhost:5000/app@{}", sha256(&manifest))).unwrap().id, id, "the RepoDigest resolves");
    for (blob, tar) in &layers {
        assert!(store.has_layer(&sha256(blob), &sha256(tar)));
    }
    assert!(staging_entries(root.path()).is_empty(), "staging is gone after the commit");
    // Removing the tag removes the RepoDigest and the image with it, as in Docker.
    let removed = store.remove("localhost:5000/app:1", false, &|_| None).unwrap();
    assert_eq!(removed.len(), 3, "{removed:?}");
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn a_layer_already_in_the_store_needs_no_download() {
    let root = tempfile::tempdir().unwrap();
    let store = ImageStore::open(root.path()).unwrap();
    let base = layer_tar("etc/base", b"base");
    let top = layer_tar("etc/top", b"top");
    let (base_gz, top_gz) = (gzip(&base), gzip(&top));
    let first = vec![(base_gz.clone(), base.clone())];
    let (config, manifest) = image(&first);
    let staging = store.begin_pull().unwrap();
    let mut ingest = staging.ingest_layer(expected(&base_gz, &base)).unwrap();
    ingest.write_all(&base_gz).unwrap();
    let layer = ingest.finish().unwrap();
    staging.commit(PulledImage { manifest, config, layers: vec![layer], references: vec![Reference::parse("a:1").unwrap()] }).unwrap();
    // A second image on the same base fetches only its top layer.
    let second = vec![(base_gz.clone(), base.clone()), (top_gz.clone(), top.clone())];
    let (config, manifest) = image(&second);
    assert!(store.has_layer(&sha256(&base_gz), &sha256(&base)));
    assert!(!store.has_layer(&sha256(&top_gz), &sha256(&top)));
    let staging = store.begin_pull().unwrap();
    let mut ingest = staging.ingest_layer(expected(&top_gz, &top)).unwrap();
    ingest.write_all(&top_gz).unwrap();
    let layer = ingest.finish().unwrap();
    let id = staging.commit(PulledImage { manifest, config: config.clone(), layers: vec![layer], references: vec![Reference::parse("b:1").unwrap()] }).unwrap();
    assert_eq!(store.resolve("b:1").unwrap().layer_dirs.len(), 2);
    assert_eq!(id, sha256(&config));
}

#[test]
fn a_pulled_image_whose_layer_is_missing_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let store = ImageStore::open(root.path()).unwrap();
    let base = layer_tar("etc/base", b"base");
    let (config, manifest) = image(&[(gzip(&base), base)]);
    let staging = store.begin_pull().unwrap();
    let err = staging.commit(PulledImage { manifest, config, layers: vec![], references: vec![Reference::parse("a:1").unwrap()] }).unwrap_err();
    assert!(matches!(err, StoreError::LayerGone(_)), "{err}");
    assert!(err.to_string().contains("pull again"), "{err}");
    assert!(store.list().unwrap().is_empty());
    assert_eq!(fs::read_dir(root.path().join("images/blobs/sha256")).unwrap().count(), 0, "no config was left behind");
}

#[test]
fn a_digest_mismatch_stores_nothing() {
    let root = tempfile::tempdir().unwrap();
    let store = ImageStore::open(root.path()).unwrap();
    let tar = layer_tar("etc/file", b"content");
    let blob = gzip(&tar);
    let staging = store.begin_pull().unwrap();
    let cases = [
        (ExpectedLayer { digest: sha256(b"other"), ..expected(&blob, &tar) }, "content digest"),
        (ExpectedLayer { size: blob.len() as u64 + 1, ..expected(&blob, &tar) }, "size"),
        (ExpectedLayer { diff_id: sha256(b"other"), ..expected(&blob, &tar) }, "uncompressed digest (diff_id)"),
    ];
    for (wanted, what) in cases {
        let digest = wanted.digest.clone();
        let mut ingest = staging.ingest_layer(wanted).unwrap();
        ingest.write_all(&blob).unwrap();
        let err = ingest.finish().unwrap_err().to_string();
        assert!(err.starts_with(&format!("filesystem layer verification failed for digest {digest}: its {what} is")), "{err}");
    }
    let staged: Vec<_> = fs::read_dir(root.path().join("images")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(".load-")).collect();
    assert_eq!(staged.len(), 1);
    assert_eq!(fs::read_dir(&staged[0]).unwrap().count(), 0, "the failed layers' blobs and directories are removed");
    drop(staging);
    assert!(staging_entries(root.path()).is_empty());
    assert_eq!(fs::read_dir(root.path().join("images/layers")).unwrap().count(), 0);
}

#[test]
fn a_stream_that_does_not_unpack_fails_when_finished_and_a_wrong_blob_says_so_first() {
    let root = tempfile::tempdir().unwrap();
    let store = ImageStore::open(root.path()).unwrap();
    let staging = store.begin_pull().unwrap();
    // gzip magic, then garbage: the decompressor fails early, the download goes on.
    let blob = [&[0x1f, 0x8b, 8, 0][..], &[0xff; 100_000][..]].concat();
    let mut ingest = staging.ingest_layer(ExpectedLayer { digest: sha256(&blob), size: blob.len() as u64, diff_id: sha256(b"x") }).unwrap();
    for chunk in blob.chunks(1000) {
        ingest.write_all(chunk).unwrap();
    }
    assert!(matches!(ingest.finish(), Err(StoreError::Unpack(_))));
    let mut ingest = staging.ingest_layer(ExpectedLayer { digest: sha256(b"other"), size: blob.len() as u64, diff_id: sha256(b"x") }).unwrap();
    ingest.write_all(&blob).unwrap();
    let err = ingest.finish().unwrap_err();
    assert!(matches!(err, StoreError::LayerVerification { .. }), "the digest is the error: {err}");
    assert_eq!(fs::read_dir(root.path().join("images/layers")).unwrap().count(), 0);
}
