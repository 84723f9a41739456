//! Stand-in images: busybox images pushed under the names real-world compose files use
//! (`library/redis:alpine`, `grafana/grafana:latest`, ...), so those files come up unchanged
//! against a local registry.
//!
//! A stand-in keeps running whatever command the compose file gives it: its entrypoint is
//! `sh -c SCRIPT standin`, and the command's words land in the script's unused positional
//! arguments (Docker appends `command:` to the entrypoint). The script serves HTTP with
//! busybox's `httpd` on the ports asked for (a real service's health checks then have something
//! to reach: `/_cluster/health`, `/healthz` and `/` answer), and exits at once on SIGTERM (busybox
//! as PID 1 would ignore it). `curl` is a small script on `wget`, for health checks that use it.

use crate::layer::Layer;
use crate::oci_layout::TestImage;

/// The stand-in's main script (`$STANDIN_HTTP_PORTS`: ports to serve HTTP on).
const STANDIN_SCRIPT: &str = r#"#!/bin/sh
trap 'exit 0' TERM INT
for port in $STANDIN_HTTP_PORTS; do
  httpd -p "$port" -h /srv/standin
done
sleep 2147483647 &
wait
"#;

/// `curl [OPTIONS] URL` for health checks: fetches the last argument with busybox's wget,
/// failing as `curl --fail` does on an HTTP error.
const CURL_SHIM: &str = r#"#!/bin/sh
for url in "$@"; do :; done
case "$url" in http://*|https://*) ;; *) url="http://$url" ;; esac
exec wget -q -O - "$url"
"#;

/// A stand-in for the image `name` (recorded as its `org.opencontainers.image.title` label, so
/// each name has an image ID of its own while all share the busybox layer), serving HTTP on
/// `http_ports`.
pub fn standin(name: &str, http_ports: &[u16]) -> anyhow::Result<TestImage> {
    let ports: Vec<String> = http_ports.iter().map(u16::to_string).collect();
    let layer = Layer::gzip()
        .file("usr/local/bin/standin", STANDIN_SCRIPT, 0o755)
        .file("usr/local/bin/curl", CURL_SHIM, 0o755)
        .dir("srv/standin", 0o755)
        .file(
            "srv/standin/index.html",
            format!("stand-in for {name}\n"),
            0o644,
        )
        .file("srv/standin/healthz", "ok\n", 0o644)
        .dir("srv/standin/_cluster", 0o755)
        .file(
            "srv/standin/_cluster/health",
            r#"{"status":"green"}"#,
            0o644,
        );
    Ok(TestImage::busybox()?
        .layer(layer)
        .env(&format!("STANDIN_HTTP_PORTS={}", ports.join(" ")))
        .entrypoint(&["/bin/sh", "-c", "exec /usr/local/bin/standin", "standin"])
        .label("org.opencontainers.image.title", name))
}
