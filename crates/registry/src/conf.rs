//! Where an image is pulled from: `registries.conf` (version 2, the format podman, skopeo and
//! buildah read). Each `[[registry]]` has a `prefix` (a registry, or a repository within one, or
//! `*.example.com`), the `location` to use instead, `insecure`, `blocked`, and `[[registry.mirror]]`
//! entries tried first, in order. The longest matching prefix wins.
//!
//! Without a word from the file, a registry on 127.0.0.0/8 is insecure, as Docker has it (HTTPS
//! without verification, then plain HTTP); `insecure = false` makes one verify its certificate.
//!
//! The file is `XCOMPOSE_REGISTRIES_CONF` if set, else `~/.config/containers/registries.conf` if
//! it exists, else `/etc/containers/registries.conf` if it exists; with none, every image comes
//! from the registry its name says.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use xcompose_images::Reference;

use crate::error::RegistryError;

/// The registries configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registries {
    entries: Vec<Entry>,
}

/// One `[[registry]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Entry {
    prefix: Option<String>,
    location: Option<String>,
    /// Unset: Docker's default (insecure only on 127.0.0.0/8).
    insecure: Option<bool>,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    mirror: Vec<Mirror>,
}

/// One `[[registry.mirror]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct Mirror {
    location: String,
    #[serde(default)]
    insecure: bool,
}

/// The file's top level; other keys (`unqualified-search-registries`, aliases...) are not used
/// here: Docker's names are always fully qualified once normalised.
#[derive(Deserialize)]
struct FileContent {
    #[serde(default)]
    registry: Vec<Entry>,
}

/// A place to fetch an image from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The registry host (`127.0.0.1:5000`, `docker.io`).
    pub host: String,
    /// The repository on that registry (`library/redis`).
    pub repository: String,
    /// Whether plain HTTP and unverified TLS may be used (after HTTPS was tried, as Docker does).
    pub insecure: bool,
    /// Whether this is a mirror (a failure there falls back to the next endpoint).
    pub mirror: bool,
}

impl Registries {
    /// Reads the configuration from where it is found (see the module documentation).
    pub fn load() -> Result<Self, RegistryError> {
        match Self::path() {
            Some(path) => Self::read(&path),
            None => Ok(Self::default()),
        }
    }

    /// The file used, if any.
    pub fn path() -> Option<PathBuf> {
        if let Some(path) = std::env::var_os("XCOMPOSE_REGISTRIES_CONF") {
            return Some(PathBuf::from(path));
        }
        let user = std::env::var_os("HOME").map(|h| Path::new(&h).join(".config/containers/registries.conf"));
        user.into_iter().chain([PathBuf::from("/etc/containers/registries.conf")]).find(|p| p.is_file())
    }

