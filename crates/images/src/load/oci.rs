//! OCI image layouts: `oci-layout`, `index.json` and `blobs/sha256/<hex>`, as `skopeo copy
//! oci-archive:`, `podman save --format oci-archive` and `docker save` (25+) write them.
//!
//! Each manifest `index.json` lists is an image; a nested index (a multi-platform image) gives the
//! manifest for this host's platform. An image's name is the `io.containerd.image.name`
//! annotation, else `org.opencontainers.image.ref.name` when that is a full reference (podman
//! writes `localhost/app:1`); a bare tag (`latest`) names no repository, so the image is loaded
//! untagged, as Docker does.

use oci_spec::image::{Arch, Descriptor, ImageIndex, ImageManifest, MediaType, OciLayout, Os, ANNOTATION_REF_NAME};

use super::archive::{StagedArchive, StagedFile};
use super::Found;
use crate::reference::Reference;
use crate::store::{Result, StoreError};

const CONTAINERD_NAME: &str = "io.containerd.image.name";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Indexes nested deeper than this are refused.
const MAX_DEPTH: usize = 4;

/// The images `index` (the layout's `index.json`) lists.
pub(super) fn images<'a>(archive: &'a StagedArchive, index: &ImageIndex) -> Result<Vec<Found<'a>>> {
    if let Some(layout) = archive.json::<OciLayout>("oci-layout")? {
        if !layout.image_layout_version().starts_with("1.") {
            return Err(StoreError::InvalidArchive(format!("unsupported OCI image layout version {:?}", layout.image_layout_version())));
        }
    }
    let mut found = Vec::new();
    for descriptor in index.manifests() {
        let Some(manifest) = select(archive, descriptor, 0)? else { continue };
        let manifest: ImageManifest = archive.parse(blob(archive, &manifest)?)?;
        let config = blob(archive, manifest.config())?;
        let layers = manifest.layers().iter().map(|l| blob(archive, l)).collect::<Result<Vec<_>>>()?;
        found.push(Found { config, layers, references: names(descriptor)? });
    }
    Ok(found)
}

/// The image manifest `descriptor` leads to for this platform; `None` for what is not an image.
fn select(archive: &StagedArchive, descriptor: &Descriptor, depth: usize) -> Result<Option<Descriptor>> {
    let is = |oci: MediaType, docker: &str| *descriptor.media_type() == oci || *descriptor.media_type() == MediaType::Other(docker.to_string());
    if is(MediaType::ImageManifest, DOCKER_MANIFEST) {
        Ok(Some(descriptor.clone()))
    } else if !is(MediaType::ImageIndex, DOCKER_MANIFEST_LIST) {
        Ok(None)
    } else if depth >= MAX_DEPTH {
        Err(StoreError::InvalidArchive(format!("image indexes nested more than {MAX_DEPTH} deep")))
    } else {
        pick_platform(archive, descriptor, depth)
    }
}

fn pick_platform(archive: &StagedArchive, descriptor: &Descriptor, depth: usize) -> Result<Option<Descriptor>> {
    let index: ImageIndex = archive.parse(blob(archive, descriptor)?)?;
    let (os, arch) = (Os::default(), Arch::default());
    let for_host = index.manifests().iter().find(|m| m.platform().as_ref().is_some_and(|p| *p.os() == os && *p.architecture() == arch));
    // An index of one image without a platform (as tools write for a single image) is that image.
    let only = match index.manifests().as_slice() {
        [one] if one.platform().is_none() => Some(one),
        _ => None,
    };
    match for_host.or(only) {
        Some(m) => select(archive, m, depth + 1),
        None => Err(StoreError::InvalidArchive(format!("image index {} has no image for {os}/{arch}", descriptor.digest()))),
    }
}

/// The staged blob a descriptor names, checked against its digest and size.
fn blob<'a>(archive: &'a StagedArchive, descriptor: &Descriptor) -> Result<&'a StagedFile> {
    let digest = descriptor.digest();
    let hex = descriptor.as_digest_sha256().ok_or_else(|| StoreError::InvalidArchive(format!("unsupported digest algorithm in {digest}: only sha256 is")))?;
    let file = archive.blob(&format!("blobs/sha256/{hex}"))?;
    if file.size != descriptor.size() {
        return Err(StoreError::InvalidArchive(format!("blob {digest} has {} bytes, but its descriptor says {}", file.size, descriptor.size())));
    }
    Ok(file)
}

/// The references an index entry gives its image.
fn names(descriptor: &Descriptor) -> Result<Vec<Reference>> {
    let annotations = descriptor.annotations().clone().unwrap_or_default();
    let name = annotations
        .get(CONTAINERD_NAME)
        .or_else(|| annotations.get(ANNOTATION_REF_NAME).filter(|n| n.contains(':') || n.contains('/')));
    name.map(|n| Reference::parse(n).map_err(|e| StoreError::InvalidArchive(format!("index.json: {e}")))).into_iter().collect()
}
