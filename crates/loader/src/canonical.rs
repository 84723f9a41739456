//! Rewrites every short syntax of a compose document into its long, canonical form.
//!
//! After this pass each key has exactly one shape (ports are maps, `environment` is a map,
//! `depends_on` is a map with conditions...), so merging files and decoding the typed model
//! never have to care how the user wrote a value.

use serde_json::{json, Map, Value};

use crate::error::LoadError;
use crate::shell;
use crate::short_syntax::{parse_port_spec, parse_volume_spec};

/// Canonicalises a whole (interpolated, validated) document in place.
pub fn canonicalize(doc: &mut Value) -> Result<(), LoadError> {
    let Some(root) = doc.as_object_mut() else { return Ok(()) };
    if let Some(Value::Object(services)) = root.get_mut("services") {
        for (name, service) in services.iter_mut() {
            if service.is_null() {
                *service = json!({});
            }
            if let Value::Object(s) = service {
                canonical_service(name, s)?;
            }
        }
    }
    for kind in ["networks", "volumes", "secrets", "configs"] {
        if let Some(Value::Object(items)) = root.get_mut(kind) {
            for item in items.values_mut() {
                canonical_resource(item);
            }
        }
    }
    if let Some(Value::Array(items)) = root.get_mut("include") {
        for item in items.iter_mut() {
            if let Value::String(path) = item {
                *item = json!({"path": [path.clone()]});
            }
            if let Some(obj) = item.as_object_mut() {
                for key in ["path", "env_file"] {
                    string_to_list(obj, key);
                }
            }
        }
    }
    Ok(())
}

/// `external: {name: x}` (legacy) becomes `external: true` plus `name: x`; `null` becomes `{}`.
fn canonical_resource(item: &mut Value) {
    if item.is_null() {
        *item = json!({});
    }
    let Some(obj) = item.as_object_mut() else { return };
    if let Some(Value::Object(ext)) = obj.get("external").cloned() {
        obj.insert("external".into(), Value::Bool(true));
        if let Some(name) = ext.get("name") {
            obj.insert("name".into(), name.clone());
        }
    }
    list_to_map(obj, "labels", '=', Value::String(String::new()));
}

