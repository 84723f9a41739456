//! `.env` and `env_file` files.
//!
//! One `KEY=VALUE` (or `KEY: VALUE`) per line, optionally prefixed by `export`. Values may be
//! single-quoted (taken literally), double-quoted (escapes `\n`, `\t`, `\"`, `\\`, `\$`; may span
//! lines; variables expanded) or bare (trimmed, cut at a ` #` comment, variables expanded).
//! Variables in values resolve against the keys read earlier in the file, then the lookup.
//! A bare `KEY` line takes its value from the lookup, and is left out if the lookup has none.

use std::path::Path;

use indexmap::IndexMap;

use crate::template::{self, TemplateError};
use crate::Lookup;

/// Why an env file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DotenvError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A line is malformed.
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A value's variable expansion failed.
    #[error("line {line}: {source}")]
    Template {
        /// 1-based line number.
        line: usize,
        /// The interpolation error.
        source: TemplateError,
    },
}

/// Reads and parses a file.
pub fn read_file(path: &Path, lookup: &dyn Lookup) -> Result<IndexMap<String, String>, DotenvError> {
    let content = std::fs::read_to_string(path).map_err(|source| DotenvError::Io { path: path.to_path_buf(), source })?;
    parse(&content, lookup)
}

/// Parses an env file's content.
pub fn parse(content: &str, lookup: &dyn Lookup) -> Result<IndexMap<String, String>, DotenvError> {
    let content = content.strip_prefix('\u{feff}').unwrap_or(content).replace("\r\n", "\n");
    let mut vars: IndexMap<String, String> = IndexMap::new();
    let mut rest = content.as_str();
    let mut line = 1;
    while !rest.is_empty() {
        let (entry, consumed_lines, next) = next_entry(rest, line)?;
        if let Some((key, raw)) = entry {
            let chained = |name: &str| vars.get(name).cloned().or_else(|| lookup.lookup(name));
            match raw {
                RawValue::Inherit => {
                    if let Some(v) = lookup.lookup(&key) {
                        vars.insert(key, v);
                    }
                }
                RawValue::Literal(v) => {
                    vars.insert(key, v);
                }
                RawValue::Expand(v) => {
                    let value = template::substitute(&v, &chained).map_err(|source| DotenvError::Template { line, source })?;
                    vars.insert(key, value);
                }
            }
        }
        line += consumed_lines;
        rest = next;
    }
    Ok(vars)
}

/// A value as written, before expansion.
enum RawValue {
    /// `KEY` alone: take it from the environment.
    Inherit,
    /// Single-quoted: as is.
    Literal(String),
    /// Double-quoted or bare: variables to expand.
    Expand(String),
}

type Entry = Option<(String, RawValue)>;

/// Reads one entry from `text`: the entry (None for blank and comment lines), how many lines it
/// took, and the text after it.
fn next_entry(text: &str, line: usize) -> Result<(Entry, usize, &str), DotenvError> {
    let (first, after_line) = match text.find('\n') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    };
    let trimmed = first.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok((None, 1, after_line));
    }
    let body = trimmed.strip_prefix("export ").map(str::trim_start).unwrap_or(trimmed);
    let Some(sep) = body.find(['=', ':']) else {
        let key = body.trim();
        check_key(key, line)?;
        return Ok((Some((key.to_string(), RawValue::Inherit)), 1, after_line));
    };
    let key = body[..sep].trim();
    check_key(key, line)?;
    let value = body[sep + 1..].trim_start_matches([' ', '\t']);
    match value.chars().next() {
        Some(q @ ('\'' | '"')) => {
            // The value runs to the closing quote, possibly over several lines.
            let start = offset_of(text, value) + 1;
            let close = find_closing(&text[start..], q).ok_or_else(|| DotenvError::Syntax {
                line: line + 1,
                message: format!("unterminated quoted value {}", value.trim_end()),
            })?;
            let inner = &text[start..start + close];
            let end = start + close + 1;
            let remainder = &text[end..];
            let next = match remainder.find('\n') {
                Some(i) => &remainder[i + 1..],
                None => "",
            };
            let lines = 1 + inner.matches('\n').count();
            let raw = if q == '\'' {
                RawValue::Literal(inner.replace("\\'", "'"))
            } else {
                RawValue::Expand(unescape(inner))
            };
            Ok((Some((key.to_string(), raw)), lines, next))
        }
        _ => {
            let value = match value.find(" #").or_else(|| value.find("\t#")) {
                Some(i) => &value[..i],
                None => value,
            };
            Ok((Some((key.to_string(), RawValue::Expand(value.trim_end().to_string()))), 1, after_line))
        }
    }
}

/// Byte offset of `part` (a sub-slice of `whole`) in `whole`.
fn offset_of(whole: &str, part: &str) -> usize {
    part.as_ptr() as usize - whole.as_ptr() as usize
}

