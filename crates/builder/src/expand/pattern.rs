//! Shell patterns (`*`, `?`, `\` escapes) of `${v#p}`, `${v%p}` and `${v/p/r}`, matched as
//! BuildKit's lexer does: converted to a regular expression (lazy `*` for the shortest
//! match), and the suffix forms run on the reversed value with the reversed pattern.

use regex::Regex;

/// `pattern` as a regular expression; `greedy` for `##`, `%%` and `/`, `anchored` for the
/// prefix forms.
fn to_regex(pattern: &str, greedy: bool, anchored: bool) -> Result<Regex, String> {
    let invalid = |why: String| format!("invalid pattern ({pattern}) in substitution: {why}");
    let mut out = String::from(if anchored { "^" } else { "" });
    let mut chars = pattern.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '*' => out.push_str(if greedy { ".*" } else { ".*?" }),
            '?' => out.push('.'),
            '\\' => match chars.peek() {
                Some('}' | '/') => {}
                Some(&next @ ('*' | '?' | '\\')) => {
                    chars.next();
                    out.push_str(&regex::escape(&next.to_string()));
                }
                Some(&next) => return Err(invalid(format!("invalid escape '\\{next}'"))),
                None => return Err(invalid("invalid escape '\\'".into())),
            },
            _ => out.push_str(&regex::escape(&ch.to_string())),
        }
    }
    Regex::new(&format!("(?s){out}")).map_err(|e| invalid(e.to_string()))
}

/// `${value#pattern}` (`greedy`: `##`).
pub(crate) fn trim_prefix(value: &str, pattern: &str, greedy: bool) -> Result<String, String> {
    let re = to_regex(pattern, greedy, true)?;
    Ok(match re.find(value) {
        Some(m) => value[m.end()..].to_string(),
        None => value.to_string(),
    })
}

/// `${value%pattern}` (`greedy`: `%%`): the prefix trim of the reversed value by the
/// reversed pattern (escapes kept with the character they escape).
pub(crate) fn trim_suffix(value: &str, pattern: &str, greedy: bool) -> Result<String, String> {
    let reversed: String = value.chars().rev().collect();
    let trimmed = trim_prefix(&reversed, &reverse_pattern(pattern), greedy)?;
    Ok(trimmed.chars().rev().collect())
}

/// `${value/pattern/replacement}` (`all`: `//`): the first (or every) longest match replaced.
pub(crate) fn replace(value: &str, pattern: &str, replacement: &str, all: bool) -> Result<String, String> {
    let re = to_regex(pattern, true, false)?;
    let replacement = regex::NoExpand(replacement);
    Ok(if all { re.replace_all(value, replacement).into_owned() } else { re.replace(value, replacement).into_owned() })
}

/// The pattern reversed, each `\x` escape kept in front of its character.
fn reverse_pattern(pattern: &str) -> String {
    let mut units: Vec<String> = Vec::new();
    let mut chars = pattern.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => units.push(chars.next().map_or("\\".to_string(), |next| format!("\\{next}"))),
            _ => units.push(ch.to_string()),
        }
    }
    units.into_iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_and_suffix_trims_shortest_and_longest() {
        assert_eq!(trim_prefix("foo/bar/baz", "*/", false).unwrap(), "bar/baz");
        assert_eq!(trim_prefix("foo/bar/baz", "*/", true).unwrap(), "baz");
        assert_eq!(trim_suffix("foo/bar/baz", "/*", false).unwrap(), "foo/bar");
        assert_eq!(trim_suffix("foo/bar/baz", "/*", true).unwrap(), "foo");
        assert_eq!(trim_prefix("abc", "x", false).unwrap(), "abc");
        assert_eq!(trim_suffix("file.tar.gz", ".*", false).unwrap(), "file.tar");
        assert_eq!(trim_prefix("a*b", "a\\*", false).unwrap(), "b");
        assert_eq!(trim_suffix("x.?", "\\?", false).unwrap(), "x.");
    }

    #[test]
    fn replacement_first_or_all() {
        assert_eq!(replace("a-b-c", "-", "+", false).unwrap(), "a+b-c");
        assert_eq!(replace("a-b-c", "-", "+", true).unwrap(), "a+b+c");
        assert_eq!(replace("abcabc", "b*", "X", false).unwrap(), "aX");
        assert_eq!(replace("a.b", "?", "$1", true).unwrap(), "$1$1$1");
    }

    #[test]
    fn a_bad_escape_is_named() {
        assert_eq!(trim_prefix("a", "\\a", false).unwrap_err(), "invalid pattern (\\a) in substitution: invalid escape '\\a'");
    }
}
