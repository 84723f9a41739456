//! Choosing an image from an index (a manifest list): the host's platform, or the one asked for
//! (`linux/arm64`, `linux/arm/v7`), variant-aware as Docker's matcher is: `arm64` means `arm64/v8`,
//! and an entry without a variant serves any variant of its architecture when no exact one exists.

use oci_spec::image::{Descriptor, ImageIndex};

use crate::error::RegistryError;

/// A platform: `os/architecture[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// `amd64`, `arm64`, `arm`, ...
    pub architecture: String,
    /// `v7`, `v8`, ... (normalised: none for the architecture's default).
    pub variant: Option<String>,
}

impl Platform {
    /// This machine's platform, in Go's (Docker's) names.
    pub fn host() -> Self {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", None),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" => ("ppc64le", None),
            other => (other, None),
        };
        Self { os: "linux".into(), architecture: architecture.into(), variant: variant.map(Into::into) }
    }

    /// Parses `os/arch[/variant]` (compose's `platform:`, `--platform`).
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        let parts: Vec<&str> = text.split('/').collect();
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Self::normalised(os, arch, None)),
            [os, arch, variant] if !os.is_empty() && !arch.is_empty() && !variant.is_empty() => Ok(Self::normalised(os, arch, Some(variant))),
            _ => Err(RegistryError::Reference(format!("invalid platform {text:?}: expected os/architecture[/variant], e.g. linux/amd64"))),
        }
    }

    fn normalised(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        let architecture = match architecture.to_lowercase().as_str() {
            "x86_64" | "x86-64" => "amd64".to_string(),
            "aarch64" => "arm64".to_string(),
            other => other.to_string(),
        };
        let variant = variant.map(str::to_lowercase).filter(|v| !matches!((architecture.as_str(), v.as_str()), ("arm64", "v8") | ("amd64", "v1")));
        Self { os: os.to_lowercase(), architecture, variant }
    }

    fn of(descriptor: &Descriptor) -> Option<Self> {
        let p = descriptor.platform().as_ref()?;
        Some(Self::normalised(&p.os().to_string(), &p.architecture().to_string(), p.variant().as_deref()))
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The entry of `index` for `wanted`: an exact variant first, else one without a variant.
pub fn choose<'a>(index: &'a ImageIndex, wanted: &Platform) -> Result<&'a Descriptor, RegistryError> {
    let entries: Vec<(&Descriptor, Platform)> = index.manifests().iter().filter_map(|d| Some((d, Platform::of(d)?))).collect();
    let same_arch = |p: &Platform| p.os == wanted.os && p.architecture == wanted.architecture;
    let exact = entries.iter().find(|(_, p)| same_arch(p) && p.variant == wanted.variant);
    let loose = entries.iter().find(|(_, p)| same_arch(p) && (p.variant.is_none() || wanted.variant.is_none()));
    match exact.or(loose) {
        Some((d, _)) => Ok(d),
        None => Err(RegistryError::NoMatchingPlatform {
            wanted: wanted.to_string(),
            // Listed as the index names them (`linux/arm64/v8`), not normalised, so the user can
            // pass one back to `--platform` as written.
            available: index.manifests().iter().filter_map(listed).filter(|p| p != "unknown/unknown").collect(),
        }),
    }
}

/// An index entry's platform as the index writes it: `os/architecture[/variant]`.
fn listed(descriptor: &Descriptor) -> Option<String> {
    let p = descriptor.platform().as_ref()?;
    let variant = p.variant().as_deref().filter(|v| !v.is_empty()).map(|v| format!("/{v}")).unwrap_or_default();
    Some(format!("{}/{}{variant}", p.os(), p.architecture()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(platforms: &[(&str, &str, Option<&str>)]) -> ImageIndex {
        let manifests: Vec<serde_json::Value> = platforms
            .iter()
            .enumerate()
            .map(|(i, (os, arch, variant))| {
                let mut platform = serde_json::json!({ "os": os, "architecture": arch });
                if let Some(v) = variant {
                    platform["variant"] = serde_json::json!(v);
                }
                serde_json::json!({
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": format!("sha256:{}", format!("{i}").repeat(64)),
                    "size": 100, "platform": platform
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({ "schemaVersion": 2, "manifests": manifests })).unwrap()
    }

    fn chosen(index: &ImageIndex, wanted: &str) -> Result<usize, RegistryError> {
        let d = choose(index, &Platform::parse(wanted)?)?;
        Ok(index.manifests().iter().position(|m| m.digest() == d.digest()).unwrap())
    }

    #[test]
    fn picks_the_platform_with_its_variant() {
        let idx = index(&[("linux", "arm", Some("v6")), ("linux", "arm", Some("v7")), ("linux", "amd64", None), ("linux", "arm64", Some("v8"))]);
        assert_eq!(chosen(&idx, "linux/amd64").unwrap(), 2);
        assert_eq!(chosen(&idx, "linux/arm/v7").unwrap(), 1);
        assert_eq!(chosen(&idx, "linux/arm/v6").unwrap(), 0);
        assert_eq!(chosen(&idx, "linux/arm64").unwrap(), 3, "arm64 is arm64/v8");
        assert_eq!(chosen(&idx, "linux/aarch64").unwrap(), 3);
        assert_eq!(Platform::host().to_string(), if cfg!(target_arch = "x86_64") { "linux/amd64" } else { "linux/arm64" });
    }

    #[test]
    fn a_missing_platform_lists_the_available_ones() {
        let idx = index(&[("linux", "arm64", Some("v8")), ("linux", "s390x", None)]);
        let err = chosen(&idx, "linux/amd64").unwrap_err().to_string();
        assert_eq!(err, "no matching manifest for linux/amd64 in the manifest list entries (available: linux/arm64/v8, linux/s390x)");
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux//v7").is_err());
    }
}
