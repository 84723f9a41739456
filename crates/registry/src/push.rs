//! `docker push`: the image's layers (skipped when the registry has them, mounted from another
//! repository of the same registry when the store knows one), its config, then its manifest,
//! byte for byte as stored, so the pushed digest is the local one.

use std::io::Read;

use oci_client::errors::OciDistributionError;
use oci_client::RegistryOperation;
use oci_spec::image::{Descriptor, ImageManifest};
use xcompose_images::{ImageStore, Reference};

use crate::conf::{Endpoint, Registries};
use crate::error::RegistryError;
use crate::progress::{short, PushEvent};
use crate::session::{retrying, Session};

/// Size of the pieces a layer is read and sent in.
const CHUNK: usize = 1 << 20;

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedImage {
    /// The manifest digest now in the registry.
    pub digest: String,
    /// The manifest size.
    pub size: usize,
}

/// Pushes the image `reference` names (to where registries.conf says that name lives).
pub fn push(store: &ImageStore, reference: &str, on_event: &(dyn Fn(PushEvent) + Sync)) -> Result<PushedImage, RegistryError> {
    let reference = Reference::parse(reference).map_err(RegistryError::Reference)?;
    // Mirrors are for pulling; a push goes to the location.
    let endpoint = Registries::load()?.endpoints(&reference)?.pop().ok_or_else(|| RegistryError::Registry(format!("no registry for {}", reference.familiar())))?;
    let (digest, manifest) = store.manifest_bytes(&reference.to_string()).map_err(|_| RegistryError::Reference(format!("An image does not exist locally with the tag: {}", reference.short_repository())))?;
    let sources = mount_sources(store, &reference, &endpoint);
    let pushed = crate::runtime()?.block_on(push_to(store, &reference, &endpoint, &digest, manifest, &sources, on_event))?;
    // As Docker does, the pushed digest becomes one of the image's RepoDigests.
    let repo_digest = Reference { tag: None, digest: Some(pushed.digest.clone()), ..reference.clone() };
    store.tag(&reference.to_string(), &repo_digest.to_string())?;
    Ok(pushed)
}

/// Other repositories of the same registry the store has images from (blobs may be mounted from
/// them instead of uploaded).
fn mount_sources(store: &ImageStore, reference: &Reference, endpoint: &Endpoint) -> Vec<String> {
    let mut sources: Vec<String> = store
        .list()
        .unwrap_or_default()
        .into_iter()
        .flat_map(|i| i.references)
        .filter_map(|r| Reference::parse(&r).ok())
        .filter(|r| r.registry == reference.registry && r.repository != reference.repository)
        .map(|r| r.repository)
        .collect();
    sources.sort();
    sources.dedup();
    sources.retain(|s| *s != endpoint.repository);
    sources
}

async fn push_to(
    store: &ImageStore,
    reference: &Reference,
    endpoint: &Endpoint,
    digest: &str,
    manifest: Vec<u8>,
    sources: &[String],
    on_event: &(dyn Fn(PushEvent) + Sync),
) -> Result<PushedImage, RegistryError> {
    let session = Session::open(endpoint, RegistryOperation::Push, &reference.short_repository(), &reference.familiar()).await?;
    let parsed = ImageManifest::from_reader(&manifest[..]).map_err(|e| RegistryError::Invalid { what: format!("stored manifest {digest}"), message: e.to_string() })?;
    on_event(PushEvent::Repository(reference.short_repository()));
    for layer in parsed.layers() {
        on_event(PushEvent::Layer { id: short(layer.digest().as_ref()), status: "Preparing".into() });
    }
    for layer in parsed.layers() {
        let status = push_blob(store, &session, layer, sources).await?;
        on_event(PushEvent::Layer { id: short(layer.digest().as_ref()), status });
    }
    push_blob(store, &session, parsed.config(), sources).await?;
    let tag = reference.tag.clone().unwrap_or_else(|| "latest".into());
    let target = session.reference(Some(&tag), None);
    let media_type = parsed.media_type().as_ref().map(|m| m.to_string()).unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".into());
    let content_type: reqwest::header::HeaderValue =
        media_type.parse().map_err(|_| RegistryError::UnsupportedMediaType { media_type: media_type.clone(), what: format!("manifest {digest}") })?;
    let size = manifest.len();
    retrying(|| async { session.client.push_manifest_raw(&target, manifest.clone(), content_type.clone()).await.map_err(|e| push_error(&session, e)) }).await?;
    on_event(PushEvent::Pushed { tag, digest: digest.to_string(), size });
    Ok(PushedImage { digest: digest.to_string(), size })
}

/// Makes sure the registry has one blob: already there, mounted, or uploaded. The status line.
async fn push_blob(store: &ImageStore, session: &Session, descriptor: &Descriptor, sources: &[String]) -> Result<String, RegistryError> {
    let digest = descriptor.digest().to_string();
    let target = session.reference(Some("latest"), None);
    if retrying(|| async { session.client.blob_exists(&target, &digest).await.map_err(|e| push_error(session, e)) }).await? {
        return Ok("Layer already exists".into());
    }
    for source in sources {
        let from = oci_client::Reference::with_tag(session.endpoint.host.clone(), source.clone(), "latest".into());
        if session.client.mount_blob(&target, &from, &digest).await.is_ok() && session.client.blob_exists(&target, &digest).await.unwrap_or(false) {
            return Ok(format!("Mounted from {source}"));
        }
    }
    let size = descriptor.size();
    retrying(|| async {
        let mut file = store.open_blob(&digest)?;
        let chunks = futures_util::stream::iter(std::iter::from_fn(move || {
            let mut buf = vec![0u8; CHUNK];
            match file.read(&mut buf) {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some(Ok(bytes::Bytes::from(buf)))
                }
                Err(e) => Some(Err(OciDistributionError::IoError(e))),
            }
        }));
        session.client.push_blob_stream(&target, chunks, &digest, Some(size)).await.map_err(|e| push_error(session, e))
    })
    .await?;
    Ok("Pushed".into())
}

/// A push's error: an authorisation failure is Docker's "denied" line.
fn push_error(session: &Session, error: OciDistributionError) -> RegistryError {
    match session.error(error) {
        RegistryError::PullAccessDenied(_) => RegistryError::PushDenied,
        other => other,
    }
}
