//! A Dockerfile's text as logical lines, as BuildKit's `parser.Parse` reads it: parser
//! directives first, comment lines dropped (also inside continuations), escape-newline
//! continuations joined, empty continuation lines skipped (BuildKit only warns), and the
//! bodies of RUN/COPY/ADD here-documents read after their line.

use super::directives::Directives;
use super::heredoc::{self, Declared};
use crate::model::{Heredoc, SourceLines};

/// One instruction's text with its here-documents and position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogicalLine {
    /// The instruction, continuations joined (BuildKit's `node.Original`).
    pub text: String,
    /// Its here-documents, in order.
    pub heredocs: Vec<Heredoc>,
    /// The lines it spans, heredoc bodies included.
    pub lines: SourceLines,
}

/// The logical lines of `text` and its directives; `Err((line, message))` when a directive is
/// wrong or a here-document is not terminated.
pub(crate) fn logical_lines(text: &str) -> Result<(Directives, Vec<LogicalLine>), (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut directives = Directives::default();
    let mut physical = text.lines().map(|l| l.trim_end_matches('\r')).enumerate().map(|(i, l)| (i + 1, l));
    let mut out = Vec::new();
    while let Some((number, raw)) = physical.next() {
        directives.read(raw, number).map_err(|e| (number, e))?;
        if is_comment(raw) {
            continue;
        }
        let escape = directives.escape;
        let (first, mut ended) = trim_continuation(raw.trim_start(), escape);
        if ended && first.is_empty() {
            continue;
        }
        let mut line = first.to_string();
        let mut end = number;
        while !ended {
            let Some((next_number, next)) = physical.next() else { break };
            end = next_number;
            if is_comment(next) || next.trim().is_empty() {
                continue;
            }
            let (part, part_ended) = trim_continuation(next, escape);
            line.push_str(part);
            ended = part_ended;
        }
        let mut heredocs = Vec::new();
        if may_have_heredocs(&line) {
            for declared in heredoc::declared_in(&line) {
                let (content, last) = read_body(&mut physical, &declared).ok_or((number, "unterminated heredoc".to_string()))?;
                end = last.max(end);
                heredocs.push(Heredoc { name: declared.name, content, expand: declared.expand });
            }
        }
        out.push(LogicalLine { text: line, heredocs, lines: SourceLines { start: number, end } });
    }
    Ok((directives, out))
}

/// A line whose first non-blank character is `#`.
fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// The line without a trailing escape (and blanks after it), and whether the instruction
/// ends here (moby's `([^\\])\\[ \t]*$|^\\[ \t]*$`: an escape alone continues too).
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    match trimmed.strip_suffix(escape) {
        Some(before) if !before.ends_with(escape) => (before, false),
        _ => (line, true),
    }
}

/// RUN, COPY and ADD take here-documents (BuildKit's `canContainHeredoc`).
/// (ONBUILD's trigger counts as its own instruction; the exec form takes none.)
fn may_have_heredocs(line: &str) -> bool {
    if !line.contains("<<") {
        return false;
    }
    let (keyword, rest) = line.trim_start().split_once(char::is_whitespace).unwrap_or((line, ""));
    if keyword.eq_ignore_ascii_case("ONBUILD") {
        return may_have_heredocs(rest);
    }
    let (_, args) = super::words::leading_flags(rest);
    ["RUN", "COPY", "ADD"].iter().any(|k| k.eq_ignore_ascii_case(keyword)) && !matches!(super::words::json_array(args), super::words::Json::Strings(_))
}

/// Reads a here-document's body up to its terminator: the body and the terminator's line.
fn read_body<'a>(physical: &mut impl Iterator<Item = (usize, &'a str)>, declared: &Declared) -> Option<(String, usize)> {
    let mut content = String::new();
    for (number, line) in physical {
        if heredoc::is_terminator(line, declared) {
            return Some((content, number));
        }
        content.push_str(heredoc::body_line(line, declared));
        content.push('\n');
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<(String, usize, usize)> {
        logical_lines(text).unwrap().1.into_iter().map(|l| (l.text, l.lines.start, l.lines.end)).collect()
    }

    #[test]
    fn joins_continuations_and_skips_comments_and_blank_continuation_lines() {
        let text = "FROM x\n\nRUN echo a \\\n# a comment\n\n    && echo b\\\n  c\n";
        assert_eq!(texts(text), vec![("FROM x".into(), 1, 1), ("RUN echo a     && echo b  c".into(), 3, 7)]);
    }

    #[test]
    fn an_escape_alone_on_a_line_continues() {
        assert_eq!(texts("FROM x\nRUN a \\\n\\\n b\nRUN c \\\\\n"), vec![("FROM x".into(), 1, 1), ("RUN a  b".into(), 2, 4), ("RUN c \\\\".into(), 5, 5)]);
    }

    #[test]
    fn the_escape_directive_changes_the_continuation_character() {
        let text = "# escape=`\nFROM x\nRUN dir c:\\ `\n  /b\n";
        assert_eq!(texts(text), vec![("FROM x".into(), 2, 2), ("RUN dir c:\\   /b".into(), 3, 4)]);
    }

    #[test]
    fn reads_heredoc_bodies_in_order() {
        let text = "FROM x\nRUN <<EOF cat >/a && cat <<-\"EOT\" > /b\nhello $x\n# not a comment\nEOF\n\ttab\n\tEOT\nCOPY <<one /d\n1\none\n";
        let (_, lines) = logical_lines(text).unwrap();
        assert_eq!(lines[1].lines, SourceLines { start: 2, end: 7 });
        assert_eq!(lines[1].heredocs, vec![
            Heredoc { name: "EOF".into(), content: "hello $x\n# not a comment\n".into(), expand: true },
            Heredoc { name: "EOT".into(), content: "tab\n".into(), expand: false },
        ]);
        assert_eq!(lines[2].heredocs[0].content, "1\n");
    }

    #[test]
    fn onbuild_triggers_take_heredocs_and_exec_forms_do_not() {
        let (_, lines) = logical_lines("FROM x\nONBUILD RUN <<EOF\nmake\nEOF\nRUN [\"sh\", \"<<EOF\"]\nEOF\n").unwrap();
        assert_eq!(lines[1].heredocs, vec![Heredoc { name: "EOF".into(), content: "make\n".into(), expand: true }]);
        assert!(lines[2].heredocs.is_empty());
        assert_eq!(lines[3].text, "EOF");
    }

    #[test]
    fn an_unterminated_heredoc_names_its_line() {
        assert_eq!(logical_lines("FROM x\nRUN cat <<EOF\nabc\n").unwrap_err(), (2, "unterminated heredoc".to_string()));
    }

    #[test]
    fn windows_line_endings_and_a_byte_order_mark() {
        assert_eq!(texts("\u{feff}FROM x\r\nRUN a \\\r\n b\r\n"), vec![("FROM x".into(), 1, 1), ("RUN a  b".into(), 2, 3)]);
    }
}
