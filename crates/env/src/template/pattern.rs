//! A hand-written matcher equivalent to compose-go's substitution regular expression
//!
//! ```text
//! \$(?i:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*)|{(?:(?P<braced>[_a-z][_a-z0-9]*(?::?[-+?](.*))?)}|(?P<invalid>)))
//! ```
//!
//! under Go's leftmost-first semantics: `.*` is greedy and stops at a newline, so a braced
//! expression with an operator runs to the *last* `}` of its line; a `${` that is not a valid
//! braced expression matches as `invalid`; a `$` followed by anything else is not a match at all
//! (it stays a literal `$`).

/// What a match is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind<'a> {
    /// `$$`.
    Escaped,
    /// `$NAME`, with the name.
    Named(&'a str),
    /// `${...}`, with what is between the braces.
    Braced(&'a str),
    /// `${` starting something that is not a valid braced expression.
    Invalid,
}

/// One match: its byte range in the searched text and its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Match<'a> {
    pub start: usize,
    pub end: usize,
    pub kind: Kind<'a>,
}

/// The first match in `text` at or after byte `from`.
pub(super) fn find(text: &str, from: usize) -> Option<Match<'_>> {
    let mut pos = from;
    while let Some(offset) = text.get(pos..)?.find('$') {
        let at = pos + offset;
        if let Some(m) = match_at(text, at) {
            return Some(m);
        }
        pos = at + 1;
    }
    None
}

/// The match starting at the `$` at byte `at`, if the pattern matches there.
fn match_at(text: &str, at: usize) -> Option<Match<'_>> {
    let after = &text[at + 1..];
    let m = |len: usize, kind| Some(Match { start: at, end: at + 1 + len, kind });
    if after.starts_with('$') {
        return m(1, Kind::Escaped);
    }
    let name = name_len(after);
    if name > 0 {
        return m(name, Kind::Named(&after[..name]));
    }
    let body = after.strip_prefix('{')?;
    match braced_len(body) {
        Some(len) => m(1 + len + 1, Kind::Braced(&body[..len])),
        None => m(1, Kind::Invalid),
    }
}

/// Length of the braced content at the start of `body` (what follows `${`), excluding the
/// closing `}`; `None` if `body` does not hold a valid braced expression.
fn braced_len(body: &str) -> Option<usize> {
    let name = name_len(body);
    if name == 0 {
        return None;
    }
    let rest = &body.as_bytes()[name..];
    let operator = match rest {
        [b':', b'-' | b'+' | b'?', ..] => 2,
        [b'-' | b'+' | b'?', ..] => 1,
        [b'}', ..] => return Some(name),
        _ => return None,
    };
    // `(.*)}`: the greedy `.*` cannot cross a newline, so the last `}` before one closes.
    let operand_start = name + operator;
    let line = &body[operand_start..];
    let line = &line[..line.find('\n').unwrap_or(line.len())];
    line.rfind('}').map(|close| operand_start + close)
}

/// Length in bytes of the variable name at the start of `s`, 0 if there is none.
///
/// `(?i)[_a-z][_a-z0-9]*` in Go also matches the Kelvin sign and the long s, which case-fold to
/// `k` and `s`, so compose accepts them in names too.
pub(super) fn name_len(s: &str) -> usize {
    let mut len = 0;
    for c in s.chars() {
        let ok = if len == 0 { is_name_start(c) } else { is_name_start(c) || c.is_ascii_digit() };
        if !ok {
            break;
        }
        len += c.len_utf8();
    }
    len
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '\u{17f}' || c == '\u{212a}'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(text: &str) -> Option<(&str, Kind<'_>)> {
        find(text, 0).map(|m| (&text[m.start..m.end], m.kind))
    }

    #[test]
    fn kinds() {
        assert_eq!(first("a$$b"), Some(("$$", Kind::Escaped)));
        assert_eq!(first("$FOO-bar"), Some(("$FOO", Kind::Named("FOO"))));
        assert_eq!(first("x${FOO}y"), Some(("${FOO}", Kind::Braced("FOO"))));
        assert_eq!(first("${}"), Some(("${", Kind::Invalid)));
        assert_eq!(first("${ A}"), Some(("${", Kind::Invalid)));
        assert_eq!(first("${A:x}"), Some(("${", Kind::Invalid)));
    }

    #[test]
    fn a_dollar_before_anything_else_is_literal() {
        assert_eq!(first("$1 $} $ $- a$"), None);
        assert_eq!(first("$1 $A"), Some(("$A", Kind::Named("A"))));
    }

    #[test]
    fn operator_expressions_run_to_the_last_brace_of_the_line() {
        assert_eq!(first("${A:-x}-${B:-y}z"), Some(("${A:-x}-${B:-y}", Kind::Braced("A:-x}-${B:-y"))));
        assert_eq!(first("${A}-${B:-y}"), Some(("${A}", Kind::Braced("A"))));
        assert_eq!(first("${A:-x\n}"), Some(("${", Kind::Invalid)));
        assert_eq!(first("${A-x}\n}"), Some(("${A-x}", Kind::Braced("A-x"))));
    }

    #[test]
    fn go_case_folding_admits_kelvin_and_long_s() {
        assert_eq!(name_len("ſK_1-"), "ſK_1".len());
        assert_eq!(name_len("1A"), 0);
    }
}
