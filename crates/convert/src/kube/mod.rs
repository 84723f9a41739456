//! Kubernetes manifests from a compose project: kompose's conversion table and more (see the
//! README's "Beyond one machine" for the table). One module per kind of object.
//!
//! Objects are JSON values, not `k8s-openapi` types: that crate is generated from one
//! Kubernetes version at a time (a cargo feature), while these manifests target several, and it
//! is among the slowest crates to build; the tests check the output more strictly than types
//! would, against the official OpenAPI schemas of Kubernetes 1.28, 1.31 and 1.34 with unknown
//! fields refused (tests/convert_golden.rs).

mod container;
mod context;
mod files;
mod kustomize;
mod meta;
mod policies;
mod probes;
mod quantity;
mod services;
mod storage;
mod unmapped;
mod workload;

use std::collections::BTreeMap;

use serde_json::Value;
use xcompose_loader::Project;

use crate::Warning;
use context::Context;

pub use kustomize::kustomize;

/// How published ports are offered outside the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServiceType {
    /// Not at all: every port is on the ClusterIP Service only (the default, as kompose).
    #[default]
    ClusterIp,
    /// A `<service>-published` NodePort Service (node ports kept where 30000-32767 allows).
    NodePort,
    /// A `<service>-published` LoadBalancer Service on the published ports (Compose Bridge's way).
    LoadBalancer,
}

/// Choices of the conversion, and the content of secrets and configs (read by the caller, so
/// the conversion stays a pure function).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// How published ports are offered outside the cluster.
    pub service_type: ServiceType,
    /// Services with named volumes become StatefulSets (volumes only they use as claim templates).
    pub statefulset: bool,
    /// Contents of secrets and configs by `secrets.NAME` / `configs.NAME`; one missing becomes
    /// an empty object and a warning.
    pub contents: BTreeMap<String, Vec<u8>>,
}

/// The manifests, what did not map, and the names that had to change.
#[derive(Debug, Clone, Default)]
pub struct Conversion {
    /// The objects, in apply order (storage and configuration before workloads).
    pub objects: Vec<Value>,
    /// One per compose key that did not map (or only partly), sorted by key.
    pub warnings: Vec<Warning>,
    /// Compose names changed into Kubernetes names: (kind, compose name, Kubernetes name).
    pub renamed: Vec<(String, String, String)>,
}

/// Converts `project` to Kubernetes objects.
pub fn convert(project: &Project, options: &Options) -> Conversion {
    let mut ctx = Context::new(project, options);
    let mut objects = Vec::new();
    objects.extend(files::objects(&mut ctx));
    objects.extend(storage::claims(&mut ctx));
    for (name, service) in &project.services {
        if ctx.runs_as_init(name) {
            continue;
        }
        objects.extend(workload::objects(&mut ctx, name, service));
        objects.extend(services::objects(&mut ctx, name, service));
    }
    objects.extend(policies::objects(&mut ctx));
    unmapped::check(&mut ctx);
    ctx.finish(objects)
}

/// The file `kompose` would write `object` to: `<name>-<kind>.yaml`.
pub fn file_name(object: &Value) -> String {
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("object");
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("object").to_lowercase();
    format!("{name}-{kind}.yaml")
}
