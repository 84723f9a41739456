//! Merging compose documents (`-f a.yaml -f b.yaml`, `extends`) with compose's rules.
//!
//! Both sides are canonical (see [`crate::canonical`]). Mappings merge recursively, sequences are
//! appended, a few values are replaced whole (`command`, `entrypoint`, `healthcheck.test`), and
//! sequences that are really sets keyed by something (ports, volumes by target, secrets...) keep one
//! entry per key, the later one winning at the earlier one's place.

use serde_json::{Map, Value};

use crate::path::KeyPath;
use crate::yaml::MergeTag;

/// Paths whose value the override replaces instead of merging into.
const REPLACED: &[&[&str]] = &[
    &["services", "*", "command"],
    &["services", "*", "entrypoint"],
    &["services", "*", "healthcheck", "test"],
    &["services", "*", "ulimits", "*"],
];

/// Merges `over` into `base` (both whole documents or both services), the override winning.
pub fn merge(base: &mut Value, over: Value, path: &KeyPath) {
    if REPLACED.iter().any(|p| path.matches(p)) {
        *base = over;
        return;
    }
    if path.matches(&["services", "*", "logging"]) {
        let driver = |v: &Value| v.get("driver").cloned();
        if driver(&over).is_some() && driver(base).is_some() && driver(&over) != driver(base) {
            *base = over;
            return;
        }
    }
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => merge_maps(b, o, path),
        (Value::Array(b), Value::Array(o)) => {
            b.extend(o);
            dedup_by_key(b, path);
        }
        (b, Value::Null) if path.matches(&["services", "*", "networks", "*"]) && b.is_object() => {}
        (b, o) => *b = o,
    }
}

fn merge_maps(base: &mut Map<String, Value>, over: Map<String, Value>, path: &KeyPath) {
    for (k, v) in over {
        let child = path.child(&k);
        match base.get_mut(&k) {
            Some(existing) => merge(existing, v, &child),
            None => {
                base.insert(k, v);
            }
        }
    }
}

/// Removes the values at paths tagged `!reset` or `!override` in the file being merged, so the
/// file's own value (for `!override`) or nothing (for `!reset`) stands in the result.
pub fn apply_tags(base: &mut Value, file: &mut Value, tags: &[(KeyPath, MergeTag)]) {
    for (path, tag) in tags {
        remove_path(base, path);
        if *tag == MergeTag::Reset {
            remove_path(file, path);
        }
    }
}

fn remove_path(value: &mut Value, path: &KeyPath) {
    use crate::path::Segment;
    let segs = path.segments();
    let Some((last, parents)) = segs.split_last() else { return };
    let mut cur = value;
    for seg in parents {
        cur = match (seg, cur) {
            (Segment::Key(k), Value::Object(m)) => match m.get_mut(k) {
                Some(v) => v,
                None => return,
            },
            (Segment::Index(i), Value::Array(a)) => match a.get_mut(*i) {
                Some(v) => v,
                None => return,
            },
            _ => return,
        };
    }
    match (last, cur) {
        (Segment::Key(k), Value::Object(m)) => {
            m.shift_remove(k);
        }
        (Segment::Index(i), Value::Array(a)) if *i < a.len() => {
            a.remove(*i);
        }
        _ => {}
    }
}

/// The identity of an item in a set-like sequence, or None when the sequence is a plain list.
fn item_key(path: &KeyPath, item: &Value) -> Option<String> {
    let s = |v: Option<&Value>| v.map(crate::canonical::scalar_text).unwrap_or_default();
    let service_list = |name: &str| path.matches(&["services", "*", name]);
    if service_list("ports") {
        return Some(format!(
            "{}:{}:{}/{}",
            s(item.get("host_ip")),
            s(item.get("published")),
            s(item.get("target")),
            s(item.get("protocol"))
        ));
    }
    if service_list("volumes") {
        return Some(s(item.get("target")));
    }
    if service_list("secrets") || service_list("configs") {
        let target = s(item.get("target"));
        return Some(if target.is_empty() { s(item.get("source")) } else { target });
    }
    if service_list("env_file") {
        return Some(s(item.get("path")));
    }
    if service_list("devices") {
        return Some(s(item.get("target")));
    }
    const SETS: &[&str] = &[
        "cap_add", "cap_drop", "dns", "dns_opt", "dns_search", "expose", "external_links", "extra_hosts",
        "links", "profiles", "security_opt", "tmpfs", "volumes_from", "label_file", "group_add",
    ];
    if SETS.iter().any(|k| service_list(k))
        || path.matches(&["services", "*", "networks", "*", "aliases"])
        || path.matches(&["services", "*", "networks", "*", "link_local_ips"])
    {
        return Some(s(Some(item)));
    }
    None
}

/// Keeps one item per key; a later duplicate replaces the earlier one in place.
pub fn dedup_by_key(items: &mut Vec<Value>, path: &KeyPath) {
    if items.is_empty() || item_key(path, &items[0]).is_none() {
        return;
    }
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for item in items.drain(..) {
        let key = item_key(path, &item).unwrap_or_default();
        match seen.get(&key) {
            Some(&i) => out[i] = item,
            None => {
                seen.insert(key, out.len());
                out.push(item);
            }
        }
    }
    *items = out;
}

