//! Object metadata: names, the labels that select a service's pods (Compose Bridge's
//! `com.docker.compose.*` keys), and compose labels as annotations.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::context::Context;

/// The label key marking a pod as attached to compose network `network` (its Kubernetes name).
pub fn network_label(network: &str) -> String {
    format!("com.docker.compose.network/{network}")
}

/// The labels selecting service `service`'s pods.
pub fn selector(ctx: &Context, service: &str) -> Value {
    json!({
        "com.docker.compose.project": ctx.project_label(),
        "com.docker.compose.service": ctx.services.get(service),
    })
}

/// `metadata` for an object named `name` belonging to `service` (or the whole project).
pub fn metadata(ctx: &Context, name: &str, service: Option<&str>) -> Value {
    let labels = match service {
        Some(service) => selector(ctx, service),
        None => json!({"com.docker.compose.project": ctx.project_label()}),
    };
    json!({"name": name, "labels": labels})
}

/// Compose labels or annotations as Kubernetes annotations: the keys Kubernetes refuses (an
/// annotation key is an optional DNS subdomain prefix, `/`, and a name of at most 63
/// characters) are left out with a warning.
pub fn annotations(ctx: &mut Context, key: &str, labels: &BTreeMap<String, String>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in labels {
        if is_qualified_name(k) {
            out.insert(k.clone(), Value::String(v.clone()));
        } else {
            ctx.warn(format!("{key}.{k}"), "not a valid Kubernetes annotation key (prefix/name, name at most 63 characters of [A-Za-z0-9-_.]); left out");
        }
    }
    out
}

/// Whether `key` is a Kubernetes qualified name (label and annotation keys).
fn is_qualified_name(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') && !part.starts_with('-') && !part.ends_with('-'))
    });
    name_ok && prefix_ok
}

#[cfg(test)]
mod tests {
    use super::is_qualified_name;

    #[test]
    fn qualified_names() {
        assert!(is_qualified_name("com.example.role"));
        assert!(is_qualified_name("traefik.io/enable"));
        assert!(!is_qualified_name("Traefik.io/enable"));
        assert!(!is_qualified_name("a/b/c"));
        assert!(!is_qualified_name(&"a".repeat(64)));
        assert!(!is_qualified_name("-x"));
    }
}
