//! The `x-*` extensions compose's JSON leaves out (compose-go tags them `json:"-"`) but its YAML
//! prints, inline after each struct's fields: the service's and those of its `develop`, watch
//! rules, `deploy` (with its resources and restart policy), `healthcheck` and `logging`.

use std::collections::BTreeMap;

use serde_json::Value;
use xcompose_loader::Project;

/// Adds the extensions of `project`'s services to `value`, the project's JSON form.
pub fn add(project: &Project, value: &mut Value) {
    for (name, service) in &project.services {
        let Some(target) = value.get_mut("services").and_then(|s| s.get_mut(name)) else { continue };
        insert(target, &service.extensions);
        if let Some(develop) = &service.develop {
            let node = &mut target["develop"];
            insert(node, &develop.extensions);
            for (i, rule) in develop.watch.iter().enumerate() {
                insert(&mut node["watch"][i], &rule.extensions);
            }
        }
        if let Some(deploy) = &service.deploy {
            let node = &mut target["deploy"];
            insert(node, &deploy.extensions);
            insert(&mut node["resources"], &deploy.resources.extensions);
            for (key, resource) in [("limits", &deploy.resources.limits), ("reservations", &deploy.resources.reservations)] {
                if let Some(resource) = resource {
                    insert(&mut node["resources"][key], &resource.extensions);
                }
            }
            if let Some(policy) = &deploy.restart_policy {
                insert(&mut node["restart_policy"], &policy.extensions);
            }
        }
        if let Some(healthcheck) = &service.healthcheck {
            insert(&mut target["healthcheck"], &healthcheck.extensions);
        }
        if let Some(logging) = &service.logging {
            insert(&mut target["logging"], &logging.extensions);
        }
    }
}

/// Puts `extensions` into the object `node` (nothing when there are none).
fn insert(node: &mut Value, extensions: &BTreeMap<String, Value>) {
    if extensions.is_empty() {
        return;
    }
    if let Value::Object(map) = node {
        map.extend(extensions.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}
