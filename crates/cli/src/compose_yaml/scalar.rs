//! How Go's `gopkg.in/yaml.v3` writes a string: plain when it reads back as the same string,
//! double-quoted when it would read as another type (`"4200"`, `"true"`, `"8080:80"` as a
//! sexagesimal float, `"yes"`), single-quoted when YAML syntax forbids it plain (`'- a'`,
//! `'a: b'`), as a literal block when it has line breaks. A port of yaml.v3's `stringv` and of
//! libyaml's `yaml_emitter_analyze_scalar` / `select_scalar_style`, without line folding
//! (compose's output does not fold long lines).

use std::fmt::Write;

/// Where a string is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// A mapping key.
    Key,
    /// A value (of a mapping or a sequence).
    Value,
}

/// The string as yaml.v3 writes it; a literal block (`|-` ...) comes with its lines indented
/// by `indent` spaces, each line after a line break.
pub fn string(s: &str, position: Position, indent: usize) -> String {
    let plain_reads_back = resolves_to_string(s) && !is_base60_float(s) && !is_old_bool(s);
    let analysis = Analysis::of(s);
    if s.contains('\n') {
        if position == Position::Value && analysis.block_allowed {
            return literal(s, indent);
        }
        return double_quoted(s);
    }
    if plain_reads_back && analysis.block_plain_allowed && !s.is_empty() {
        return s.to_string();
    }
    if plain_reads_back && analysis.single_quoted_allowed {
        return format!("'{}'", s.replace('\'', "''"));
    }
    double_quoted(s)
}

/// Whether a plain scalar `s` reads back as a string (yaml.v3's `resolve`).
fn resolves_to_string(s: &str) -> bool {
    const NULLS_AND_BOOLS: [&str; 11] = ["", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE"];
    const SPECIAL_FLOATS: [&str; 12] = [".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"];
    if NULLS_AND_BOOLS.contains(&s) || SPECIAL_FLOATS.contains(&s) {
        return false;
    }
    match s.as_bytes().first() {
        Some(b'.') => s.parse::<f64>().is_err(),
        Some(b'0'..=b'9' | b'+' | b'-') => {
            if is_timestamp(s) {
                return false;
            }
            let plain = s.replace('_', "");
            !(go_parses_int(&plain) || is_yaml_float(&plain) || prefixed_int(&plain, "0b", 2) || prefixed_int(&plain, "0o", 8))
        }
        _ => true,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)` or `ParseUint(s, 0, 64)` succeeds: decimal, `0x`, `0o`,
/// `0b`, or a leading `0` for octal.
fn go_parses_int(s: &str) -> bool {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest)
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest)
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if body.is_empty() {
        return false;
    }
    match u64::from_str_radix(body, radix) {
        Ok(v) => !negative || v <= 1 << 63,
        Err(_) => false,
    }
}

/// `0b101` / `-0b101` (and `0o`): yaml.v3 reads them as integers.
fn prefixed_int(s: &str, prefix: &str, radix: u32) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    body.strip_prefix(prefix).is_some_and(|digits| !digits.is_empty() && i64::from_str_radix(digits, radix).is_ok())
}

/// yaml.v3's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    mantissa_ok && exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)))
}

/// yaml.v3's timestamps: `2006-1-2`, optionally followed by `T`, `t` or a space and a time.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits_at = |from: usize, min: usize, max: usize| -> Option<usize> {
        let n = b[from.min(b.len())..].iter().take_while(|c| c.is_ascii_digit()).count();
        (min..=max).contains(&n).then_some(from + n)
    };
    let Some(after_year) = digits_at(0, 4, 4).filter(|&i| b.get(i) == Some(&b'-')) else { return false };
    let Some(after_month) = digits_at(after_year + 1, 1, 2).filter(|&i| b.get(i) == Some(&b'-')) else { return false };
    let Some(after_day) = digits_at(after_month + 1, 1, 2) else { return false };
    match b.get(after_day) {
        None => true,
        Some(b'T' | b't' | b' ') => {
            let time = &s[after_day + 1..];
            let mut parts = time.splitn(3, ':');
            let hour = parts.next().unwrap_or_default();
            let minute = parts.next().unwrap_or_default();
            let second = parts.next().unwrap_or_default();
            let numeric = |t: &str, max_len| !t.is_empty() && t.len() <= max_len && t.bytes().all(|c| c.is_ascii_digit());
            numeric(hour, 2) && numeric(minute, 2) && second.as_bytes().first().is_some_and(u8::is_ascii_digit)
        }
        _ => false,
    }
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`: YAML 1.1 sexagesimal floats (`8080:80`).
fn is_base60_float(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (whole, fraction) = match s.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (s, None),
    };
    if fraction.is_some_and(|f| !f.bytes().all(|b| b.is_ascii_digit() || b == b'_')) {
        return false;
    }
    let mut parts = whole.split(':');
    let first = parts.next().unwrap_or_default();
    if !first.as_bytes().first().is_some_and(u8::is_ascii_digit) || !first.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        return false;
    }
    let sixties: Vec<&str> = parts.collect();
    !sixties.is_empty()
        && sixties.iter().all(|p| match p.as_bytes() {
            [d] => d.is_ascii_digit(),
            [t, d] => (b'0'..=b'5').contains(t) && d.is_ascii_digit(),
            _ => false,
        })
}

/// YAML 1.1 booleans yaml.v3 quotes for older readers.
fn is_old_bool(s: &str) -> bool {
    matches!(s, "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF")
}

