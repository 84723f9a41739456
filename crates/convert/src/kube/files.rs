//! Secrets and configs: a Secret or ConfigMap per top-level one a service uses, holding its
//! content under its compose name, mounted file by file at the path compose mounts it at
//! (`/run/secrets/<name>` and `/<name>` by default).

use base64::Engine as _;
use serde_json::{json, Map, Value};
use xcompose_loader::model::{FileObject, FileReference, Service};

use super::context::Context;
use super::meta;
use super::storage::Mounts;

/// The two kinds of file objects.
#[derive(Clone, Copy)]
enum Kind {
    Secret,
    Config,
}

impl Kind {
    fn key(self) -> &'static str {
        match self {
            Kind::Secret => "secrets",
            Kind::Config => "configs",
        }
    }
}

/// A Secret or ConfigMap for every secret and config of the project some service uses
/// (external ones must exist in the cluster already, under their name).
pub fn objects(ctx: &mut Context) -> Vec<Value> {
    let mut out = Vec::new();
    for kind in [Kind::Secret, Kind::Config] {
        let table = table(ctx, kind).clone();
        for (key, object) in &table {
            let used = ctx.project.services.values().any(|s| references(s, kind).iter().any(|r| &r.source == key));
            if object.external || !used {
                continue;
            }
            out.push(object_for(ctx, kind, key, object));
        }
    }
    out
}

fn table<'a>(ctx: &Context<'a>, kind: Kind) -> &'a std::collections::BTreeMap<String, FileObject> {
    match kind {
        Kind::Secret => &ctx.project.secrets,
        Kind::Config => &ctx.project.configs,
    }
}

fn references(service: &Service, kind: Kind) -> &[FileReference] {
    match kind {
        Kind::Secret => &service.secrets,
        Kind::Config => &service.configs,
    }
}

/// The Kubernetes object name of secret or config `key`.
fn object_name(ctx: &Context, kind: Kind, key: &str) -> String {
    let object = table(ctx, kind).get(key);
    match object {
        Some(o) if o.external && !o.name.is_empty() => crate::names::dns_label(&o.name),
        _ => match kind {
            Kind::Secret => ctx.secrets.get(key),
            Kind::Config => ctx.configs.get(key),
        },
    }
}

/// The data key of `key` inside its object (`[-._a-zA-Z0-9]+`).
fn data_key(key: &str) -> String {
    key.chars().map(|c| if c.is_ascii_alphanumeric() || "-._".contains(c) { c } else { '_' }).collect()
}

fn object_for(ctx: &mut Context, kind: Kind, key: &str, object: &FileObject) -> Value {
    let content: Option<Vec<u8>> = if !object.content.is_empty() {
        Some(object.content.clone().into_bytes())
    } else {
        ctx.options.contents.get(&format!("{}.{key}", kind.key())).cloned()
    };
    if content.is_none() {
        let from = if !object.file.is_empty() { format!("file {}", object.file) } else { format!("variable {}", object.environment) };
        ctx.warn(format!("{}.{key}", kind.key()), format!("{from} could not be read; the object is created empty: fill it before applying"));
    }
    let mut metadata = meta::metadata(ctx, &object_name(ctx, kind, key), None);
    let annotations = meta::annotations(ctx, &format!("{}.{key}.labels", kind.key()), &object.labels);
    if !annotations.is_empty() {
        metadata["annotations"] = Value::Object(annotations);
    }
    let data_key = data_key(key);
    let mut data = Map::new();
    let (kind_name, field) = match (kind, &content) {
        (Kind::Secret, _) => ("Secret", "data"),
        (Kind::Config, Some(bytes)) if std::str::from_utf8(bytes).is_err() => ("ConfigMap", "binaryData"),
        (Kind::Config, _) => ("ConfigMap", "data"),
    };
    if let Some(bytes) = content {
        let value = match field {
            "data" if matches!(kind, Kind::Config) => String::from_utf8(bytes).expect("checked as UTF-8"),
            _ => base64::engine::general_purpose::STANDARD.encode(bytes),
        };
        data.insert(data_key, Value::String(value));
    }
    let mut object = json!({"apiVersion": "v1", "kind": kind_name, "metadata": metadata});
    if matches!(kind, Kind::Secret) {
        object["type"] = json!("Opaque");
    }
    object[field] = Value::Object(data);
    object
}

/// Mounts of service `name`'s secrets and configs, each file at its compose path.
pub fn mounts(ctx: &mut Context, name: &str, service: &Service, out: &mut Mounts) {
    for kind in [Kind::Secret, Kind::Config] {
        for (i, reference) in references(service, kind).iter().enumerate() {
            let key = format!("services.{name}.{}[{i}]", kind.key());
            let target = match (kind, reference.target.as_str()) {
                (Kind::Secret, "") => format!("/run/secrets/{}", reference.source),
                (Kind::Secret, t) if !t.starts_with('/') => format!("/run/secrets/{t}"),
                (Kind::Config, "") => format!("/{}", reference.source),
                (_, t) => t.to_string(),
            };
            if !reference.uid.is_empty() || !reference.gid.is_empty() {
                ctx.warn(&key, "uid and gid of a mounted file do not map (Kubernetes sets them from the pod's fsGroup); left out");
            }
            let object = object_name(ctx, kind, &reference.source);
            let volume_name = format!("{}-{object}", &kind.key()[..kind.key().len() - 1]);
            let data_key = data_key(&reference.source);
            let mut item = json!({"key": data_key, "path": data_key});
            if let Some(mode) = reference.mode {
                item["mode"] = json!(mode.0);
            }
            let source = match kind {
                Kind::Secret => json!({"secret": {"secretName": object, "items": [item]}}),
                Kind::Config => json!({"configMap": {"name": object, "items": [item]}}),
            };
            let mut volume = json!({"name": volume_name});
            volume.as_object_mut().expect("an object").extend(source.as_object().expect("an object").clone());
            out.add_volume(volume);
            let mut extra = Map::new();
            extra.insert("readOnly".into(), json!(true));
            extra.insert("subPath".into(), json!(data_key));
            out.mount(&volume_name, &target, extra);
        }
    }
}
