//! Building the images of services with a `build:` section, with xcompose's own builder: for
//! `build` and for `up` (images missing, `--build`, `pull_policy: build`). A service's image is
//! named by its `image:`, or `PROJECT-SERVICE` as compose names it, and labelled with the
//! project, the service and compose's version as compose labels what it builds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use xcompose_builder::exec::build::{BuildRequest, Builder, DockerfileSource};
use xcompose_loader::model::Service;
use xcompose_orchestrator::labels;

use crate::{Stack, StackError};

/// `build`'s options.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Services to build (all with a `build:` section when empty).
    pub services: Vec<String>,
    /// `--with-dependencies`: the services they depend on too.
    pub with_dependencies: bool,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--pull`: pull base images again.
    pub pull: bool,
    /// `--build-arg`s, over each service's `args`.
    pub build_args: BTreeMap<String, String>,
    /// `-q`: no build output.
    pub quiet: bool,
}

/// When `up` (or `run`) builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuildPolicy {
    /// Build images that are missing (and those of `pull_policy: build`).
    #[default]
    Missing,
    /// `--build`: build every image with a `build:` section.
    Always,
    /// `--no-build`: build nothing.
    Never,
}

/// The name of a service's image: its `image:`, or compose's `PROJECT-SERVICE`.
pub fn image_name(project: &str, service_name: &str, service: &Service) -> String {
    if service.image.is_empty() {
        xcompose_orchestrator::naming::build_image_name(project, service_name)
    } else {
        service.image.clone()
    }
}

impl Stack {
    /// The image a service runs.
    pub(crate) fn service_image(&self, service_name: &str, service: &Service) -> String {
        image_name(&self.project.name, service_name, service)
    }

    /// `build`: builds the services' images.
    pub fn build(&self, opts: &BuildOptions) -> Result<(), StackError> {
        let names = self.services_to_pull(&opts.services, opts.with_dependencies)?;
        for name in names {
            let service = &self.project.services[&name];
            if service.build.is_none() {
                continue;
            }
            self.build_service(&name, opts)?;
        }
        Ok(())
    }

    /// Builds what `up` needs by `policy`: every buildable image of `services` (and their
    /// dependencies) that is missing or whose `pull_policy` is `build`, or all with `Always`.
    pub(crate) fn build_for_up(&self, services: &[String], policy: BuildPolicy) -> Result<(), StackError> {
        if policy == BuildPolicy::Never {
            return Ok(());
        }
        for name in self.services_to_pull(services, true)? {
            let service = &self.project.services[&name];
            if service.build.is_none() {
                continue;
            }
            let missing = self.runtime.images().resolve(&self.service_image(&name, service)).is_err();
            if policy == BuildPolicy::Always || missing || service.pull_policy == "build" {
                self.build_service(&name, &BuildOptions::default())?;
            }
        }
        Ok(())
    }

    /// Builds one service's image, its output on stderr as BuildKit's plain progress.
    fn build_service(&self, name: &str, opts: &BuildOptions) -> Result<(), StackError> {
        let service = &self.project.services[name];
        let fail = |message: String| StackError::Service { service: name.to_string(), message };
        let request = build_request(&self.project, name, service, opts, &self.service_image(name, service)).map_err(fail)?;
        let builder = Builder::open(&self.root).map_err(|e| fail(e.to_string()))?;
        let quiet = opts.quiet;
        let sink = move |line: &str| {
            if !quiet {
                eprintln!("{line}");
            }
        };
        builder.build(&request, &sink).map_err(|e| fail(e.to_string()))?;
        if !quiet {
            self.report("Service", name, "Built");
        }
        Ok(())
    }
}

/// The builder's request for a service's `build:` section (its canonical JSON form).
fn build_request(project: &xcompose_loader::Project, name: &str, service: &Service, opts: &BuildOptions, image: &str) -> Result<BuildRequest, String> {
    let build = service.build.as_ref().and_then(Value::as_object).ok_or("build: must be a mapping")?;
    let text = |key: &str| build.get(key).and_then(Value::as_str).map(String::from);
    let map = |key: &str| -> BTreeMap<String, Option<String>> {
        build.get(key).and_then(Value::as_object).map(|m| m.iter().map(|(k, v)| (k.clone(), scalar(v))).collect()).unwrap_or_default()
    };
    let list = |key: &str| -> Vec<String> { build.get(key).and_then(Value::as_array).map(|a| a.iter().filter_map(scalar).collect()).unwrap_or_default() };
    let context = PathBuf::from(text("context").unwrap_or_else(|| ".".into()));
    if text("context").is_some_and(|c| c.contains("://") || c.starts_with("git@")) {
        return Err(format!("build context {:?} is remote, which xcompose's builder does not fetch: clone or download it and use the local path", text("context").unwrap_or_default()));
    }
    if !context.is_dir() {
        return Err(format!("build context {} is not a directory: set build.context to the directory holding the Dockerfile's files", context.display()));
    }
    let dockerfile = match (text("dockerfile_inline"), text("dockerfile")) {
        (Some(inline), _) => DockerfileSource::Inline(inline),
        (None, file) => DockerfileSource::File(PathBuf::from(file.unwrap_or_else(|| "Dockerfile".into()))),
    };
    let cache_from = local_caches("cache_from", "src", list("cache_from"))?;
    let cache_to = local_caches("cache_to", "dest", list("cache_to"))?;
    let host = format!("linux/{}", host_arch());
    if let Some(other) = list("platforms").into_iter().find(|p| p.trim_end_matches("/v8") != host) {
        return Err(format!("build.platforms {other:?}: xcompose builds for this machine only ({host})"));
    }
    let mut args = map("args");
    for (k, v) in &opts.build_args {
        args.insert(k.clone(), Some(v.clone()));
    }
    let mut labels: BTreeMap<String, String> = map("labels").into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect();
    labels.insert(labels::PROJECT.into(), project.name.clone());
    labels.insert(labels::SERVICE.into(), name.to_string());
    labels.insert(labels::VERSION.into(), labels::COMPOSE_VERSION.into());
    let extra_hosts = list("extra_hosts").into_iter().filter_map(|h| h.split_once('=').map(|(n, ip)| (n.to_string(), ip.to_string()))).collect();
    let shm_size = match build.get("shm_size") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_u64(),
        Some(v) => Some(xcompose_loader::units::Bytes::parse(&scalar(v).unwrap_or_default())?.0.max(0) as u64),
    };
    let mut tags = vec![image.to_string()];
    tags.extend(list("tags"));
    Ok(BuildRequest {
        context: context.clone(),
        dockerfile,
        target: text("target"),
        args,
        labels,
        tags,
        no_cache: opts.no_cache || build.get("no_cache").and_then(Value::as_bool).unwrap_or(false),
        pull: opts.pull || build.get("pull").and_then(Value::as_bool).unwrap_or(false),
        network: text("network"),
        extra_hosts,
        shm_size,
        secrets: secrets(project, build)?,
        additional_contexts: additional_contexts(&context, build)?,
        privileged: build.get("privileged").and_then(Value::as_bool).unwrap_or(false),
        cache_from,
        cache_to,
        ssh: ssh_agents(build.get("ssh"), std::env::var_os("SSH_AUTH_SOCK").map(PathBuf::from))?,
    })
}

/// The directories of `build.<key>`'s local caches (`type=local,<path_attribute>=DIR`, as
/// buildx takes them; a relative DIR is relative to the working directory, as with buildx).
/// `type=inline` adds nothing: the builder's own cache is always used. Registry caches (a plain
/// image reference, `type=registry`) and the other cache backends are refused with the reason.
fn local_caches(key: &str, path_attribute: &str, entries: Vec<String>) -> Result<Vec<PathBuf>, String> {
    let mut dirs = Vec::new();
    for entry in entries {
        let attributes: BTreeMap<&str, &str> = entry.split(',').filter_map(|a| a.split_once('=')).map(|(k, v)| (k.trim(), v.trim())).collect();
        match attributes.get("type").copied() {
            // buildx's default type is the registry's (a bare image reference too).
            None | Some("registry") => {
                return Err(format!("build.{key} {entry:?}: registry caches are not supported (xcompose's builder neither pulls nor pushes cache images): use type=local,{path_attribute}=DIR"));
            }
            Some("local") => match attributes.get(path_attribute) {
                Some(dir) if !dir.is_empty() => dirs.push(PathBuf::from(dir)),
                _ => return Err(format!("build.{key} {entry:?}: a local cache needs {path_attribute}=DIR")),
            },
            Some("inline") => {}
            Some(other) => return Err(format!("build.{key} {entry:?}: cache type {other:?} is not supported: use type=local,{path_attribute}=DIR")),
        }
    }
    Ok(dirs)
}

/// `build.secrets`: each id (its `target`, else its `source`) to the secret's file.
fn secrets(project: &xcompose_loader::Project, build: &serde_json::Map<String, Value>) -> Result<BTreeMap<String, PathBuf>, String> {
    let mut out = BTreeMap::new();
    for secret in build.get("secrets").and_then(Value::as_array).into_iter().flatten() {
        let source = secret.get("source").and_then(Value::as_str).ok_or("build.secrets: each entry needs a source")?;
        let id = secret.get("target").and_then(Value::as_str).unwrap_or(source);
        let defined = project.secrets.get(source).ok_or_else(|| format!("build.secrets: secret {source:?} is not defined in the top-level secrets"))?;
        if defined.file.is_empty() {
            return Err(format!("build.secrets: secret {source:?} must be a file secret (file:) for a build"));
        }
        out.insert(id.to_string(), PathBuf::from(&defined.file));
    }
    Ok(out)
}

/// `build.ssh`: each agent id to its socket. Entries are `default` (the agent of
/// `$SSH_AUTH_SOCK`, given as `auth_sock`) or `ID=/path/to/socket`, as a list or a mapping, as
/// compose takes them; buildx refuses `default` without SSH_AUTH_SOCK before building, and so
/// does this.
fn ssh_agents(ssh: Option<&Value>, auth_sock: Option<PathBuf>) -> Result<BTreeMap<String, PathBuf>, String> {
    let entries: Vec<(String, Option<String>)> = match ssh {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(scalar)
            .map(|item| match item.split_once('=') {
                Some((id, path)) => (id.to_string(), Some(path.to_string())),
                None => (item, None),
            })
            .collect(),
        Some(Value::Object(map)) => map.iter().map(|(id, path)| (id.clone(), scalar(path).filter(|p| !p.is_empty()))).collect(),
        Some(other) => return Err(format!("build.ssh must be a list of default or ID=/path/to/socket, not {other}")),
    };
    let mut out = BTreeMap::new();
    for (id, path) in entries {
        let socket = match path {
            Some(path) => PathBuf::from(path),
            None if id == "default" => auth_sock.clone().filter(|p| !p.as_os_str().is_empty()).ok_or("build.ssh default: SSH_AUTH_SOCK is not set: start ssh-agent, or give the socket as default=/path/to/socket")?,
            None => return Err(format!("build.ssh {id:?}: give the agent's socket as {id}=/path/to/socket")),
        };
        out.insert(id, socket);
    }
    Ok(out)
}

/// `build.additional_contexts` that are directories (relative to the context).
fn additional_contexts(context: &Path, build: &serde_json::Map<String, Value>) -> Result<BTreeMap<String, PathBuf>, String> {
    let mut out = BTreeMap::new();
    for (name, value) in build.get("additional_contexts").and_then(Value::as_object).into_iter().flatten() {
        let Some(path) = value.as_str() else { continue };
        if path.contains("://") || path.starts_with("docker-image:") || path.starts_with("service:") {
            return Err(format!("build.additional_contexts.{name} {path:?}: only directories are supported as named contexts"));
        }
        out.insert(name.clone(), context.join(path));
    }
    Ok(out)
}

/// A scalar's text (`null`: none).
pub(crate) fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The host's architecture as platforms name it.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_caches_are_taken() {
        let entries = vec!["type=local,src=/tmp/cache".to_string(), "type=inline".to_string()];
        assert_eq!(local_caches("cache_from", "src", entries).unwrap(), [PathBuf::from("/tmp/cache")]);
        assert_eq!(local_caches("cache_to", "dest", vec!["type=local,dest=out,mode=max".into()]).unwrap(), [PathBuf::from("out")]);
        for (entry, why) in [
            ("myapp:cache", "registry caches are not supported"),
            ("type=registry,ref=myapp:cache", "registry caches are not supported"),
            ("type=gha", "cache type \"gha\" is not supported"),
            ("type=local", "a local cache needs src=DIR"),
        ] {
            let error = local_caches("cache_from", "src", vec![entry.into()]).unwrap_err();
            assert!(error.starts_with(&format!("build.cache_from {entry:?}: ")) && error.contains(why), "{error}");
        }
    }
}
