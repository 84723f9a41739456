//! The checks compose makes around its schema validation, with its messages.
//!
//! Before validating, compose applies `extends` and `include` and folds repeated list entries
//! (`environment`, `labels`, `ports`, ...); each step rejects values it cannot handle. After
//! validating, it checks rules the schema cannot express. Compose visits mappings in no fixed
//! order; these checks go in document order.

use serde_json::{Map, Value};

use crate::gofmt::{percent_s, type_name};
use crate::{PathSegment, Violation};

/// Service lists that compose folds as `KEY[=VALUE]` strings before validating, relative to a
/// service (`*` is any key); any other kind of entry is rejected.
const FOLDED_KEY_VALUE_LISTS: &[&[&str]] = &[
    &["annotations"],
    &["build", "args"],
    &["build", "labels"],
    &["build", "additional_contexts"],
    &["build", "tags"],
    &["cap_add"],
    &["cap_drop"],
    &["deploy", "labels"],
    &["dns"],
    &["dns_opt"],
    &["dns_search"],
    &["environment"],
    &["labels"],
    &["links"],
    &["networks", "*", "aliases"],
    &["networks", "*", "link_local_ips"],
    &["profiles"],
    &["sysctls"],
    &["tmpfs"],
];

/// The checks Docker Compose makes while it reads a file, before it validates it against the
/// schema: an `extends` must name a service, `include` must be a list, and the entries of the
/// lists compose de-duplicates (`environment`, `labels`, `expose`, `ports`, `volumes`, `secrets`,
/// `env_file`, ...) must have a shape it can fold.
///
/// Run it on the same document as [`crate::validate`], before it.
///
/// # Errors
///
/// The first problem found, in document order. Compose prints these messages without the
/// `validating <file>: ` prefix (`services.web.labels.[0]: unexpected type int`).
pub fn check_before_schema(doc: &Value) -> Result<(), Violation> {
    let Some(root) = doc.as_object() else {
        return Ok(());
    };
    let services = root.get("services").and_then(Value::as_object);
    // `extends` is resolved first, then `include`, then lists are folded.
    for (name, service) in services.into_iter().flatten() {
        if let Some(extends) = service.get("extends").and_then(Value::as_object) {
            if !extends.get("service").is_some_and(Value::is_string) {
                return Err(violation(
                    &["services", name, "extends"],
                    format!("extends.{name}.service is required"),
                ));
            }
        }
    }
    if let Some(include) = root.get("include") {
        check_include(include)?;
    }
    for (name, service) in services.into_iter().flatten() {
        if let Some(service) = service.as_object() {
            check_service_lists(name, service)?;
        }
    }
    if let Some(networks) = root.get("networks").and_then(Value::as_object) {
        for (name, network) in networks {
            if let Some(labels) = network.get("labels").and_then(Value::as_array) {
                key_value_entries(&["networks", name, "labels"], labels)?;
            }
        }
    }
    Ok(())
}

/// `include` as compose decodes it: a list whose entries are paths or mappings, with `path` and
/// `env_file` each a string or a list of strings. Compose reports every bad entry at once.
fn check_include(include: &Value) -> Result<(), Violation> {
    let entries = match include {
        Value::Null => return Ok(()),
        Value::Array(entries) => entries,
        other => {
            return Err(violation(
                &["include"],
                format!("`include` must be a list, got {}", percent_s(other)),
            ))
        }
    };
    let mut problems = Vec::new();
    let mut first = None;
    for (i, entry) in entries.iter().enumerate() {
        let before = problems.len();
        match entry {
            Value::String(_) | Value::Null => {}
            Value::Object(fields) => {
                for key in ["path", "env_file"] {
                    let Some(value) = fields.get(key) else {
                        continue;
                    };
                    let strings = value.is_string()
                        || value
                            .as_array()
                            .is_some_and(|l| l.iter().all(Value::is_string));
                    if !strings {
                        problems.push(format!(
                            "'[{i}].{key}' invalid type {} for string list",
                            type_name(value)
                        ));
                    }
                }
            }
            other => problems.push(format!(
                "'[{i}]' expected a map or struct, got \"{}\"",
                kind_name(other)
            )),
        }
        if first.is_none() && problems.len() > before {
            first = Some(i);
        }
    }
    match first {
        None => Ok(()),
        Some(i) => Err(Violation {
            path: vec![PathSegment::Key("include".into()), PathSegment::Index(i)],
            message: format!(
                "decoding failed due to the following error(s):\n\n{}",
                problems.join("\n")
            ),
        }),
    }
}

