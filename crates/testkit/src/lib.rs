//! Integration-test harness for xcompose.
//!
//! Every test that touches networking or mounts runs inside its own [`Sandbox`]: a fresh network,
//! mount and UTS namespace with a private state root and an "uplink" to a second namespace, the
//! *peer*, that stands in for another machine on the LAN. Nothing a test does there is visible on
//! the host, sandboxes never collide (tests may run in parallel, in threads and in separate
//! processes), and everything is torn down when the sandbox is dropped, or when the test process
//! dies, even by `kill -9`.
//!
//! ```no_run
//! let sb = xcompose_testkit::Sandbox::new()?;
//! sb.run_ok("ip", &["link", "add", "br0", "type", "bridge"])?;
//! let root = sb.root().to_str().unwrap();
//! # let _ = root;
//! // sb.run_ok("xcompose", &["--root", root, "up", "-d"])?;
//! # anyhow::Ok(())
//! ```
//!
//! The busybox test image is built by `tests/images/build-busybox-rootfs.sh`; [`busybox_image_tar`]
//! builds it once per target directory and returns its path. Images of real daemons on Debian
//! (redis and nginx) are built by `tests/images/build-debian-images.sh`; [`debian_images_tar`]
//! builds them once per machine, in a cache that outlives the target directory.
//!
//! [`Registry`] runs Debian's `docker-registry` inside a sandbox (plain HTTP, TLS with a test
//! CA, client certificates, htpasswd or token auth with a [`TokenServer`]) and pushes images to
//! it with `skopeo`.
//!
//! Everything here needs root and the tools of util-linux (`unshare`, `nsenter`, `setpriv`,
//! `mount`) and iproute2 (`ip`); [`require_root`] says what is missing.

pub mod build_refs;
mod debian_images;
mod dockerd;
mod exec;
mod forked;
mod image;
mod layer;
mod names;
mod oci_layout;
mod procs;
mod registry;
mod sandbox;
mod standin;
pub mod test_images;
mod tls;
mod token_server;
mod tree;
mod watchdog;

pub use debian_images::{
    build_debian_images, debian_images_script, debian_images_tar, DEBIAN_NGINX_IMAGE,
    DEBIAN_REDIS_IMAGE,
};
pub use dockerd::Dockerd;
pub use forked::{busybox_overlay, in_forked_sandbox, BusyboxOverlay};
pub use image::{build_busybox_rootfs, busybox_image_tar, busybox_rootfs_script};
pub use layer::{Compression, Entry, Layer, WrittenLayer};
pub use oci_layout::{
    OciLayout, TestImage, WrittenImage, WrittenIndex, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST,
};
pub use registry::{Registry, RegistryBuilder};
pub use sandbox::Sandbox;
pub use standin::standin;
pub use tls::{PemPair, TestCa};
pub use token_server::{TokenPolicy, TokenRequest, TokenServer, TOKEN_ISSUER, TOKEN_SERVICE};
pub use tree::{rootfs_listing, TREE_LISTING};

/// Programs a [`Sandbox`] needs, with the Debian package that ships each.
const REQUIRED_PROGRAMS: &[(&str, &str)] = &[
    ("sh", "dash"),
    ("unshare", "util-linux"),
    ("nsenter", "util-linux"),
    ("setpriv", "util-linux"),
    ("mount", "mount"),
    ("ip", "iproute2"),
    ("grep", "grep"),
];

/// Checks that sandboxes can be made here: the process runs as root and `unshare`, `nsenter`,
/// `setpriv`, `mount`, `ip`, `grep` and `sh` are on `PATH`.
///
/// Skips nothing: returns an error explaining what is missing (and which package to install), so a
/// test calling it fails loudly instead of passing without having run.
pub fn require_root() -> anyhow::Result<()> {
    let mut problems = Vec::new();
    if !nix::unistd::geteuid().is_root() {
        problems.push(format!(
            "not running as root (euid {}): sandbox tests create namespaces, veths and mounts",
            nix::unistd::geteuid()
        ));
    }
    let missing: Vec<String> = REQUIRED_PROGRAMS
        .iter()
        .filter(|(program, _)| exec::find_in_path(program).is_none())
        .map(|(program, package)| format!("{program} (package {package})"))
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "missing programs: {} (apt-get install util-linux iproute2 mount dash)",
            missing.join(", ")
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "xcompose-testkit cannot make a sandbox: {}",
            problems.join("; ")
        )
    }
}
