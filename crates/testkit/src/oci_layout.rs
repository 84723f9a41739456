//! Test images as OCI image layouts (`oci-layout`, `index.json`, `blobs/sha256/...`), the form
//! `skopeo copy oci:DIR:TAG docker://...` pushes to a [`crate::Registry`].
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! use xcompose_testkit::{Layer, OciLayout, TestImage};
//! let image = TestImage::busybox()?
//!     .layer(Layer::zstd().file("etc/motd", "hello\n", 0o644).whiteout("bin/vi"))
//!     .cmd(&["sleep", "infinity"]);
//! let layout = OciLayout::create(std::path::Path::new("/tmp/layout"))?;
//! let written = layout.add_image(&image, "v1")?;
//! println!("image ID {}", written.config_digest);
//! # Ok(())
//! # }
//! ```

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::layer::{Layer, WrittenLayer};

/// OCI media type of an image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI media type of an image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI media type of an image configuration.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// The `created` time of every test image (2000-01-01, as the busybox rootfs's files).
const CREATED: &str = "2000-01-01T00:00:00Z";

/// What a test image is: its layers, platform and run configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TestImage {
    layers: Vec<Layer>,
    architecture: String,
    variant: Option<String>,
    cmd: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    env: Vec<String>,
    working_dir: Option<String>,
    user: Option<String>,
    labels: Vec<(String, String)>,
    /// Layer indexes whose `diff_ids` entry is replaced by a wrong digest.
    wrong_diff_ids: Vec<usize>,
    /// Layer indexes whose manifest descriptor names another media type.
    layer_media_types: Vec<(usize, String)>,
}

impl TestImage {
    /// An image of no layers for linux/amd64 with busybox's `PATH`.
    pub fn empty() -> TestImage {
        TestImage {
            layers: Vec::new(),
            architecture: "amd64".into(),
            variant: None,
            cmd: None,
            entrypoint: None,
            env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
            working_dir: None,
            user: None,
            labels: Vec::new(),
            wrong_diff_ids: Vec::new(),
            layer_media_types: Vec::new(),
        }
    }

    /// The busybox test image ([`crate::busybox_image_tar`]) as one gzip layer, `CMD ["sh"]`.
    pub fn busybox() -> anyhow::Result<TestImage> {
        let tar = crate::busybox_image_tar()?;
        Ok(TestImage::empty().layer(Layer::from_tar(&tar)).cmd(&["sh"]))
    }

    /// Adds a layer on top.
    pub fn layer(mut self, layer: Layer) -> TestImage {
        self.layers.push(layer);
        self
    }

    /// Sets the platform's architecture (`amd64`, `arm64`, ...) and variant (`v8`, ...).
    pub fn platform(mut self, architecture: &str, variant: Option<&str>) -> TestImage {
        self.architecture = architecture.into();
        self.variant = variant.map(str::to_string);
        self
    }