/// Applies [`dedup_by_key`] to every set-like sequence of every service.
pub fn enforce_unicity(doc: &mut Value) {
    let Some(Value::Object(services)) = doc.get_mut("services") else { return };
    for (name, service) in services.iter_mut() {
        let Value::Object(s) = service else { continue };
        let base = KeyPath::of(&["services", name]);
        for (key, value) in s.iter_mut() {
            if let Value::Array(items) = value {
                dedup_by_key(items, &base.child(key));
            }
            if key == "networks" {
                if let Value::Object(nets) = value {
                    for (net, cfg) in nets.iter_mut() {
                        for list in ["aliases", "link_local_ips"] {
                            if let Some(Value::Array(items)) = cfg.get_mut(list) {
                                dedup_by_key(items, &base.child("networks").child(net).child(list));
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn merged(base: Value, over: Value) -> Value {
        let mut b = base;
        merge(&mut b, over, &KeyPath::root());
        enforce_unicity(&mut b);
        b
    }

    #[test]
    fn maps_merge_recursively_and_scalars_override() {
        let got = merged(
            json!({"services": {"web": {"image": "a", "environment": {"A": "1", "B": "2"}}}}),
            json!({"services": {"web": {"image": "b", "environment": {"B": "3"}}}}),
        );
        assert_eq!(got, json!({"services": {"web": {"image": "b", "environment": {"A": "1", "B": "3"}}}}));
    }

    #[test]
    fn command_entrypoint_and_healthcheck_test_are_replaced() {
        let got = merged(
            json!({"services": {"w": {"command": ["a", "b"], "entrypoint": ["x"], "healthcheck": {"test": ["CMD", "a"], "retries": 3}}}}),
            json!({"services": {"w": {"command": ["c"], "entrypoint": ["y"], "healthcheck": {"test": ["CMD", "b"]}}}}),
        );
        assert_eq!(got["services"]["w"]["command"], json!(["c"]));
        assert_eq!(got["services"]["w"]["entrypoint"], json!(["y"]));
        assert_eq!(got["services"]["w"]["healthcheck"], json!({"test": ["CMD", "b"], "retries": 3}));
    }

    #[test]
    fn sequences_append_and_sets_are_unique_by_key() {
        let got = merged(
            json!({"services": {"w": {
                "ports": [{"target": 80, "published": "8080", "protocol": "tcp"}],
                "volumes": [{"type": "volume", "source": "a", "target": "/data"}, {"type": "bind", "source": "/x", "target": "/x"}],
                "secrets": [{"source": "s", "target": "/run/secrets/s"}],
                "cap_add": ["NET_ADMIN"], "command": ["a"]
            }}}),
            json!({"services": {"w": {
                "ports": [{"target": 80, "published": "8080", "protocol": "tcp"}, {"target": 81, "protocol": "tcp"}],
                "volumes": [{"type": "volume", "source": "b", "target": "/data"}],
                "secrets": [{"source": "s", "target": "/run/secrets/s", "mode": 256}],
                "cap_add": ["NET_ADMIN", "SYS_TIME"]
            }}}),
        );
        let w = &got["services"]["w"];
        assert_eq!(w["ports"].as_array().unwrap().len(), 2);
        assert_eq!(w["volumes"], json!([{"type": "volume", "source": "b", "target": "/data"}, {"type": "bind", "source": "/x", "target": "/x"}]));
        assert_eq!(w["secrets"], json!([{"source": "s", "target": "/run/secrets/s", "mode": 256}]));
        assert_eq!(w["cap_add"], json!(["NET_ADMIN", "SYS_TIME"]));
    }

    #[test]
    fn reset_and_override_tags() {
        let mut base = json!({"services": {"w": {"ports": [{"target": 80}], "environment": {"A": "1", "B": "2"}}}});
        let mut file = json!({"services": {"w": {"ports": [], "environment": {"B": "3"}}}});
        let tags = vec![
            (KeyPath::of(&["services", "w", "ports"]), MergeTag::Reset),
            (KeyPath::of(&["services", "w", "environment"]), MergeTag::Override),
        ];
        apply_tags(&mut base, &mut file, &tags);
        merge(&mut base, file, &KeyPath::root());
        assert_eq!(base, json!({"services": {"w": {"environment": {"B": "3"}}}}));
    }

    #[test]
    fn logging_with_another_driver_is_replaced() {
        let got = merged(
            json!({"services": {"w": {"logging": {"driver": "syslog", "options": {"a": "1"}}}}}),
            json!({"services": {"w": {"logging": {"driver": "json-file", "options": {"b": "2"}}}}}),
        );
        assert_eq!(got["services"]["w"]["logging"], json!({"driver": "json-file", "options": {"b": "2"}}));
        let same = merged(
            json!({"services": {"w": {"logging": {"driver": "syslog", "options": {"a": "1"}}}}}),
            json!({"services": {"w": {"logging": {"options": {"b": "2"}}}}}),
        );
        assert_eq!(same["services"]["w"]["logging"], json!({"driver": "syslog", "options": {"a": "1", "b": "2"}}));
    }

    #[test]
    fn null_network_override_keeps_the_base_config() {
        let got = merged(
            json!({"services": {"w": {"networks": {"front": {"aliases": ["a"]}}}}}),
            json!({"services": {"w": {"networks": {"front": null, "back": null}}}}),
        );
        assert_eq!(got["services"]["w"]["networks"], json!({"front": {"aliases": ["a"]}, "back": null}));
    }
}
