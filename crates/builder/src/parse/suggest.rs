//! BuildKit's "(did you mean ...?)" after an unknown instruction or flag (its `suggest`
//! package): the closest known name within a Levenshtein distance under 3, in the case the
//! user wrote when it was all lower or all upper case.

/// `message` with the suggestion for `value` among `options`, if one is close.
pub(crate) fn with_suggestion(message: String, value: &str, options: &[&str], case_sensitive: bool) -> String {
    let wanted = if case_sensitive { value.to_string() } else { value.to_lowercase() };
    let mut best: Option<(usize, String)> = None;
    for option in options {
        let option = if case_sensitive { option.to_string() } else { option.to_lowercase() };
        if option == wanted {
            return message;
        }
        let distance = levenshtein(&wanted, &option);
        if distance < best.as_ref().map_or(3, |(d, _)| *d) {
            best = Some((distance, option));
        }
    }
    match best {
        Some((_, option)) => format!("{message} (did you mean {}?)", if case_sensitive { option } else { match_case(&option, value) }),
        None => message,
    }
}

/// `option` in `original`'s case when that is all lower or all upper case.
fn match_case(option: &str, original: &str) -> String {
    if original == original.to_lowercase() {
        option.to_lowercase()
    } else if original == original.to_uppercase() {
        option.to_uppercase()
    } else {
        option.to_string()
    }
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb)).min(row[j] + 1).min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSTRUCTIONS: &[&str] = &["add", "copy", "run", "from", "env", "expose"];

    #[test]
    fn suggests_the_closest_in_the_users_case() {
        assert_eq!(with_suggestion("unknown instruction: RUNN".into(), "RUNN", INSTRUCTIONS, false), "unknown instruction: RUNN (did you mean RUN?)");
        assert_eq!(with_suggestion("unknown instruction: form".into(), "form", INSTRUCTIONS, false), "unknown instruction: form (did you mean from?)");
        assert_eq!(with_suggestion("x".into(), "Cpy", INSTRUCTIONS, false), "x (did you mean copy?)");
        assert_eq!(with_suggestion("unknown instruction: SELECT".into(), "SELECT", INSTRUCTIONS, false), "unknown instruction: SELECT");
        assert_eq!(with_suggestion("unknown flag: chmode".into(), "chmode", &["chmod", "chown"], true), "unknown flag: chmode (did you mean chmod?)");
    }

    #[test]
    fn edit_distances() {
        assert_eq!((levenshtein("kitten", "sitting"), levenshtein("", "abc"), levenshtein("run", "run")), (3, 3, 0));
    }
}
