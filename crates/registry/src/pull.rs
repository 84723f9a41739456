//! `docker pull`: resolve the manifest (an index picks the platform), fetch the config, then the
//! layers the store lacks, a few at a time, each unpacked while it downloads; a dropped download
//! resumes with a Range request where the registry allows it. The image is committed only once
//! every layer is verified, so a failed pull leaves nothing `up` would use.

use futures_util::{StreamExt, TryStreamExt};
use oci_client::client::{BlobResponse, LayerDescriptor, SizedStream};
use oci_client::errors::OciDistributionError;
use oci_client::RegistryOperation;
use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest};
use sha2::{Digest as _, Sha256};
use xcompose_images::{ExpectedLayer, ImageStore, IngestedLayer, PullStaging, PulledImage, Reference};

use crate::conf::{Endpoint, Registries};
use crate::error::RegistryError;
use crate::platform::{self, Platform};
use crate::progress::{short, LayerStatus, PullEvent};
use crate::session::{retrying, Session};

/// Media types of what a manifest request may return.
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const SCHEMA1: [&str; 2] = ["application/vnd.docker.distribution.manifest.v1+prettyjws", "application/vnd.docker.distribution.manifest.v1+json"];
/// Layer media types the store can unpack.
const LAYER_TYPES: [&str; 6] = [
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar.zstd",
];
/// Times a dropped layer download is resumed before the pull fails.
const RESUMES: u32 = 5;
/// Dockerd's default number of parallel layer downloads.
pub const DEFAULT_CONCURRENT_DOWNLOADS: usize = 3;

/// How to pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// The platform to pick from an index; the host's when `None`.
    pub platform: Option<Platform>,
    /// Layers downloaded at once.
    pub max_concurrent_downloads: usize,
}

impl Default for PullOptions {
    fn default() -> Self {
        Self { platform: None, max_concurrent_downloads: DEFAULT_CONCURRENT_DOWNLOADS }
    }
}

/// What a pull did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The image ID.
    pub id: String,
    /// The RepoDigest's digest (of the manifest or index the reference names).
    pub digest: String,
    /// Whether the store had this image under this reference already.
    pub up_to_date: bool,
}

/// Pulls `reference` into `store`, reporting progress to `on_event`. Mirrors from
/// registries.conf are tried first; a failure there falls back to the next endpoint.
pub fn pull(store: &ImageStore, reference: &str, options: &PullOptions, on_event: &(dyn Fn(PullEvent) + Sync)) -> Result<Pulled, RegistryError> {
    let reference = Reference::parse(reference).map_err(RegistryError::Reference)?;
    let endpoints = Registries::load()?.endpoints(&reference)?;
    let runtime = crate::runtime()?;
    let mut last = None;
    for endpoint in &endpoints {
        match runtime.block_on(pull_from(store, &reference, endpoint, options, on_event)) {
            Ok(pulled) => return Ok(pulled),
            Err(e) if endpoint.mirror => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| RegistryError::Registry(format!("no registry to pull {} from", reference.familiar()))))
}

/// A manifest the registry returned, parsed enough to know what it is.
enum Fetched {
    Index(Box<ImageIndex>),
    Image(Box<ImageManifest>),
}

