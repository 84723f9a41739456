//! Validates compose documents against xcompose's own JSON Schema (`schemas/compose.schema.json`),
//! reporting a violation the way Docker Compose words it (`services.web.ports must be a array`).
//!
//! The schema describes a document after interpolation: values that interpolation may turn into
//! numbers or booleans (`"${PORT}"`) are accepted as strings too, as compose accepts them.

use std::sync::LazyLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

/// The schema, compiled once.
static VALIDATOR: LazyLock<Validator> = LazyLock::new(|| {
    let schema: Value =
        serde_json::from_str(include_str!("../../../schemas/compose.schema.json")).expect("the compose schema is valid JSON");
    jsonschema::draft7::new(&schema).expect("the compose schema is a valid draft-07 schema")
});

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// A schema violation: where (key path from the document root) and what, in compose's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Path of the offending value.
    pub path: Vec<PathSegment>,
    /// The message, starting with the dotted path (`services.web additional properties 'x' not allowed`).
    pub message: String,
}

impl Violation {
    /// The path as compose prints it: keys and indexes joined by dots (`services.web.ports.0`).
    pub fn dotted_path(&self) -> String {
        dotted(&self.path)
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn dotted(path: &[PathSegment]) -> String {
    path.iter()
        .map(|s| match s {
            PathSegment::Key(k) => k.clone(),
            PathSegment::Index(i) => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Validates a whole compose document; returns the first violation.
pub fn validate(doc: &Value) -> Result<(), Violation> {
    match VALIDATOR.iter_errors(doc).next() {
        None => Ok(()),
        Some(error) => Err(describe(&error)),
    }
}

/// The violation to report for an error: for `oneOf`, the most telling error of its alternatives.
fn describe(error: &ValidationError<'_>) -> Violation {
    let path: Vec<PathSegment> = error
        .instance_path()
        .iter()
        .map(|seg| match seg {
            LocationSegment::Property(k) => PathSegment::Key(k.to_string()),
            LocationSegment::Index(i) => PathSegment::Index(i),
        })
        .collect();
    let at = dotted(&path);
    let message = match error.kind() {
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            if let Some(best) = best_alternative(context) {
                return describe(best);
            }
            format!("{at} does not match any of the allowed forms")
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            format!("{at} additional properties '{}' not allowed", unexpected.join("', '"))
        }
        ValidationErrorKind::Type { kind } => format!("{at} must be a {}", type_names(kind)),
        ValidationErrorKind::Enum { options } => {
            let options: Vec<String> = options.as_array().into_iter().flatten().map(|o| format!("'{}'", o.as_str().unwrap_or_default())).collect();
            format!("{at} value must be one of {}", options.join(", "))
        }
        ValidationErrorKind::Required { property } => {
            format!("{at} missing property '{}'", property.as_str().unwrap_or_default())
        }
        ValidationErrorKind::Minimum { limit } => format!("{at} must be >= {limit}"),
        ValidationErrorKind::Maximum { limit } => format!("{at} must be <= {limit}"),
        ValidationErrorKind::UniqueItems => format!("{at} must contain unique items"),
        _ => format!("{at} {error}"),
    };
    Violation { path, message }
}

/// In `oneOf` alternatives, the first error that is more than "wrong type here" (the value had the
/// right shape for that alternative but something inside is wrong); else the first alternative's.
fn best_alternative<'a>(context: &'a [Vec<ValidationError<'static>>]) -> Option<&'a ValidationError<'static>> {
    let is_shape_error = |e: &ValidationError<'_>| matches!(e.kind(), ValidationErrorKind::Type { .. });
    context
        .iter()
        .filter_map(|errors| errors.first())
        .find(|e| !is_shape_error(e))
        .or_else(|| context.first().and_then(|errors| errors.first()))
}

fn type_names(kind: &TypeKind) -> String {
    let name = |t: jsonschema::JsonType| match t.to_string().as_str() {
        "object" => "mapping".to_string(),
        other => other.to_string(),
    };
    match kind {
        TypeKind::Single(t) => name(*t),
        TypeKind::Multiple(set) => set.iter().map(name).collect::<Vec<_>>().join(" or "),
    }
}