    /// Sets `Cmd`.
    pub fn cmd(mut self, cmd: &[&str]) -> TestImage {
        self.cmd = Some(cmd.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Sets `Entrypoint`.
    pub fn entrypoint(mut self, entrypoint: &[&str]) -> TestImage {
        self.entrypoint = Some(entrypoint.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Adds an `Env` entry (`NAME=value`).
    pub fn env(mut self, entry: &str) -> TestImage {
        self.env.push(entry.into());
        self
    }

    /// Sets `WorkingDir`.
    pub fn working_dir(mut self, dir: &str) -> TestImage {
        self.working_dir = Some(dir.into());
        self
    }

    /// Sets `User`.
    pub fn user(mut self, user: &str) -> TestImage {
        self.user = Some(user.into());
        self
    }

    /// Adds a label.
    pub fn label(mut self, key: &str, value: &str) -> TestImage {
        self.labels.push((key.into(), value.into()));
        self
    }

    /// Makes the config's `rootfs.diff_ids[index]` wrong (the digest of nothing), so a client
    /// that checks the unpacked layer against it must refuse the image.
    pub fn wrong_diff_id(mut self, index: usize) -> TestImage {
        self.wrong_diff_ids.push(index);
        self
    }

    /// Makes the manifest name `media_type` for layer `index` (the blob stays as it is), for
    /// clients to refuse a layer type they do not know.
    pub fn layer_media_type(mut self, index: usize, media_type: &str) -> TestImage {
        self.layer_media_types.push((index, media_type.into()));
        self
    }

    /// The media type the manifest gives layer `index` written as `layer`.
    fn descriptor_media_type(&self, index: usize, layer: &WrittenLayer) -> String {
        self.layer_media_types
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, media_type)| media_type.clone())
            .unwrap_or_else(|| layer.media_type.to_string())
    }

    /// The `os`/`architecture`/`variant` platform object of this image.
    fn platform_json(&self) -> Value {
        let mut platform = json!({"architecture": self.architecture, "os": "linux"});
        if let Some(variant) = &self.variant {
            platform["variant"] = json!(variant);
        }
        platform
    }

    /// The image configuration for layers with `diff_ids`.
    fn config_json(&self, mut diff_ids: Vec<String>) -> Value {
        for &index in &self.wrong_diff_ids {
            if let Some(diff_id) = diff_ids.get_mut(index) {
                *diff_id = format!("sha256:{}", hex::encode(Sha256::digest(b"")));
            }
        }
        let mut config = json!({"Env": self.env});
        if let Some(cmd) = &self.cmd {
            config["Cmd"] = json!(cmd);
        }
        if let Some(entrypoint) = &self.entrypoint {
            config["Entrypoint"] = json!(entrypoint);
        }
        if let Some(dir) = &self.working_dir {
            config["WorkingDir"] = json!(dir);
        }
        if let Some(user) = &self.user {
            config["User"] = json!(user);
        }
        if !self.labels.is_empty() {
            let labels: serde_json::Map<String, Value> = self
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            config["Labels"] = Value::Object(labels);
        }
        let history: Vec<Value> = self
            .layers
            .iter()
            .map(|_| json!({"created": CREATED, "created_by": "xcompose-testkit"}))
            .collect();
        let mut image = self.platform_json();
        image["created"] = json!(CREATED);
        image["config"] = config;
        image["rootfs"] = json!({"type": "layers", "diff_ids": diff_ids});
        image["history"] = json!(history);
        image
    }
}

/// An image written into a layout: the digests tests compare with what clients pulled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenImage {
    /// `sha256:...` of the manifest.
    pub manifest_digest: String,
    /// Size of the manifest in bytes.
    pub manifest_size: u64,
    /// `sha256:...` of the config: the image ID Docker shows.
    pub config_digest: String,
    /// The config's `rootfs.diff_ids` (as written, wrong ones included).
    pub diff_ids: Vec<String>,
    /// The layers as stored.
    pub layers: Vec<WrittenLayer>,
    /// The platform (`{"architecture", "os", "variant"?}`).
    pub platform: Value,
}

/// An index written into a layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenIndex {
    /// `sha256:...` of the index.
    pub digest: String,
    /// The images it lists, in order.
    pub images: Vec<WrittenImage>,
}

/// An OCI image layout directory being written.
pub struct OciLayout {
    dir: PathBuf,
}