async fn pull_from(store: &ImageStore, reference: &Reference, endpoint: &Endpoint, options: &PullOptions, on_event: &(dyn Fn(PullEvent) + Sync)) -> Result<Pulled, RegistryError> {
    let session = Session::open(endpoint, RegistryOperation::Pull, &reference.short_repository(), &reference.familiar()).await?;
    let (top, repo_digest) = fetch_manifest(&session, reference.tag.as_deref(), reference.digest.as_deref()).await?;
    if let Some(pinned) = &reference.digest {
        if *pinned != repo_digest {
            return Err(RegistryError::ManifestVerification(pinned.clone()));
        }
    }
    let manifest_bytes = match parse_manifest(&top, &session)? {
        Fetched::Image(_) => top,
        Fetched::Index(index) => {
            let wanted = options.platform.clone().unwrap_or_else(Platform::host);
            let chosen = platform::choose(&index, &wanted)?;
            let (bytes, digest) = fetch_manifest(&session, None, Some(chosen.digest().as_ref())).await?;
            if digest != chosen.digest().as_ref() {
                return Err(RegistryError::ManifestVerification(chosen.digest().to_string()));
            }
            bytes
        }
    };
    let Fetched::Image(manifest) = parse_manifest(&manifest_bytes, &session)? else {
        return Err(RegistryError::Invalid { what: format!("manifest of {}", session.familiar), message: "an index lists another index as an image".into() });
    };
    let tag = reference.tag.clone().unwrap_or_else(|| repo_digest.clone());
    let repository = Reference { tag: None, digest: None, ..reference.clone() };
    let pinned = Reference { tag: None, digest: Some(repo_digest.clone()), ..reference.clone() };
    let references: Vec<Reference> = reference.tag.iter().map(|_| Reference { digest: None, ..reference.clone() }).chain([pinned.clone()]).collect();
    on_event(PullEvent::PullingFrom { tag: tag.clone(), repository: endpoint_repository(&repository) });
    if let Some(id) = up_to_date(store, &references, manifest.config().digest().as_ref()) {
        on_event(PullEvent::Digest(repo_digest.clone()));
        on_event(PullEvent::Status(format!("Image is up to date for {}", reference.familiar())));
        return Ok(Pulled { id, digest: repo_digest, up_to_date: true });
    }
    let config = fetch_config(&session, &manifest).await?;
    let layers = expected_layers(&manifest, &config, &session)?;
    let staging = store.begin_pull()?;
    let mut wanted: Vec<ExpectedLayer> = Vec::new();
    for layer in &layers {
        let id = short(&layer.digest);
        if store.has_layer(&layer.digest, &layer.diff_id) || wanted.iter().any(|w| w.digest == layer.digest) {
            if !wanted.iter().any(|w| w.digest == layer.digest) {
                on_event(PullEvent::Layer { id, status: LayerStatus::AlreadyExists });
            }
            continue;
        }
        on_event(PullEvent::Layer { id, status: LayerStatus::PullingFsLayer });
        wanted.push(layer.clone());
    }
    let parallel = options.max_concurrent_downloads.max(1);
    for layer in wanted.iter().skip(parallel) {
        on_event(PullEvent::Layer { id: short(&layer.digest), status: LayerStatus::Waiting });
    }
    let ingested: Vec<IngestedLayer> = futures_util::stream::iter(wanted.into_iter().map(|layer| download_layer(&session, &staging, layer, on_event)))
        .buffered(parallel)
        .try_collect()
        .await?;
    let id = tokio::task::block_in_place(|| staging.commit(PulledImage { manifest: manifest_bytes, config, layers: ingested, references }))?;
    on_event(PullEvent::Digest(repo_digest.clone()));
    on_event(PullEvent::Status(format!("Downloaded newer image for {}", reference.familiar())));
    Ok(Pulled { id, digest: repo_digest, up_to_date: false })
}

/// The repository as Docker's "Pulling from" line shows it (`library/redis`, `app`).
fn endpoint_repository(reference: &Reference) -> String {
    reference.repository.clone()
}

/// The image ID when every reference already names the image `id` (the chosen platform's: a
/// tag on another platform's image of the same index is moved, as Docker moves it).
fn up_to_date(store: &ImageStore, references: &[Reference], id: &str) -> Option<String> {
    references.iter().all(|r| store.resolve(&r.to_string()).is_ok_and(|image| image.id == id)).then(|| id.to_string())
}

/// Fetches a manifest or index by tag or digest: its bytes and digest (checked against the
/// digest asked for by the client).
async fn fetch_manifest(session: &Session, tag: Option<&str>, digest: Option<&str>) -> Result<(Vec<u8>, String), RegistryError> {
    let reference = session.reference(tag, digest);
    let accepted = [OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX, DOCKER_LIST, SCHEMA1[0], SCHEMA1[1]];
    let fetched = retrying(|| async {
        match session.client.pull_manifest_raw(&reference, &session.auth, &accepted).await {
            Ok(ok) => Ok(Ok(ok)),
            Err(OciDistributionError::DigestError(e)) => Ok(Err(e)),
            Err(e) => Err(session.error(e)),
        }
    })
    .await?;
    match (fetched, tag) {
        (Ok((bytes, digest)), _) => Ok((bytes.to_vec(), digest)),
        // A signed schema 1 manifest's digest is of its payload without the signatures, so it
        // never matches the bytes: look at them to say what it is.
        (Err(e), Some(tag)) if digest.is_none() => match parse_manifest(&session.raw_manifest(tag, &accepted).await?, session) {
            Err(schema1 @ RegistryError::Schema1(_)) => Err(schema1),
            _ => Err(RegistryError::from_digest_error(e)),
        },
        (Err(e), _) => Err(RegistryError::from_digest_error(e)),
    }
}

