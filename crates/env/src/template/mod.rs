//! `${VAR}` substitution, as compose-go's `template.Substitute`.
//!
//! - `$$` is a literal `$`; a `$` followed by anything that cannot start a name or `{` (a digit,
//!   a space, `}`, the end of the text) also stays a literal `$`.
//! - `$NAME` and `${NAME}`: the value, or the empty string when unset (reported as missing).
//!   Names are `[_a-zA-Z][_a-zA-Z0-9]*`.
//! - `${NAME:-default}` / `${NAME-default}`: the default when unset or empty / unset.
//! - `${NAME:+alt}` / `${NAME+alt}`: the alternate when set and not empty / set, else the value.
//! - `${NAME:?msg}` / `${NAME?msg}`: an error when unset or empty / unset.
//! - The operand is itself substituted (so it may hold `$VAR`, `${VAR:-x}`...) before the
//!   operator is evaluated, even when it ends up unused.
//! - Any other `${` (`${}`, `${VAR`, `${ VAR}`, `${VAR:x}`, `${1}`...) is an invalid template.
//!
//! compose's regular expression gives some odd results that are kept on purpose, e.g.
//! `${A:-a}b}` is `ab}` when `A` is unset: an operator expression runs to the last `}` of its
//! line, then the text after its first balanced `}` is substituted on its own.

mod operators;
mod pattern;

use crate::golang;
use crate::Lookup;
use operators::Operator;
use pattern::Kind;

/// Why a text could not be substituted. `Display` gives compose-go's own message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// An invalid expression such as `${}`, `${VAR`, `${ VAR}` or `${VAR:x}`.
    ///
    /// Displays as compose-go's `Invalid template: "<template>"`; see
    /// [`TemplateError::at_path`] for the message `docker compose` prints for a compose file.
    #[error("Invalid template: {}", golang::quote(template))]
    Invalid {
        /// The text in which the expression was found: the whole input, or the nested operand
        /// or remainder in which compose found it (e.g. `${}` for `${A:-${}}`).
        template: String,
    },
    /// `${NAME:?message}` or `${NAME?message}` with the variable missing.
    #[error("required variable {name} is missing a value{}", reason(message))]
    Required {
        /// The variable.
        name: String,
        /// The user's message, itself substituted.
        message: String,
    },
}

/// `: message`, or nothing for an empty message.
fn reason(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

impl TemplateError {
    /// The message `docker compose` prints for this error in the compose-file value at `path`
    /// (dotted, e.g. `services.web.environment.FOO`). An invalid template gives three lines:
    ///
    /// ```text
    /// invalid interpolation format for services.web.image.
    /// You may need to escape any $ with another $.
    /// ${IMAGE
    /// ```
    pub fn at_path(&self, path: &str) -> String {
        match self {
            TemplateError::Invalid { template } => format!(
                "invalid interpolation format for {path}.\nYou may need to escape any $ with another $.\n{template}"
            ),
            TemplateError::Required { .. } => format!("error while interpolating {path}: {self}"),
        }
    }
}

/// Substitutes every variable of `input`. An unset variable without default becomes empty.
pub fn substitute(input: &str, lookup: &dyn Lookup) -> Result<String, TemplateError> {
    substitute_reporting(input, lookup, &mut |_| {})
}

/// Like [`substitute`], also returning the names of the unset variables used without an
/// operator (compose warns `The "X" variable is not set. Defaulting to a blank string.` for
/// each), in order, once per occurrence.
pub fn substitute_with_missing(input: &str, lookup: &dyn Lookup) -> Result<(String, Vec<String>), TemplateError> {
    let mut missing = Vec::new();
    let value = substitute_reporting(input, lookup, &mut |name| missing.push(name.to_string()))?;
    Ok((value, missing))
}

/// Like [`substitute`], calling `missing` with the name of each unset variable used without an
/// operator, once per occurrence, as compose logs its warnings.
pub fn substitute_reporting(
    input: &str,
    lookup: &dyn Lookup,
    missing: &mut dyn FnMut(&str),
) -> Result<String, TemplateError> {
    Substituter { lookup, missing }.run(input)
}

/// The state shared by a substitution and its nested ones.
struct Substituter<'a, 'm> {
    lookup: &'a dyn Lookup,
    missing: &'m mut dyn FnMut(&str),
}

impl Substituter<'_, '_> {
    /// Replaces every match of `template`. Like Go's `ReplaceAllStringFunc`, it goes on after an
    /// error and returns the first one; an invalid expression names `template` unless it was
    /// found in a nested text.
    fn run(&mut self, template: &str) -> Result<String, TemplateError> {
        let mut out = String::with_capacity(template.len());
        let mut first_error = None;
        let mut pos = 0;
        while let Some(m) = pattern::find(template, pos) {
            out.push_str(&template[pos..m.start]);
            match self.replace(&template[m.start..m.end]) {
                Ok(value) => out.push_str(&value),
                Err(mut err) => {
                    if let TemplateError::Invalid { template: t } = &mut err {
                        if t.is_empty() {
                            *t = template.to_string();
                        }
                    }
                    first_error.get_or_insert(err);
                }
            }
            pos = m.end;
        }
        out.push_str(&template[pos..]);
        match first_error {
            Some(err) => Err(err),
            None => Ok(out),
        }
    }

    /// The replacement for one match (compose-go's `DefaultReplacementAppliedFunc`).
    fn replace(&mut self, matched: &str) -> Result<String, TemplateError> {
        let operator = Operator::for_match(matched);
        // The expression ends at the first balanced `}`; what follows is substituted on its own.
        let (head, rest) = match first_closing_brace(matched) {
            Some(i) => (&matched[..=i], &matched[i + 1..]),
            None => (matched, ""),
        };
        let invalid = || TemplateError::Invalid { template: String::new() };
        let name = match pattern::find(head, 0).ok_or_else(invalid)?.kind {
            Kind::Escaped => return Ok("$".to_string()),
            Kind::Invalid => return Err(invalid()),
            Kind::Named(name) => name,
            Kind::Braced(content) => {
                if let Some(op) = operator {
                    if let Some(value) = op.apply(content, self)? {
                        return Ok(value + &self.run(rest)?);
                    }
                }
                content
            }
        };
        match self.lookup.lookup(name) {
            Some(value) => Ok(value),
            None => {
                (self.missing)(name);
                Ok(String::new())
            }
        }
    }
}

/// Byte index of the `}` that balances the first `{` of `s`, counting every `{` and skipping the
/// byte after it, as compose-go does; `None` if there is none.
fn first_closing_brace(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut open = 0i32;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'}' {
            open -= 1;
            if open == 0 {
                return Some(i);
            }
        }
        if bytes[i] == b'{' {
            open += 1;
            i += 1;
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_brace_counts_every_open_brace() {
        assert_eq!(first_closing_brace("${A:-x}-${B:-y}"), Some(6));
        assert_eq!(first_closing_brace("${A:-{}x}"), None);
        assert_eq!(first_closing_brace("${A:-{x}}"), Some(8));
        assert_eq!(first_closing_brace("$A"), None);
        assert_eq!(first_closing_brace("${"), None);
    }

    #[test]
    fn at_path_gives_compose_wording() {
        let err = TemplateError::Invalid { template: "${A".into() };
        assert_eq!(
            err.at_path("services.a.image"),
            "invalid interpolation format for services.a.image.\nYou may need to escape any $ with another $.\n${A"
        );
        let err = TemplateError::Required { name: "A".into(), message: String::new() };
        assert_eq!(err.at_path("x.y"), "error while interpolating x.y: required variable A is missing a value");
    }
}