/// libyaml's verdicts on a scalar's text.
struct Analysis {
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank_or_end(c: Option<char>) -> bool {
    c.is_none_or(|c| c == ' ' || c == '\t' || is_break(c))
}

/// yaml.v3's `is_printable` (which, unlike YAML, leaves out NEL and characters beyond U+FFFF).
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7E}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}') && c != '\u{FEFF}'
}

impl Analysis {
    /// `yaml_emitter_analyze_scalar`, for block context.
    fn of(s: &str) -> Analysis {
        let chars: Vec<char> = s.chars().collect();
        let mut block_indicators = s.starts_with("---") || s.starts_with("...");
        let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) = (false, false, false, false);
        let (mut break_space, mut space_break, mut previous_space, mut previous_break) = (false, false, false, false);
        let (mut line_breaks, mut special) = (false, false);
        let mut preceded_by_whitespace = true;
        for (i, &c) in chars.iter().enumerate() {
            let followed_by_whitespace = is_blank_or_end(chars.get(i + 1).copied());
            let (first, last) = (i == 0, i + 1 == chars.len());
            if first {
                if "#,[]{}&*!|>'\"%@`".contains(c) || (c == '-' && followed_by_whitespace) || ((c == '?' || c == ':') && followed_by_whitespace) {
                    block_indicators = true;
                }
            } else if (c == ':' && followed_by_whitespace) || (c == '#' && preceded_by_whitespace) {
                block_indicators = true;
            }
            if !is_printable(c) {
                special = true;
            }
            if is_break(c) {
                line_breaks = true;
            }
            if c == ' ' {
                leading_space |= first;
                trailing_space |= last;
                break_space |= previous_break;
                previous_space = true;
                previous_break = false;
            } else if is_break(c) {
                leading_break |= first;
                trailing_break |= last;
                space_break |= previous_space;
                previous_break = true;
                previous_space = false;
            } else {
                previous_space = false;
                previous_break = false;
            }
            preceded_by_whitespace = c == ' ' || c == '\t' || is_break(c);
        }
        let mut analysis = Analysis { block_plain_allowed: true, single_quoted_allowed: true, block_allowed: true };
        if leading_space || leading_break || trailing_space || trailing_break {
            analysis.block_plain_allowed = false;
        }
        if trailing_space {
            analysis.block_allowed = false;
        }
        if break_space {
            analysis.block_plain_allowed = false;
            analysis.single_quoted_allowed = false;
        }
        if space_break || special {
            analysis = Analysis { block_plain_allowed: false, single_quoted_allowed: false, block_allowed: false };
        }
        if line_breaks || block_indicators {
            analysis.block_plain_allowed = false;
        }
        analysis
    }
}

/// A literal block: `|`, `|-` or `|+` as the text ends in one, no or more line breaks, with an
/// indentation indicator when it starts with a space or a break.
fn literal(s: &str, indent: usize) -> String {
    let mut out = String::from("|");
    if s.starts_with([' ', '\n']) {
        out.push('2');
    }
    if !s.ends_with('\n') {
        out.push('-');
    } else if s.len() == 1 || s[..s.len() - 1].ends_with('\n') {
        out.push('+');
    }
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&" ".repeat(indent));
            out.push_str(line);
        }
    }
    out
}

/// A double-quoted scalar with libyaml's escapes.
fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if is_printable(c) && !is_break(c) && c != '"' && c != '\\' {
            out.push(c);
            continue;
        }
        match c {
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{B}' => out.push_str("\\v"),
            '\u{C}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1B}' => out.push_str("\\e"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{85}' => out.push_str("\\N"),
            '\u{A0}' => out.push_str("\\_"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if (c as u32) <= 0xFF => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c if (c as u32) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08X}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::{string, Position};

    /// Each string as docker compose v2.40.3 printed it as an environment value.
    #[test]
    fn strings_quoted_as_compose_prints_them() {
        let cases = [
            ("plain", "plain"),
            ("4200", "\"4200\""),
            ("8080:80", "8080:80"),
            ("12:30", "\"12:30\""),
            ("yes", "\"yes\""),
            ("null", "\"null\""),
            ("", "\"\""),
            ("0x1F", "\"0x1F\""),
            ("08", "\"08\""),
            ("0x", "0x"),
            ("1.", "\"1.\""),
            (".5", "\".5\""),
            ("0.5.1", "0.5.1"),
            ("2001-12-14", "\"2001-12-14\""),
            ("a: b", "'a: b'"),
            ("a:b", "a:b"),
            ("- a", "'- a'"),
            ("-a", "-a"),
            ("a #b", "'a #b'"),
            ("a#b", "a#b"),
            ("'x", "'''x'"),
            ("x ", "'x '"),
            ("a\tb", "\"a\\tb\""),
            ("a \nb", "\"a \\nb\""),
            ("NaN", "NaN"),
            ("<<", "<<"),
            ("-", "'-'"),
            ("+", "+"),
            ("été", "été"),
            ("x\u{85}y", "\"x\\Ny\""),
            ("x\u{a0}y", "x\u{a0}y"),
            ("😀", "\"\\U0001F600\""),
        ];
        for (text, printed) in cases {
            assert_eq!(string(text, Position::Value, 2), printed, "{text:?}");
        }
    }

    #[test]
    fn line_breaks_make_literal_blocks() {
        assert_eq!(string("a\nb", Position::Value, 2), "|-\n  a\n  b");
        assert_eq!(string("a\nb\n", Position::Value, 2), "|\n  a\n  b");
        assert_eq!(string("a\n\nb\n\n", Position::Value, 2), "|+\n  a\n\n  b\n");
        assert_eq!(string("  a\nb", Position::Value, 2), "|2-\n    a\n  b");
        assert_eq!(string("a\nb", Position::Key, 2), "\"a\\nb\"");
    }
}
