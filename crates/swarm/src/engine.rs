//! The Docker Engine API over a unix socket: one HTTP/1.1 connection per request, JSON in and
//! out, errors in Docker's words.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context as _, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// The API version asked for: Docker 20.10's, which every later daemon still serves.
const API_VERSION: &str = "v1.41";

/// The default daemon address, as the docker CLI's.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// A Docker daemon reached through its unix socket.
pub struct Engine {
    host: String,
    socket: PathBuf,
    runtime: tokio::runtime::Runtime,
}

impl Engine {
    /// The daemon at `host` (`unix:///path`; no connection is made yet).
    pub fn new(host: &str) -> Result<Engine> {
        let Some(path) = host.strip_prefix("unix://") else {
            bail!("--host {host}: only unix sockets are supported (unix:///var/run/docker.sock)");
        };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build().context("starting the I/O runtime")?;
        Ok(Engine { host: host.to_string(), socket: PathBuf::from(path), runtime })
    }

    /// `GET path`, the answer as JSON.
    pub fn get(&self, path: &str) -> Result<Value> {
        self.call(Method::GET, path, None)
    }

    /// `POST path` with `body` as JSON, the answer as JSON (`null` when empty).
    pub fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(Method::POST, path, Some(body))
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> Result<()> {
        self.call(Method::DELETE, path, None).map(drop)
    }

    fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let (status, bytes) = self.runtime.block_on(self.request(method, path, body))?;
        if status >= 400 {
            let message = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).trim().to_string());
            return Err(anyhow!(ApiError { status, message }));
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).with_context(|| format!("reading the daemon's answer to {path}"))
    }

    async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Result<(u16, Bytes)> {
        let stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .map_err(|_| anyhow!("Cannot connect to the Docker daemon at {}. Is the docker daemon running?", self.host))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.context("talking to the Docker daemon")?;
        let driver = tokio::spawn(connection);
        let payload = body.map(|b| serde_json::to_vec(b).expect("JSON values serialise")).unwrap_or_default();
        let request = Request::builder()
            .method(method)
            .uri(format!("/{API_VERSION}{path}"))
            .header("Host", "docker")
            .header("Content-Type", "application/json")
            .body(Full::new(Bytes::from(payload)))
            .context("building the request")?;
        let response = sender.send_request(request).await.context("talking to the Docker daemon")?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.context("reading the Docker daemon's answer")?.to_bytes();
        driver.abort();
        Ok((status, bytes))
    }
}

/// An error the daemon answered with.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The daemon's message.
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Error response from daemon: {}", self.message)
    }
}

impl std::error::Error for ApiError {}

/// Whether `err` is the daemon's "not found".
pub fn is_not_found(err: &anyhow::Error) -> bool {
    err.downcast_ref::<ApiError>().is_some_and(|e| e.status == 404)
}

/// A `filters` query parameter: `{"label": ["k=v"]}`, URL-encoded.
pub fn filters(key: &str, value: &str) -> String {
    let json = serde_json::json!({ key: [value] }).to_string();
    let mut out = String::new();
    for b in json.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_url_encoded_json() {
        assert_eq!(filters("label", "a=b"), "%7B%22label%22%3A%5B%22a%3Db%22%5D%7D");
    }

    #[test]
    fn only_unix_sockets() {
        let err = Engine::new("tcp://127.0.0.1:2375").err().unwrap();
        assert_eq!(err.to_string(), "--host tcp://127.0.0.1:2375: only unix sockets are supported (unix:///var/run/docker.sock)");
    }

    #[test]
    fn a_missing_daemon_reads_as_docker_says() {
        let engine = Engine::new("unix:///nonexistent/docker.sock").unwrap();
        let err = engine.get("/info").unwrap_err();
        assert_eq!(err.to_string(), "Cannot connect to the Docker daemon at unix:///nonexistent/docker.sock. Is the docker daemon running?");
    }
}