impl OciLayout {
    /// Creates (or opens) the layout at `dir`: `oci-layout`, `blobs/sha256/`, and an empty
    /// `index.json` unless one is there.
    pub fn create(dir: &Path) -> anyhow::Result<OciLayout> {
        std::fs::create_dir_all(dir.join("blobs/sha256"))
            .with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)?;
        let layout = OciLayout {
            dir: dir.to_path_buf(),
        };
        if !dir.join("index.json").exists() {
            layout.write_index(json!({"schemaVersion": 2, "manifests": []}))?;
        }
        Ok(layout)
    }

    /// The layout's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where blob `sha256:HEX` is.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.dir.join("blobs/sha256").join(hex)
    }

    /// Writes the image's layers, config and manifest and tags the manifest `tag`.
    pub fn add_image(&self, image: &TestImage, tag: &str) -> anyhow::Result<WrittenImage> {
        let written = self.write_image(image)?;
        self.tag(
            OCI_MANIFEST,
            &written.manifest_digest,
            written.manifest_size,
            tag,
        )?;
        Ok(written)
    }

    /// Writes each image and an index listing them with their platforms, tagged `tag`.
    pub fn add_index(&self, images: &[TestImage], tag: &str) -> anyhow::Result<WrittenIndex> {
        let images = images
            .iter()
            .map(|image| self.write_image(image))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let manifests: Vec<Value> = images
            .iter()
            .map(|image| {
                json!({
                    "mediaType": OCI_MANIFEST,
                    "digest": image.manifest_digest,
                    "size": image.manifest_size,
                    "platform": image.platform,
                })
            })
            .collect();
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
        let (digest, size) = self.put_json(&index)?;
        self.tag(OCI_INDEX, &digest, size, tag)?;
        Ok(WrittenIndex { digest, images })
    }

    fn write_image(&self, image: &TestImage) -> anyhow::Result<WrittenImage> {
        let mut layers = Vec::new();
        for layer in &image.layers {
            let staging = tempfile::NamedTempFile::new_in(self.dir.join("blobs/sha256"))?;
            let written = layer.write(staging.path())?;
            // Blobs are world-readable, as in layouts other tools write (tempfile makes 0600).
            std::fs::set_permissions(staging.path(), std::fs::Permissions::from_mode(0o644))?;
            staging
                .persist(self.blob_path(&written.digest))
                .context("moving a layer blob into place")?;
            layers.push(written);
        }
        let config = image.config_json(layers.iter().map(|l| l.diff_id.clone()).collect());
        let diff_ids = config["rootfs"]["diff_ids"]
            .as_array()
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| id.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let (config_digest, config_size) = self.put_json(&config)?;
        let layer_descriptors: Vec<Value> = layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                json!({"mediaType": image.descriptor_media_type(i, l), "digest": l.digest, "size": l.size})
            })
            .collect();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
            "layers": layer_descriptors,
        });
        let (manifest_digest, manifest_size) = self.put_json(&manifest)?;
        Ok(WrittenImage {
            manifest_digest,
            manifest_size,
            config_digest,
            diff_ids,
            layers,
            platform: image.platform_json(),
        })
    }

    /// Stores `value` as a blob; its digest and size.
    fn put_json(&self, value: &Value) -> anyhow::Result<(String, u64)> {
        let bytes = serde_json::to_vec(value)?;
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        std::fs::write(self.blob_path(&digest), &bytes)?;
        Ok((digest, bytes.len() as u64))
    }

    /// Points `tag` (`org.opencontainers.image.ref.name`) at a manifest or index, replacing
    /// what it named before.
    fn tag(&self, media_type: &str, digest: &str, size: u64, tag: &str) -> anyhow::Result<()> {
        let path = self.dir.join("index.json");
        let mut index: Value = serde_json::from_slice(&std::fs::read(&path)?)?;
        let manifests = index["manifests"]
            .as_array_mut()
            .context("index.json has no manifests array")?;
        manifests.retain(|m| m["annotations"]["org.opencontainers.image.ref.name"] != tag);
        manifests.push(json!({
            "mediaType": media_type,
            "digest": digest,
            "size": size,
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }));
        self.write_index(index)
    }

    fn write_index(&self, index: Value) -> anyhow::Result<()> {
        let path = self.dir.join("index.json");
        std::fs::write(&path, serde_json::to_vec(&index)?)
            .with_context(|| format!("writing {}", path.display()))
    }
}
