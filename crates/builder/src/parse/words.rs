//! Splitting an instruction's text into words the way BuildKit's parser does, before any
//! expansion: `parseWords` (quotes and escapes kept), the leading `--flags` of
//! `extractBuilderFlags` (quotes removed), whitespace fields, and JSON string arrays.

/// Words separated by whitespace outside quotes, quotes and escapes kept in the words
/// (BuildKit's `parseWords`, used by ENV, LABEL and ARG).
pub(crate) fn quoted_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut blank_ok = false;
    let mut chars = rest.chars().peekable();
    while let Some(ch) = chars.next() {
        if let Some(q) = quote {
            if ch == q {
                quote = None;
            } else if ch == escape && q != '\'' {
                word.push(ch);
                match chars.next() {
                    Some(next) => word.push(next),
                    None => break,
                }
                continue;
            }
            word.push(ch);
            continue;
        }
        if ch.is_whitespace() {
            if in_word && (blank_ok || !word.is_empty()) {
                words.push(std::mem::take(&mut word));
            }
            in_word = false;
            blank_ok = false;
            continue;
        }
        in_word = true;
        if ch == '\'' || ch == '"' {
            quote = Some(ch);
            blank_ok = true;
        } else if ch == escape {
            match chars.next() {
                Some(next) => {
                    word.push(ch);
                    word.push(next);
                }
                None => continue,
            }
            continue;
        }
        word.push(ch);
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// The leading `--flag[=value]` words of `line` (quotes removed, `\` escapes taken) and the
/// rest of the line after them; a lone `--` ends the flags (BuildKit's `extractBuilderFlags`).
pub(crate) fn leading_flags(line: &str) -> (Vec<String>, &str) {
    let mut flags = Vec::new();
    let mut pos = 0;
    let bytes = line.as_bytes();
    loop {
        while pos < bytes.len() && (bytes[pos] as char).is_ascii_whitespace() {
            pos += 1;
        }
        if !line[pos..].starts_with("--") {
            return (flags, &line[pos..]);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        let mut blank_ok = false;
        let mut chars = line[pos..].char_indices();
        let mut end = line.len();
        while let Some((i, ch)) = chars.next() {
            if let Some(q) = quote {
                if ch == q {
                    quote = None;
                } else if ch == '\\' {
                    match chars.next() {
                        Some((_, next)) => word.push(next),
                        None => quote = None,
                    }
                } else {
                    word.push(ch);
                }
                continue;
            }
            if ch.is_whitespace() {
                end = pos + i;
                break;
            }
            if ch == '\'' || ch == '"' {
                quote = Some(ch);
                blank_ok = true;
            } else if ch == '\\' {
                if let Some((_, next)) = chars.next() {
                    word.push(next);
                }
            } else {
                word.push(ch);
            }
        }
        if word == "--" {
            return (flags, line[end..].trim_start());
        }
        if blank_ok || !word.is_empty() {
            flags.push(word);
        }
        pos = end;
    }
}

/// Fields separated by whitespace, nothing else (BuildKit's
/// `parseStringsWhitespaceDelimited`: FROM, EXPOSE, shell-form COPY/ADD/VOLUME).
pub(crate) fn fields(rest: &str) -> Vec<String> {
    rest.split_whitespace().map(str::to_string).collect()
}

/// What a `[...]` argument is.
pub(crate) enum Json {
    /// A JSON array of strings: the exec form.
    Strings(Vec<String>),
    /// Not JSON (or not an array): the shell form.
    Words,
    /// A JSON array with something other than strings in it.
    NotStrings,
}

/// Reads `rest` as a JSON array of strings, as BuildKit's `parseJSON`.
pub(crate) fn json_array(rest: &str) -> Json {
    let rest = rest.trim();
    if !rest.starts_with('[') {
        return Json::Words;
    }
    match serde_json::from_str::<Vec<serde_json::Value>>(rest) {
        Err(_) => Json::Words,
        Ok(values) => {
            let strings: Option<Vec<String>> = values.into_iter().map(|v| v.as_str().map(str::to_string)).collect();
            strings.map_or(Json::NotStrings, Json::Strings)
        }
    }
}

/// BuildKit's words for a JSON array with something other than strings in it.
pub(crate) const NOT_STRINGS: &str = "when using JSON array syntax, arrays must be comprised of strings only";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_words_keep_quotes_and_escapes() {
        assert_eq!(quoted_words(r#"a=b c="d e" f='g h'"#, '\\'), vec!["a=b", r#"c="d e""#, "f='g h'"]);
        assert_eq!(quoted_words(r"x=a\ b y", '\\'), vec![r"x=a\ b", "y"]);
        assert_eq!(quoted_words(r#"x="" y"#, '\\'), vec![r#"x="""#, "y"]);
        assert_eq!(quoted_words("  ", '\\'), Vec::<String>::new());
        assert_eq!(quoted_words("x=a` b", '`'), vec!["x=a` b"]);
    }

    #[test]
    fn leading_flags_stop_at_the_first_other_word() {
        assert_eq!(leading_flags("--from=build --chown=\"a b\" src dst"), (vec!["--from=build".to_string(), "--chown=a b".to_string()], "src dst"));
        assert_eq!(leading_flags("-- --not-a-flag x"), (vec![], "--not-a-flag x"));
        assert_eq!(leading_flags("echo --flag"), (vec![], "echo --flag"));
        assert_eq!(leading_flags("--link"), (vec!["--link".to_string()], ""));
    }

    #[test]
    fn json_arrays_of_strings_only() {
        assert!(matches!(json_array(r#" ["a", "b c"] "#), Json::Strings(v) if v == ["a", "b c"]));
        assert!(matches!(json_array("[not json"), Json::Words));
        assert!(matches!(json_array("echo [x]"), Json::Words));
        assert!(matches!(json_array("[1, 2]"), Json::NotStrings));
    }
}
