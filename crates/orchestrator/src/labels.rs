//! The `com.docker.compose.*` labels compose puts on what it creates; xcompose reads its actual
//! state back from them, so they must be compose's, key for key.

use std::collections::BTreeMap;

use xcompose_loader::model::Service;

/// Project name.
pub const PROJECT: &str = "com.docker.compose.project";
/// Service name.
pub const SERVICE: &str = "com.docker.compose.service";
/// Replica number, 1-based.
pub const CONTAINER_NUMBER: &str = "com.docker.compose.container-number";
/// `True` for `run` containers.
pub const ONEOFF: &str = "com.docker.compose.oneoff";
/// The service's config hash when the container was created.
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
/// `service:condition:restart` entries, comma-separated.
pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
/// Digest of the image the container was created from.
pub const IMAGE: &str = "com.docker.compose.image";
/// Version of the tool that created it.
pub const VERSION: &str = "com.docker.compose.version";
/// Project directory.
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
/// Compose files, comma-separated.
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
/// Network key in the project.
pub const NETWORK: &str = "com.docker.compose.network";
/// Volume key in the project.
pub const VOLUME: &str = "com.docker.compose.volume";

/// The compose version xcompose presents itself as in labels.
pub const COMPOSE_VERSION: &str = "2.40.3";

/// Facts about the project the labels record.
#[derive(Debug, Clone)]
pub struct ProjectInfo<'a> {
    /// Project name.
    pub name: &'a str,
    /// Project directory.
    pub working_dir: &'a str,
    /// Compose files.
    pub config_files: &'a [String],
}

/// Labels of replica `number` of `service_name`: the service's own labels, then compose's.
pub fn container_labels(
    project: &ProjectInfo,
    service_name: &str,
    service: &Service,
    number: u32,
    oneoff: bool,
    config_hash: &str,
    image_digest: &str,
) -> BTreeMap<String, String> {
    let mut labels = service.labels.clone();
    let depends_on: Vec<String> =
        service.depends_on.iter().map(|(name, d)| format!("{name}:{}:{}", d.condition, d.restart)).collect();
    for (k, v) in [
        (PROJECT, project.name.to_string()),
        (SERVICE, service_name.to_string()),
        (CONTAINER_NUMBER, number.to_string()),
        (ONEOFF, if oneoff { "True" } else { "False" }.to_string()),
        (CONFIG_HASH, config_hash.to_string()),
        (DEPENDS_ON, depends_on.join(",")),
        (IMAGE, image_digest.to_string()),
        (VERSION, COMPOSE_VERSION.to_string()),
        (WORKING_DIR, project.working_dir.to_string()),
        (CONFIG_FILES, project.config_files.join(",")),
    ] {
        labels.insert(k.to_string(), v);
    }
    labels
}

/// Labels of a project network or volume (`kind_label` is [`NETWORK`] or [`VOLUME`]).
pub fn resource_labels(project: &str, kind_label: &str, key: &str, own: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut labels = own.clone();
    labels.insert(PROJECT.into(), project.into());
    labels.insert(kind_label.into(), key.into());
    labels.insert(VERSION.into(), COMPOSE_VERSION.into());
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use xcompose_loader::model::Dependency;

    #[test]
    fn container_labels_are_composes() {
        let mut s = Service::default();
        s.labels.insert("tier".into(), "web".into());
        s.depends_on.insert("db".into(), Dependency { condition: "service_healthy".into(), restart: true, required: true });
        s.depends_on.insert("cache".into(), Dependency { condition: "service_started".into(), restart: false, required: true });
        let files = vec!["/p/compose.yaml".to_string()];
        let info = ProjectInfo { name: "shop", working_dir: "/p", config_files: &files };
        let l = container_labels(&info, "web", &s, 2, false, "abc", "sha256:1");
        assert_eq!(l["tier"], "web");
        assert_eq!(l[PROJECT], "shop");
        assert_eq!(l[SERVICE], "web");
        assert_eq!(l[CONTAINER_NUMBER], "2");
        assert_eq!(l[ONEOFF], "False");
        assert_eq!(l[CONFIG_HASH], "abc");
        assert_eq!(l[DEPENDS_ON], "cache:service_started:false,db:service_healthy:true");
        assert_eq!(l[CONFIG_FILES], "/p/compose.yaml");
        let n = resource_labels("shop", NETWORK, "default", &BTreeMap::new());
        assert_eq!((n[PROJECT].as_str(), n[NETWORK].as_str()), ("shop", "default"));
    }
}
