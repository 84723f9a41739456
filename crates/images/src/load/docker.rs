//! `docker save` archives: `manifest.json` lists each image's config file, layer tars and tags.
//! Before Docker 25 these are `<id>.json` and `<v1 id>/layer.tar` (podman links the latter to
//! `<diff_id>.tar`); since Docker 25 they are OCI blobs, `blobs/sha256/<hex>`.

use serde::Deserialize;

use super::archive::StagedArchive;
use super::Found;
use crate::reference::Reference;
use crate::store::{Result, StoreError};

/// One entry of `manifest.json`.
#[derive(Debug, Deserialize)]
pub(super) struct Entry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

/// The images `manifest.json` (its `entries`) describes.
pub(super) fn images(archive: &StagedArchive, entries: Vec<Entry>) -> Result<Vec<Found<'_>>> {
    let mut found = Vec::new();
    for entry in entries {
        let config = archive.blob(&entry.config)?;
        // Before Docker 25 the config is named after its digest, the image ID.
        if let Some(hex) = entry.config.strip_suffix(".json").filter(|h| h.len() == 64 && !h.contains('/')) {
            let expected = format!("sha256:{hex}");
            if expected != config.digest {
                return Err(StoreError::DigestMismatch { what: format!("image config {}", entry.config), expected, actual: config.digest.clone() });
            }
        }
        let layers = entry.layers.iter().map(|l| archive.blob(l)).collect::<Result<Vec<_>>>()?;
        let references = entry
            .repo_tags
            .unwrap_or_default()
            .iter()
            .map(|t| Reference::parse(t).map_err(|e| StoreError::InvalidArchive(format!("manifest.json: {e}"))))
            .collect::<Result<Vec<_>>>()?;
        found.push(Found { config, layers, references });
    }
    Ok(found)
}
