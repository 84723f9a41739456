//! Names compose gives containers, networks and volumes.

use xcompose_loader::model::Service;

/// The separator compose v2 uses in container names (`project-service-1`).
pub const SEPARATOR: char = '-';

/// Name of replica `number` (1-based) of `service`: its `container_name` if set, else
/// `<project>-<service>-<number>`.
pub fn container_name(project: &str, service_name: &str, service: &Service, number: u32) -> String {
    if !service.container_name.is_empty() {
        return service.container_name.clone();
    }
    format!("{project}{SEPARATOR}{service_name}{SEPARATOR}{number}")
}

/// Name of a one-off container (`run`): `<project>-<service>-run-<12 hex>`.
pub fn oneoff_name(project: &str, service_name: &str, suffix: &str) -> String {
    format!("{project}{SEPARATOR}{service_name}{SEPARATOR}run{SEPARATOR}{suffix}")
}

/// Default image name for a service built from a context: `<project>-<service>`.
pub fn build_image_name(project: &str, service_name: &str) -> String {
    format!("{project}{SEPARATOR}{service_name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_compose() {
        let mut s = Service::default();
        assert_eq!(container_name("shop", "web", &s, 2), "shop-web-2");
        s.container_name = "custom".into();
        assert_eq!(container_name("shop", "web", &s, 1), "custom");
        assert_eq!(oneoff_name("shop", "web", "0123456789ab"), "shop-web-run-0123456789ab");
        assert_eq!(build_image_name("shop", "api"), "shop-api");
    }
}
