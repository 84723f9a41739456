//! `.env` and `env_file` files, as compose-go's `dotenv` package reads them.
//!
//! - Statements are `KEY=VALUE` or `KEY: VALUE`, optionally after `export `; space around the key
//!   and before the value is ignored; a UTF-8 BOM at the start is skipped; CRLF ends lines too.
//! - Keys hold letters, numbers, `_`, `.`, `-`, `[` and `]`; any other character is an error
//!   naming the line, and so is a space inside a key.
//! - Lines whose first non-blank character is `#` are comments.
//! - Unquoted values run to the end of the line, are cut at ` #` (space, hash) and trimmed.
//! - Single-quoted values are literal (only `\'` is unescaped) and may span lines.
//! - Double-quoted values may span lines and take backslash escapes (`\n`, `\t`, `\"`, `\\`,
//!   `\$`, octal `\0123`, ...); anything after the closing quote on the line is read as the
//!   next statement, as compose does (`A='x' junk` also declares a bare key `junk`).
//! - Unquoted and double-quoted values then have their variables substituted (see
//!   [`crate::template`]): a name resolves from the lookup first, then from the keys read earlier
//!   in the file (compose's lookup is the OS environment and the earlier env files, which win).
//! - `KEY=` is the empty string; a bare `KEY` line takes its value from the lookup and is left
//!   out if the lookup has none; a final `KEY` without a newline is read as the empty key with
//!   the value `KEY`, as compose does.

mod escapes;
mod parser;

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::template::TemplateError;
use crate::Lookup;

/// Why an env file could not be read. `Display` gives compose-go's own message, without the
/// file name (compose prefixes `failed to read <file>: ` itself); [`DotenvError::path`] gives
/// the file for errors from [`read_file`].
#[derive(Debug, thiserror::Error)]
pub enum DotenvError {
    /// The file could not be opened or read. Displays like Go's `*PathError`.
    #[error("{op} {}: {}", path.display(), io_reason(source))]
    Io {
        /// `open` or `read`.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A malformed statement: an unexpected character in a key, a space in a key, or an
    /// unterminated quoted value.
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based line number, as compose-go counts it.
        line: usize,
        /// What is wrong, in compose-go's words.
        message: String,
    },
    /// `export` followed only by blanks at the very end of the file.
    #[error("zero length string")]
    ZeroLengthString {
        /// 1-based line number.
        line: usize,
    },
    /// A value's variable substitution failed. Displays the template error alone, as compose.
    #[error("{source}")]
    Template {
        /// 1-based line number of the statement.
        line: usize,
        /// The substitution error.
        source: TemplateError,
    },
    /// An error in a file read by [`read_file`]. Displays as the inner error.
    #[error("{source}")]
    InFile {
        /// The file.
        path: PathBuf,
        /// The error.
        source: Box<DotenvError>,
    },
}

impl DotenvError {
    /// The line the error is on, for errors in the content.
    pub fn line(&self) -> Option<usize> {
        match self {
            DotenvError::Io { .. } => None,
            DotenvError::Syntax { line, .. }
            | DotenvError::ZeroLengthString { line }
            | DotenvError::Template { line, .. } => Some(*line),
            DotenvError::InFile { source, .. } => source.line(),
        }
    }

    /// The file the error is about, for errors from [`read_file`].
    pub fn path(&self) -> Option<&Path> {
        match self {
            DotenvError::Io { path, .. } | DotenvError::InFile { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// Parses an env file's content. Variables referenced in values resolve from `lookup` first,
/// then from the keys read earlier in the same content. A bare `VAR` line takes its value from
/// `lookup`; if `lookup` has none, the variable is left out. Keys keep the order of their first
/// appearance.
pub fn parse(content: &str, lookup: &dyn Lookup) -> Result<IndexMap<String, String>, DotenvError> {
    parser::parse(content.strip_prefix('\u{feff}').unwrap_or(content), lookup)
}

/// Reads and parses a file (invalid UTF-8 is replaced with U+FFFD). Errors carry the file, see
/// [`DotenvError::path`].
pub fn read_file(path: &Path, lookup: &dyn Lookup) -> Result<IndexMap<String, String>, DotenvError> {
    let io = |op, source| DotenvError::Io { op, path: path.to_path_buf(), source };
    let mut file = std::fs::File::open(path).map_err(|e| io("open", e))?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes).map_err(|e| io("read", e))?;
    parse(&String::from_utf8_lossy(&bytes), lookup)
        .map_err(|source| DotenvError::InFile { path: path.to_path_buf(), source: Box::new(source) })
}

/// An I/O error as Go words it: `no such file or directory` rather than
/// `No such file or directory (os error 2)`.
fn io_reason(err: &std::io::Error) -> String {
    let text = err.to_string();
    let text = match text.rfind(" (os error ") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
