//! `env_file` entries with `format: raw`: each `KEY=VALUE` line taken literally, as Docker
//! Compose v2.40 reads them (checked against it): no quote handling, no interpolation, no
//! `export`; leading blanks dropped, blank and `#` lines skipped, a bare `KEY` taken from the
//! environment (left out when unset), and a key holding whitespace refused.

use indexmap::IndexMap;

/// The variables of raw env file `text`; `lookup` gives a bare key's value.
pub fn parse(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<IndexMap<String, String>, String> {
    let mut vars = IndexMap::new();
    for line in text.lines().map(str::trim_start) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((key, value)) => (key, Some(value.to_string())),
            None => (line, None),
        };
        if key.contains(char::is_whitespace) {
            return Err(format!("variable '{key}' contains whitespaces"));
        }
        if let Some(value) = value.or_else(|| lookup(key)) {
            vars.insert(key.to_string(), value);
        }
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_literal_and_bare_keys_come_from_the_environment() {
        let lookup = |k: &str| (k == "HOME").then(|| "/h".to_string());
        let vars = parse("# c\n\n  RAW=${X}\nQ=\"a=b#c\"\nT= x y \nHOME\nUNSET\nE=\n", &lookup).unwrap();
        let got: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, [("RAW", "${X}"), ("Q", "\"a=b#c\""), ("T", " x y "), ("HOME", "/h"), ("E", "")]);
    }

    #[test]
    fn a_key_with_whitespace_is_refused() {
        assert_eq!(parse("export E=1\n", &|_| None).unwrap_err(), "variable 'export E' contains whitespaces");
    }
}
