//! COPY/ADD source selection in the build context: each source word is a path relative to the
//! context root (a leading `/` is the root), possibly with `filepath.Match` wildcards in any
//! element; a directory source stands for its contents; ignored paths are invisible; a
//! source word climbing above the context with `..` is refused, and a source's symlinks are
//! followed inside the context (an absolute target starts from the context root).

use std::fs;
use std::path::{Path, PathBuf};

use regex::Regex;

use super::ignore::{clean, IgnorePatterns};
use super::ContextError;

/// One path a COPY/ADD takes from the context.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SelectedPath {
    /// Which source word selected it (index into the instruction's sources).
    pub source: usize,
    /// Its path relative to the context root (`/`-separated), the source's own symlinks
    /// resolved inside the root.
    pub context_path: String,
    /// Its path relative to the destination: a file source's name (or, with `--parents`,
    /// its path from the context root or from a `/./` pivot); a directory source's contents
    /// relative to that directory (the directory itself is `""`: its contents are copied).
    pub dest_path: String,
    /// The source itself (its symlinks followed, as COPY follows them), rather than a path
    /// inside a directory source (whose symlinks are copied as symlinks).
    pub follow: bool,
}

/// Which of a source word's matches to take.
#[derive(Debug, Clone, Default)]
pub struct SelectOptions {
    /// `--parents`: keep each source's parent directories.
    pub parents: bool,
    /// `--exclude` patterns, matched against paths relative to the source.
    pub exclude: Vec<String>,
}

/// The context-relative paths a source word names: itself, or its wildcard matches (sorted).
pub(crate) fn expand_source(root: &Path, ignore: &IgnorePatterns, word: &str) -> Result<Vec<String>, ContextError> {
    let cleaned = clean(&format!("/{word}"));
    let rel = cleaned.trim_start_matches('/');
    if word.split('/').filter(|p| *p == "..").count() > 0 && escapes(word) {
        return Err(ContextError::Outside(word.to_string()));
    }
    let not_found = || ContextError::NotFound(format!("/{rel}"));
    if !has_wildcard(rel) {
        let visible = rel.is_empty() || !ignore.ignores(rel);
        return if visible && fs::symlink_metadata(root.join(rel)).is_ok() { Ok(vec![rel.to_string()]) } else { Err(not_found()) };
    }
    let mut matches = vec![String::new()];
    for element in rel.split('/') {
        let mut next = Vec::new();
        for base in &matches {
            if !has_wildcard(element) {
                let candidate = join(base, element);
                if fs::symlink_metadata(root.join(&candidate)).is_ok() {
                    next.push(candidate);
                }
                continue;
            }
            let re = element_regex(element).map_err(|e| ContextError::Pattern(format!("{word}: {e}")))?;
            let Ok(entries) = fs::read_dir(root.join(base)) else { continue };
            let mut names: Vec<String> = entries.filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).filter(|n| re.is_match(n)).collect();
            names.sort();
            next.extend(names.into_iter().map(|n| join(base, &n)));
        }
        matches = next;
    }
    matches.retain(|m| !ignore.ignores(m));
    // BuildKit copies with `AllowEmptyWildcard`: a wildcard that matches nothing copies nothing.
    Ok(matches)
}

/// `rel` resolved inside `root` as BuildKit follows a source's symlinks in its scoped root:
/// an absolute link target starts again from `root`, `..` never climbs above it.
fn resolve_in_root(root: &Path, rel: &str) -> Option<String> {
    let mut resolved: Vec<String> = Vec::new();
    let mut pending: std::collections::VecDeque<String> = rel.split('/').filter(|p| !p.is_empty()).map(str::to_string).collect();
    let mut hops = 0;
    while let Some(part) = pending.pop_front() {
        match part.as_str() {
            "." => continue,
            ".." => {
                resolved.pop();
                continue;
            }
            _ => {}
        }
        let candidate = resolved.iter().chain([&part]).cloned().collect::<Vec<_>>().join("/");
        let metadata = fs::symlink_metadata(root.join(&candidate)).ok()?;
        if !metadata.file_type().is_symlink() {
            resolved.push(part);
            continue;
        }
        hops += 1;
        if hops > 255 {
            return None;
        }
        let target = fs::read_link(root.join(&candidate)).ok()?;
        let target = target.to_string_lossy();
        if target.starts_with('/') {
            resolved.clear();
        }
        for piece in target.split('/').rev().filter(|p| !p.is_empty()) {
            pending.push_front(piece.to_string());
        }
    }
    Some(resolved.join("/"))
}

