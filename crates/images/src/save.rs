//! `image save`: images as one tar that is both a `docker save` archive (`manifest.json`,
//! `repositories`) and an OCI image layout (`oci-layout`, `index.json`), with every blob once
//! under `blobs/sha256/`, as Docker 25+ writes it. `docker load`, `podman load`, `skopeo` and
//! [`ImageStore::load`] all read it; the configs are written byte for byte, so a loaded image keeps
//! its ID.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use oci_spec::image::{Descriptor, ImageIndexBuilder, MediaType, OciLayoutBuilder, ANNOTATION_REF_NAME};
use serde::Serialize;

use crate::reference::Reference;
use crate::store::{io_err, ImageStore, Result, StoreError};

/// One image to write.
struct Saved {
    manifest: String,
    manifest_size: u64,
    /// The manifest's own media type (a pulled image keeps Docker's schema 2 one).
    media_type: MediaType,
    config: String,
    layers: Vec<String>,
    references: Vec<Reference>,
}

/// One entry of `manifest.json`.
#[derive(Serialize)]
struct DockerEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags")]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

impl ImageStore {
    /// Writes the images `wanted` names (references or IDs) to `out` as one archive. An image named
    /// by a reference carries that reference; one named by ID carries none, as with Docker.
    pub fn save(&self, wanted: &[String], out: impl Write) -> Result<()> {
        // Resolve and open every blob under the lock: a concurrent `rm` cannot take one away then.
        let (images, blobs) = {
            let _lock = self.lock()?;
            self.open_for_save(wanted)?
        };
        write_archive(&images, blobs, out).map_err(StoreError::WriteArchive)
    }

    /// Saves to the file `path` atomically: a temporary file beside it, renamed over it once
    /// complete, so a failed save leaves no partial archive.
    pub fn save_to_file(&self, wanted: &[String], path: &Path) -> Result<()> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io_err(dir))?;
        self.save(wanted, io::BufWriter::new(tmp.as_file_mut()))?;
        tmp.as_file().sync_all().map_err(io_err(path))?;
        tmp.persist(path).map_err(|e| StoreError::Io { path: path.to_path_buf(), source: e.error })?;
        Ok(())
    }

    fn open_for_save(&self, wanted: &[String]) -> Result<(Vec<Saved>, BTreeMap<String, File>)> {
        let index = self.read_index()?;
        let mut images: Vec<Saved> = Vec::new();
        let mut blobs = BTreeMap::new();
        for name in wanted {
            let (reference, m) = self.find(&index, name)?;
            let reference = reference.map(|r| Reference::parse(&r).map_err(StoreError::Reference)).transpose()?.filter(|r| r.tag.is_some());
            if let Some(image) = images.iter_mut().find(|i| i.manifest == m) {
                image.references.extend(reference.filter(|r| !image.references.contains(r)));
                continue;
            }
            let manifest = self.manifest(&m)?;
            let config = manifest.config().digest().to_string();
            let layers: Vec<String> = manifest.layers().iter().map(|l| l.digest().to_string()).collect();
            for digest in [&m, &config].into_iter().chain(&layers) {
                let path = self.blob_path(digest);
                blobs.insert(digest.clone(), File::open(&path).map_err(io_err(&path))?);
            }
            let path = self.blob_path(&m);
            let manifest_size = blobs[&m].metadata().map_err(io_err(&path))?.len();
            let media_type = manifest.media_type().clone().unwrap_or(MediaType::ImageManifest);
            images.push(Saved { manifest: m, manifest_size, media_type, config, layers, references: reference.into_iter().collect() });
        }
        Ok((images, blobs))
    }
}

fn write_archive(images: &[Saved], blobs: BTreeMap<String, File>, out: impl Write) -> io::Result<()> {
    let mut tar = tar::Builder::new(out);
    for dir in ["blobs/", "blobs/sha256/"] {
        tar.append_data(&mut header(tar::EntryType::Directory, 0o755, 0), dir, io::empty())?;
    }
    for (digest, file) in blobs {
        let size = file.metadata()?.len();
        let name = format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
        tar.append_data(&mut header(tar::EntryType::Regular, 0o644, size), name, file.take(size))?;
    }
    let blob_name = |digest: &str| format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
    let mut descriptors = Vec::new();
    let mut entries = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for image in images {
        let digest: oci_spec::image::Digest = image.manifest.parse().map_err(io::Error::other)?;
        let descriptor = Descriptor::new(image.media_type.clone(), image.manifest_size, digest);
        if image.references.is_empty() {
            descriptors.push(descriptor.clone());
        }
        for reference in &image.references {
            let mut named = descriptor.clone();
            let tag = reference.tag.clone().unwrap_or_default();
            named.set_annotations(Some(HashMap::from([
                ("io.containerd.image.name".to_string(), reference.to_string()),
                (ANNOTATION_REF_NAME.to_string(), tag.clone()),
            ])));
            descriptors.push(named);
            if let Some(top) = image.layers.last() {
                repositories.entry(reference.short_repository()).or_default().insert(tag, top.trim_start_matches("sha256:").to_string());
            }
        }
        entries.push(DockerEntry {
            config: blob_name(&image.config),
            repo_tags: (!image.references.is_empty()).then(|| image.references.iter().map(Reference::familiar).collect()),
            layers: image.layers.iter().map(|l| blob_name(l)).collect(),
        });
    }
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(descriptors)
        .build()
        .map_err(io::Error::other)?;
    let layout = OciLayoutBuilder::default().image_layout_version("1.0.0").build().map_err(io::Error::other)?;
    let documents = [
        ("index.json", sorted_json(&index)?),
        ("manifest.json", serde_json::to_vec(&entries)?),
        ("oci-layout", layout.to_string().map_err(io::Error::other)?.into_bytes()),
        ("repositories", serde_json::to_vec(&repositories)?),
    ];
    for (name, bytes) in documents {
        tar.append_data(&mut header(tar::EntryType::Regular, 0o644, bytes.len() as u64), name, &bytes[..])?;
    }
    tar.into_inner()?.flush()
}

/// `value` as JSON with every object's keys sorted: annotations are a `HashMap`, whose order
/// would otherwise change from one run to the next.
fn sorted_json(value: &impl Serialize) -> io::Result<Vec<u8>> {
    fn sort(value: serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                let sorted: BTreeMap<String, serde_json::Value> = map.into_iter().map(|(k, v)| (k, sort(v))).collect();
                serde_json::Value::Object(sorted.into_iter().collect())
            }
            serde_json::Value::Array(items) => serde_json::Value::Array(items.into_iter().map(sort).collect()),
            other => other,
        }
    }
    Ok(serde_json::to_vec(&sort(serde_json::to_value(value)?))?)
}

/// A header owned by root, dated the epoch, so the same images always give the same archive.
fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}
