//! The store's `index.json`: which references name which image manifest, and which images have
//! no reference at all (Docker's dangling `<none>:<none>` images).

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use serde::{Deserialize, Serialize};

/// The images of a store, by manifest digest.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Index {
    /// Full reference (`docker.io/library/busybox:latest`) -> manifest digest.
    pub references: BTreeMap<String, String>,
    /// Manifest digests of images that no reference names.
    #[serde(default)]
    pub untagged: BTreeSet<String>,
}

/// `index.json` as written before untagged images were kept: only the reference map.
#[derive(Deserialize)]
#[serde(untagged)]
enum OnDisk {
    Current(Index),
    ReferencesOnly(BTreeMap<String, String>),
}

impl Index {
    /// Parses the text of an `index.json`.
    pub fn parse(bytes: &[u8]) -> Result<Self, IndexError> {
        match serde_json::from_slice(bytes).map_err(|e| IndexError::Corrupt(e.to_string()))? {
            OnDisk::Current(index) => Ok(index),
            OnDisk::ReferencesOnly(references) => Ok(Self { references, untagged: BTreeSet::new() }),
        }
    }

    /// The JSON written to `index.json`.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("maps and sets of strings serialise")
    }

    /// Every image's manifest digest, tagged or not.
    pub fn manifests(&self) -> BTreeSet<String> {
        self.references.values().chain(&self.untagged).cloned().collect()
    }

    /// The references naming `manifest`.
    pub fn references_of(&self, manifest: &str) -> Vec<String> {
        self.references.iter().filter(|(_, m)| *m == manifest).map(|(r, _)| r.clone()).collect()
    }

    /// Points `reference` at `manifest`. Returns the manifest it named before, if another; that
    /// image becomes untagged when this was its last reference, as in Docker.
    pub fn set_reference(&mut self, reference: &str, manifest: &str) -> Option<String> {
        self.untagged.remove(manifest);
        let previous = self.references.insert(reference.to_string(), manifest.to_string()).filter(|p| p != manifest)?;
        if self.references_of(&previous).is_empty() {
            self.untagged.insert(previous.clone());
        }
        Some(previous)
    }

    /// Keeps `manifest` as an image even though no reference names it (yet).
    pub fn keep_untagged(&mut self, manifest: &str) {
        if self.references_of(manifest).is_empty() {
            self.untagged.insert(manifest.to_string());
        }
    }
}

/// Why `index.json` could not be read.
#[derive(Debug)]
pub(crate) enum IndexError {
    /// Reading failed.
    Io(io::Error),
    /// It is not an index.
    Corrupt(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_displaced_image_becomes_untagged_only_without_other_references() {
        let mut index = Index::default();
        assert_eq!(index.set_reference("a:1", "m1"), None);
        index.set_reference("a:2", "m1");
        assert_eq!(index.set_reference("a:1", "m2"), Some("m1".into()));
        assert!(index.untagged.is_empty(), "m1 keeps a:2");
        assert_eq!(index.set_reference("a:2", "m2"), Some("m1".into()));
        assert_eq!(index.untagged, BTreeSet::from(["m1".to_string()]));
        assert_eq!(index.set_reference("a:3", "m1"), None);
        assert!(index.untagged.is_empty(), "a new reference tags it again");
        assert_eq!(index.manifests(), BTreeSet::from(["m1".to_string(), "m2".to_string()]));
    }

    #[test]
    fn reads_the_references_only_form() {
        let index = Index::parse(br#"{"docker.io/library/busybox:latest": "sha256:aa"}"#).unwrap();
        assert_eq!(index.references_of("sha256:aa"), vec!["docker.io/library/busybox:latest"]);
        assert_eq!(Index::parse(&index.to_json()).unwrap(), index);
        assert!(matches!(Index::parse(b"[1]"), Err(IndexError::Corrupt(_))));
    }
}