/// What a manifest is, refusing schema 1 and media types that are not images.
fn parse_manifest(bytes: &[u8], session: &Session) -> Result<Fetched, RegistryError> {
    let invalid = |message: String| RegistryError::Invalid { what: format!("manifest of {}", session.familiar), message };
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
    if value["schemaVersion"] == 1 || SCHEMA1.iter().any(|t| value["mediaType"] == *t) {
        return Err(RegistryError::Schema1(session.familiar.clone()));
    }
    let media_type = value["mediaType"].as_str().unwrap_or(if value.get("manifests").is_some() { OCI_INDEX } else { OCI_MANIFEST });
    match media_type {
        OCI_INDEX | DOCKER_LIST => Ok(Fetched::Index(Box::new(ImageIndex::from_reader(bytes).map_err(|e| invalid(e.to_string()))?))),
        OCI_MANIFEST | DOCKER_MANIFEST => Ok(Fetched::Image(Box::new(ImageManifest::from_reader(bytes).map_err(|e| invalid(e.to_string()))?))),
        other => Err(RegistryError::UnsupportedMediaType { media_type: other.to_string(), what: format!("the manifest of {}", session.familiar) }),
    }
}

/// Fetches the image config and checks its digest.
async fn fetch_config(session: &Session, manifest: &ImageManifest) -> Result<Vec<u8>, RegistryError> {
    let descriptor = manifest.config();
    let reference = session.reference(None, Some(descriptor.digest().as_ref()));
    let digest = descriptor.digest().to_string();
    let bytes = retrying(|| async {
        let stream = session.client.pull_blob_stream(&reference, &LayerDescriptor { digest: &digest, urls: &None }).await.map_err(|e| session.error(e))?;
        let chunks: Vec<bytes::Bytes> = stream.stream.try_collect().await.map_err(|e| RegistryError::Connect { url: session.base_url(), message: e.to_string() })?;
        Ok(chunks.concat())
    })
    .await?;
    let actual = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    if actual != digest {
        return Err(RegistryError::ManifestVerification(digest));
    }
    Ok(bytes)
}

/// Each layer's blob digest, size and diff_id, refusing layer types the store cannot unpack.
fn expected_layers(manifest: &ImageManifest, config: &[u8], session: &Session) -> Result<Vec<ExpectedLayer>, RegistryError> {
    let parsed = ImageConfiguration::from_reader(config).map_err(|e| RegistryError::Invalid { what: format!("image config of {}", session.familiar), message: e.to_string() })?;
    let diff_ids = parsed.rootfs().diff_ids();
    if diff_ids.len() != manifest.layers().len() {
        return Err(RegistryError::Invalid {
            what: format!("image {}", session.familiar),
            message: format!("its manifest has {} layers but its config lists {} diff_ids", manifest.layers().len(), diff_ids.len()),
        });
    }
    manifest
        .layers()
        .iter()
        .zip(diff_ids)
        .map(|(layer, diff_id)| {
            let media_type = layer.media_type().to_string();
            if !LAYER_TYPES.contains(&media_type.as_str()) {
                return Err(RegistryError::UnsupportedMediaType { media_type, what: format!("layer {} of {}", layer.digest(), session.familiar) });
            }
            Ok(ExpectedLayer { digest: layer.digest().to_string(), size: layer.size(), diff_id: diff_id.clone() })
        })
        .collect()
}

