//! Where the corpus tests find the awesome-compose projects (included with `#[path]` by the
//! tests that read them, so the others do not carry it).

use std::path::{Path, PathBuf};

/// The awesome-compose projects: `$XCOMPOSE_CORPUS/compose/awesome`, by default
/// `../shared/corpus` next to the repository (as the conformance tests find it).
pub fn corpus() -> PathBuf {
    let corpus = std::env::var_os("XCOMPOSE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"));
    let awesome = corpus.join("compose/awesome");
    assert!(awesome.is_dir(), "corpus not found at {} (set XCOMPOSE_CORPUS)", awesome.display());
    awesome
}
