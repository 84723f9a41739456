//! The one place where compose keys xcompose does not honour are refused, before `up`, `create`
//! or `run` makes anything: a key that loads and then does nothing would let a stack "work"
//! without its secret, its limit or its address.
//!
//! The refused keys are data, `keys/refused.toml` (key path -> why and what to do, or a table
//! with `reason` and the `allowed` values that are honoured), turned into a Rust table when the
//! crate is built (`build.rs`: no TOML is parsed on `up`'s path) and read from that table here and
//! by the schema-walk test (`tests/keys.rs`), which proves that every leaf key of the Compose
//! Specification is in it or in `keys/honoured.toml` (key path -> the test that proves it). Key
//! paths are the schema's:
//! dotted keys, `*` for any name, sequence items transparent (`services.*.ports.host_ip`); a
//! refused key also refuses every key under it.
//!
//! A refusal names the file and line the key was written at (the last of the compose files
//! holding it, as the last one wins a merge), the key path and the reason, on one line:
//! `compose.yaml:7: services.web.logging.driver "syslog" is not supported: ...`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;
use xcompose_loader::path::{KeyPath, Segment};
use xcompose_loader::yaml::Document;
use xcompose_loader::Project;

use crate::StackError;

// The refused key paths, as written in `keys/refused.toml` (`REFUSED`, made by `build.rs`).
include!(concat!(env!("OUT_DIR"), "/refused_keys.rs"));

/// Why a key is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Refused whatever its value.
    Always(String),
    /// Refused unless its value is one of `allowed` (compared as text; `true`, `false` and
    /// numbers too), which xcompose honours.
    Unless {
        /// Why, and what to do instead.
        reason: String,
        /// The values that are honoured.
        allowed: Vec<String>,
    },
}

impl Refusal {
    /// Why, and what to do instead.
    pub fn reason(&self) -> &str {
        match self {
            Refusal::Always(reason) | Refusal::Unless { reason, .. } => reason,
        }
    }

    /// Whether `value` is refused.
    fn refuses(&self, value: &str) -> bool {
        match self {
            Refusal::Always(_) => true,
            Refusal::Unless { allowed, .. } => !allowed.iter().any(|a| a == value),
        }
    }
}

/// The refused keys by schema key path (`services.*.logging.driver`).
pub fn refused_keys() -> &'static BTreeMap<String, Refusal> {
    static KEYS: OnceLock<BTreeMap<String, Refusal>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let refusal = |reason: &str, allowed: Option<&[&str]>| match allowed {
            None => Refusal::Always(reason.to_string()),
            Some(values) => Refusal::Unless { reason: reason.to_string(), allowed: values.iter().map(|v| v.to_string()).collect() },
        };
        REFUSED.iter().map(|(key, reason, allowed)| (key.to_string(), refusal(reason, *allowed))).collect()
    })
}

/// A key of the project that xcompose refuses, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refused {
    /// The key path with the project's names (`services.web.logging.driver`).
    path: KeyPath,
    /// The value, when it is refused for its value.
    value: Option<String>,
    /// Why.
    reason: String,
}

/// Fails with the first refused key `project` sets, naming the file among `files` (paths
/// relative to `working_dir` are shown so) and the line it was written at.
pub(crate) fn refuse_unsupported(project: &Project, files: &[PathBuf], working_dir: &Path) -> Result<(), StackError> {
    let model = serde_json::to_value(project).map_err(|e| StackError::Invalid(format!("the project cannot be read back: {e}")))?;
    let Some(refused) = first_refused(&model, refused_keys()) else { return Ok(()) };
    let (file, line) = locate(&refused.path, files);
    let file = file.map(|f| f.strip_prefix(working_dir).unwrap_or(f).display().to_string()).unwrap_or_else(|| "compose file".into());
    let at = line.map(|l| format!("{file}:{l}")).unwrap_or(file);
    let value = refused.value.map(|v| format!(" {v:?}")).unwrap_or_default();
    Err(StackError::Unsupported(format!("{at}: {}{value} is not supported: {}", keys_of(&refused.path).join("."), refused.reason)))
}

/// The first value of `model` (the project's JSON form) under a refused key, in document order.
fn first_refused(model: &Value, refused: &BTreeMap<String, Refusal>) -> Option<Refused> {
    // Each pattern split once, not once per leaf.
    let patterns: Vec<(Vec<&str>, &Refusal)> = refused.iter().map(|(pattern, refusal)| (pattern.split('.').collect(), refusal)).collect();
    let mut found = None;
    each_leaf(model, &mut KeyPath::root(), &mut |path, value| {
        if found.is_some() {
            return;
        }
        let keys = keys_of(path);
        let mut text = None;
        for (pattern, refusal) in &patterns {
            if !matches_prefix(pattern, &keys) {
                continue;
            }
            // A null is no value for the key listed (`exec.command: null` is unset), but an
            // entry under a listed mapping (`models: {llm: null}` names a model): list leaf keys.
            let unset = value.is_null() && pattern.len() == keys.len();
            let text: &String = text.get_or_insert_with(|| match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            if !unset && refusal.refuses(text) {
                let value = matches!(refusal, Refusal::Unless { .. }).then(|| text.clone());
                found = Some(Refused { path: path.clone(), value, reason: refusal.reason().to_string() });
                return;
            }
        }
    });
    found
}

/// Calls `f` with each scalar of `value` and its path, the nulls of mappings too (`models:
/// [llm]` is `models: {llm: null}`), not those of lists.
fn each_leaf(value: &Value, path: &mut KeyPath, f: &mut impl FnMut(&KeyPath, &Value)) {
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (key, v) in map {
                if v.is_null() {
                    f(&path.child(key), v);
                }
                each_leaf(v, &mut path.child(key), f);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                each_leaf(v, &mut path.child_index(i), f);
            }
        }
        scalar => f(path, scalar),
    }
}

