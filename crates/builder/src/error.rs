//! The frontend's error: a message in BuildKit's words and, for the Dockerfile's own
//! mistakes, the file and line it is about.

use std::path::PathBuf;

/// A Dockerfile that cannot be parsed, with where: `Display` reads as BuildKit's
/// `dockerfile parse error on line 5: unknown instruction: RUNN`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dockerfile parse error on line {line}: {message}")]
pub struct ParseError {
    /// The Dockerfile's path as the caller named it (for the `Dockerfile:5` heading).
    pub path: PathBuf,
    /// The 1-based line of the instruction at fault.
    pub line: usize,
    /// What is wrong, in BuildKit's words.
    pub message: String,
}

impl ParseError {
    /// `path:line`, as BuildKit heads its excerpt of the Dockerfile (`Dockerfile:5`).
    pub fn location(&self) -> String {
        format!("{}:{}", self.path.display(), self.line)
    }
}
