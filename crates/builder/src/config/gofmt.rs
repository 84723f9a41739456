//! Go's formatting where Docker's history strings use it: `%q` of strings, string slices and
//! small integers, `%v` of string slices and maps of ports, and `time.Duration.String`.

/// `strconv.Quote`: `"a \"b\"\n"`.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `%q` of a `[]string`: `["/bin/sh" "-c" "echo hi"]`.
pub(crate) fn quote_slice(words: &[String]) -> String {
    format!("[{}]", words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" "))
}

/// `%v` of a `[]string`: `[/a /b]`.
pub(crate) fn slice(words: &[String]) -> String {
    format!("[{}]", words.join(" "))
}

/// `%q` of an `int` (a rune literal): `'\x03'`, `'A'`.
pub(crate) fn quote_rune(n: i64) -> String {
    match u32::try_from(n).ok().and_then(char::from_u32) {
        Some('\'') => "'\\''".into(),
        Some('\\') => "'\\\\'".into(),
        Some('\u{7}') => "'\\a'".into(),
        Some('\u{8}') => "'\\b'".into(),
        Some('\t') => "'\\t'".into(),
        Some('\n') => "'\\n'".into(),
        Some('\u{b}') => "'\\v'".into(),
        Some('\u{c}') => "'\\f'".into(),
        Some('\r') => "'\\r'".into(),
        Some(c) if (c as u32) < 0x20 || c as u32 == 0x7f => format!("'\\x{:02x}'", c as u32),
        Some(c) if (c as u32) < 0x80 || !c.is_control() => format!("'{c}'"),
        _ => format!("'\\u{:04x}'", n),
    }
}

/// `time.Duration(nanos).String()`: `1m30s`, `1.5s`, `100ms`, `0s`.
pub(crate) fn duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    if n < 1_000_000_000 {
        let (unit, scale) = if n < 1_000 {
            ("ns", 1)
        } else if n < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{sign}{}{unit}", fraction(n, scale));
    }
    let hours = n / 3_600_000_000_000;
    let minutes = (n / 60_000_000_000) % 60;
    let seconds = fraction(n % 60_000_000_000, 1_000_000_000);
    match (hours, minutes) {
        (0, 0) => format!("{sign}{seconds}s"),
        (0, m) => format!("{sign}{m}m{seconds}s"),
        (h, m) => format!("{sign}{h}h{m}m{seconds}s"),
    }
}

/// `n / scale` with its fraction, trailing zeros dropped (`1.5`, `100`).
fn fraction(n: u64, scale: u64) -> String {
    let whole = n / scale;
    let rest = n % scale;
    if rest == 0 {
        return whole.to_string();
    }
    let digits = scale.to_string().len() - 1;
    let frac = format!("{rest:0digits$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_quoting() {
        assert_eq!(quote_slice(&["/bin/sh".into(), "-c".into(), "echo \"hi\"\n".into()]), r#"["/bin/sh" "-c" "echo \"hi\"\n"]"#);
        assert_eq!(slice(&["/a".into(), "/b".into()]), "[/a /b]");
        assert_eq!((quote_rune(0), quote_rune(3), quote_rune(65), quote_rune(10)), ("'\\x00'".into(), "'\\x03'".into(), "'A'".into(), "'\\n'".into()));
    }

    #[test]
    fn go_durations() {
        let cases = [(0, "0s"), (5_000_000_000, "5s"), (300_000_000_000, "5m0s"), (90_000_000_000, "1m30s"), (1_500_000_000, "1.5s"), (100_000_000, "100ms"), (3_600_000_000_000, "1h0m0s"), (1_500, "1.5µs"), (7, "7ns")];
        for (nanos, text) in cases {
            assert_eq!(duration(nanos), text);
        }
    }
}
