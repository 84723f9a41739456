//! Why a command on a project failed, in one line that says what to do.

use std::path::{Path, PathBuf};

/// A failed project command.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// A container operation failed.
    #[error(transparent)]
    Runtime(#[from] xcompose_runtime::RuntimeError),
    /// The image store failed (an unknown image, most often).
    #[error(transparent)]
    Image(#[from] xcompose_images::StoreError),
    /// A network could not be set up or torn down.
    #[error("{0}")]
    Network(String),
    /// A service cannot run as written.
    #[error("service {service:?}: {message}")]
    Service {
        /// The service.
        service: String,
        /// What is wrong.
        message: String,
    },
    /// The project refers to something that does not fit (a dependency cycle, an unknown service).
    #[error("{0}")]
    Invalid(String),
    /// The project sets a compose key xcompose does not honour (see [`crate::support`]).
    #[error("{0}")]
    Unsupported(String),
    /// A dependency did not reach its condition.
    #[error("{0}")]
    Dependency(String),
    /// Not done because another action of the same command failed.
    #[error("aborted because another service failed")]
    Aborted,
    /// State on disk could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A state file is not what xcompose writes.
    #[error("{path}: {message}; remove it and run the command again")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl StackError {
    /// The error for `path` failing with an I/O error.
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StackError + '_ {
        move |source| StackError::Io { path: path.to_path_buf(), source }
    }

    /// A network-layer failure.
    pub(crate) fn network(e: impl std::fmt::Display) -> StackError {
        StackError::Network(e.to_string())
    }
}