/// Go's reflect kind of a decoded YAML value, as the decoder names it.
fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
        other => type_name(other),
    }
}

/// The folding checks of one service, key by key in document order.
fn check_service_lists(name: &str, service: &Map<String, Value>) -> Result<(), Violation> {
    for (key, value) in service {
        let base = ["services", name, key.as_str()];
        match key.as_str() {
            "expose" => {
                for (i, entry) in array(value).iter().enumerate() {
                    if !(entry.is_string() || entry.is_i64() || entry.is_u64()) {
                        return Err(unsupported(&base, i, entry));
                    }
                }
            }
            "secrets" | "configs" => {
                for (i, entry) in array(value).iter().enumerate() {
                    if !(entry.is_string() || entry.is_object()) {
                        return Err(unsupported(&base, i, entry));
                    }
                }
            }
            "volumes" => {
                for (i, entry) in array(value).iter().enumerate() {
                    if entry
                        .as_object()
                        .is_some_and(|m| !m.get("target").is_some_and(Value::is_string))
                    {
                        return Err(indexed(&base, i, |at| {
                            format!("service volume {at} is missing a mount target")
                        }));
                    }
                }
            }
            "ports" => {
                for (i, entry) in array(value).iter().enumerate() {
                    if entry.as_object().is_some_and(|m| !m.contains_key("target")) {
                        return Err(indexed(&base, i, |at| {
                            format!("service ports {at} is missing a target port")
                        }));
                    }
                }
            }
            "env_file" => {
                for (i, entry) in array(value).iter().enumerate() {
                    if entry.as_object().is_some_and(|m| !m.contains_key("path")) {
                        return Err(indexed(&base, i, |at| {
                            format!("environment path attribute {at} is missing")
                        }));
                    }
                }
            }
            _ => {}
        }
        for list in FOLDED_KEY_VALUE_LISTS {
            if list[0] != key {
                continue;
            }
            let mut found = vec![(
                vec!["services".to_string(), name.to_string(), key.clone()],
                value,
            )];
            for step in &list[1..] {
                found = found
                    .into_iter()
                    .flat_map(|(path, v)| {
                        children(v, step)
                            .into_iter()
                            .map(move |(k, c)| (extend(&path, k), c))
                    })
                    .collect();
            }
            for (path, v) in found {
                if let Some(entries) = v.as_array() {
                    let path: Vec<&str> = path.iter().map(String::as_str).collect();
                    key_value_entries(&path, entries)?;
                }
            }
        }
    }
    Ok(())
}

/// The children of `value` matching one pattern step (`*` is every key of a mapping).
fn children<'v>(value: &'v Value, step: &str) -> Vec<(String, &'v Value)> {
    match (value.as_object(), step) {
        (Some(map), "*") => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        (Some(map), key) => map
            .get(key)
            .map(|v| (key.to_string(), v))
            .into_iter()
            .collect(),
        (None, _) => Vec::new(),
    }
}

fn extend(path: &[String], key: String) -> Vec<String> {
    let mut p = path.to_vec();
    p.push(key);
    p
}

fn key_value_entries(base: &[&str], entries: &[Value]) -> Result<(), Violation> {
    for (i, entry) in entries.iter().enumerate() {
        if !entry.is_string() {
            return Err(indexed(base, i, |at| {
                format!("{at}: unexpected type {}", type_name(entry))
            }));
        }
    }
    Ok(())
}

