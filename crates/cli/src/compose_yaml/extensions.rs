//! The `x-*` extensions compose's JSON leaves out (compose-go tags them `json:"-"`) but its YAML
//! prints, inline after each struct's fields: those of services and of their `develop`, watch
//! rules, `deploy` (with its resources and restart policy), `healthcheck` and `logging`; and
//! those of networks, volumes, secrets and configs.

use std::collections::BTreeMap;

use serde_json::Value;
use xcompose_loader::Project;

/// Adds the extensions of `project`'s services and resources to `value`, the project's JSON form.
pub fn add(project: &Project, value: &mut Value) {
    for (name, network) in &project.networks {
        insert(value, &["networks", name], &network.extensions);
    }
    for (name, volume) in &project.volumes {
        insert(value, &["volumes", name], &volume.extensions);
    }
    for (kind, objects) in [("secrets", &project.secrets), ("configs", &project.configs)] {
        for (name, object) in objects {
            insert(value, &[kind, name], &object.extensions);
        }
    }
    for (name, service) in &project.services {
        let Some(node) = value.get_mut("services").and_then(|s| s.get_mut(name)) else { continue };
        insert(node, &[], &service.extensions);
        if let Some(develop) = &service.develop {
            insert(node, &["develop"], &develop.extensions);
            for (i, rule) in develop.watch.iter().enumerate() {
                if let Some(rule_node) = node.get_mut("develop").and_then(|d| d.get_mut("watch")).and_then(|w| w.get_mut(i)) {
                    insert(rule_node, &[], &rule.extensions);
                }
            }
        }
        if let Some(deploy) = &service.deploy {
            insert(node, &["deploy"], &deploy.extensions);
            insert(node, &["deploy", "resources"], &deploy.resources.extensions);
            for (key, resource) in [("limits", &deploy.resources.limits), ("reservations", &deploy.resources.reservations)] {
                if let Some(resource) = resource {
                    insert(node, &["deploy", "resources", key], &resource.extensions);
                }
            }
            if let Some(policy) = &deploy.restart_policy {
                insert(node, &["deploy", "restart_policy"], &policy.extensions);
            }
        }
        if let Some(healthcheck) = &service.healthcheck {
            insert(node, &["healthcheck"], &healthcheck.extensions);
        }
        if let Some(logging) = &service.logging {
            insert(node, &["logging"], &logging.extensions);
        }
    }
}

/// Puts `extensions` into the object at `path` under `node`, if there is one (and extensions).
fn insert(node: &mut Value, path: &[&str], extensions: &BTreeMap<String, Value>) {
    if extensions.is_empty() {
        return;
    }
    let target = path.iter().try_fold(node, |at, key| at.get_mut(*key));
    if let Some(Value::Object(map)) = target {
        map.extend(extensions.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}
