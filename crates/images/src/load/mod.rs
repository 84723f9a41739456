//! `image load`: images from a `docker save` archive (before and since Docker 25) or an OCI
//! image layout, as a tar, plain or gzip-compressed.
//!
//! Everything is verified before the store changes: blobs against the digests that name them,
//! each layer's uncompressed content against the diff_id its config lists, and only then are
//! layers unpacked (by the safe unpacker) and committed, all or nothing.

pub(crate) mod archive;
mod docker;
mod oci;

use std::fmt;
use std::io::Read;

use oci_spec::image::{ImageConfiguration, ImageIndex};

use crate::commit::{StagedImage, StagedLayer};
use crate::reference::Reference;
use crate::store::{ImageStore, Result, StoreError};
use archive::{StagedArchive, StagedFile};

/// One line of `image load`'s output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadEvent {
    /// `reference` (familiar form) named another image, `previous_id`, before the load.
    Replaced {
        /// The reference.
        reference: String,
        /// The ID of the image it named.
        previous_id: String,
    },
    /// An image was loaded with this reference (familiar form, `busybox:latest`).
    Tagged(String),
    /// An image without a reference was loaded: its ID.
    Untagged(String),
}

impl fmt::Display for LoadEvent {
    /// The line Docker prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Replaced { reference, previous_id } => {
                write!(f, "The image {reference} already exists, renaming the old one with ID {previous_id} to empty string")
            }
            Self::Tagged(reference) => write!(f, "Loaded image: {reference}"),
            Self::Untagged(id) => write!(f, "Loaded image ID: {id}"),
        }
    }
}

/// An image as the archive describes it, not verified yet.
struct Found<'a> {
    config: &'a StagedFile,
    layers: Vec<&'a StagedFile>,
    references: Vec<Reference>,
}

impl ImageStore {
    /// Loads the images of an archive (Docker's `image load`). `on_layer` is called with the
    /// diff_id and size of each layer about to be unpacked (layers the store has are skipped).
    pub fn load(&self, archive: impl Read, on_layer: &mut dyn FnMut(&str, u64)) -> Result<Vec<LoadEvent>> {
        let archive = StagedArchive::read(archive, &self.dir)?;
        xcompose_fault::point("image.load.staged");
        let found = if let Some(manifest) = archive.file("manifest.json") {
            docker::images(&archive, archive.parse(manifest)?)?
        } else if let Some(index) = archive.json::<ImageIndex>("index.json")? {
            oci::images(&archive, &index)?
        } else {
            return Err(StoreError::InvalidArchive("it has neither manifest.json (docker save) nor index.json (OCI image layout)".into()));
        };
        if found.is_empty() {
            return Err(StoreError::InvalidArchive("it contains no image".into()));
        }
        let images = found.into_iter().map(|f| verify(&archive, f)).collect::<Result<Vec<_>>>()?;
        let committed = self.commit(&images, on_layer)?;
        let mut events = Vec::new();
        for (image, committed) in images.iter().zip(committed) {
            if image.references.is_empty() {
                events.push(LoadEvent::Untagged(committed.id.clone()));
            }
            for reference in &image.references {
                if let Some((_, previous_id)) = committed.displaced.iter().find(|(r, _)| r == reference) {
                    events.push(LoadEvent::Replaced { reference: reference.familiar(), previous_id: previous_id.clone() });
                }
                events.push(LoadEvent::Tagged(reference.familiar()));
            }
        }
        Ok(events)
    }
}

/// Checks an image's config and its layers against the config's diff_ids.
fn verify(archive: &StagedArchive, found: Found<'_>) -> Result<StagedImage> {
    let config = archive.bytes(found.config)?;
    let parsed = ImageConfiguration::from_reader(&config[..])
        .map_err(|e| StoreError::InvalidArchive(format!("image config {}: {e}", found.config.name)))?;
    let diff_ids = parsed.rootfs().diff_ids();
    if diff_ids.len() != found.layers.len() {
        return Err(StoreError::InvalidArchive(format!(
            "image {} has {} layers, but its config lists {}",
            found.config.digest,
            found.layers.len(),
            diff_ids.len()
        )));
    }
    let mut layers = Vec::new();
    for (i, (file, expected)) in found.layers.iter().zip(diff_ids).enumerate() {
        let layer = StagedLayer::examine(file.path.clone(), file.digest.clone(), file.size)?;
        if layer.diff_id != *expected {
            return Err(StoreError::DigestMismatch {
                what: format!("layer {i} ({}) of image {}", file.name, found.config.digest),
                expected: expected.clone(),
                actual: layer.diff_id,
            });
        }
        layers.push(layer);
    }
    Ok(StagedImage { config, layers, references: found.references, manifest: None })
}
