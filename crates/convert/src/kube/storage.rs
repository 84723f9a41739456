//! Storage: a PersistentVolumeClaim per named volume, emptyDir for anonymous volumes and tmpfs,
//! a memory emptyDir at /dev/shm for `shm_size`, and what bind mounts become.

use serde_json::{json, Map, Value};
use xcompose_loader::model::Service;

use super::context::Context;
use super::{meta, quantity};

/// The size a claim asks for: compose volumes have none; kompose asks for the same.
const CLAIM_SIZE: &str = "100Mi";

/// A pod's volumes and a container's mounts of them.
#[derive(Debug, Default)]
pub struct Mounts {
    /// `spec.volumes` entries, each name once.
    pub volumes: Vec<Value>,
    /// The container's `volumeMounts`.
    pub mounts: Vec<Value>,
    /// StatefulSet `volumeClaimTemplates` (with `--statefulset`, for volumes only this service uses).
    pub templates: Vec<Value>,
}

impl Mounts {
    /// Adds pod volume `volume` unless one of that name is there already.
    pub fn add_volume(&mut self, volume: Value) {
        let name = volume.get("name").cloned();
        if !self.volumes.iter().any(|v| v.get("name") == name.as_ref()) {
            self.volumes.push(volume);
        }
    }

    /// Mounts `volume` at `path`, with `extra` fields (`readOnly`, `subPath`).
    pub fn mount(&mut self, volume: &str, path: &str, extra: Map<String, Value>) {
        let mut mount = json!({"name": volume, "mountPath": path});
        mount.as_object_mut().expect("an object").extend(extra);
        self.mounts.push(mount);
    }
}

/// Whether named volume `volume` becomes a claim template of service `name`'s StatefulSet.
pub fn is_template(ctx: &Context, name: &str, volume: &str) -> bool {
    ctx.options.statefulset
        && ctx.project.volumes.get(volume).is_some_and(|v| !v.external)
        && users(ctx, volume) == [name]
}

/// The workloads whose pods mount named volume `volume`: the services mounting it, a service
/// that runs as an init container counting as the services it runs in.
fn users<'a>(ctx: &'a Context, volume: &str) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for (name, service) in &ctx.project.services {
        if !service.volumes.iter().any(|m| m.kind == "volume" && m.source == volume) {
            continue;
        }
        let pods: Vec<&str> = if ctx.runs_as_init(name) {
            ctx.project
                .services
                .iter()
                .filter(|(_, s)| s.depends_on.get(name).is_some_and(|d| d.condition == super::context::COMPLETED))
                .map(|(n, _)| n.as_str())
                .collect()
        } else {
            vec![name.as_str()]
        };
        for pod in pods {
            if !out.contains(&pod) {
                out.push(pod);
            }
        }
    }
    out
}

/// Whether service `name` would be a StatefulSet (`--statefulset` and a named volume).
pub fn wants_statefulset(ctx: &Context, service: &Service) -> bool {
    ctx.options.statefulset && service.volumes.iter().any(|m| m.kind == "volume" && ctx.project.volumes.contains_key(&m.source))
}

/// A PersistentVolumeClaim for every named volume some service mounts, except external ones
/// (their claim must exist) and claim templates. A volume several services share asks for
/// ReadWriteMany, since their pods may land on different nodes (compose shares it on one machine).
pub fn claims(ctx: &mut Context) -> Vec<Value> {
    let mut out = Vec::new();
    let keys: Vec<String> = ctx.project.volumes.keys().cloned().collect();
    for key in keys {
        let volume = &ctx.project.volumes[&key];
        let users = users(ctx, &key);
        if users.is_empty() || volume.external || (users.len() == 1 && is_template(ctx, users[0], &key)) {
            continue;
        }
        let mode = if users.len() > 1 { "ReadWriteMany" } else { "ReadWriteOnce" };
        let (driver, has_opts) = (volume.driver.clone(), !volume.driver_opts.is_empty());
        let labels = volume.labels.clone();
        if !driver.is_empty() && driver != "local" {
            ctx.warn(format!("volumes.{key}.driver"), "volume drivers do not map; the claim uses the cluster's default storage class");
        }
        if has_opts {
            ctx.warn(format!("volumes.{key}.driver_opts"), "driver options do not map; the claim uses the cluster's default storage class");
        }
        out.push(claim(ctx, &key, mode, &labels));
    }
    out
}