/// Downloads one layer into the staging, unpacking as it arrives; a broken connection resumes
/// where it stopped.
async fn download_layer(session: &Session, staging: &PullStaging, layer: ExpectedLayer, on_event: &(dyn Fn(PullEvent) + Sync)) -> Result<IngestedLayer, RegistryError> {
    let id = short(&layer.digest);
    let total = layer.size;
    let mut ingest = tokio::task::block_in_place(|| staging.ingest_layer(layer.clone()))?;
    let reference = session.reference(None, Some(&layer.digest));
    let descriptor = LayerDescriptor { digest: &layer.digest, urls: &None };
    let mut resumes = 0;
    loop {
        let offset = ingest.written();
        // A blob the client finds is not its digest is Docker's verification failure.
        let blob_error = |e: OciDistributionError| match e {
            OciDistributionError::DigestError(_) => RegistryError::Registry(format!("filesystem layer verification failed for digest {}", layer.digest)),
            other => session.error(other),
        };
        // Always a range request, from 0 at first: the ingest hashes the blob and checks its
        // digest itself (after a resume too), and oci-client hashes only full (200) responses,
        // so a partial (206) one is not hashed twice.
        let opened = retrying(|| async {
            match session.client.pull_blob_stream_partial(&reference, &descriptor, offset, Some(total - offset)).await.map_err(blob_error)? {
                BlobResponse::Partial(s) => Ok((s, 0)),
                // The registry does not do ranges: skip what arrived before.
                BlobResponse::Full(s) => Ok((s, offset)),
            }
        })
        .await;
        let (stream, skip) = opened?;
        match receive(stream, skip, &mut ingest, &id, total, on_event).await {
            Ok(()) => break,
            Err(Interrupted::Store(e)) => return Err(RegistryError::Registry(format!("writing layer {} into the image store: {e}", layer.digest))),
            // Short of the size, the connection dropped: resume. A complete blob that fails its
            // check is left to the verification below, which names the layer.
            Err(Interrupted::Network(_)) if ingest.written() < total && resumes < RESUMES => resumes += 1,
            Err(Interrupted::Network(_)) if ingest.written() >= total => break,
            Err(Interrupted::Network(e)) => {
                return Err(RegistryError::Connect { url: session.base_url(), message: format!("downloading layer {}: {e}", layer.digest) });
            }
        }
    }
    on_event(PullEvent::Layer { id: id.clone(), status: LayerStatus::VerifyingChecksum });
    on_event(PullEvent::Layer { id: id.clone(), status: LayerStatus::DownloadComplete });
    on_event(PullEvent::Layer { id: id.clone(), status: LayerStatus::Extracting });
    // Off this thread: it drives the other layers' downloads, which must not wait while this
    // one's unpacker catches up and its blob is synced.
    let ingested = tokio::task::spawn_blocking(move || ingest.finish())
        .await
        .map_err(|e| RegistryError::Registry(format!("finishing layer {}: {e}", layer.digest)))??;
    on_event(PullEvent::Layer { id, status: LayerStatus::PullComplete });
    Ok(ingested)
}

/// Why receiving a blob stopped early.
enum Interrupted {
    /// The connection failed.
    Network(std::io::Error),
    /// The store could not keep the bytes (disk full).
    Store(std::io::Error),
}

/// Hands a blob stream to the ingest (after skipping `skip` bytes already received), reporting
/// progress. The ingest's threads keep and unpack the chunks: this only waits (without blocking
/// its task) when they are behind.
async fn receive(mut stream: SizedStream, mut skip: u64, ingest: &mut xcompose_images::LayerIngest, id: &str, total: u64, on_event: &(dyn Fn(PullEvent) + Sync)) -> Result<(), Interrupted> {
    while let Some(chunk) = stream.stream.next().await {
        let mut chunk = chunk.map_err(Interrupted::Network)?;
        if skip > 0 {
            let n = skip.min(chunk.len() as u64) as usize;
            chunk = chunk.slice(n..);
            skip -= n as u64;
        }
        if chunk.is_empty() {
            continue;
        }
        if let Some(pending) = ingest.try_receive(chunk).map_err(Interrupted::Store)? {
            // Waiting off this task: it drives the other layers' downloads too, which would all
            // stop while this layer's unpacker catches up (block_in_place blocks the task).
            if !matches!(tokio::task::spawn_blocking(move || pending.wait()).await, Ok(Ok(()))) {
                return Err(Interrupted::Store(ingest.failure()));
            }
        }
        on_event(PullEvent::Layer { id: id.to_string(), status: LayerStatus::Downloading { current: ingest.written(), total } });
    }
    Ok(())
}
