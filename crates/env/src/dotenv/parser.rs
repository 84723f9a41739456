//! The statement-by-statement parser, following compose-go's `dotenv/parser.go` step by step
//! (including its line counting, which the error messages show).

use indexmap::IndexMap;

use super::{escapes, DotenvError};
use crate::{golang, template, Lookup};

/// Parses `src` (without BOM) into `out`.
pub(super) fn parse(src: &str, lookup: &dyn Lookup) -> Result<IndexMap<String, String>, DotenvError> {
    let mut parser = Parser { line: 1, lookup, out: IndexMap::new() };
    let mut rest = src;
    while let Some(statement) = parser.statement_start(rest) {
        rest = parser.statement(statement)?;
    }
    Ok(parser.out)
}

struct Parser<'l> {
    /// The current line, 1-based, counted as compose-go counts it.
    line: usize,
    lookup: &'l dyn Lookup,
    out: IndexMap<String, String>,
}

impl Parser<'_> {
    /// Skips blank space and comment lines; `None` at the end of the text.
    fn statement_start<'s>(&mut self, mut src: &'s str) -> Option<&'s str> {
        loop {
            let start = src.find(|c: char| {
                if c == '\n' {
                    self.line += 1;
                }
                !c.is_whitespace()
            })?;
            src = &src[start..];
            if !src.starts_with('#') {
                return Some(src);
            }
            src = &src[src.find('\n')?..];
        }
    }

    /// Parses one statement at the start of `src`, returning the text after it.
    fn statement<'s>(&mut self, src: &'s str) -> Result<&'s str, DotenvError> {
        let line = self.line;
        let (key, rest, inherited) = self.key(src)?;
        if key.contains(' ') {
            return Err(DotenvError::Syntax { line: self.line, message: "key cannot contain a space".into() });
        }
        if inherited {
            if let Some(value) = self.lookup.lookup(key) {
                self.out.insert(key.to_string(), value);
            }
            return Ok(rest);
        }
        let (value, rest) = self.value(rest, line)?;
        self.out.insert(key.to_string(), value);
        Ok(rest)
    }

    /// The key at the start of `src`, the text after its separator (`=`, `:` or, for a bare key
    /// taken from the lookup, the end of the line) and whether it is such a bare key.
    ///
    /// A key that runs to the end of the text without a separator gives the empty key, whose
    /// value is then the key's text: compose reads a last line `FOO` without newline as `=FOO`.
    fn key<'s>(&mut self, src: &'s str) -> Result<(&'s str, &'s str, bool), DotenvError> {
        let src = strip_export(src);
        let mut separator = None;
        for (i, c) in src.char_indices() {
            match c {
                c if is_inline_space(c) => {}
                '=' | ':' | '\n' => {
                    separator = Some((i, c));
                    break;
                }
                c if is_key_char(c) => {}
                c => {
                    let first_line = src.split('\n').next().unwrap_or_default();
                    return Err(DotenvError::Syntax {
                        line: self.line,
                        message: format!(
                            "unexpected character {} in variable name {}",
                            golang::quote(c.encode_utf8(&mut [0; 4])),
                            golang::quote(first_line)
                        ),
                    });
                }
            }
        }
        if src.is_empty() {
            return Err(DotenvError::ZeroLengthString { line: self.line });
        }
        let (key, value_start, inherited) = match separator {
            Some((i, c)) => (&src[..i], i + 1, c == '\n'),
            None => ("", 0, false),
        };
        if inherited && !key.contains(' ') {
            self.line += 1;
        }
        let key = key.trim_end_matches(char::is_whitespace);
        Ok((key, src[value_start..].trim_start_matches(is_inline_space), inherited))
    }

    /// The value at the start of `src` and the text after it. `line` is the statement's line.
    fn value<'s>(&mut self, src: &'s str, line: usize) -> Result<(String, &'s str), DotenvError> {
        let quote = match src.chars().next() {
            Some(q @ ('"' | '\'')) => q,
            _ => {
                let (value, rest) = src.split_once('\n').unwrap_or((src, ""));
                self.line += 1;
                let value = value.split_once(" #").map_or(value, |(v, _)| v);
                let value = value.trim_end_matches(char::is_whitespace);
                return Ok((self.expand(value, line)?, rest));
            }
        };
        let mut value = String::new();
        let mut escaped = false;
        for (i, c) in src.char_indices().skip(1) {
            if c == '\n' {
                self.line += 1;
            }
            if escaped {
                escaped = false;
                // A backslash before the quote character is dropped; any other is kept.
                if c != quote {
                    value.push('\\');
                }
                value.push(c);
            } else if c == '\\' {
                escaped = true;
            } else if c == quote {
                let rest = &src[i + 1..];
                if quote == '"' {
                    value = self.expand(&escapes::expand(&value), line)?;
                }
                return Ok((value, rest));
            } else {
                value.push(c);
            }
        }
        let first_line = src.split('\n').next().unwrap_or_default();
        Err(DotenvError::Syntax { line: self.line, message: format!("unterminated quoted value {first_line}") })
    }

    /// Substitutes variables in a value: from the lookup first, then from the keys read so far.
    fn expand(&self, value: &str, line: usize) -> Result<String, DotenvError> {
        let lookup = |name: &str| self.lookup.lookup(name).or_else(|| self.out.get(name).cloned());
        template::substitute(value, &lookup).map_err(|source| DotenvError::Template { line, source })
    }
}

/// `src` without a leading `export` keyword (when followed by `[\t\n\f\r ]`) and the inline
/// space after it.
fn strip_export(src: &str) -> &str {
    match src.strip_prefix("export") {
        Some(rest) if rest.starts_with(['\t', '\n', '\u{c}', '\r', ' ']) => rest.trim_start_matches(is_inline_space),
        _ => src,
    }
}

/// compose-go's `isSpace`: white space that does not end a line.
fn is_inline_space(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}')
}

/// Characters allowed in a key: letters, numbers, `_`, `.`, `-`, `[` and `]`.
fn is_key_char(c: char) -> bool {
    matches!(c, '_' | '.' | '-' | '[' | ']') || golang::is_letter(c) || golang::is_number(c)
}
