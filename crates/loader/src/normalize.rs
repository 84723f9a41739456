//! Compose's defaults that depend on the whole project: the default network, resource names
//! (`<project>_<key>`), build defaults, and dependencies implied by `network_mode: service:x`,
//! `volumes_from` and `links`.

use serde_json::{json, Map, Value};

/// Sets the project's name in a merged model: all that is left of normalization when it is
/// skipped (`config --no-normalize`), as compose-go names the project either way.
pub fn set_name(doc: &mut Value, project: &str) {
    let root = doc.as_object_mut().expect("compose documents are mappings");
    root.insert("name".into(), Value::String(project.to_string()));
}

/// Applies the project-wide defaults to a merged model.
pub fn normalize(doc: &mut Value, project: &str) {
    set_name(doc, project);
    let root = doc.as_object_mut().expect("compose documents are mappings");
    let mut uses_default = false;
    if let Some(Value::Object(services)) = root.get_mut("services") {
        for service in services.values_mut() {
            if service.is_null() {
                *service = json!({});
            }
            let Some(s) = service.as_object_mut() else { continue };
            normalize_service(s);
            if let Some(Value::Object(nets)) = s.get("networks") {
                uses_default |= nets.contains_key("default");
            }
        }
    }
    if uses_default {
        let nets = root.entry("networks").or_insert_with(|| json!({}));
        if let Some(nets) = nets.as_object_mut() {
            nets.entry("default").or_insert_with(|| json!({}));
        }
    }
    for kind in ["networks", "volumes", "secrets", "configs"] {
        if let Some(Value::Object(items)) = root.get_mut(kind) {
            for (key, item) in items.iter_mut() {
                if item.is_null() {
                    *item = json!({});
                }
                let Some(obj) = item.as_object_mut() else { continue };
                if obj.get("name").and_then(Value::as_str).is_none_or(str::is_empty) {
                    let external = obj.get("external").and_then(Value::as_bool).unwrap_or(false);
                    let name = if external { key.clone() } else { format!("{project}_{key}") };
                    obj.insert("name".into(), Value::String(name));
                }
            }
        }
    }
}

fn normalize_service(s: &mut Map<String, Value>) {
    // A provider service has no container: compose gives it no network.
    if !s.contains_key("network_mode") && !s.contains_key("networks") && !s.contains_key("provider") {
        s.insert("networks".into(), json!({"default": null}));
    }
    if let Some(Value::Object(build)) = s.get_mut("build") {
        if !build.contains_key("dockerfile") && !build.contains_key("dockerfile_inline") {
            build.insert("dockerfile".into(), json!("Dockerfile"));
        }
    }
    // (service, restart): sharing a namespace restarts with the service that owns it.
    let mut implied: Vec<(String, bool)> = Vec::new();
    for key in ["network_mode", "ipc"] {
        if let Some(target) = s.get(key).and_then(Value::as_str).and_then(|m| m.strip_prefix("service:")) {
            implied.push((target.to_string(), true));
        }
    }
    if let Some(Value::Array(from)) = s.get("volumes_from") {
        for f in from.iter().filter_map(Value::as_str) {
            if f.starts_with("container:") {
                continue;
            }
            let name = f.split(':').next().unwrap_or(f);
            implied.push((name.to_string(), false));
        }
    }
    if let Some(Value::Array(links)) = s.get("links") {
        for l in links.iter().filter_map(Value::as_str) {
            implied.push((l.split(':').next().unwrap_or(l).to_string(), false));
        }
    }
    if !implied.is_empty() {
        let deps = s.entry("depends_on").or_insert_with(|| json!({}));
        if let Some(deps) = deps.as_object_mut() {
            for (name, restart) in implied {
                let dep = if restart {
                    json!({"condition": "service_started", "restart": true, "required": true})
                } else {
                    json!({"condition": "service_started", "required": true})
                };
                deps.entry(name).or_insert(dep);
            }
        }
    }
}
