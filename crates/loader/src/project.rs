//! Passes over the typed project: profiles, service selection, consistency checks, unused
//! resources, and `env_file` resolution.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::LoadError;
use crate::model::{Project, Service};

fn invalid(msg: String) -> LoadError {
    LoadError::Invalid(format!("{msg}: invalid compose project"))
}

/// Keeps the services enabled by `profiles` (or named in `selected`), with what they depend on.
pub fn apply_profiles(project: &mut Project, profiles: &[String], selected: &[String]) -> Result<(), LoadError> {
    let all = profiles.iter().any(|p| p == "*");
    let enabled = |name: &str, s: &Service| {
        s.profiles.is_empty() || all || s.profiles.iter().any(|p| profiles.contains(p)) || selected.iter().any(|x| x == name)
    };
    let mut keep: BTreeSet<String> =
        project.services.iter().filter(|(n, s)| enabled(n, s)).map(|(n, _)| n.clone()).collect();
    // Services named explicitly pull in their dependencies even if those have inactive profiles.
    let mut queue: Vec<String> = selected.to_vec();
    while let Some(name) = queue.pop() {
        if let Some(s) = project.services.get(&name) {
            for dep in s.depends_on.keys() {
                if keep.insert(dep.clone()) {
                    queue.push(dep.clone());
                }
            }
        }
    }
    let disabled: BTreeMap<String, Vec<String>> = project
        .services
        .iter()
        .filter(|(n, _)| !keep.contains(*n))
        .map(|(n, s)| (n.clone(), s.profiles.clone()))
        .collect();
    for (name, service) in project.services.iter_mut().filter(|(n, _)| keep.contains(*n)) {
        for (d, profiles) in &disabled {
            // An optional dependency on a disabled service stays declared (compose keeps it).
            if service.depends_on.get(d).is_some_and(|dep| dep.required) {
                let profiles = format!("[{}]", profiles.join(" "));
                return Err(LoadError::Invalid(format!(
                    "service {d:?} is required by {name:?} but is disabled. Can be enabled by profiles {profiles}"
                )));
            }
        }
    }
    project.services.retain(|n, _| keep.contains(n));
    Ok(())
}

/// Checks references between services and resources, as compose does before running anything.
pub fn check_consistency(project: &Project) -> Result<(), LoadError> {
    for (name, s) in &project.services {
        // A provider service runs its provider's command instead of an image.
        if s.image.is_empty() && s.build.is_none() && s.provider.is_none() {
            return Err(invalid(format!("service {name:?} has neither an image nor a build context specified")));
        }
        for (dep, d) in &s.depends_on {
            if d.required && !project.services.contains_key(dep) {
                return Err(invalid(format!("service {name:?} depends on undefined service {dep:?}")));
            }
        }
        if let Some(target) = s.network_mode.strip_prefix("service:") {
            if !project.services.contains_key(target) {
                return Err(invalid(format!("service {target:?} not found for service {name:?} network_mode")));
            }
        }
        for net in s.networks.keys() {
            if !project.networks.contains_key(net) {
                return Err(invalid(format!("service {name:?} refers to undefined network {net}")));
            }
        }
        for v in &s.volumes {
            if v.kind == "volume" && !v.source.is_empty() && !project.volumes.contains_key(&v.source) {
                return Err(invalid(format!("service {name:?} refers to undefined volume {}", v.source)));
            }
        }
        for (kind, refs, defined) in
            [("secret", &s.secrets, &project.secrets), ("config", &s.configs, &project.configs)]
        {
            for r in refs {
                if !defined.contains_key(&r.source) {
                    return Err(invalid(format!("service {name:?} refers to undefined {kind} {}", r.source)));
                }
            }
        }
        check_resource_consistency(name, s)?;
    }
    check_cycles(project)
}

/// `cpus`, `mem_limit`, `pids_limit` and `scale` may be given twice only with the same value.
fn check_resource_consistency(name: &str, s: &Service) -> Result<(), LoadError> {
    let Some(deploy) = &s.deploy else { return Ok(()) };
    let conflict = |a: &str, b: &str| {
        LoadError::Invalid(format!("services.{name}: can't set distinct values on '{a}' and '{b}': invalid compose project"))
    };
    if let Some(limits) = &deploy.resources.limits {
        if let (Some(a), Some(b)) = (s.cpus, limits.cpus) {
            if a != b {
                return Err(conflict("cpus", "deploy.resources.limits.cpus"));
            }
        }
        if let (Some(a), Some(b)) = (s.mem_limit, limits.memory) {
            if a != b {
                return Err(conflict("mem_limit", "deploy.resources.limits.memory"));
            }
        }
        if let (Some(a), Some(b)) = (s.pids_limit, limits.pids) {
            if a != b {
                return Err(conflict("pids_limit", "deploy.resources.limits.pids"));
            }
        }
    }
    if let (Some(a), Some(b)) = (s.scale, deploy.replicas) {
        if a != b {
            return Err(conflict("scale", "deploy.replicas"));
        }
    }
    Ok(())
}