/// Index of the closing quote in `s` (after the opening one); an escaped quote (`\"`, `\'`)
/// does not close.
fn find_closing(s: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        if c == '\\' {
            escaped = true;
            continue;
        }
        if c == quote {
            return Some(i);
        }
    }
    None
}

/// Backslash escapes of double-quoted values. `\$` stays an escaped dollar (`$$`) so expansion
/// leaves it alone.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('$') => out.push_str("$$"),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

fn check_key(key: &str, line: usize) -> Result<(), DotenvError> {
    if key.contains(char::is_whitespace) {
        return Err(DotenvError::Syntax { line, message: "key cannot contain a space".into() });
    }
    let ok = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(DotenvError::Syntax { line, message: format!("unexpected character in variable name {key:?}") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_with(text: &str, env: &[(&str, &str)]) -> IndexMap<String, String> {
        let env: IndexMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        parse(text, &env).unwrap()
    }

    fn get(map: &IndexMap<String, String>, k: &str) -> Option<String> {
        map.get(k).cloned()
    }

    #[test]
    fn forms_of_keys_and_values() {
        let m = parse_with("A=1\nexport B=2\nC: 3\nD = spaced  \nE=\nA.B-c=dots\n1X=digit\n", &[]);
        assert_eq!(get(&m, "A").as_deref(), Some("1"));
        assert_eq!(get(&m, "B").as_deref(), Some("2"));
        assert_eq!(get(&m, "C").as_deref(), Some("3"));
        assert_eq!(get(&m, "D").as_deref(), Some("spaced"));
        assert_eq!(get(&m, "E").as_deref(), Some(""));
        assert_eq!(get(&m, "A.B-c").as_deref(), Some("dots"));
        assert_eq!(get(&m, "1X").as_deref(), Some("digit"));
    }

    #[test]
    fn bare_keys_inherit_or_are_left_out() {
        let m = parse_with("OSV\nNOPE\n", &[("OSV", "os")]);
        assert_eq!(get(&m, "OSV").as_deref(), Some("os"));
        assert!(!m.contains_key("NOPE"));
    }

    #[test]
    fn comments() {
        let m = parse_with("# full line\n  # indented\nA=x #comment\nB=x#not\nC='a #b'\n", &[]);
        assert_eq!(m.len(), 3);
        assert_eq!(get(&m, "A").as_deref(), Some("x"));
        assert_eq!(get(&m, "B").as_deref(), Some("x#not"));
        assert_eq!(get(&m, "C").as_deref(), Some("a #b"));
    }

    #[test]
    fn quotes() {
        let m = parse_with("S='q $X \\n'\nD=\"l1\\nl2 \\\"q\\\" \\$X ${OSV}\"\nM=\"multi\nline\"\nT='a'b\nU=a\\nb\n", &[("OSV", "os")]);
        assert_eq!(get(&m, "S").as_deref(), Some("q $X \\n"));
        assert_eq!(get(&m, "D").as_deref(), Some("l1\nl2 \"q\" $X os"));
        assert_eq!(get(&m, "M").as_deref(), Some("multi\nline"));
        assert_eq!(get(&m, "T").as_deref(), Some("a"));
        assert_eq!(get(&m, "U").as_deref(), Some("a\\nb"));
    }

    #[test]
    fn expansion_uses_earlier_keys_then_the_lookup() {
        let m = parse_with("A=1\nB=${A}2\nC=$A$OSV\nD=${NOPE:-def}\nE=$$X\n", &[("OSV", "os")]);
        assert_eq!(get(&m, "B").as_deref(), Some("12"));
        assert_eq!(get(&m, "C").as_deref(), Some("1os"));
        assert_eq!(get(&m, "D").as_deref(), Some("def"));
        assert_eq!(get(&m, "E").as_deref(), Some("$X"));
    }

    #[test]
    fn bom_and_crlf() {
        let m = parse_with("\u{feff}A=bom\r\nB=crlf\r\n", &[]);
        assert_eq!(get(&m, "A").as_deref(), Some("bom"));
        assert_eq!(get(&m, "B").as_deref(), Some("crlf"));
    }

    #[test]
    fn errors_name_the_line() {
        let err = parse("A=1\nB=\"unterminated\n", &IndexMap::new()).unwrap_err();
        assert!(err.to_string().starts_with("line 3: unterminated quoted value"), "{err}");
        let err = parse("A=1\nB C=2\n", &IndexMap::new()).unwrap_err();
        assert!(err.to_string().starts_with("line 2: "), "{err}");
        let err = parse("A=${B:?no}\n", &IndexMap::new()).unwrap_err();
        assert_eq!(err.to_string(), "line 1: required variable B is missing a value: no");
    }
}
