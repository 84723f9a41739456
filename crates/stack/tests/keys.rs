//! Every key of the Compose Specification is accounted for: the schema-walk test lists each leaf
//! key path of the specification's JSON Schema and fails on one that is neither honoured
//! (`keys/honoured.toml`: key path -> the `file::test` that proves it, which must exist) nor
//! refused (`keys/refused.toml`, which `xcompose_stack::support` enforces before `up` makes
//! anything).
//!
//! The schema is `$XCOMPOSE_CORPUS/compose-spec.schema.json`, by default `../shared/corpus` next
//! to the repository (as the conformance tests find the corpus).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use xcompose_stack::support::{refused_keys, Refusal};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn schema() -> Value {
    let corpus = std::env::var_os("XCOMPOSE_CORPUS").map(PathBuf::from).unwrap_or_else(|| repo_root().join("../shared/corpus"));
    let path = corpus.join("compose-spec.schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn honoured_keys() -> BTreeMap<String, String> {
    toml::from_str(include_str!("../keys/honoured.toml")).expect("keys/honoured.toml: key path = \"file::test\"")
}

/// Follows `$ref`s (`#/definitions/...`) to the schema node they name.
fn resolve<'a>(root: &'a Value, mut node: &'a Value) -> &'a Value {
    while let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        let pointer = reference.strip_prefix('#').unwrap_or_else(|| panic!("only local $refs: {reference}"));
        node = root.pointer(pointer).unwrap_or_else(|| panic!("dangling $ref {reference}"));
    }
    node
}

/// Adds the leaf key paths under `node` (at `path`) to `out`: properties by name,
/// patternProperties and additionalProperties schemas as `*`, the properties of `oneOf`/`anyOf`/
/// `allOf` alternatives and of array items at the same path; `x-` extensions left out.
fn walk(root: &Value, node: &Value, path: &str, visiting: &mut Vec<*const Value>, out: &mut BTreeSet<String>) {
    let node = resolve(root, node);
    let id = node as *const Value;
    if visiting.contains(&id) {
        out.insert(path.to_string());
        return;
    }
    visiting.push(id);
    let join = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
    let mut children = false;
    for (key, child) in node.get("properties").and_then(Value::as_object).into_iter().flatten() {
        if !key.starts_with("x-") {
            children = true;
            walk(root, child, &join(key), visiting, out);
        }
    }
    for (pattern, child) in node.get("patternProperties").and_then(Value::as_object).into_iter().flatten() {
        if !pattern.starts_with("^x-") {
            children = true;
            walk(root, child, &join("*"), visiting, out);
        }
    }
    if let Some(extra) = node.get("additionalProperties").filter(|a| a.as_object().is_some_and(|o| !o.is_empty())) {
        children = true;
        walk(root, extra, &join("*"), visiting, out);
    }
    let alternatives = ["oneOf", "anyOf", "allOf"].into_iter().filter_map(|k| node.get(k).and_then(Value::as_array)).flatten();
    for alternative in alternatives.chain(node.get("items")) {
        if has_keys(root, alternative) {
            children = true;
            walk(root, alternative, path, visiting, out);
        }
    }
    if !children {
        out.insert(path.to_string());
    }
    visiting.pop();
}

/// Whether a schema node (through `$ref`s) describes keys, directly or in its alternatives.
fn has_keys(root: &Value, node: &Value) -> bool {
    let node = resolve(root, node);
    ["properties", "patternProperties", "items", "oneOf", "anyOf"].iter().any(|k| node.get(k).is_some())
}

fn schema_keys() -> BTreeSet<String> {
    let schema = schema();
    let mut out = BTreeSet::new();
    walk(&schema, &schema, "", &mut Vec::new(), &mut out);
    out
}

/// The names of the test functions in a Rust file (`fn name(` after a `#[test]` line).
fn test_functions(file: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut names = BTreeSet::new();
    let mut after_test = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with("#[test]") || line.starts_with("#[tokio::test") {
            after_test = true;
        } else if after_test {
            if let Some(rest) = line.split("fn ").nth(1).filter(|_| line.starts_with("fn ") || line.contains(" fn ")) {
                names.insert(rest.split(['(', '<']).next().unwrap_or_default().to_string());
                after_test = false;
            }
        }
    }
    names
}

#[test]
fn every_schema_key_is_honoured_with_a_test_or_refused() {
    let keys = schema_keys();
    assert!(keys.len() > 250 && keys.contains("services.*.image") && keys.contains("services.*.ports.host_ip"), "{keys:?}");
    let honoured = honoured_keys();
    let refused = refused_keys();
    let unaccounted: Vec<&String> = keys.iter().filter(|k| !honoured.contains_key(*k) && !refused.contains_key(*k)).collect();
    assert!(unaccounted.is_empty(), "schema keys neither in keys/honoured.toml nor in keys/refused.toml:\n{}", unaccounted.iter().map(|k| k.as_str()).collect::<Vec<_>>().join("\n"));
    // A refused key may also be a parent of schema keys (`secrets.*.external`, a boolean or a
    // mapping): refusing it refuses what is under it.
    let is_parent = |k: &str| keys.iter().any(|key| key.strip_prefix(k).is_some_and(|rest| rest.starts_with('.')));
    let unknown: Vec<&String> = honoured.keys().filter(|k| !keys.contains(*k)).chain(refused.keys().filter(|k| !keys.contains(*k) && !is_parent(k))).collect();
    assert!(unknown.is_empty(), "listed keys the schema does not have: {unknown:?}");
    let both: Vec<&String> = honoured.keys().filter(|k| matches!(refused.get(*k), Some(Refusal::Always(_)))).collect();
    assert!(both.is_empty(), "keys both honoured and refused whatever their value (list the honoured values as `allowed`): {both:?}");
}

#[test]
fn every_honoured_key_names_a_test_that_exists() {
    let mut missing = Vec::new();
    let mut cache: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (key, proof) in honoured_keys() {
        let Some((file, test)) = proof.split_once("::") else {
            missing.push(format!("{key}: {proof:?} is not file::test"));
            continue;
        };
        let tests = cache.entry(file.to_string()).or_insert_with(|| test_functions(&repo_root().join(file)));
        if !tests.contains(test) {
            missing.push(format!("{key}: no #[test] fn {test} in {file}"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