/// Whether a `..` in `word` would climb above the context root.
fn escapes(word: &str) -> bool {
    let mut depth: i64 = 0;
    for part in word.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

fn join(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}/{name}")
    }
}

fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// One path element's `filepath.Match` pattern as a regular expression.
fn element_regex(pattern: &str) -> Result<Regex, regex::Error> {
    let mut re = String::from("^");
    let mut chars = pattern.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '\\' => re.push_str(&regex::escape(&chars.next().map(String::from).unwrap_or_default())),
            '[' => {
                re.push('[');
                if chars.peek() == Some(&'^') || chars.peek() == Some(&'!') {
                    chars.next();
                    re.push('^');
                }
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    if c == '\\' || c == '[' {
                        re.push('\\');
                    }
                    re.push(c);
                }
                re.push(']');
            }
            _ => re.push_str(&regex::escape(&ch.to_string())),
        }
    }
    re.push('$');
    Regex::new(&re)
}

/// Every path a matched source brings, with its destination-relative path.
/// `word` is the source word, `matched` one of its matches; `--exclude` patterns apply to the
/// paths under the source (and to a file's or a wildcard match's own name).
pub(crate) fn walk(root: &Path, ignore: &IgnorePatterns, options: &SelectOptions, exclude: &IgnorePatterns, source: usize, word: &str, matched: &str) -> Result<Vec<SelectedPath>, ContextError> {
    let resolved = resolve_in_root(root, matched).ok_or_else(|| ContextError::NotFound(format!("/{matched}")))?;
    let real = root.join(&resolved);
    let is_dir = real.is_dir();
    let name = matched.rsplit('/').next().unwrap_or(matched);
    if (!is_dir || has_wildcard(word)) && !exclude.is_empty() && exclude.ignores(name) {
        return Ok(Vec::new());
    }
    let dest_base = dest_base(word, matched, options.parents, is_dir);
    let dest_base = dest_base.as_str();
    if !is_dir {
        return Ok(vec![SelectedPath { source, context_path: resolved, dest_path: dest_base.to_string(), follow: true }]);
    }
    let mut out = vec![SelectedPath { source, context_path: resolved.clone(), dest_path: dest_base.to_string(), follow: true }];
    for entry in walkdir::WalkDir::new(&real).min_depth(1).sort_by_file_name() {
        let entry = entry.map_err(|e| ContextError::Io(PathBuf::from(matched), e.to_string()))?;
        let inner: PathBuf = entry.path().strip_prefix(&real).unwrap_or(entry.path()).to_path_buf();
        let inner = inner.to_string_lossy().replace('\\', "/");
        let context_path = join(&resolved, &inner);
        if ignore.ignores(&context_path) || exclude.ignores(&inner) {
            continue;
        }
        out.push(SelectedPath { source, context_path, dest_path: join(dest_base, &inner), follow: false });
    }
    Ok(out)
}

/// A source's destination-relative base: its name, or with `--parents` its path from the
/// root or from the `/./` pivot in the source word.
fn dest_base(word: &str, matched: &str, parents: bool, is_dir: bool) -> String {
    if !parents {
        return if is_dir { String::new() } else { matched.rsplit('/').next().unwrap_or(matched).to_string() };
    }
    match word.find("/./") {
        Some(at) => {
            let pivot = clean(&format!("/{}", &word[..at]));
            let pivot = pivot.trim_start_matches('/');
            matched.strip_prefix(pivot).map(|r| r.trim_start_matches('/').to_string()).unwrap_or_else(|| matched.to_string())
        }
        None => matched.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_patterns_follow_filepath_match() {
        let m = |p: &str, n: &str| element_regex(p).unwrap().is_match(n);
        assert!(m("*.txt", "a.txt") && !m("*.txt", "a.txt.bak"));
        assert!(m("file?", "file1") && !m("file?", "file12"));
        assert!(m("[a-c]x", "bx") && !m("[!a-c]x", "bx") && m("[^a-c]x", "dx"));
        assert!(m("a\\*", "a*") && !m("a\\*", "ab"));
    }

    #[test]
    fn climbing_above_the_root_is_detected() {
        assert!(escapes("../x") && escapes("a/../../x"));
        assert!(!escapes("a/../x") && !escapes("./x"));
    }

    #[test]
    fn destination_bases() {
        assert_eq!(dest_base("src/app.py", "src/app.py", false, false), "app.py");
        assert_eq!(dest_base("src", "src", false, true), "");
        assert_eq!(dest_base("src/app.py", "src/app.py", true, false), "src/app.py");
        assert_eq!(dest_base("./src/./pkg/a.go", "src/pkg/a.go", true, false), "pkg/a.go");
    }
}
