//! Turns the schema validator's errors into the one violation compose reports, in its words.
//!
//! Compose keeps a tree of errors (`oneOf` failures hold the errors of each alternative) and
//! reports its most specific leaf: the one with the longest instance path, an unknown-key error
//! counting one level deeper than the mapping holding the key. On a tie the first leaf wins; in a
//! schema node, type errors come first and unknown keys last, as compose evaluates them.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use jsonschema::ValidationError;
use serde_json::Value;

use crate::gofmt::quote;
use crate::{dotted, PathSegment, Violation};

/// A candidate violation, before the message is rendered.
struct Leaf {
    path: Vec<PathSegment>,
    specificity: usize,
    what: What,
}

enum What {
    /// A finished message (without the path).
    Text(String),
    /// Required properties missing from one object, merged into one message as compose does.
    Missing(Vec<String>),
}

/// The violation compose would report for these errors (those of one validation of a document).
pub(crate) fn most_relevant(errors: &[ValidationError<'_>]) -> Option<Violation> {
    let mut leaves = Vec::new();
    flatten(errors, &mut leaves);
    let mut best: Option<Leaf> = None;
    for leaf in leaves {
        if best
            .as_ref()
            .is_none_or(|b| leaf.specificity > b.specificity)
        {
            best = Some(leaf);
        }
    }
    best.map(render)
}

fn render(leaf: Leaf) -> Violation {
    let text = match leaf.what {
        What::Text(t) => t,
        What::Missing(props) if props.len() == 1 => {
            format!("missing property {}", quote(&props[0]))
        }
        What::Missing(props) => {
            let quoted: Vec<String> = props.iter().map(|p| quote(p)).collect();
            format!("missing properties {}", quoted.join(", "))
        }
    };
    let message = format!("{} {text}", dotted(&leaf.path));
    Violation {
        path: leaf.path,
        message,
    }
}

/// Where compose evaluates a kind of error within one schema node: type first, unknown keys last.
fn rank(error: &ValidationError<'_>) -> u8 {
    match error.kind() {
        ValidationErrorKind::Type { .. } => 0,
        ValidationErrorKind::AdditionalProperties { .. } => 2,
        _ => 1,
    }
}

/// Appends the leaves of `errors` (errors of one schema node, or of one alternative) in the order
/// compose would meet them.
fn flatten(errors: &[ValidationError<'_>], out: &mut Vec<Leaf>) {
    let mut ordered: Vec<&ValidationError<'_>> = errors.iter().collect();
    ordered.sort_by_key(|e| rank(e));
    // Index in `out` of the Missing leaf of each object of this node, to merge `required` errors.
    let mut missing_at: Vec<(Vec<PathSegment>, usize)> = Vec::new();
    for error in ordered {
        let path = instance_path(error);
        match error.kind() {
            ValidationErrorKind::OneOfNotValid { context }
            | ValidationErrorKind::AnyOf { context }
                if !context.is_empty() =>
            {
                for alternative in context {
                    flatten(alternative, out);
                }
            }
            ValidationErrorKind::Required { property } => {
                let name = property
                    .as_str()
                    .map_or_else(|| property.to_string(), str::to_owned);
                if let Some((_, i)) = missing_at.iter().find(|(p, _)| *p == path) {
                    if let What::Missing(props) = &mut out[*i].what {
                        props.push(name);
                    }
                } else {
                    missing_at.push((path.clone(), out.len()));
                    out.push(Leaf {
                        specificity: path.len(),
                        path,
                        what: What::Missing(vec![name]),
                    });
                }
            }
            kind => {
                let specificity = path.len()
                    + usize::from(matches!(
                        kind,
                        ValidationErrorKind::AdditionalProperties { .. }
                    ));
                out.push(Leaf {
                    specificity,
                    path,
                    what: What::Text(message(error)),
                });
            }
        }
    }
}

fn instance_path(error: &ValidationError<'_>) -> Vec<PathSegment> {
    error
        .instance_path()
        .iter()
        .map(|segment| match segment {
            LocationSegment::Property(k) => PathSegment::Key(k.to_string()),
            LocationSegment::Index(i) => PathSegment::Index(i),
        })
        .collect()
}

/// Compose's wording for one error, without the leading path.
fn message(error: &ValidationError<'_>) -> String {
    match error.kind() {
        ValidationErrorKind::Type { kind } => format!("must be a {}", type_names(kind)),
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let quoted: Vec<String> = unexpected.iter().map(|p| quote(p)).collect();
            format!("additional properties {} not allowed", quoted.join(", "))
        }
        ValidationErrorKind::Enum { options } => {
            let shown: Vec<String> = options
                .as_array()
                .into_iter()
                .flatten()
                .map(display)
                .collect();
            if shown.len() == 1 {
                format!("value must be {}", shown[0])
            } else {
                format!("value must be one of {}", shown.join(", "))
            }
        }
        ValidationErrorKind::Constant { expected_value } => {
            format!("value must be {}", display(expected_value))
        }
        ValidationErrorKind::Minimum { limit } => {
            format!("must be greater than or equal to {limit}")
        }
        ValidationErrorKind::Maximum { limit } => format!("must be less than or equal to {limit}"),
        ValidationErrorKind::ExclusiveMinimum { limit } => format!("must be greater than {limit}"),
        ValidationErrorKind::ExclusiveMaximum { limit } => format!("must be less than {limit}"),
        ValidationErrorKind::Pattern { pattern } => {
            format!(
                "{} does not match pattern {}",
                display(error.instance()),
                quote(pattern)
            )
        }
        ValidationErrorKind::UniqueItems => match first_duplicate(error.instance()) {
            Some((a, b)) => format!("items at {a} and {b} are equal"),
            None => "items must be unique".to_string(),
        },
        ValidationErrorKind::MinItems { limit } => {
            format!(
                "minItems: got {}, want {limit}",
                error.instance().as_array().map_or(0, Vec::len)
            )
        }
        ValidationErrorKind::OneOfMultipleValid { .. } => {
            "matches more than one of the allowed forms".to_string()
        }
        ValidationErrorKind::OneOfNotValid { .. } | ValidationErrorKind::AnyOf { .. } => {
            "does not match any of the allowed forms".to_string()
        }
        _ => error.to_string(),
    }
}

/// The first pair of equal items, as compose finds it: the lowest second index, then the lowest first.
fn first_duplicate(instance: &Value) -> Option<(usize, usize)> {
    let items = instance.as_array()?;
    (1..items.len()).find_map(|i| (0..i).find(|&j| items[j] == items[i]).map(|j| (j, i)))
}

/// A value as compose shows it in enum and pattern messages: strings quoted, numbers plain.
fn display(value: &Value) -> String {
    match value {
        Value::String(s) => quote(s),
        Value::Array(_) | Value::Object(_) => "value".to_string(),
        other => other.to_string(),
    }
}

/// Type names as compose prints them: `object` is a mapping; several are sorted and joined
/// as `a, b or c`.
fn type_names(kind: &TypeKind) -> String {
    let human = |t: jsonschema::JsonType| match t.to_string().as_str() {
        "object" => "mapping".to_string(),
        other => other.to_string(),
    };
    let mut names: Vec<String> = match kind {
        TypeKind::Single(t) => vec![human(*t)],
        TypeKind::Multiple(set) => set.iter().map(human).collect(),
    };
    names.sort();
    match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}
