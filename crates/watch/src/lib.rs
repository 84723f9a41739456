//! File watching for `xcompose watch`: each `develop.watch` rule watches a path (recursively);
//! the paths that change under it, minus what its `ignore` patterns and editors' temporary files
//! match (and, with `include`, what those do not), come out in batches once changes have been
//! quiet for a moment, as compose batches them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

use globset::{Glob, GlobSet, GlobSetBuilder};
use notify::{RecursiveMode, Watcher as _};

/// Why watching failed.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// A pattern is not a valid glob.
    #[error("invalid pattern {pattern:?}: {source}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// Why.
        source: globset::Error,
    },
    /// The watcher failed or a path cannot be watched.
    #[error("watching {path}: {source}")]
    Notify {
        /// The path.
        path: PathBuf,
        /// Why.
        source: notify::Error,
    },
    /// The watcher stopped.
    #[error("the file watcher stopped")]
    Stopped,
    /// A watched tree could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What one rule watches.
#[derive(Debug, Clone, Default)]
pub struct RuleSpec {
    /// The file or directory watched (absolute).
    pub path: PathBuf,
    /// Patterns, relative to `path`, of what is not a change.
    pub ignore: Vec<String>,
    /// If any: only what these match is a change.
    pub include: Vec<String>,
}

#[derive(Debug)]
struct Rule {
    path: PathBuf,
    ignore: GlobSet,
    include: Option<GlobSet>,
}

impl Rule {
    /// Whether `path` is a change for this rule.
    fn matches(&self, path: &Path) -> bool {
        let Ok(relative) = path.strip_prefix(&self.path) else { return false };
        if path.file_name().is_some_and(|n| is_ephemeral(&n.to_string_lossy())) {
            return false;
        }
        // A pattern naming a directory ignores what is in it.
        if relative.ancestors().filter(|a| !a.as_os_str().is_empty()).any(|a| self.ignore.is_match(a)) {
            return false;
        }
        self.include.as_ref().is_none_or(|include| relative.as_os_str().is_empty() || include.is_match(relative))
    }
}

fn glob_set(patterns: &[String]) -> Result<GlobSet, WatchError> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let pattern_text = pattern.trim_start_matches("./").trim_end_matches('/');
        let glob = Glob::new(pattern_text).map_err(|source| WatchError::Pattern { pattern: pattern.clone(), source })?;
        builder.add(glob);
    }
    builder.build().map_err(|source| WatchError::Pattern { pattern: patterns.join(", "), source })
}

/// Files editors write beside the ones edited, which are never changes (as compose's list).
pub fn is_ephemeral(name: &str) -> bool {
    name == "4913"
        || name.ends_with('~')
        || name.starts_with(".#")
        || name.starts_with(".goutputstream-")
        || (name.starts_with('.') && (name.ends_with(".swp") || name.ends_with(".swx") || name.ends_with(".swo")))
        || (name.starts_with('#') && name.ends_with('#'))
}

