//! `.dockerignore` patterns as moby's `patternmatcher` reads and matches them: comments and
//! blank lines skipped, patterns cleaned (`./a` is `a`, a leading `/` dropped), `!` exceptions
//! re-including, `*` and `?` within one path element, `**` across elements, and a pattern that
//! matches a directory matching everything under it. The last matching pattern wins.

use regex::Regex;

/// How one pattern matches (moby's fast paths, and a regular expression otherwise).
#[derive(Debug, Clone)]
enum Matcher {
    /// No wildcard: the path itself.
    Exact(String),
    /// `prefix**`.
    Prefix(String),
    /// `**suffix` (`**/x` also matches `x`).
    Suffix(String),
    /// Anything else.
    Regex(Regex),
}

#[derive(Debug, Clone)]
struct Pattern {
    exclusion: bool,
    matcher: Matcher,
}

/// A compiled list of ignore patterns.
#[derive(Debug, Clone, Default)]
pub struct IgnorePatterns {
    patterns: Vec<Pattern>,
}

/// A pattern that cannot be used, in moby's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PatternError(pub String);

/// The patterns of a `.dockerignore` file's text (moby's `ignorefile.ReadAll`).
pub fn read_ignore_file(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut patterns = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut cleaned = if pattern.is_empty() { String::new() } else { clean(pattern) };
        if cleaned.len() > 1 && cleaned.starts_with('/') {
            cleaned.remove(0);
        }
        patterns.push(if invert { format!("!{cleaned}") } else { cleaned });
    }
    patterns
}

/// Go's `filepath.Clean` on a slash path.
pub(crate) fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if rooted => {}
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

impl IgnorePatterns {
    /// Compiles `patterns` (moby's `patternmatcher.New`).
    pub fn new(patterns: &[String]) -> Result<Self, PatternError> {
        let mut compiled = Vec::new();
        for raw in patterns {
            let mut text = raw.trim();
            if text.is_empty() {
                continue;
            }
            let exclusion = text.starts_with('!');
            if exclusion {
                if text.len() == 1 {
                    return Err(PatternError("illegal exclusion pattern: \"!\"".into()));
                }
                text = &text[1..];
            }
            let cleaned = clean(text);
            compiled.push(Pattern { exclusion, matcher: compile(&cleaned).map_err(|e| PatternError(format!("syntax error in pattern {raw:?}: {e}")))? });
        }
        Ok(Self { patterns: compiled })
    }

    /// Whether there is no pattern.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `path` (relative to the context, `/`-separated) is ignored: it or a parent
    /// directory matches, the last matching pattern deciding (moby's `MatchesOrParentMatches`).
    pub fn ignores(&self, path: &str) -> bool {
        let path = clean(path);
        if path == "." {
            // moby: "Don't let them exclude everything".
            return false;
        }
        let parents: Vec<&str> = match path.rsplit_once('/') {
            Some((parent, _)) => parent.split('/').collect(),
            None => Vec::new(),
        };
        let mut matched = false;
        for pattern in &self.patterns {
            if pattern.exclusion != matched {
                continue;
            }
            let hit = pattern.matches(&path) || (1..=parents.len()).any(|n| pattern.matches(&parents[..n].join("/")));
            if hit {
                matched = !pattern.exclusion;
            }
        }
        matched
    }
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match &self.matcher {
            Matcher::Exact(p) => path == p,
            Matcher::Prefix(p) => path.starts_with(p.as_str()),
            Matcher::Suffix(s) => path.ends_with(s.as_str()) || s.strip_prefix('/').is_some_and(|rest| path == rest),
            Matcher::Regex(re) => re.is_match(path),
        }
    }
}

