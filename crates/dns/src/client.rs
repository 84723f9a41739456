//! The client file of one container: what the resolver needs to serve it, written by the
//! orchestrator as `<clients>/<container id>.json` when the container is connected and removed
//! when it is removed.
//!
//! ```json
//! {"netns": "/root/containers/ab12/netns",
//!  "networks": ["/root/networks/p_default.dns/records.json"],
//!  "upstreams": ["10.0.0.53:53"],
//!  "aliases": {"database": "db"}}
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::records::atomic_write;
use crate::Error;

/// One container the resolver answers, in its own network namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Client {
    /// The file pinning the container's network namespace, where the resolver listens on
    /// [`crate::RESOLVER_ADDRESS`].
    pub netns: PathBuf,
    /// The records files of the networks the container is on, in the order it was attached to
    /// them: a name answers from the first of them that knows it.
    pub networks: Vec<PathBuf>,
    /// The container's own resolvers (`dns:`) for names its networks do not know; none: the
    /// host's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstreams: Vec<SocketAddr>,
    /// Names only this container knows (`links: [db:database]`, `external_links`), each
    /// answered with the addresses of the name it stands for, in lower case.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aliases: BTreeMap<String, String>,
}

impl Client {
    /// Reads the client file at `path`; `None` if there is none (the container is gone).
    pub fn load(path: &Path) -> Result<Option<Client>, Error> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Read { path: path.to_path_buf(), source }),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|source| Error::Parse { path: path.to_path_buf(), source })
    }

    /// The name to look up for `name` (any case, trailing dot or not): what it is an alias of for
    /// this container, else itself.
    pub fn target<'a>(&'a self, name: &'a str) -> &'a str {
        let key = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        self.aliases.get(&key).map_or(name, String::as_str)
    }

    /// Writes the client file at `path` atomically.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let bytes = serde_json::to_vec_pretty(self).expect("a client serializes to JSON");
        atomic_write(path, &bytes)
    }
}

/// The client file of container `id` in the clients directory `dir`; an error for an id that is
/// not a plain file name.
pub fn client_file(dir: &Path, id: &str) -> Result<PathBuf, Error> {
    let plain = !id.is_empty() && !id.starts_with('.') && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !plain {
        return Err(Error::BadClientId(id.to_string()));
    }
    Ok(dir.join(format!("{id}.json")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_a_missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = client_file(dir.path(), "ab12").unwrap();
        assert_eq!(Client::load(&path).unwrap(), None);
        let client = Client {
            netns: "/r/c/ab12/netns".into(),
            networks: vec!["/r/n/a.dns/records.json".into(), "/r/n/b.dns/records.json".into()],
            upstreams: vec!["10.0.0.53:53".parse().unwrap()],
            aliases: [("database".to_string(), "db".to_string())].into(),
        };
        client.save(&path).unwrap();
        assert_eq!(Client::load(&path).unwrap(), Some(client));
    }

    #[test]
    fn aliases_stand_for_their_target_in_any_case() {
        let client = Client { aliases: [("database".to_string(), "db".to_string())].into(), ..Default::default() };
        assert_eq!(client.target("DataBase."), "db");
        assert_eq!(client.target("web"), "web");
    }

    #[test]
    fn ids_must_be_plain_file_names() {
        let dir = Path::new("/clients");
        assert_eq!(client_file(dir, "ab12-x_y").unwrap(), Path::new("/clients/ab12-x_y.json"));
        for bad in ["", "../etc", "a/b", ".hidden", "a b"] {
            assert!(matches!(client_file(dir, bad), Err(Error::BadClientId(_))), "{bad:?}");
        }
    }
}
