//! An image's HEALTHCHECK. Docker keeps it in the image config beside the OCI fields (which
//! `oci-spec` does not read), its durations in nanoseconds.

use serde::Deserialize;

use crate::store::{ImageStore, Result, StoreError};

/// The `Healthcheck` of an image's config, as `docker build` writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageHealthcheck {
    /// `["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]`; empty inherits (nothing, here).
    pub test: Option<Vec<String>>,
    /// Between probes, in nanoseconds; 0 for Docker's default.
    pub interval: Option<i64>,
    /// Per probe, in nanoseconds; 0 for Docker's default.
    pub timeout: Option<i64>,
    /// Failures not counted at first, in nanoseconds.
    pub start_period: Option<i64>,
    /// Between probes during the start period, in nanoseconds.
    pub start_interval: Option<i64>,
    /// Consecutive failures that make the container unhealthy; 0 for Docker's default.
    pub retries: Option<i64>,
}

/// The part of a config blob holding the healthcheck.
#[derive(Deserialize)]
struct ConfigBlob {
    config: Option<RunConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RunConfig {
    healthcheck: Option<ImageHealthcheck>,
}

impl ImageStore {
    /// The HEALTHCHECK of the image whose ID (config digest) is `id`, if it has one.
    pub fn healthcheck(&self, id: &str) -> Result<Option<ImageHealthcheck>> {
        let path = self.blob_path(id);
        let bytes = std::fs::read(&path).map_err(|source| StoreError::Io { path: path.clone(), source })?;
        let blob: ConfigBlob = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt { path, message: e.to_string() })?;
        Ok(blob.config.and_then(|c| c.healthcheck))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dockers_healthcheck_and_nothing_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path()).unwrap();
        let with = br#"{"config":{"Cmd":["redis-server"],"Healthcheck":{"Test":["CMD-SHELL","redis-cli ping"],"Interval":5000000000,"Retries":4,"StartPeriod":null}}}"#;
        std::fs::write(store.blob_path("sha256:aa"), with).unwrap();
        let h = store.healthcheck("sha256:aa").unwrap().unwrap();
        assert_eq!(h.test, Some(vec!["CMD-SHELL".to_string(), "redis-cli ping".to_string()]));
        assert_eq!((h.interval, h.retries, h.start_period, h.timeout), (Some(5_000_000_000), Some(4), None, None));
        std::fs::write(store.blob_path("sha256:bb"), br#"{"config":{"Cmd":["sh"]}}"#).unwrap();
        assert_eq!(store.healthcheck("sha256:bb").unwrap(), None);
        std::fs::write(store.blob_path("sha256:cc"), br#"{"architecture":"amd64"}"#).unwrap();
        assert_eq!(store.healthcheck("sha256:cc").unwrap(), None);
    }
}
