//! A Kustomize layout like Compose Bridge's: `base/` with every manifest and its
//! kustomization, `overlays/<project>/` putting them in a namespace of the project's name.

use serde_json::{json, Value};

use super::{file_name, Conversion};
use crate::yaml;

/// The files of the layout for `conversion` of project `project`: (relative path, content).
pub fn kustomize(conversion: &Conversion, project: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = conversion.objects.iter().map(|o| (format!("base/{}", file_name(o)), yaml::document(o))).collect();
    let resources: Vec<String> = conversion.objects.iter().map(file_name).collect();
    let base = json!({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources});
    files.push(("base/kustomization.yaml".into(), yaml::document(&base)));
    let namespace = crate::names::dns_label(project);
    let overlay = json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": namespace,
        "resources": ["namespace.yaml", "../../base"],
    });
    let namespace_object: Value = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
    files.push((format!("overlays/{namespace}/kustomization.yaml"), yaml::document(&overlay)));
    files.push((format!("overlays/{namespace}/namespace.yaml"), yaml::document(&namespace_object)));
    files
}
