//! The build context: the directory a build reads COPY/ADD sources from, seen through its
//! `.dockerignore` (or the Dockerfile's own `<Dockerfile>.dockerignore`, which wins), the
//! selection of a COPY/ADD's sources in it, the content digest of a selection, and which ADD
//! sources are URLs or git repositories rather than context paths.

mod digest;
mod hashes;
mod ignore;
mod remote;
mod select;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use hashes::ContentHashes;
pub use ignore::{read_ignore_file, IgnorePatterns, PatternError};
pub use remote::AddSourceKind;
pub use select::{SelectOptions, SelectedPath};

/// Why a context or a selection in it fails, in BuildKit's words where it has them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// A source that does not exist (or is ignored), as `/path`.
    #[error("failed to compute cache key: failed to calculate checksum of ref context: {0:?}: not found")]
    NotFound(String),
    /// A source outside the context.
    #[error("forbidden path outside the build context: {0}")]
    Outside(String),
    /// A bad `.dockerignore` or `--exclude` pattern, or a bad wildcard.
    #[error("{0}")]
    Pattern(String),
    /// The context cannot be read.
    #[error("{0}: {1}")]
    Io(PathBuf, String),
}

/// A build context directory with its ignore rules.
#[derive(Debug, Clone)]
pub struct Context {
    root: PathBuf,
    ignore: IgnorePatterns,
    hashes: Option<Arc<ContentHashes>>,
}

impl Context {
    /// The context at `root` for the Dockerfile at `dockerfile`: the ignore rules are
    /// `<dockerfile>.dockerignore` beside the Dockerfile if it exists, else `root/.dockerignore`.
    pub fn open(root: &Path, dockerfile: &Path) -> Result<Self, ContextError> {
        let own = PathBuf::from(format!("{}.dockerignore", dockerfile.display()));
        let file = [own, root.join(".dockerignore")].into_iter().find(|p| p.is_file());
        let patterns = match file {
            Some(path) => {
                let text = fs::read_to_string(&path).map_err(|e| ContextError::Io(path.clone(), e.to_string()))?;
                read_ignore_file(&text)
            }
            None => Vec::new(),
        };
        let ignore = IgnorePatterns::new(&patterns).map_err(|e| ContextError::Pattern(format!(".dockerignore: {e}")))?;
        Ok(Self { root: root.to_path_buf(), ignore, hashes: None })
    }

    /// A directory read without ignore rules: a stage's or an image's root filesystem that
    /// `COPY --from` reads (BuildKit applies `.dockerignore` to the build context only).
    pub fn unfiltered(root: &Path) -> Self {
        Self { root: root.to_path_buf(), ignore: IgnorePatterns::default(), hashes: None }
    }

    /// The context whose files' digests are remembered in `hashes` (by their stat tuple).
    pub fn with_hashes(self, hashes: Arc<ContentHashes>) -> Self {
        Self { hashes: Some(hashes), ..self }
    }

    /// The context's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether `path` (relative to the root) is hidden by the ignore rules.
    pub fn is_ignored(&self, path: &str) -> bool {
        self.ignore.ignores(path)
    }

    /// The paths COPY/ADD `sources` (expanded words) bring: each source's matches, a
    /// directory with everything under it not ignored nor `--exclude`d. A missing source is
    /// BuildKit's `"/nope": not found`.
    pub fn select(&self, sources: &[String], options: &SelectOptions) -> Result<Vec<SelectedPath>, ContextError> {
        let exclude = IgnorePatterns::new(&options.exclude).map_err(|e| ContextError::Pattern(format!("--exclude: {e}")))?;
        let mut out = Vec::new();
        for (index, word) in sources.iter().enumerate() {
            for matched in select::expand_source(&self.root, &self.ignore, word)? {
                out.extend(select::walk(&self.root, &self.ignore, options, &exclude, index, word, &matched)?);
            }
        }
        Ok(out)
    }

    /// `sha256:...` of a selection's names, types, modes, owners, contents and link targets
    /// (not times): equal digests mean a COPY of them gives the same files.
    pub fn digest(&self, selection: &[SelectedPath]) -> Result<String, ContextError> {
        digest::digest(&self.root, selection, self.hashes.as_deref())
    }
}

#[cfg(test)]
mod tests;
