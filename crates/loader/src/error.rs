//! Loader errors: each names the file, where in it, and what is wrong, on one line.

use std::path::PathBuf;

use crate::yaml::Position;

/// Why a project could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No compose file was given and none was found.
    #[error("no configuration file provided: not found")]
    NoConfigFile,
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML itself is malformed.
    #[error("yaml: {}:{}:{}: {message}", file.display(), position.line, position.column)]
    Yaml {
        /// The file.
        file: PathBuf,
        /// Where.
        position: Position,
        /// What.
        message: String,
    },
    /// The document does not follow the compose schema.
    #[error("validating {}: {message}{}", file.display(), position.map(|p| format!(" (line {}, column {})", p.line, p.column)).unwrap_or_default())]
    Schema {
        /// The file.
        file: PathBuf,
        /// Where, when known.
        position: Option<Position>,
        /// Compose's wording of the violation, starting with the key path.
        message: String,
    },
    /// Interpolation failed (a required variable is missing, bad syntax, a value of the wrong type).
    #[error("{}: {message}", file.display())]
    Interpolation {
        /// The file.
        file: PathBuf,
        /// Compose's wording.
        message: String,
    },
    /// An env file could not be parsed.
    #[error("{0}")]
    EnvFile(String),
    /// The project is well-formed but inconsistent (undefined network, dependency cycle...).
    #[error("{0}")]
    Invalid(String),
}
