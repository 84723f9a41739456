//! Values printed the way compose (a Go program) prints them in its messages.

use serde_json::Value;

/// A string in single quotes, escaped as compose's schema messages do (`'web'`, `'it\'s'`).
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Go's `%T` of a decoded YAML value (`int`, `map[string]interface {}`, ...).
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "int",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's `%s` of a decoded YAML value: strings as they are, other scalars in Go's bad-verb form
/// (`%!s(int=3)`), sequences as `[a b]` and mappings as `map[k:v]` with sorted keys.
pub(crate) fn percent_s(value: &Value) -> String {
    match value {
        Value::Null => "%!s(<nil>)".to_string(),
        Value::Bool(b) => format!("%!s(bool={b})"),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => format!("%!s(int={i})"),
            (None, Some(u), _) => format!("%!s(int={u})"),
            (None, None, Some(f)) => format!("%!s(float64={})", go_float(f)),
            _ => format!("%!s(float64={n})"),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(percent_s).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let entries: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", percent_s(&map[k])))
                .collect();
            format!("map[{}]", entries.join(" "))
        }
    }
}

/// A float as Go's `%v` prints it: the shortest digits, in exponent form (`1e+06`) from an
/// exponent of 6 or below -4.
pub(crate) fn go_float(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".to_string()
        } else if f > 0.0 {
            "+Inf".to_string()
        } else {
            "-Inf".to_string()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        format!("{f}")
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_like_go() {
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(100.0), "100");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(1e30), "1e+30");
        assert_eq!(go_float(1.5e-5), "1.5e-05");
        assert_eq!(go_float(0.0001), "0.0001");
    }

    #[test]
    fn values_print_like_go_percent_s() {
        assert_eq!(percent_s(&json!(3)), "%!s(int=3)");
        assert_eq!(percent_s(&json!(true)), "%!s(bool=true)");
        assert_eq!(percent_s(&json!(1.5)), "%!s(float64=1.5)");
        assert_eq!(percent_s(&json!(null)), "%!s(<nil>)");
        assert_eq!(percent_s(&json!("foo")), "foo");
        assert_eq!(percent_s(&json!([1, "a"])), "[%!s(int=1) a]");
        assert_eq!(
            percent_s(&json!({"b": 1, "a": "x"})),
            "map[a:x b:%!s(int=1)]"
        );
    }

    #[test]
    fn quoting_escapes_quotes_and_controls() {
        assert_eq!(quote("web"), "'web'");
        assert_eq!(quote("it's"), "'it\\'s'");
        assert_eq!(quote("a\"b"), "'a\"b'");
        assert_eq!(quote("a\nb"), "'a\\nb'");
    }
}