fn canonical_service(name: &str, s: &mut Map<String, Value>) -> Result<(), LoadError> {
    if let Some(Value::String(context)) = s.get("build").cloned() {
        s.insert("build".into(), json!({ "context": context }));
    }
    if let Some(Value::Object(build)) = s.get_mut("build") {
        list_to_map(build, "args", '=', Value::Null);
        list_to_map(build, "labels", '=', Value::String(String::new()));
        list_to_map(build, "additional_contexts", '=', Value::Null);
        string_to_list(build, "tags");
        string_to_list(build, "cache_from");
        if let Some(v) = build.get_mut("extra_hosts") {
            *v = canonical_extra_hosts(v);
        }
        if let Some(Value::Array(secrets)) = build.get_mut("secrets") {
            for secret in secrets.iter_mut() {
                if let Value::String(src) = secret {
                    *secret = json!({ "source": src.clone() });
                }
            }
        }
    }
    if let Some(Value::String(service)) = s.get("extends").cloned() {
        s.insert("extends".into(), json!({ "service": service }));
    }
    for key in ["command", "entrypoint"] {
        if let Some(Value::String(cmd)) = s.get(key).cloned() {
            let words = shell::split(&cmd).map_err(|e| LoadError::Invalid(format!("services.{name}.{key}: {e}")))?;
            s.insert(key.into(), Value::Array(words.into_iter().map(Value::String).collect()));
        }
    }
    if let Some(Value::Object(hc)) = s.get_mut("healthcheck") {
        if let Some(Value::String(cmd)) = hc.get("test").cloned() {
            hc.insert("test".into(), json!(["CMD-SHELL", cmd]));
        }
    }
    if let Some(Value::Array(deps)) = s.get("depends_on").cloned() {
        let map: Map<String, Value> = deps
            .iter()
            .filter_map(Value::as_str)
            .map(|d| (d.to_string(), json!({"condition": "service_started", "required": true})))
            .collect();
        s.insert("depends_on".into(), Value::Object(map));
    } else if let Some(Value::Object(deps)) = s.get_mut("depends_on") {
        for dep in deps.values_mut() {
            if dep.is_null() {
                *dep = json!({});
            }
            if let Value::Object(d) = dep {
                d.entry("condition").or_insert_with(|| json!("service_started"));
                d.entry("required").or_insert(Value::Bool(true));
            }
        }
    }
    if let Some(v) = s.get_mut("env_file") {
        *v = canonical_env_files(v);
    }
    string_to_list(s, "label_file");
    list_to_map(s, "environment", '=', Value::Null);
    list_to_map(s, "labels", '=', Value::String(String::new()));
    list_to_map(s, "annotations", '=', Value::String(String::new()));
    list_to_map(s, "sysctls", '=', Value::String(String::new()));
    for key in ["dns", "dns_search", "tmpfs"] {
        string_to_list(s, key);
    }
    if let Some(v) = s.get_mut("extra_hosts") {
        *v = canonical_extra_hosts(v);
    }
    if let Some(Value::Array(items)) = s.get_mut("expose") {
        for item in items.iter_mut() {
            if let Value::Number(n) = item {
                *item = Value::String(n.to_string());
            }
        }
    }
    if let Some(Value::Array(nets)) = s.get("networks").cloned() {
        let map: Map<String, Value> =
            nets.iter().filter_map(Value::as_str).map(|n| (n.to_string(), Value::Null)).collect();
        s.insert("networks".into(), Value::Object(map));
    }
    if let Some(Value::Array(ports)) = s.get("ports").cloned() {
        let mut out = Vec::new();
        for port in ports {
            match port {
                Value::Object(mut p) => {
                    p.entry("mode").or_insert_with(|| json!("ingress"));
                    p.entry("protocol").or_insert_with(|| json!("tcp"));
                    if let Some(Value::Number(n)) = p.get("published").cloned() {
                        p.insert("published".into(), Value::String(n.to_string()));
                    }
                    out.push(Value::Object(p));
                }
                Value::String(spec) => out.extend(parse_port_spec(&spec).map_err(LoadError::Invalid)?),
                Value::Number(n) => out.extend(parse_port_spec(&n.to_string()).map_err(LoadError::Invalid)?),
                _ => {}
            }
        }
        s.insert("ports".into(), Value::Array(out));
    }
    if let Some(Value::Array(volumes)) = s.get_mut("volumes") {
        for volume in volumes.iter_mut() {
            match volume {
                Value::String(spec) => *volume = parse_volume_spec(spec).map_err(LoadError::Invalid)?,
                Value::Object(v) => canonical_long_volume(v),
                _ => {}
            }
            clean_target(volume);
        }
    }
    for key in ["secrets", "configs"] {
        if let Some(Value::Array(items)) = s.get_mut(key) {
            for item in items.iter_mut() {
                if let Value::String(src) = item {
                    *item = json!({ "source": src.clone() });
                }
                if let (Value::Object(obj), "secrets") = (&mut *item, key) {
                    if !obj.contains_key("target") {
                        if let Some(src) = obj.get("source").and_then(Value::as_str) {
                            let target = format!("/run/secrets/{src}");
                            obj.insert("target".into(), Value::String(target));
                        }
                    }
                }
            }
        }
    }
    if let Some(Value::Array(devices)) = s.get_mut("devices") {
        for device in devices.iter_mut() {
            if let Value::String(spec) = device {
                let parts: Vec<&str> = spec.split(':').collect();
                *device = match parts.as_slice() {
                    [src] => json!({"source": src, "target": src, "permissions": "rwm"}),
                    [src, dst] => json!({"source": src, "target": dst, "permissions": "rwm"}),
                    [src, dst, perm] => json!({"source": src, "target": dst, "permissions": perm}),
                    _ => return Err(LoadError::Invalid(format!("confusing device mapping, please use long syntax: {spec}"))),
                };
            }
        }
    }
    if let Some(Value::Object(deploy)) = s.get_mut("deploy") {
        list_to_map(deploy, "labels", '=', Value::String(String::new()));
    }
    canonical_newer_keys(name, s)?;
    Ok(())
}