fn array(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

fn unsupported(base: &[&str], i: usize, entry: &Value) -> Violation {
    indexed(base, i, |at| {
        format!("{at}: unsupported expose value {}", percent_s(entry))
    })
}

/// A violation at entry `i` of the list at `base`; compose names it `base.[i]`.
fn indexed(base: &[&str], i: usize, message: impl FnOnce(&str) -> String) -> Violation {
    let at = format!("{}.[{i}]", base.join("."));
    let mut path = keys(base);
    path.push(PathSegment::Index(i));
    Violation {
        path,
        message: message(&at),
    }
}

fn keys(path: &[&str]) -> Vec<PathSegment> {
    path.iter()
        .map(|k| PathSegment::Key((*k).to_string()))
        .collect()
}

fn violation(path: &[&str], message: String) -> Violation {
    Violation {
        path: keys(path),
        message,
    }
}

/// The checks Docker Compose makes right after the schema, on rules the schema cannot express:
/// a secret needs exactly one of `file` or `environment` (a config one of `file`, `environment`
/// or `content`) unless it is external, an external volume takes no other settings, a watched
/// path is not blank, and `build.additional_contexts` entries are `name=value`.
///
/// Run it after [`crate::validate`] succeeded.
///
/// # Errors
///
/// The first problem found, in document order. Compose prints these messages without the
/// `validating <file>: ` prefix (`secrets.token: one of file|environment must be set`).
pub fn check_after_schema(doc: &Value) -> Result<(), Violation> {
    let Some(root) = doc.as_object() else {
        return Ok(());
    };
    let services = root.get("services").and_then(Value::as_object);
    for (name, service) in services.into_iter().flatten() {
        let contexts = service
            .pointer("/build/additional_contexts")
            .and_then(Value::as_array);
        for entry in contexts.into_iter().flatten() {
            if let Some(s) = entry.as_str().filter(|s| !s.contains('=')) {
                return Err(violation(
                    &["services", name, "build", "additional_contexts"],
                    format!("services.{name}.build.additional_contexts: invalid value {s}, expected key=value"),
                ));
            }
        }
    }
    for (section, section_value) in root {
        let Some(entries) = section_value.as_object() else {
            continue;
        };
        for (name, value) in entries {
            let Some(object) = value.as_object() else {
                continue;
            };
            match section.as_str() {
                "volumes" => external_volume(name, object)?,
                "configs" => {
                    file_object("configs", name, object, &["file", "environment", "content"])?
                }
                "secrets" => file_object("secrets", name, object, &["file", "environment"])?,
                "services" => watched_paths(name, object)?,
                _ => {}
            }
        }
    }
    Ok(())
}

fn external_volume(name: &str, volume: &Map<String, Value>) -> Result<(), Violation> {
    if !volume.get("external").is_some_and(is_true) {
        return Ok(());
    }
    match volume
        .keys()
        .find(|k| !matches!(k.as_str(), "name" | "external") && !k.starts_with("x-"))
    {
        Some(key) => Err(violation(
            &["volumes", name, key],
            format!("volumes.{name}: conflicting parameters \"external\" and {key:?} specified"),
        )),
        None => Ok(()),
    }
}

/// Whether compose takes an `external` value as true (after its boolean cast).
fn is_true(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => matches!(
            s.as_str(),
            "1" | "t"
                | "T"
                | "true"
                | "True"
                | "TRUE"
                | "y"
                | "Y"
                | "yes"
                | "Yes"
                | "YES"
                | "on"
                | "On"
                | "ON"
        ),
        Value::Object(_) => true,
        _ => false,
    }
}

fn file_object(
    section: &str,
    name: &str,
    object: &Map<String, Value>,
    sources: &[&str],
) -> Result<(), Violation> {
    let set = sources.iter().filter(|k| object.contains_key(**k)).count();
    let alternatives = sources.join("|");
    if set > 1 {
        return Err(violation(
            &[section, name],
            format!("{section}.{name}: {alternatives} attributes are mutually exclusive"),
        ));
    }
    if set == 0 && !object.contains_key("driver") && !object.contains_key("external") {
        return Err(violation(
            &[section, name],
            format!("{section}.{name}: one of {alternatives} must be set"),
        ));
    }
    Ok(())
}

fn watched_paths(name: &str, service: &Map<String, Value>) -> Result<(), Violation> {
    let rules = service
        .get("develop")
        .and_then(|d| d.get("watch"))
        .and_then(Value::as_array);
    for (i, rule) in rules.into_iter().flatten().enumerate() {
        if rule.get("path").and_then(Value::as_str) == Some("") {
            let mut path = keys(&["services", name, "develop", "watch"]);
            path.extend([PathSegment::Index(i), PathSegment::Key("path".into())]);
            return Err(Violation {
                path,
                message: format!("services.{name}.develop.watch.[].path: value can't be blank"),
            });
        }
    }
    Ok(())
}
