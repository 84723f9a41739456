//! `build --print`: the bake definition compose v2 hands buildx for the services' builds,
//! printed instead of building. Compose's `pkg/compose/build_bake.go` is followed as best known:
//! a `default` group naming every target, one target per service (its name with `.` as `_`),
//! the target's keys in the order of compose's `bakeTarget` struct, empty ones left out (Go's
//! `omitempty`), maps sorted as Go writes them. The group's targets are sorted by name (compose
//! ranges over a Go map, so its order varies from run to run); proxy build args from the Docker
//! client's config are not added (xcompose reads no such config).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::build::{scalar, BuildOptions};
use crate::{Stack, StackError};

/// The whole definition: `{"group": {...}, "target": {...}}`.
#[derive(Debug, Serialize)]
struct BakeConfig {
    group: BTreeMap<String, BakeGroup>,
    target: BTreeMap<String, BakeTarget>,
}

/// A group of targets.
#[derive(Debug, Serialize)]
struct BakeGroup {
    targets: Vec<String>,
}

/// One service's build, with compose's key names and order.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
struct BakeTarget {
    #[serde(skip_serializing_if = "String::is_empty")]
    context: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    contexts: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    dockerfile: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    dockerfile_inline: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    args: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cache_from: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cache_to: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    target: String,
    #[serde(rename = "secret", skip_serializing_if = "Vec::is_empty")]
    secrets: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ssh: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    platforms: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pull: bool,
    #[serde(skip_serializing_if = "is_false")]
    no_cache: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    network: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    shm_size: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    entitlements: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extra_hosts: BTreeMap<String, String>,
    #[serde(rename = "output", skip_serializing_if = "Vec::is_empty")]
    outputs: Vec<String>,
}

fn is_false(value: &bool) -> bool {
    !value
}

impl Stack {
    /// `build --print`: the bake definition of the services `build` would build, as compose
    /// prints it (indented JSON).
    pub fn bake_definition(&self, opts: &BuildOptions, push: bool) -> Result<String, StackError> {
        let mut config = BakeConfig { group: BTreeMap::new(), target: BTreeMap::new() };
        let mut targets = Vec::new();
        for name in self.services_to_pull(&opts.services, opts.with_dependencies)? {
            let service = &self.project.services[&name];
            let Some(build) = service.build.as_ref().and_then(Value::as_object) else { continue };
            let image = self.service_image(&name, service);
            let target_name = name.replace('.', "_");
            let fail = |message: String| StackError::Service { service: name.clone(), message };
            config.target.insert(target_name.clone(), self.bake_target(&name, build, opts, &image, push).map_err(fail)?);
            targets.push(target_name);
        }
        targets.sort();
        config.group.insert("default".into(), BakeGroup { targets });
        serde_json::to_string_pretty(&config).map_err(|e| StackError::Invalid(format!("printing the bake definition: {e}")))
    }

    /// One service's target.
    fn bake_target(&self, name: &str, build: &serde_json::Map<String, Value>, opts: &BuildOptions, image: &str, push: bool) -> Result<BakeTarget, String> {
        let text = |key: &str| build.get(key).and_then(Value::as_str).map(String::from).unwrap_or_default();
        let list = |key: &str| -> Vec<String> { build.get(key).and_then(Value::as_array).map(|a| a.iter().filter_map(scalar).collect()).unwrap_or_default() };
        let map = |key: &str| -> BTreeMap<String, Option<String>> {
            build.get(key).and_then(Value::as_object).map(|m| m.iter().map(|(k, v)| (k.clone(), scalar(v))).collect()).unwrap_or_default()
        };
        let context = text("context");
        // compose's dockerFilePath: a relative Dockerfile is joined to the context.
        let dockerfile = match text("dockerfile") {
            file if file.is_empty() || std::path::Path::new(&file).is_absolute() => file,
            file => std::path::Path::new(&context).join(file).display().to_string(),
        };
        let mut args: BTreeMap<String, String> = map("args").into_iter().filter_map(|(k, v)| Some((k, v?))).collect();
        args.extend(opts.build_args.clone());
        let mut labels: BTreeMap<String, String> = map("labels").into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect();
        labels.insert(xcompose_orchestrator::labels::PROJECT.into(), self.project.name.clone());
        labels.insert(xcompose_orchestrator::labels::SERVICE.into(), name.to_string());
        labels.insert(xcompose_orchestrator::labels::VERSION.into(), xcompose_orchestrator::labels::COMPOSE_VERSION.into());
        let mut tags = list("tags");
        tags.push(image.to_string());
        let mut entitlements = list("entitlements");
        if build.get("privileged").and_then(Value::as_bool).unwrap_or(false) {
            entitlements.push("security.insecure".into());
        }
        let extra_hosts = list("extra_hosts").into_iter().filter_map(|h| h.split_once('=').map(|(n, ip)| (n.to_string(), ip.to_string()))).collect();
        let platforms = list("platforms");
        // As compose: a multi-platform build pushes an image list; others load into the engine.
        let push = push && !self.project.services[name].image.is_empty();
        let output = if platforms.len() > 1 { format!("type=image,push={push}") } else { format!("type=docker,load=true,push={push}") };
        Ok(BakeTarget {
            contexts: map("additional_contexts").into_iter().filter_map(|(k, v)| Some((k, v?))).collect(),
            dockerfile,
            dockerfile_inline: text("dockerfile_inline").replace("${", "$${"),
            args,
            labels,
            tags,
            cache_from: list("cache_from"),
            cache_to: list("cache_to"),
            target: text("target"),
            secrets: self.bake_secrets(build)?,
            ssh: bake_ssh(build.get("ssh")),
            platforms,
            pull: opts.pull || build.get("pull").and_then(Value::as_bool).unwrap_or(false),
            no_cache: opts.no_cache || build.get("no_cache").and_then(Value::as_bool).unwrap_or(false),
            network: text("network"),
            shm_size: build.get("shm_size").filter(|v| !v.is_null()).cloned(),
            entitlements,
            extra_hosts,
            outputs: vec![output],
            context,
        })
    }

    /// `build.secrets` as bake's `id=ID,type=file,src=FILE` (or `type=env,env=NAME`).
    fn bake_secrets(&self, build: &serde_json::Map<String, Value>) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for secret in build.get("secrets").and_then(Value::as_array).into_iter().flatten() {
            let source = secret.get("source").and_then(Value::as_str).ok_or("build.secrets: each entry needs a source")?;
            let id = secret.get("target").and_then(Value::as_str).unwrap_or(source);
            let defined = self.project.secrets.get(source).ok_or_else(|| format!("build.secrets: secret {source:?} is not defined in the top-level secrets"))?;
            if !defined.file.is_empty() {
                out.push(format!("id={id},type=file,src={}", defined.file));
            } else if !defined.environment.is_empty() {
                out.push(format!("id={id},type=env,env={}", defined.environment));
            }
        }
        Ok(out)
    }
}

/// `build.ssh` as bake's entries: `default`, or `ID=/path/to/socket`.
fn bake_ssh(ssh: Option<&Value>) -> Vec<String> {
    match ssh {
        Some(Value::Array(items)) => items.iter().filter_map(scalar).collect(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(id, path)| match scalar(path).filter(|p| !p.is_empty()) {
                Some(path) => format!("{id}={path}"),
                None => id.clone(),
            })
            .collect(),
        _ => Vec::new(),
    }
}