/// Whether schema key path `pattern` (`services.*.logging`, split at the dots) names the path
/// of mapping keys `keys` (see [`keys_of`]) or one of its parents.
fn matches_prefix(pattern: &[&str], keys: &[&str]) -> bool {
    pattern.len() <= keys.len() && pattern.iter().zip(keys).all(|(w, k)| *w == "*" || w == k)
}

/// The last of `files` that writes `path` (sequence indexes aside), and the line there; else
/// where its nearest parent is written (a short form, `build: .` for `build.context`); the first
/// file without a line when none does (a key from an `include`d or `extends` file).
fn locate<'a>(path: &KeyPath, files: &'a [PathBuf]) -> (Option<&'a Path>, Option<usize>) {
    // `-` is standard input, read once already.
    let docs: Vec<(&Path, Document)> =
        files.iter().rev().filter(|f| f.as_os_str() != "-").filter_map(|f| Some((f.as_path(), xcompose_loader::pipeline::parse_file(f).ok()?))).collect();
    let wanted = keys_of(path);
    for depth in (1..=wanted.len()).rev() {
        for (file, doc) in &docs {
            let line = doc.positions.iter().filter(|(p, _)| keys_of(p) == wanted[..depth]).map(|(_, pos)| pos.line).min();
            if line.is_some() {
                return (Some(file), line);
            }
        }
    }
    (files.first().map(PathBuf::as_path), None)
}

/// The mapping keys of a path, sequence indexes left out.
fn keys_of(path: &KeyPath) -> Vec<&str> {
    path.segments()
        .iter()
        .filter_map(|s| match s {
            Segment::Key(k) => Some(k.as_str()),
            Segment::Index(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> (tempfile::TempDir, PathBuf, Project) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("compose.yaml");
        std::fs::write(&file, text).unwrap();
        let mut opts = xcompose_loader::ProjectOptions { cwd: dir.path().to_path_buf(), interpolate: true, ..Default::default() };
        opts.files.push(file.clone());
        opts.project_name = Some("p".into());
        let project = xcompose_loader::load(&opts).unwrap();
        (dir, file, project)
    }

    #[test]
    fn the_list_parses_and_names_a_reason_for_every_key() {
        assert!(!refused_keys().is_empty());
        for (key, refusal) in refused_keys() {
            assert!(refusal.reason().len() > 20 && !refusal.reason().contains('\n'), "{key}: {refusal:?}");
        }
    }

    #[test]
    fn a_refused_key_is_named_with_its_file_line_and_reason() {
        let (dir, file, project) = load("services:\n  web:\n    image: busybox\n    logging:\n      driver: syslog\n");
        let err = refuse_unsupported(&project, &[file], dir.path()).unwrap_err().to_string();
        assert!(err.starts_with("compose.yaml:5: services.web.logging.driver \"syslog\" is not supported: "), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn an_allowed_value_and_an_unset_key_pass() {
        let (dir, file, project) = load("services:\n  web:\n    image: busybox\n    init: true\n    ports: ['80']\n");
        refuse_unsupported(&project, &[file], dir.path()).unwrap();
    }

    #[test]
    fn a_null_is_refused_as_an_entry_of_a_refused_mapping_only() {
        let refused: BTreeMap<String, Refusal> =
            [("services.*.models".to_string(), Refusal::Always("models need a model runner".into())), ("services.*.develop.watch.exec.command".to_string(), Refusal::Always("exec rules are not run".into()))].into();
        let unset = serde_json::json!({"services": {"web": {"develop": {"watch": [{"exec": {"command": null}}]}}}});
        assert_eq!(first_refused(&unset, &refused), None);
        let set = serde_json::json!({"services": {"web": {"models": {"llm": null}}}});
        assert_eq!(first_refused(&set, &refused).map(|r| keys_of(&r.path).join(".")), Some("services.web.models.llm".to_string()));
    }

    #[test]
    fn patterns_match_names_and_parents_and_skip_indexes() {
        let path = KeyPath::of(&["services", "web", "ports"]).child_index(0).child("host_ip");
        let matches = |pattern: &str| matches_prefix(&pattern.split('.').collect::<Vec<_>>(), &keys_of(&path));
        assert!(matches("services.*.ports.host_ip"));
        assert!(matches("services.*.ports"));
        assert!(!matches("services.*.ports.mode"));
        assert!(!matches("services.*.ports.host_ip.x"));
    }
}
