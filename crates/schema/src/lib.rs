//! Validates compose documents against xcompose's own JSON Schema (`schemas/compose.schema.json`),
//! reporting a violation in the words Docker Compose v2 uses (`services.web.ports must be a array`).
//!
//! The schema describes a document the way compose validates it: after YAML parsing and
//! interpolation, before short syntaxes are expanded and defaults applied. Values that
//! interpolation may leave as strings (`read_only: "${RO}"`) are accepted as strings wherever
//! compose accepts them.
//!
//! Compose checks a file in three steps, and this crate offers one function for each:
//!
//! 1. [`check_before_schema`]: what compose verifies while it reads and folds a file
//!    (`extends` needs a `service`, list entries have the right shape, ...);
//! 2. [`validate`]: the schema itself; compose prints these as `validating <file>: <message>`;
//! 3. [`check_after_schema`]: consistency rules the schema cannot express (a secret needs a
//!    `file` or an `environment`, ...).
//!
//! Compose prints the messages of steps 1 and 3 on their own, without the `validating <file>: `
//! prefix it puts before schema violations.

mod checks;
mod describe;
mod gofmt;

use std::sync::LazyLock;

use jsonschema::Validator;
use serde_json::Value;

pub use checks::{check_after_schema, check_before_schema};

/// This crate's version: with [`SCHEMA`], what decides whether a document is valid.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The schema text, as embedded in the binary.
pub const SCHEMA: &str = include_str!("../../../schemas/compose.schema.json");

/// The schema, compiled on first use and then shared: validation runs on every command.
static VALIDATOR: LazyLock<Validator> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(SCHEMA).expect("the compose schema is valid JSON");
    jsonschema::draft7::new(&schema).expect("the compose schema is a valid draft-07 schema")
});

/// One step of a path into a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// A key of a mapping.
    Key(String),
    /// A position in a sequence, from 0.
    Index(usize),
}

/// One violation: where it is (the key path from the document root) and what is wrong, worded as
/// Docker Compose words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Path of the offending value; for an unknown key, the mapping that holds it.
    pub path: Vec<PathSegment>,
    /// The message, which for schema violations starts with the dotted path
    /// (`services.web additional properties 'foo' not allowed`).
    pub message: String,
}

impl Violation {
    /// The path the way compose prints it in schema messages: keys and indexes joined by dots
    /// (`services.web.ports.0`); empty for the document root.
    #[must_use]
    pub fn dotted_path(&self) -> String {
        dotted(&self.path)
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Violation {}

/// Keys and indexes joined by dots.
pub(crate) fn dotted(path: &[PathSegment]) -> String {
    let mut out = String::new();
    for (i, segment) in path.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        match segment {
            PathSegment::Key(k) => out.push_str(k),
            PathSegment::Index(n) => out.push_str(&n.to_string()),
        }
    }
    out
}

/// Validates a whole compose document (after YAML parsing and interpolation) against the schema.
///
/// When the document breaks several rules, the violation returned is the one compose reports: the
/// deepest one, an unknown key counting as one level deeper than the mapping that holds it, and
/// among alternatives (`oneOf`) the first alternative's on a tie.
///
/// # Errors
///
/// The violation compose reports, when the document breaks the schema.
pub fn validate(doc: &Value) -> Result<(), Violation> {
    if VALIDATOR.is_valid(doc) {
        return Ok(());
    }
    let errors: Vec<_> = VALIDATOR.iter_errors(doc).collect();
    match describe::most_relevant(&errors) {
        Some(violation) => Err(violation),
        None => Ok(()),
    }
}