/// moby's `Pattern.compile`.
fn compile(pattern: &str) -> Result<Matcher, regex::Error> {
    #[derive(PartialEq)]
    enum Kind {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let mut kind = Kind::Exact;
    let mut re = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut first = true;
    let mut in_class = false;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        match ch {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    if kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        re.push_str(".*");
                        kind = Kind::Regex;
                    }
                } else {
                    re.push_str("(.*/)?");
                    kind = Kind::Regex;
                }
                if first {
                    kind = Kind::Suffix;
                }
            }
            '*' => {
                re.push_str("[^/]*");
                kind = Kind::Regex;
            }
            '?' => {
                re.push_str("[^/]");
                kind = Kind::Regex;
            }
            '\\' => match chars.get(i) {
                Some(next) => {
                    re.push_str(&regex::escape(&next.to_string()));
                    i += 1;
                    kind = Kind::Regex;
                }
                None => re.push_str("\\\\"),
            },
            '[' | ']' => {
                in_class = ch == '[';
                re.push(ch);
                kind = Kind::Regex;
            }
            _ if in_class => re.push(ch),
            _ => re.push_str(&regex::escape(&ch.to_string())),
        }
        first = false;
    }
    re.push('$');
    Ok(match kind {
        Kind::Exact => Matcher::Exact(pattern.to_string()),
        Kind::Prefix => Matcher::Prefix(pattern.trim_end_matches('*').to_string()),
        Kind::Suffix => Matcher::Suffix(pattern[2..].to_string()),
        Kind::Regex => Matcher::Regex(Regex::new(&re)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignores(patterns: &[&str], path: &str) -> bool {
        IgnorePatterns::new(&patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>()).unwrap().ignores(path)
    }

    #[test]
    fn reads_the_file_as_moby_does() {
        let text = "\u{feff}# comment\n\n  *.md  \n!README.md\n/abs/path\n./rel/../x\n !  spaced\n";
        assert_eq!(read_ignore_file(text), vec!["*.md", "!README.md", "abs/path", "x", "!spaced"]);
    }

    #[test]
    fn patternmatchers_matches_cases() {
        // From moby/patternmatcher's TestMatches table (MatchesOrParentMatches).
        let cases: &[(&str, &str, bool)] = &[
            ("**", "file", true),
            ("**", "file/", true),
            ("**/", "file", true),
            ("**/", "file/", true),
            ("**", "/", true),
            ("**/", "/", true),
            ("**", "dir/file", true),
            ("**/", "dir/file", true),
            ("**", "dir/file/", true),
            ("**/", "dir/file/", true),
            ("**/**", "dir/file", true),
            ("**/**", "dir/file/", true),
            ("dir/**", "dir/file", true),
            ("dir/**", "dir/file/", true),
            ("dir/**", "dir/dir2/file", true),
            ("dir/**", "dir/dir2/file/", true),
            ("**/dir", "dir", true),
            ("**/dir", "dir/file", true),
            ("**/dir2/*", "dir/dir2/file", true),
            ("**/dir2/*", "dir/dir2/file/", true),
            ("**/dir2/**", "dir/dir2/dir3/file", true),
            ("**/dir2/**", "dir/dir2/dir3/file/", true),
            ("**file", "file", true),
            ("**file", "dir/file", true),
            ("**/file", "dir/file", true),
            ("**file", "dir/dir/file", true),
            ("**/file", "dir/dir/file", true),
            ("**/file*", "dir/dir/file", true),
            ("**/file*", "dir/dir/file.txt", true),
            ("**/file*txt", "dir/dir/file.txt", true),
            ("**/file*.txt", "dir/dir/file.txt", true),
            ("**/file*.txt*", "dir/dir/file.txt", true),
            ("**/**/*.txt", "dir/dir/file.txt", true),
            ("**/**/*.txt2", "dir/dir/file.txt", false),
            ("**/*.txt", "file.txt", true),
            ("**/**/*.txt", "file.txt", true),
            ("a**/*.txt", "a/file.txt", true),
            ("a**/*.txt", "a/dir/file.txt", true),
            ("a**/*.txt", "a/dir/dir/file.txt", true),
            ("a/*.txt", "a/dir/file.txt", false),
            ("a/*.txt", "a/file.txt", true),
            ("a/*.txt**", "a/file.txt", true),
            ("a[b-d]e", "ae", false),
            ("a[b-d]e", "ace", true),
            ("a[b-d]e", "aae", false),
            ("a[^b-d]e", "aze", true),
            (".*", ".foo", true),
            (".*", "foo", false),
            ("abc.def", "abcdef", false),
            ("abc.def", "abc.def", true),
            ("abc.def", "abcZdef", false),
            ("abc?def", "abcZdef", true),
            ("abc?def", "abcdef", false),
            ("a\\\\", "a\\", true),
            ("**/foo/bar", "foo/bar", true),
            ("**/foo/bar", "dir/foo/bar", true),
            ("**/foo/bar", "dir/dir2/foo/bar", true),
            ("abc/**", "abc", false),
            ("abc/**", "abc/def", true),
            ("abc/**", "abc/def/ghi", true),
            ("**/.foo", ".foo", true),
            ("**/.foo", "bar.foo", false),
            ("a(b)c/def", "a(b)c/def", true),
            ("a(b)c/def", "a(b)c/xyz", false),
            ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
            ("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true),
            ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true),
        ];
        for (pattern, path, expected) in cases {
            assert_eq!(ignores(&[pattern], path), *expected, "{pattern} {path}");
        }
    }

    #[test]
    fn parents_and_exceptions() {
        assert!(ignores(&["docs"], "docs/a/b.md"));
        assert!(ignores(&["*.md", "!README.md"], "CHANGES.md"));
        assert!(!ignores(&["*.md", "!README.md"], "README.md"));
        assert!(ignores(&["*.md", "!README.md", "README.md"], "README.md"));
        assert!(!ignores(&["docs", "!docs/keep.txt"], "docs/keep.txt"));
        assert!(ignores(&["docs", "!docs/keep.txt"], "docs/other.txt"));
        assert!(ignores(&["**/*.go"], "a/b/c.go"));
        assert!(!ignores(&["*/temp*"], "temp1"));
        assert!(ignores(&["*/temp*"], "somedir/temporary.txt"));
        assert!(ignores(&["*/*/temp*"], "somedir/subdir/temporary.txt"));
        assert!(ignores(&["temp?"], "temp1"));
        assert!(!ignores(&["temp?"], "temp12"));
    }

    #[test]
    fn the_context_root_itself_is_never_ignored() {
        assert!(!ignores(&["**"], "."));
        assert!(!ignores(&["*"], ""));
        assert!(ignores(&["*"], "a"));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn a_literal_path_ignores_itself_and_what_is_below_only(
                path in "[a-z]{1,4}(/[a-z]{1,4}){0,3}",
                below in "[a-z]{1,4}",
                other in "[A-Z]{1,4}",
            ) {
                let child = format!("{path}/{below}");
                let exception = format!("!{path}");
                prop_assert!(ignores(&[&path], &path));
                prop_assert!(ignores(&[&path], &child));
                prop_assert!(!ignores(&[&path], &other));
                prop_assert!(!ignores(&[&path, &exception], &path));
            }

            #[test]
            fn any_pattern_compiles_or_is_refused_without_panicking(pattern in ".{0,20}", path in ".{0,20}") {
                if let Ok(patterns) = IgnorePatterns::new(&[pattern]) {
                    let _ = patterns.ignores(&path);
                }
            }
        }
    }

    #[test]
    fn a_lone_exclamation_mark_is_refused() {
        assert_eq!(IgnorePatterns::new(&["!".into()]).unwrap_err().0, "illegal exclusion pattern: \"!\"");
    }
}