/// The files under `rule`'s path that the rule watches and that were modified after `since`:
/// what `initial_sync` copies into the containers when watching starts (compose's initial sync
/// takes the files changed since the image was created), in path order.
pub fn files_modified_since(rule: &RuleSpec, since: SystemTime) -> Result<Vec<PathBuf>, WatchError> {
    let include = if rule.include.is_empty() { None } else { Some(glob_set(&rule.include)?) };
    let compiled = Rule { path: rule.path.clone(), ignore: glob_set(&rule.ignore)?, include };
    let read = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WatchError::Read { path, source }
    };
    let mut files = Vec::new();
    let mut pending = vec![rule.path.clone()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path).map_err(read(&path))?;
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).map_err(read(&path))? {
                pending.push(entry.map_err(read(&path))?.path());
            }
        } else if meta.is_file() && compiled.matches(&path) && meta.modified().map_err(read(&path))? > since {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Watches the rules' paths.
pub struct Watcher {
    rules: Vec<Rule>,
    events: Receiver<notify::Result<notify::Event>>,
    // Watching stops when it is dropped.
    _watcher: notify::RecommendedWatcher,
}

impl Watcher {
    /// Starts watching `rules` (their paths must exist).
    pub fn new(rules: &[RuleSpec]) -> Result<Watcher, WatchError> {
        let (tx, events) = channel();
        let mut watcher = notify::recommended_watcher(tx).map_err(|source| WatchError::Notify { path: PathBuf::new(), source })?;
        let mut compiled = Vec::new();
        for rule in rules {
            watcher.watch(&rule.path, RecursiveMode::Recursive).map_err(|source| WatchError::Notify { path: rule.path.clone(), source })?;
            let include = if rule.include.is_empty() { None } else { Some(glob_set(&rule.include)?) };
            compiled.push(Rule { path: rule.path.clone(), ignore: glob_set(&rule.ignore)?, include });
        }
        Ok(Watcher { rules: compiled, events, _watcher: watcher })
    }

    /// The next batch of changes: waits for one, then gathers more until none came for
    /// `quiet`. By rule index, the paths that changed (they may no longer exist; a directory
    /// made with files in it may stand for them).
    pub fn next_batch(&self, quiet: Duration) -> Result<BTreeMap<usize, BTreeSet<PathBuf>>, WatchError> {
        let mut batch: BTreeMap<usize, BTreeSet<PathBuf>> = BTreeMap::new();
        let mut deadline: Option<Instant> = None;
        loop {
            let received = match deadline {
                None => self.events.recv().map_err(|_| WatchError::Stopped),
                Some(d) => match self.events.recv_timeout(d.saturating_duration_since(Instant::now())) {
                    Ok(event) => Ok(event),
                    Err(RecvTimeoutError::Timeout) => return Ok(batch),
                    Err(RecvTimeoutError::Disconnected) => Err(WatchError::Stopped),
                },
            }?;
            // Errors of the backend (a queue overflow) lose events; the next ones still count.
            let Ok(event) = received else { continue };
            if event.kind.is_access() {
                continue;
            }
            for path in event.paths {
                for (index, rule) in self.rules.iter().enumerate() {
                    if rule.matches(&path) {
                        batch.entry(index).or_default().insert(path.clone());
                        deadline = Some(Instant::now() + quiet);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(path: &Path, ignore: &[&str], include: &[&str]) -> Rule {
        Rule {
            path: path.to_path_buf(),
            ignore: glob_set(&ignore.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap(),
            include: (!include.is_empty()).then(|| glob_set(&include.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()),
        }
    }

    #[test]
    fn files_modified_since_a_time_follow_the_rule_s_patterns() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.js");
        std::fs::write(&old, "old").unwrap();
        let before = std::fs::metadata(&old).unwrap().modified().unwrap();
        std::fs::File::options().write(true).open(&old).unwrap().set_modified(before - Duration::from_secs(60)).unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        for new in ["new.js", "lib/util.js", "skip.tmp"] {
            std::fs::write(dir.path().join(new), "new").unwrap();
        }
        let spec = RuleSpec { path: dir.path().to_path_buf(), ignore: vec!["*.tmp".into()], include: Vec::new() };
        let files = files_modified_since(&spec, before - Duration::from_secs(30)).unwrap();
        assert_eq!(files, [dir.path().join("lib/util.js"), dir.path().join("new.js")]);
    }

    #[test]
    fn ignore_include_and_editor_files() {
        let root = Path::new("/src");
        let r = rule(root, &["node_modules/", "*.tmp", "build/**"], &[]);
        assert!(r.matches(Path::new("/src/app.js")));
        assert!(r.matches(Path::new("/src/lib/util.js")));
        assert!(!r.matches(Path::new("/src/node_modules/x/index.js")), "a directory pattern ignores its content");
        assert!(!r.matches(Path::new("/src/a.tmp")));
        assert!(!r.matches(Path::new("/src/build/out.o")));
        assert!(!r.matches(Path::new("/src/.app.js.swp")));
        assert!(!r.matches(Path::new("/src/app.js~")));
        assert!(!r.matches(Path::new("/elsewhere/app.js")), "outside the rule's path");
        let only_js = rule(root, &[], &["*.js"]);
        assert!(only_js.matches(Path::new("/src/app.js")));
        assert!(!only_js.matches(Path::new("/src/readme.md")));
    }

    #[test]
    fn a_bad_pattern_is_an_error_naming_it() {
        let err = glob_set(&["a[".to_string()]).unwrap_err();
        assert!(err.to_string().starts_with("invalid pattern \"a[\""), "{err}");
    }

    #[test]
    fn changes_come_in_one_batch_per_quiet_period() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir(&src).unwrap();
        let watcher = Watcher::new(&[RuleSpec { path: src.clone(), ignore: vec!["*.tmp".into()], include: vec![] }]).unwrap();
        let writer = {
            let src = src.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                std::fs::write(src.join("a.txt"), "1").unwrap();
                std::fs::write(src.join("b.tmp"), "x").unwrap();
                std::thread::sleep(Duration::from_millis(50));
                std::fs::create_dir(src.join("sub")).unwrap();
                std::fs::write(src.join("sub/c.txt"), "2").unwrap();
            })
        };
        let batch = watcher.next_batch(Duration::from_millis(400)).unwrap();
        writer.join().unwrap();
        let paths: Vec<&PathBuf> = batch[&0].iter().collect();
        // A file made in a new directory before the directory is watched shows as the directory.
        let sub = paths.contains(&&src.join("sub/c.txt")) || paths.contains(&&src.join("sub"));
        assert!(paths.contains(&&src.join("a.txt")) && sub, "{paths:?}");
        assert!(!paths.contains(&&src.join("b.tmp")), "{paths:?}");
    }
}
