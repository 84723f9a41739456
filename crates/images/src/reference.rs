//! Image references as Docker reads them: `busybox` is `docker.io/library/busybox:latest`.

use std::fmt;

/// A normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference {
    /// Registry host (`docker.io`, `localhost:5000`).
    pub registry: String,
    /// Repository path (`library/busybox`).
    pub repository: String,
    /// Tag (`latest` when none is given and there is no digest).
    pub tag: Option<String>,
    /// Digest (`sha256:...`), if pinned.
    pub digest: Option<String>,
}

const DEFAULT_REGISTRY: &str = "docker.io";

impl Reference {
    /// Parses and normalises `text`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = || format!("invalid reference format: {text:?}");
        if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_ascii_uppercase() && !text.contains('@')) {
            return Err(invalid());
        }
        let (name, digest) = match text.split_once('@') {
            Some((n, d)) if d.starts_with("sha256:") && d.len() == 71 => (n, Some(d.to_string())),
            Some(_) => return Err(invalid()),
            None => (text, None),
        };
        let (name, tag) = match name.rfind(':') {
            Some(i) if !name[i + 1..].contains('/') => (&name[..i], Some(name[i + 1..].to_string())),
            _ => (name, None),
        };
        if name.is_empty() || name.starts_with('/') || name.ends_with('/') || tag.as_deref() == Some("") {
            return Err(invalid());
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => (first.to_string(), rest.to_string()),
            _ => (DEFAULT_REGISTRY.to_string(), name.to_string()),
        };
        let repository = if registry == DEFAULT_REGISTRY && !repository.contains('/') { format!("library/{repository}") } else { repository };
        let tag = if tag.is_none() && digest.is_none() { Some("latest".into()) } else { tag };
        Ok(Self { registry, repository, tag, digest })
    }

    /// The repository as Docker shows it (`busybox`, `localhost:5000/app`).
    pub fn short_repository(&self) -> String {
        if self.registry == DEFAULT_REGISTRY {
            self.repository.strip_prefix("library/").unwrap_or(&self.repository).to_string()
        } else {
            format!("{}/{}", self.registry, self.repository)
        }
    }

    /// The reference as Docker prints it (`busybox:latest`, `localhost:5000/app@sha256:...`).
    pub fn familiar(&self) -> String {
        let mut out = self.short_repository();
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
        out
    }
}

impl fmt::Display for Reference {
    /// The full form, as stored: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_docker() {
        assert_eq!(Reference::parse("busybox").unwrap().to_string(), "docker.io/library/busybox:latest");
        assert_eq!(Reference::parse("busybox:1.36").unwrap().to_string(), "docker.io/library/busybox:1.36");
        assert_eq!(Reference::parse("me/app").unwrap().to_string(), "docker.io/me/app:latest");
        assert_eq!(Reference::parse("localhost:5000/app:1").unwrap().to_string(), "localhost:5000/app:1");
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(Reference::parse(&format!("busybox@{d}")).unwrap().to_string(), format!("docker.io/library/busybox@{d}"));
        assert_eq!(Reference::parse("busybox").unwrap().short_repository(), "busybox");
        assert_eq!(Reference::parse("localhost:5000/app").unwrap().short_repository(), "localhost:5000/app");
        assert_eq!(Reference::parse("docker.io/library/busybox").unwrap().familiar(), "busybox:latest");
        assert_eq!(Reference::parse("localhost:5000/app:1").unwrap().familiar(), "localhost:5000/app:1");
        for bad in ["", "Busybox", "a b", "app:", "/app", "app@sha256:short"] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }
}