    /// Reads `path`.
    pub fn read(path: &Path) -> Result<Self, RegistryError> {
        let text = std::fs::read_to_string(path).map_err(|e| RegistryError::Config(format!("reading {}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| RegistryError::Config(format!("{}: {e}", path.display())))
    }

    /// Parses registries.conf content.
    pub fn parse(text: &str) -> Result<Self, String> {
        let content: FileContent = toml::from_str(text).map_err(|e| e.message().to_string())?;
        for entry in &content.registry {
            if entry.prefix.is_none() && entry.location.is_none() {
                return Err("a [[registry]] needs a prefix or a location".into());
            }
        }
        Ok(Self { entries: content.registry })
    }

    /// Where to fetch `reference` from: its mirrors first, then its location. Refused when its
    /// registry is blocked.
    pub fn endpoints(&self, reference: &Reference) -> Result<Vec<Endpoint>, RegistryError> {
        let name = format!("{}/{}", reference.registry, reference.repository);
        let best = self.entries.iter().filter_map(|e| Some((e, matched_len(e.prefix.as_deref().or(e.location.as_deref())?, &name)?))).max_by_key(|(_, len)| *len);
        let Some((entry, len)) = best else {
            return Ok(vec![endpoint(&name, default_insecure(&reference.registry), false)]);
        };
        if entry.blocked {
            return Err(RegistryError::Blocked(name));
        }
        // A wildcard prefix names only the host: the name is kept as it is.
        let rest = &name[len..];
        let located = |location: &str| if entry.prefix.as_deref().is_some_and(|p| p.starts_with("*.")) { name.clone() } else { format!("{location}{rest}") };
        let mut out: Vec<Endpoint> = entry.mirror.iter().map(|m| endpoint(&located(&m.location), m.insecure, true)).collect();
        let location = entry.location.clone().unwrap_or_else(|| name[..len].to_string());
        // An explicit `insecure = false` makes even a loopback registry verify its certificate.
        let insecure = entry.insecure.unwrap_or_else(|| default_insecure(&location));
        out.push(endpoint(&located(&location), insecure, false));
        Ok(out)
    }
}

/// How much of `name` (`host/path/repo`) `prefix` matches, on a path boundary; `None` if not.
fn matched_len(prefix: &str, name: &str) -> Option<usize> {
    if let Some(domain) = prefix.strip_prefix("*.") {
        let host = name.split('/').next()?;
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        return host.ends_with(&format!(".{domain}")).then_some(host.len());
    }
    let prefix = prefix.trim_end_matches('/');
    let boundary = name.len() == prefix.len() || name[prefix.len()..].starts_with('/');
    (name.starts_with(prefix) && boundary).then_some(prefix.len())
}

fn endpoint(name: &str, insecure: bool, mirror: bool) -> Endpoint {
    let (host, repository) = name.split_once('/').unwrap_or((name, ""));
    Endpoint { host: host.to_string(), repository: repository.to_string(), insecure, mirror }
}

/// Docker treats registries on 127.0.0.0/8 as insecure without being told to.
fn default_insecure(host: &str) -> bool {
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(conf: &str, name: &str) -> Vec<Endpoint> {
        Registries::parse(conf).unwrap().endpoints(&Reference::parse(name).unwrap()).unwrap()
    }

    #[test]
    fn without_configuration_the_name_says_where() {
        let got = Registries::default().endpoints(&Reference::parse("redis").unwrap()).unwrap();
        assert_eq!(got, vec![Endpoint { host: "docker.io".into(), repository: "library/redis".into(), insecure: false, mirror: false }]);
        let got = Registries::default().endpoints(&Reference::parse("127.0.0.1:5000/app").unwrap()).unwrap();
        assert!(got[0].insecure, "loopback registries are insecure by default, as in Docker");
    }

    #[test]
    fn the_longest_prefix_wins_and_mirrors_come_first() {
        let conf = r#"
            unqualified-search-registries = ["docker.io"]
            [[registry]]
            prefix = "docker.io"
            location = "127.0.0.1:5000"
            [[registry]]
            prefix = "docker.io/library/nginx"
            location = "mirror.test:443/web/nginx"
            insecure = true
            [[registry.mirror]]
            location = "10.0.0.1:5000/nginx"
            insecure = true
        "#;
        let redis = endpoints(conf, "redis:alpine");
        assert_eq!(redis, vec![Endpoint { host: "127.0.0.1:5000".into(), repository: "library/redis".into(), insecure: true, mirror: false }]);
        let nginx = endpoints(conf, "nginx");
        assert_eq!(nginx.len(), 2);
        assert_eq!((nginx[0].host.as_str(), nginx[0].repository.as_str(), nginx[0].mirror), ("10.0.0.1:5000", "nginx", true));
        assert_eq!((nginx[1].host.as_str(), nginx[1].repository.as_str(), nginx[1].insecure), ("mirror.test:443", "web/nginx", true));
        // A prefix matches on a path boundary only.
        assert_eq!(endpoints(conf, "nginxx")[0].repository, "library/nginxx");
        assert_eq!(endpoints(conf, "nginxx")[0].host, "127.0.0.1:5000");
    }

    #[test]
    fn a_wildcard_prefix_matches_subdomains_and_blocked_registries_are_refused() {
        let conf = r#"
            [[registry]]
            prefix = "*.corp.test"
            insecure = true
            [[registry]]
            location = "blocked.test"
            blocked = true
        "#;
        let got = endpoints(conf, "registry.corp.test/team/app:1");
        assert_eq!((got[0].host.as_str(), got[0].repository.as_str(), got[0].insecure), ("registry.corp.test", "team/app", true));
        let err = Registries::parse(conf).unwrap().endpoints(&Reference::parse("blocked.test/app").unwrap()).unwrap_err();
        let secure = endpoints("[[registry]]\nlocation = \"127.0.0.1:5000\"\ninsecure = false\n", "127.0.0.1:5000/app");
        assert!(!secure[0].insecure, "an explicit insecure = false holds for a loopback registry too");
        assert_eq!(err.to_string(), "registry blocked.test/app is blocked in registries.conf");
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        assert!(Registries::parse("[[registry]]\ninsecure = true\n").unwrap_err().contains("prefix or a location"));
        assert!(Registries::parse("[[registry]]\nprefix = 3\n").is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registries.conf");
        std::fs::write(&path, "[[registry]\n").unwrap();
        let err = Registries::read(&path).unwrap_err().to_string();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
    }
}
