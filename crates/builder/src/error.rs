//! The frontend's error: a message in BuildKit's words and, for the Dockerfile's own
//! mistakes, the file and line it is about.

use std::path::PathBuf;

/// A Dockerfile that cannot be parsed, with where: `Display` reads as BuildKit's
/// `dockerfile parse error on line 5: unknown instruction: RUNN`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dockerfile parse error on line {line}: {message}")]
pub struct ParseError {
    /// The Dockerfile's path as the caller named it (for the `Dockerfile:5` heading).
    pub path: PathBuf,
    /// The 1-based line of the instruction at fault.
    pub line: usize,
    /// What is wrong, in BuildKit's words.
    pub message: String,
}

impl ParseError {
    /// `path:line`, as BuildKit heads its excerpt of the Dockerfile (`Dockerfile:5`).
    pub fn location(&self) -> String {
        format!("{}:{}", self.path.display(), self.line)
    }

    /// The lines around the error in `text` (the Dockerfile parsed), as `docker build`
    /// prints them above the error (BuildKit's `errdefs.Source.Print`):
    ///
    /// ```text
    /// Dockerfile:5
    /// --------------------
    ///    3 |     RUN a
    ///    4 |
    ///    5 | >>> RUNN b
    /// --------------------
    /// ```
    pub fn excerpt(&self, text: &str) -> String {
        let lines: Vec<&str> = text.split('\n').collect();
        if self.line < 1 || self.line > lines.len() {
            return String::new();
        }
        let (mut start, mut end) = (self.line, self.line);
        let mut padded = 0;
        while padded < 4 {
            if start > 1 {
                start -= 1;
                padded += 1;
            }
            if end != lines.len() {
                end += 1;
                padded += 1;
            }
            padded += 1;
        }
        let mut out = format!("{}\n--------------------\n", self.location());
        for number in start..=end {
            let marker = if number == self.line { ">>>" } else { "   " };
            out.push_str(&format!(" {number:>3} | {marker} {}\n", lines[number - 1]));
        }
        out.push_str("--------------------\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_excerpt_as_docker_build_prints_it() {
        let text = "FROM x\n\nRUN a\n\nRUNN b\nRUN c\nRUN d\nRUN e\n";
        let error = ParseError { path: "Dockerfile".into(), line: 5, message: "unknown instruction: RUNN".into() };
        assert_eq!(
            error.excerpt(text),
            "Dockerfile:5\n--------------------\n   3 |     RUN a\n   4 |     \n   5 | >>> RUNN b\n   6 |     RUN c\n   7 |     RUN d\n--------------------\n"
        );
        let first = ParseError { path: "Dockerfile".into(), line: 1, message: String::new() };
        assert_eq!(first.excerpt("FROM\n"), "Dockerfile:1\n--------------------\n   1 | >>> FROM\n   2 |     \n--------------------\n");
        assert_eq!(ParseError { line: 9, ..first }.excerpt("FROM\n"), "");
    }
}