/// Rejects `depends_on` cycles.
fn check_cycles(project: &Project) -> Result<(), LoadError> {
    fn visit<'a>(
        name: &'a str,
        project: &'a Project,
        state: &mut BTreeMap<&'a str, bool>,
        stack: &mut Vec<&'a str>,
    ) -> Result<(), LoadError> {
        match state.get(name) {
            Some(true) => return Ok(()),
            Some(false) => {
                let start = stack.iter().position(|s| *s == name).unwrap_or(0);
                let mut cycle: Vec<&str> = stack[start..].to_vec();
                cycle.push(name);
                return Err(LoadError::Invalid(format!("dependency cycle detected: {}", cycle.join(" -> "))));
            }
            None => {}
        }
        state.insert(name, false);
        stack.push(name);
        if let Some(s) = project.services.get(name) {
            for dep in s.depends_on.keys() {
                visit(dep, project, state, stack)?;
            }
        }
        stack.pop();
        state.insert(name, true);
        Ok(())
    }
    let mut state = BTreeMap::new();
    for name in project.services.keys() {
        visit(name, project, &mut state, &mut Vec::new())?;
    }
    Ok(())
}

/// Drops networks, volumes, secrets and configs that no service uses.
pub fn prune_unused(project: &mut Project) {
    let mut nets = BTreeSet::new();
    let mut vols = BTreeSet::new();
    let mut secrets = BTreeSet::new();
    let mut configs = BTreeSet::new();
    for s in project.services.values() {
        nets.extend(s.networks.keys().cloned());
        vols.extend(s.volumes.iter().filter(|v| v.kind == "volume").map(|v| v.source.clone()));
        secrets.extend(s.secrets.iter().map(|r| r.source.clone()));
        configs.extend(s.configs.iter().map(|r| r.source.clone()));
        if let Some(Value::Array(build_secrets)) = s.build.as_ref().and_then(|b| b.get("secrets")) {
            secrets.extend(build_secrets.iter().filter_map(|b| b.get("source")?.as_str().map(String::from)));
        }
    }
    project.networks.retain(|k, _| nets.contains(k));
    project.volumes.retain(|k, _| vols.contains(k));
    project.secrets.retain(|k, _| secrets.contains(k));
    project.configs.retain(|k, _| configs.contains(k));
}

/// Reads each service's `env_file`s into its `environment` (the service's own values win),
/// then forgets the files, as compose does.
pub fn resolve_env_files(project: &mut Project, env: &IndexMap<String, String>) -> Result<(), LoadError> {
    for service in project.services.values_mut() {
        if service.env_file.is_empty() {
            continue;
        }
        let mut from_files: IndexMap<String, String> = IndexMap::new();
        for entry in &service.env_file {
            let path = entry.path.as_str();
            let p = Path::new(path);
            if !p.exists() {
                if entry.required {
                    return Err(LoadError::EnvFile(format!(
                        "env file {path} not found: stat {path}: no such file or directory"
                    )));
                }
                continue;
            }
            let lookup = |n: &str| from_files.get(n).cloned().or_else(|| env.get(n).cloned());
            let vars = match entry.format.as_deref() {
                None => xcompose_env::dotenv::read_file(p, &lookup).map_err(|e| LoadError::EnvFile(format!("failed to read {path}: {e}")))?,
                Some("raw") => {
                    let text = std::fs::read_to_string(p).map_err(|e| LoadError::EnvFile(format!("failed to read {path}: {e}")))?;
                    crate::raw_env::parse(&text, &lookup).map_err(|e| LoadError::EnvFile(format!("failed to parse env_file {path}: {e}")))?
                }
                Some(other) => return Err(LoadError::EnvFile(format!("unsupported env_file format {other:?} for {path}: use raw or leave format out"))),
            };
            from_files.extend(vars);
        }
        let mut merged: BTreeMap<String, Option<String>> =
            from_files.into_iter().map(|(k, v)| (k, Some(v))).collect();
        merged.extend(std::mem::take(&mut service.environment));
        service.environment = merged;
        service.env_file.clear();
    }
    Ok(())
}

/// Reads each service's `label_file`s into its labels, as compose does at load: a file's labels
/// under those of the files after it, and all under the service's own `labels`.
pub fn resolve_label_files(project: &mut Project) -> Result<(), LoadError> {
    for service in project.services.values_mut() {
        let mut labels = BTreeMap::new();
        for path in std::mem::take(&mut service.label_file) {
            let vars = xcompose_env::dotenv::read_file(Path::new(&path), &|_: &str| None)
                .map_err(|e| LoadError::EnvFile(format!("failed to read label file {path}: {e}")))?;
            labels.extend(vars);
        }
        labels.extend(std::mem::take(&mut service.labels));
        service.labels = labels;
    }
    Ok(())
}

/// Gives each secret and config defined by an `environment` variable that variable's value from
/// `env` (the project's environment), as compose reads it when it creates the containers.
pub fn resolve_file_object_environment(project: &mut Project, env: &IndexMap<String, String>) {
    for object in project.secrets.values_mut().chain(project.configs.values_mut()) {
        if !object.environment.is_empty() {
            object.environment_value = env.get(&object.environment).cloned();
        }
    }
}
