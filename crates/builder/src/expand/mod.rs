//! Docker's word expansion (BuildKit's `frontend/dockerfile/shell` lexer): `$var`,
//! `${var}`, `${var:-w}`, `${var-w}`, `${var:+w}`, `${var+w}`, `${var:?msg}`, `${var?msg}`,
//! `${var#p}`, `${var##p}`, `${var%p}`, `${var%%p}`, `${var/p/r}`, `${var//p/r}`, single and
//! double quotes, and the escape character (`\`, or `` ` `` under `# escape=`).
//!
//! The builder expands the words of ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER,
//! VOLUME, WORKDIR (and ONBUILD's trigger when it runs) — never RUN, CMD or ENTRYPOINT, whose
//! shell form the shell expands at run time.

mod lexer;
mod pattern;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use lexer::Lexer;

/// Where variables are looked up.
pub trait Variables {
    /// The value of `name`, if set (an empty value is set).
    fn value(&self, name: &str) -> Option<&str>;
}

impl Variables for BTreeMap<String, String> {
    fn value(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl Variables for HashMap<String, String> {
    fn value(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

/// Ordered `(name, value)` pairs, the last of a name winning.
impl Variables for Vec<(String, String)> {
    fn value(&self, name: &str) -> Option<&str> {
        self.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// An image config's `Env`: `NAME=value` strings, the last of a name winning.
impl Variables for Vec<String> {
    fn value(&self, name: &str) -> Option<&str> {
        self.iter().rev().find_map(|entry| entry.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
    }
}

/// A word that cannot be expanded (`${x`, `${x:?must be set}`, a bad pattern), in
/// BuildKit's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExpandError(pub String);

/// A word expanded, with the variables it used (what an instruction's cache key depends on).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expanded {
    /// The word after expansion and quote removal.
    pub value: String,
    /// Variables the word looked up that were set.
    pub matched: BTreeSet<String>,
    /// Variables the word looked up that were not set.
    pub unmatched: BTreeSet<String>,
}

/// Expands words with a Dockerfile's escape character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expander {
    escape: char,
}

impl Default for Expander {
    fn default() -> Self {
        Self { escape: '\\' }
    }
}

impl Expander {
    /// An expander for a Dockerfile whose escape character is `escape`.
    pub fn new(escape: char) -> Self {
        Self { escape }
    }

    /// `word` as one word (BuildKit's `ProcessWordWithMatches`): quotes removed, variables
    /// substituted, no splitting.
    pub fn word(&self, word: &str, env: &dyn Variables) -> Result<Expanded, ExpandError> {
        let mut lexer = Lexer::new(word, self.escape, env);
        let (value, _) = lexer.process().map_err(|e| failed(word, e))?;
        Ok(Expanded { value, matched: lexer.matched, unmatched: lexer.unmatched })
    }

    /// `text` split into shell words after expansion (BuildKit's `ProcessWords`): unquoted
    /// whitespace, also from a variable's value, separates words.
    pub fn words(&self, text: &str, env: &dyn Variables) -> Result<Vec<String>, ExpandError> {
        let mut lexer = Lexer::new(text, self.escape, env);
        lexer.process().map(|(_, words)| words).map_err(|e| failed(text, e))
    }
}

/// BuildKit's wrapping of a lexer error: `failed to process "${x": syntax error: missing '}'`.
fn failed(source: &str, error: String) -> ExpandError {
    ExpandError(format!("failed to process {source:?}: {error}"))
}

#[cfg(test)]
mod tests;
