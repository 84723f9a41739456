//! `${VAR}` substitution with compose's operators.

use crate::Lookup;

/// Why a template could not be substituted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The text is not a valid template (`${}`, `${VAR`, `${VAR:=x}`...).
    #[error("invalid interpolation format in {template:?}: you may need to escape any $ with another $")]
    Invalid {
        /// The whole text that was being substituted.
        template: String,
    },
    /// `${VAR:?message}` or `${VAR?message}` with the variable missing.
    #[error("required variable {name} is missing a value{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    Required {
        /// The variable.
        name: String,
        /// The user's message, substituted.
        message: String,
    },
}

/// Substitutes every variable of `input`. An unset variable without default becomes empty.
pub fn substitute(input: &str, lookup: &dyn Lookup) -> Result<String, TemplateError> {
    substitute_reporting(input, lookup, &mut |_| {})
}

/// Like [`substitute`], calling `missing` with the name of each unset variable used without a
/// default (compose warns about them).
pub fn substitute_reporting(
    input: &str,
    lookup: &dyn Lookup,
    missing: &mut dyn FnMut(&str),
) -> Result<String, TemplateError> {
    let invalid = || TemplateError::Invalid { template: input.to_string() };
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = after.strip_prefix('{') {
            let end = closing_brace(r).ok_or_else(invalid)?;
            out.push_str(&braced(&r[..end], lookup, missing).map_err(|e| match e {
                TemplateError::Invalid { .. } => invalid(),
                other => other,
            })?);
            rest = &r[end + 1..];
        } else {
            let len = name_len(after);
            if len == 0 {
                out.push('$');
                rest = after;
            } else {
                let name = &after[..len];
                match lookup.lookup(name) {
                    Some(v) => out.push_str(&v),
                    None => missing(name),
                }
                rest = &after[len..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Length of the variable name at the start of `s` (`[_A-Za-z][_A-Za-z0-9]*`), 0 if none.
fn name_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    if bytes.first().is_none_or(|b| !(b.is_ascii_alphabetic() || *b == b'_')) {
        return 0;
    }
    bytes.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count()
}

/// Index of the `}` closing a `${` whose content starts `s`; nested `${...}` are skipped whole.
fn closing_brace(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'$') => i += 1,
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// The value of one `${...}` expression (without the braces).
fn braced(expr: &str, lookup: &dyn Lookup, missing: &mut dyn FnMut(&str)) -> Result<String, TemplateError> {
    let invalid = || TemplateError::Invalid { template: expr.to_string() };
    let len = name_len(expr);
    if len == 0 {
        return Err(invalid());
    }
    let name = &expr[..len];
    let op = &expr[len..];
    let value = lookup.lookup(name);
    let set = value.is_some();
    let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
    let (operator, arg) = ["-", ":-", "?", ":?", "+", ":+"]
        .iter()
        .filter_map(|o| op.strip_prefix(o).map(|a| (*o, a)))
        .max_by_key(|(o, _)| o.len())
        .map(|(o, a)| (Some(o), a))
        .unwrap_or((None, op));
    match operator {
        None if arg.is_empty() => {
            if !set {
                missing(name);
            }
            Ok(value.unwrap_or_default())
        }
        None => Err(invalid()),
        Some(":-") if !non_empty => substitute_reporting(arg, lookup, missing),
        Some("-") if !set => substitute_reporting(arg, lookup, missing),
        Some(":?") if !non_empty => Err(required(name, arg, lookup, missing)?),
        Some("?") if !set => Err(required(name, arg, lookup, missing)?),
        Some(":+") => if non_empty { substitute_reporting(arg, lookup, missing) } else { Ok(String::new()) },
        Some("+") => if set { substitute_reporting(arg, lookup, missing) } else { Ok(String::new()) },
        Some(_) => Ok(value.unwrap_or_default()),
    }
}

/// The error for a missing required variable, its message itself substituted.
fn required(name: &str, message: &str, lookup: &dyn Lookup, missing: &mut dyn FnMut(&str)) -> Result<TemplateError, TemplateError> {
    Ok(TemplateError::Required { name: name.to_string(), message: substitute_reporting(message, lookup, missing)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env() -> HashMap<String, String> {
        [("SET", "value"), ("EMPTY", "")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn sub(s: &str) -> Result<String, TemplateError> {
        substitute(s, &env())
    }

    #[test]
    fn plain_and_braced_variables() {
        assert_eq!(sub("a $SET b ${SET}c").unwrap(), "a value b valuec");
        assert_eq!(sub("$UNSET|${UNSET}").unwrap(), "|");
        assert_eq!(sub("$SET-suffix").unwrap(), "value-suffix");
    }

    #[test]
    fn default_operators_for_set_empty_and_unset() {
        assert_eq!(sub("${SET:-d}|${EMPTY:-d}|${UNSET:-d}").unwrap(), "value|d|d");
        assert_eq!(sub("${SET-d}|${EMPTY-d}|${UNSET-d}").unwrap(), "value||d");
        assert_eq!(sub("${UNSET-}").unwrap(), "");
    }

    #[test]
    fn alternate_operators_for_set_empty_and_unset() {
        assert_eq!(sub("${SET:+a}|${EMPTY:+a}|${UNSET:+a}").unwrap(), "a||");
        assert_eq!(sub("${SET+a}|${EMPTY+a}|${UNSET+a}").unwrap(), "a|a|");
    }

    #[test]
    fn required_operators_for_set_empty_and_unset() {
        assert_eq!(sub("${SET:?boom}").unwrap(), "value");
        assert_eq!(sub("${EMPTY?boom}").unwrap(), "");
        let e = sub("${EMPTY:?boom}").unwrap_err();
        assert_eq!(e.to_string(), "required variable EMPTY is missing a value: boom");
        let e = sub("${UNSET?}").unwrap_err();
        assert_eq!(e.to_string(), "required variable UNSET is missing a value");
        let e = sub("${UNSET:?need ${SET}}").unwrap_err();
        assert_eq!(e.to_string(), "required variable UNSET is missing a value: need value");
    }

    #[test]
    fn nesting_and_escapes() {
        assert_eq!(sub("${UNSET:-${ALSO:-${SET}}}").unwrap(), "value");
        assert_eq!(sub("${UNSET:-a}b}").unwrap(), "ab}");
        assert_eq!(sub("$$SET $${SET} a$$").unwrap(), "$SET ${SET} a$");
        assert_eq!(sub("${UNSET:-$$}").unwrap(), "$");
        assert_eq!(sub("$ $1abc a$").unwrap(), "$ $1abc a$");
    }

    #[test]
    fn invalid_templates() {
        for bad in ["${}", "${VAR", "a${ VAR}", "${VAR:=x}", "${V.X}", "${X/a/b}", "${1}"] {
            assert!(matches!(sub(bad), Err(TemplateError::Invalid { .. })), "{bad}");
        }
    }

    #[test]
    fn missing_variables_are_reported() {
        let mut seen = Vec::new();
        substitute_reporting("$A ${B} ${C:-x} ${SET}", &env(), &mut |n| seen.push(n.to_string())).unwrap();
        assert_eq!(seen, vec!["A", "B"]);
    }
}
