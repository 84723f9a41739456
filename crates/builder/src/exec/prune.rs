//! `builder prune`: the build cache emptied ([`BuildCache::prune`]), what killed builds left
//! (working directories, RUN containers, veth pairs and addresses) removed, and the build
//! network taken down unless a running build uses it.

use std::io;
use std::path::Path;

use crate::exec::cache::{BuildCache, PruneReport};

/// Prunes the builder of state root `root`.
pub fn prune(root: &Path) -> io::Result<PruneReport> {
    crate::exec::snapshot::remove_abandoned(&root.join("builder").join("tmp"), root);
    let report = BuildCache::open(root).prune()?;
    crate::exec::network::remove(root).map_err(io::Error::other)?;
    Ok(report)
}