/// Compose v2.40's newer keys (checked against its `config` output): `gpus: all` is one request
/// for every GPU, a `models` list names models without options, hooks and watch `exec`
/// commands given as strings are split like `command`, a watch `include` string is a one-item
/// list, and a provider's scalar option a one-value list (options in name order).
fn canonical_newer_keys(name: &str, s: &mut Map<String, Value>) -> Result<(), LoadError> {
    if s.get("gpus").and_then(Value::as_str) == Some("all") {
        s.insert("gpus".into(), json!([{"count": -1}]));
    }
    if let Some(Value::Array(models)) = s.get("models").cloned() {
        let map: Map<String, Value> = models.iter().map(|m| (scalar_text(m), Value::Null)).collect();
        s.insert("models".into(), Value::Object(map));
    }
    let split = |key: String, hook: &mut Value| -> Result<(), LoadError> {
        if let Some(Value::String(cmd)) = hook.get("command").cloned() {
            let words = shell::split(&cmd).map_err(|e| LoadError::Invalid(format!("services.{name}.{key}.command: {e}")))?;
            hook["command"] = Value::Array(words.into_iter().map(Value::String).collect());
        }
        Ok(())
    };
    for key in ["post_start", "pre_stop"] {
        if let Some(Value::Array(hooks)) = s.get_mut(key) {
            for hook in hooks.iter_mut().filter(|h| h.is_object()) {
                split(key.to_string(), hook)?;
            }
        }
    }
    if let Some(Value::Array(rules)) = s.get_mut("develop").and_then(|d| d.get_mut("watch")) {
        for rule in rules.iter_mut().filter_map(Value::as_object_mut) {
            string_to_list(rule, "include");
            string_to_list(rule, "ignore");
            if let Some(exec) = rule.get_mut("exec").filter(|e| e.is_object()) {
                split("develop.watch.exec".into(), exec)?;
            }
        }
    }
    if let Some(Value::Object(options)) = s.get_mut("provider").and_then(|p| p.get_mut("options")) {
        for value in options.values_mut() {
            if !value.is_array() {
                *value = Value::Array(vec![Value::String(scalar_text(value))]);
            }
        }
        // Compose keeps them in a Go map: printed in name order.
        options.sort_keys();
    }
    Ok(())
}

/// Long-syntax volume defaults: a `bind` section without `create_host_path` means `true`.
fn canonical_long_volume(v: &mut Map<String, Value>) {
    if let Some(Value::Object(bind)) = v.get_mut("bind") {
        bind.entry("create_host_path").or_insert(Value::Bool(true));
    }
}

/// Cleans a mount target the way Go's `path.Clean` does (`/data/` → `/data`).
fn clean_target(v: &mut Value) {
    if let Some(Value::String(target)) = v.get_mut("target") {
        let cleaned = crate::options::clean(std::path::Path::new(target.as_str())).to_string_lossy().into_owned();
        *target = cleaned;
    }
}

/// `env_file: x` / `[x]` / `[{path: x}]` all become `[{path: x, required: true}]`.
fn canonical_env_files(v: &Value) -> Value {
    let items = match v {
        Value::String(s) => vec![Value::String(s.clone())],
        Value::Array(a) => a.clone(),
        other => return other.clone(),
    };
    Value::Array(
        items
            .into_iter()
            .map(|item| match item {
                Value::String(path) => json!({"path": path, "required": true}),
                Value::Object(mut o) => {
                    o.entry("required").or_insert(Value::Bool(true));
                    Value::Object(o)
                }
                other => other,
            })
            .collect(),
    )
}

/// `extra_hosts` as a sorted list of `host=ip` (a map's values may themselves be lists).
fn canonical_extra_hosts(v: &Value) -> Value {
    let mut hosts: Vec<String> = match v {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|entry| match entry.split_once('=') {
                Some(_) => entry.to_string(),
                None => match entry.split_once(':') {
                    Some((h, ip)) => format!("{h}={ip}"),
                    None => entry.to_string(),
                },
            })
            .collect(),
        Value::Object(map) => map
            .iter()
            .flat_map(|(host, ips)| match ips {
                Value::Array(list) => list.iter().map(|ip| format!("{host}={}", scalar_text(ip))).collect(),
                ip => vec![format!("{host}={}", scalar_text(ip))],
            })
            .collect(),
        other => return other.clone(),
    };
    hosts.sort();
    hosts.dedup();
    Value::Array(hosts.into_iter().map(Value::String).collect())
}

/// A scalar as text, the way Go's `fmt` prints it.
pub(crate) fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A lone string becomes a one-item list.
fn string_to_list(obj: &mut Map<String, Value>, key: &str) {
    if let Some(Value::String(s)) = obj.get(key).cloned() {
        obj.insert(key.into(), Value::Array(vec![Value::String(s)]));
    }
}

/// A `["K=V", "K"]` list becomes a map; a key without `=` gets `missing`. Map values become strings.
fn list_to_map(obj: &mut Map<String, Value>, key: &str, sep: char, missing: Value) {
    let Some(current) = obj.get(key).cloned() else { return };
    let map: Map<String, Value> = match current {
        Value::Array(items) => items
            .iter()
            .map(|item| {
                let text = scalar_text(item);
                match text.split_once(sep) {
                    Some((k, v)) => (k.to_string(), Value::String(v.to_string())),
                    None => (text, missing.clone()),
                }
            })
            .collect(),
        Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::Null => missing.clone(),
                    other => Value::String(scalar_text(&other)),
                };
                (k, v)
            })
            .collect(),
        _ => return,
    };
    obj.insert(key.into(), Value::Object(map));
}