/// A claim (or claim template) for named volume `key`.
fn claim(ctx: &mut Context, key: &str, mode: &str, labels: &std::collections::BTreeMap<String, String>) -> Value {
    let mut metadata = meta::metadata(ctx, &ctx.volumes.get(key), None);
    let annotations = meta::annotations(ctx, &format!("volumes.{key}.labels"), labels);
    if !annotations.is_empty() {
        metadata["annotations"] = Value::Object(annotations);
    }
    json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata,
        "spec": {"accessModes": [mode], "resources": {"requests": {"storage": CLAIM_SIZE}}},
    })
}

/// Service `name`'s volumes, tmpfs and shm as pod volumes and container mounts, in the pod of
/// service `pod` (itself, or the service it runs as an init container of).
pub fn mounts(ctx: &mut Context, name: &str, service: &Service, pod: &str) -> Mounts {
    let mut out = Mounts::default();
    let key = format!("services.{name}");
    for (i, mount) in service.volumes.iter().enumerate() {
        let mut extra = Map::new();
        if mount.read_only {
            extra.insert("readOnly".into(), json!(true));
        }
        if let Some(sub) = mount.volume.as_ref().map(|v| &v.subpath).filter(|s| !s.is_empty()) {
            extra.insert("subPath".into(), json!(sub));
        }
        match mount.kind.as_str() {
            "volume" if ctx.project.volumes.contains_key(&mount.source) => {
                let top = &ctx.project.volumes[&mount.source];
                let claim_name = if top.external && !top.name.is_empty() { crate::names::dns_label(&top.name) } else { ctx.volumes.get(&mount.source) };
                let volume_name = ctx.volumes.get(&mount.source);
                if is_template(ctx, pod, &mount.source) {
                    if !out.templates.iter().any(|t| t["metadata"]["name"] == volume_name.as_str()) {
                        let labels = top.labels.clone();
                        let template = claim(ctx, &mount.source, "ReadWriteOnce", &labels);
                        out.templates.push(template);
                    }
                } else {
                    out.add_volume(json!({"name": volume_name, "persistentVolumeClaim": {"claimName": claim_name}}));
                }
                out.mount(&volume_name, &mount.target, extra);
            }
            "volume" => {
                let volume_name = format!("anonymous-{i}");
                out.add_volume(json!({"name": volume_name, "emptyDir": {}}));
                out.mount(&volume_name, &mount.target, extra);
            }
            "tmpfs" => {
                let volume_name = format!("tmpfs-{i}");
                let size = mount.tmpfs.as_ref().and_then(|t| t.size).map(|b| b.0);
                out.add_volume(memory_volume(&volume_name, size));
                out.mount(&volume_name, &mount.target, extra);
            }
            "bind" => {
                let volume_name = format!("bind-{i}");
                ctx.warn(
                    format!("{key}.volumes[{i}]"),
                    format!("a bind mount cannot reach this machine's files from a cluster node; an empty emptyDir is mounted at {}: put the content in the image or a ConfigMap", mount.target),
                );
                out.add_volume(json!({"name": volume_name, "emptyDir": {}}));
                out.mount(&volume_name, &mount.target, extra);
            }
            other => ctx.warn(format!("{key}.volumes[{i}]"), format!("{other} mounts have no Kubernetes equivalent here; left out")),
        }
    }
    for (i, entry) in service.tmpfs.iter().enumerate() {
        let (path, options) = entry.split_once(':').unwrap_or((entry, ""));
        let size = options
            .split(',')
            .find_map(|o| o.strip_prefix("size="))
            .and_then(|s| xcompose_loader::units::Bytes::parse(s).ok())
            .map(|b| b.0);
        let volume_name = format!("tmpfs-list-{i}");
        out.add_volume(memory_volume(&volume_name, size));
        out.mount(&volume_name, path, Map::new());
    }
    if let Some(shm) = service.shm_size {
        out.add_volume(memory_volume("shm", Some(shm.0)));
        out.mount("shm", "/dev/shm", Map::new());
    }
    out
}

/// A memory-backed emptyDir (what tmpfs is), of at most `size` bytes.
fn memory_volume(name: &str, size: Option<i64>) -> Value {
    let mut dir = json!({"medium": "Memory"});
    if let Some(size) = size.filter(|s| *s > 0) {
        dir["sizeLimit"] = quantity::bytes(size);
    }
    json!({"name": name, "emptyDir": dir})
}
