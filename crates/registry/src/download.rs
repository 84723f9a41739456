//! Downloading one file over HTTP or HTTPS (the builder's `ADD <url>`), with this crate's HTTP
//! client and TLS setup: the body and the `Last-Modified` time, if the server sends one.

use std::sync::Once;
use std::time::Duration;

use crate::RegistryError;

/// A downloaded file.
#[derive(Debug, Clone)]
pub struct Downloaded {
    /// The body.
    pub body: Vec<u8>,
    /// The `Last-Modified` header, as seconds since the epoch.
    pub last_modified: Option<i64>,
}

/// GETs `url`, following redirects; a status other than 2xx is an error naming it.
pub fn download(url: &str) -> Result<Downloaded, RegistryError> {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    let failed = |e: &dyn std::fmt::Display| RegistryError::Registry(format!("failed to download {url}: {e}"));
    crate::runtime()?.block_on(async {
        let client = reqwest::Client::builder().connect_timeout(Duration::from_secs(15)).build().map_err(|e| failed(&e))?;
        let response = client.get(url).send().await.map_err(|e| failed(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(failed(&format!("invalid response status {}", status.as_u16())));
        }
        let last_modified = response
            .headers()
            .get(reqwest::header::LAST_MODIFIED)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
            .map(|t| t.timestamp());
        let body = response.bytes().await.map_err(|e| failed(&e))?.to_vec();
        Ok(Downloaded { body, last_modified })
    })
}
