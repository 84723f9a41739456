//! Why a volume operation failed. The messages that Docker also gives are worded as Docker words
//! them (the command line prefixes them with `Error response from daemon: `).

use std::io;
use std::path::PathBuf;

/// Why a volume operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// No volume has this name.
    #[error("get {0}: no such volume")]
    NotFound(String),
    /// A one-character name.
    #[error("create {0}: volume name is too short, names should be at least two alphanumeric characters")]
    NameTooShort(String),
    /// A name with characters the local driver does not allow.
    #[error("create {0}: {0:?} includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path")]
    InvalidName(String),
    /// A driver option the local driver does not know.
    #[error("create {name}: invalid option: {option:?}")]
    InvalidOption {
        /// The volume.
        name: String,
        /// The option.
        option: String,
    },
    /// A driver option that needs another one given alone.
    #[error("create {name}: missing required option: {option:?}")]
    MissingOption {
        /// The volume.
        name: String,
        /// The option that is missing.
        option: String,
    },
    /// Driver options asking for something this local driver cannot do.
    #[error("create {name}: {what} is not supported by the local driver here: use type=none,o=bind,device=/absolute/dir for a bind volume, or a filesystem type (tmpfs, ext4, ...) to mount")]
    Unsupported {
        /// The volume.
        name: String,
        /// What was asked for.
        what: String,
    },
    /// A `size` option above zero: a project quota, which needs quota support.
    #[error("create {name}: quota size requested but no quota support: xcompose sets no filesystem quotas; remove the size option (a tmpfs volume takes o: size=...)")]
    NoQuotaSupport {
        /// The volume.
        name: String,
    },
    /// A `size` option that is not a size.
    #[error("create {name}: {reason}")]
    InvalidSize {
        /// The volume.
        name: String,
        /// Why, as go-units words it.
        reason: String,
    },
    /// A bind volume's device is missing or not a directory.
    #[error("create {name}: bind device {device}: {reason}; create the directory first or fix `device`")]
    BadDevice {
        /// The volume.
        name: String,
        /// The device as given.
        device: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The directory to seed a volume from cannot be used.
    #[error("seed volume {name} from {from}: {reason}")]
    BadSeedSource {
        /// The volume.
        name: String,
        /// The source directory.
        from: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A volume's filesystem could not be mounted on its directory.
    #[error("error while mounting volume '{path}': failed to mount local volume: mount {device}:{path}, flags: {flags:#x}, data: {data}: {source}")]
    Mount {
        /// The volume's directory.
        path: PathBuf,
        /// Its `device`.
        device: String,
        /// The flags given.
        flags: u64,
        /// The data given.
        data: String,
        /// Why.
        source: nix::Error,
    },
    /// File system trouble.
    #[error("volume store {path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A stored record cannot be read.
    #[error("volume record {path} is not valid ({message}); remove that volume's directory to get rid of it")]
    Corrupt {
        /// The record file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The system's random source failed.
    #[error("no random bytes for a volume name: {0}")]
    Random(String),
}

/// Results of volume operations.
pub type Result<T> = std::result::Result<T, VolumeError>;

/// Maps an I/O error to [`VolumeError::Io`] at `path`.
pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> VolumeError {
    let path = path.into();
    move |source| VolumeError::Io { path, source }
}

/// Maps a nix error to [`VolumeError::Io`] at `path`.
pub(crate) fn nix_err(path: impl Into<PathBuf>) -> impl FnOnce(nix::Error) -> VolumeError {
    let path = path.into();
    move |errno| VolumeError::Io { path, source: errno.into() }
}
