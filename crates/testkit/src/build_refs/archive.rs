//! Reading an image archive (`docker save` / `buildah push docker-archive:` / `xcompose image
//! save`, or an OCI image layout in a tar): its configuration and its layers applied in order.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use anyhow::Context as _;
use serde_json::Value;

use super::fs_tree::{FsTree, TreeEntry};

/// What an image archive holds: the image configuration (the whole JSON document) and the
/// filesystem its layers make.
#[derive(Debug)]
pub struct ArchiveImage {
    /// The image configuration (`{"config": {...}, "rootfs": ..., "history": ...}`).
    pub config: Value,
    /// The final filesystem, sorted by path.
    pub tree: Vec<TreeEntry>,
}

/// Reads the single image of the archive at `path`: `manifest.json` (docker-archive) if there is
/// one, else `index.json` (OCI layout). Layers may be plain, gzip or zstd tars.
pub fn read_image_archive(path: &Path) -> anyhow::Result<ArchiveImage> {
    Ok(read(path, None)?.0)
}

/// The contents of the regular file at `file` (absolute) in the image of the archive at
/// `path`, or `None` if there is no such file.
pub fn file_contents(path: &Path, file: &str) -> anyhow::Result<Option<Vec<u8>>> {
    Ok(read(path, Some(file))?.1)
}

fn read(path: &Path, capture: Option<&str>) -> anyhow::Result<(ArchiveImage, Option<Vec<u8>>)> {
    let files = read_all(path)?;
    let get = |name: &str| -> anyhow::Result<&Vec<u8>> {
        resolve(&files, name)
            .with_context(|| format!("{}: no {name} in the archive", path.display()))
    };
    let (config_name, layer_names) = if let Ok(manifest) = get("manifest.json") {
        let manifest: Value = serde_json::from_slice(manifest).context("parsing manifest.json")?;
        let image = manifest
            .as_array()
            .and_then(|images| images.first())
            .context("manifest.json lists no image")?;
        let config = image["Config"]
            .as_str()
            .context("manifest.json: no Config")?
            .to_string();
        let layers = strings(&image["Layers"]);
        (config, layers)
    } else {
        let index: Value =
            serde_json::from_slice(get("index.json")?).context("parsing index.json")?;
        let digest = index["manifests"][0]["digest"]
            .as_str()
            .context("index.json lists no manifest")?;
        let manifest: Value =
            serde_json::from_slice(get(&blob(digest))?).context("parsing the OCI manifest")?;
        let config = blob(
            manifest["config"]["digest"]
                .as_str()
                .context("manifest: no config")?,
        );
        let layers = manifest["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|layer| layer["digest"].as_str().map(blob))
            .collect();
        (config, layers)
    };
    let config: Value =
        serde_json::from_slice(get(&config_name)?).context("parsing the image configuration")?;
    let mut tree = FsTree::new();
    if let Some(file) = capture {
        tree.capture(file);
    }
    for name in &layer_names {
        let bytes = get(name)?;
        tree.apply_layer(decompress(bytes)?)
            .with_context(|| format!("{}: layer {name}", path.display()))?;
    }
    let captured = tree.captured().map(<[u8]>::to_vec);
    let image = ArchiveImage {
        config,
        tree: tree.into_entries(),
    };
    Ok((image, captured))
}

/// `sha256:HEX` -> `blobs/sha256/HEX`.
fn blob(digest: &str) -> String {
    format!("blobs/{}", digest.replacen(':', "/", 1))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// An archive member: its bytes, or the path a symlink member points to.
enum Member {
    Data(Vec<u8>),
    Link(String),
}

fn read_all(path: &Path) -> anyhow::Result<HashMap<String, Member>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(file));
    let mut files = HashMap::new();
    for entry in archive
        .entries()
        .with_context(|| format!("reading {}", path.display()))?
    {
        let mut entry = entry?;
        let name = clean(&entry.path()?.to_string_lossy());
        if entry.header().entry_type().is_symlink() {
            let target = entry.link_name()?.context("symlink without target")?;
            let target = target.to_string_lossy();
            let base = name
                .rsplit_once('/')
                .map(|(dir, _)| dir.to_string())
                .unwrap_or_default();
            files.insert(name, Member::Link(clean(&format!("{base}/{target}"))));
        } else if entry.header().entry_type().is_file() {
            let mut data = Vec::new();
            entry.read_to_end(&mut data)?;
            files.insert(name, Member::Data(data));
        }
    }
    Ok(files)
}

/// A member's bytes, following symlinks inside the archive (buildah's `ID/layer.tar -> ../X.tar`).
fn resolve<'a>(files: &'a HashMap<String, Member>, name: &str) -> Option<&'a Vec<u8>> {
    let mut name = clean(name);
    for _ in 0..8 {
        match files.get(&name)? {
            Member::Data(data) => return Some(data),
            Member::Link(target) => name = target.clone(),
        }
    }
    None
}

/// A relative path with `.` and `..` resolved and no leading `./` or `/`.
fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// A reader of the uncompressed tar in `bytes`: gzip and zstd are recognised by their magic.
fn decompress(bytes: &[u8]) -> anyhow::Result<Box<dyn Read + '_>> {
    Ok(if bytes.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(bytes))
    } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::Decoder::new(bytes)?)
    } else {
        Box::new(bytes)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(builder: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_size(data.len() as u64);
        builder.append_data(&mut header, path, data).unwrap();
    }

    fn layer(path: &str, data: &[u8]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        append(&mut builder, path, data);
        builder.into_inner().unwrap()
    }

    #[test]
    fn a_docker_archive_with_linked_and_gzipped_layers_is_read_in_order() {
        let mut gzipped = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gzipped, &layer("etc/motd", b"second")).unwrap();
        let mut archive = tar::Builder::new(Vec::new());
        append(
            &mut archive,
            "manifest.json",
            br#"[{"Config":"c.json","Layers":["id1/layer.tar","l2.tar.gz"]}]"#,
        );
        append(
            &mut archive,
            "c.json",
            br#"{"config":{"Cmd":["sh"],"Volumes":{}},"author":"me"}"#,
        );
        append(&mut archive, "l1.tar", &layer("etc/motd", b"first"));
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        archive
            .append_link(&mut link, "id1/layer.tar", "../l1.tar")
            .unwrap();
        append(&mut archive, "l2.tar.gz", &gzipped.finish().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image.tar");
        std::fs::write(&path, archive.into_inner().unwrap()).unwrap();

        let image = read_image_archive(&path).unwrap();
        assert_eq!(image.config["config"]["Cmd"][0], "sh");
        assert_eq!(image.tree.len(), 1);
        assert_eq!(
            file_contents(&path, "/etc/motd").unwrap().as_deref(),
            Some(&b"second"[..])
        );
        let built = super::super::BuiltImage::from_archive(image);
        assert_eq!(
            built.config["Volumes"],
            Value::Null,
            "an empty map is no value"
        );
        assert_eq!(built.config["Author"], "me");
    }
}
