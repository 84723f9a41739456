//! Here-document words (`<<EOF`, `<<-EOF`, `<<"EOF"`, `2<<EOF`) as BuildKit finds them in a
//! RUN, COPY or ADD line (`^(\d*)<<(-?)\s*([^<]*)$` on each shell word), and the bodies read
//! after the line.

use super::words::quoted_words;

/// A here-document declared on a line, before its body is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Declared {
    /// The delimiter, unquoted.
    pub name: String,
    /// `<<-`: leading tabs are stripped from the body and the delimiter line.
    pub chomp: bool,
    /// The delimiter was not quoted: the body's variables are expanded.
    pub expand: bool,
}

/// The here-document a single shell word declares, if it is one.
pub(crate) fn declared_by(word: &str) -> Option<Declared> {
    let rest = word.trim_start_matches(|c: char| c.is_ascii_digit()).strip_prefix("<<")?;
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    let rest = rest.trim_start();
    if rest.contains('<') || quoted_words(rest, '\\').len() != 1 {
        return None;
    }
    let name = unquote(rest);
    if name.is_empty() {
        return None;
    }
    // BuildKit expands the body unless the delimiter has quotes (a backslash does not count).
    Some(Declared { expand: !rest.contains(['\'', '"']), name, chomp })
}

/// The here-documents `line` declares, in order.
pub(crate) fn declared_in(line: &str) -> Vec<Declared> {
    if !line.contains("<<") {
        return Vec::new();
    }
    quoted_words(line, '\\').iter().filter_map(|w| declared_by(w)).collect()
}

/// The delimiter with its quotes and backslashes taken away, as the shell reads it.
fn unquote(word: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut chars = word.chars();
    while let Some(ch) = chars.next() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(ch),
            (Some('"') | None, '\\') => out.extend(chars.next()),
            _ => out.push(ch),
        }
    }
    out
}

/// Whether `line` (its newline trimmed) ends the body of `heredoc`.
pub(crate) fn is_terminator(line: &str, heredoc: &Declared) -> bool {
    let line = if heredoc.chomp { line.trim_start_matches('\t') } else { line };
    line == heredoc.name
}

/// A body line as kept: with `<<-`, its leading tabs stripped (BuildKit's `ChompHeredocContent`).
pub(crate) fn body_line<'a>(line: &'a str, heredoc: &Declared) -> &'a str {
    if heredoc.chomp {
        line.trim_start_matches('\t')
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(name: &str, chomp: bool, expand: bool) -> Declared {
        Declared { name: name.into(), chomp, expand }
    }

    #[test]
    fn finds_every_heredoc_on_a_line() {
        assert_eq!(declared_in(r#"<<EOF cat >/a && cat <<-"EOT" > /b"#), vec![d("EOF", false, true), d("EOT", true, false)]);
        assert_eq!(declared_in("python3 3<<'END' x"), vec![d("END", false, false)]);
        assert_eq!(declared_in("echo '<<EOF' x<<y"), vec![]);
        assert_eq!(declared_in(r"cat <<E\OF"), vec![d("EOF", false, true)]);
        assert_eq!(declared_in("echo a << b"), vec![]);
    }

    #[test]
    fn a_heredoc_word_is_one_shell_word() {
        assert_eq!(declared_by("<<EOF"), Some(d("EOF", false, true)));
        assert_eq!(declared_by("<<EOF cat"), None);
        assert_eq!(declared_by("<<'E F'"), Some(d("E F", false, false)));
    }

    #[test]
    fn chomped_terminators_may_be_indented_with_tabs() {
        assert!(is_terminator("\t\tEOT", &d("EOT", true, true)));
        assert!(!is_terminator("\tEOT", &d("EOT", false, true)));
        assert!(!is_terminator(" EOT", &d("EOT", true, true)));
        assert_eq!(body_line("\t\tx\t", &d("EOT", true, true)), "x\t");
    }
}
