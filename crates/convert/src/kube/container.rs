//! A service's container: image, command, environment, ports, probes, resources, security
//! context and mounts.

use serde_json::{json, Map, Value};
use xcompose_loader::model::Service;

use super::context::Context;
use super::storage::Mounts;
use super::{files, probes, quantity, storage};

/// The container of service `name` in the pod of service `pod` (itself, or the service it runs
/// as an init container of); the pod's volumes go to `pod_mounts`.
pub fn container(ctx: &mut Context, name: &str, service: &Service, pod: &str, pod_mounts: &mut Mounts) -> Value {
    let key = format!("services.{name}");
    let mut c = Map::new();
    c.insert("name".into(), json!(ctx.services.get(name)));
    c.insert("image".into(), json!(image(ctx, name, service)));
    if let Some(policy) = pull_policy(ctx, &key, &service.pull_policy) {
        c.insert("imagePullPolicy".into(), json!(policy));
    }
    // Docker's ENTRYPOINT is Kubernetes' command, CMD its args; setting the entrypoint drops the
    // image's CMD in both.
    if let Some(entrypoint) = &service.entrypoint {
        c.insert("command".into(), json!(escaped(entrypoint)));
    }
    if let Some(command) = &service.command {
        c.insert("args".into(), json!(escaped(command)));
    }
    if !service.working_dir.is_empty() {
        c.insert("workingDir".into(), json!(service.working_dir));
    }
    let env: Vec<Value> = service
        .environment
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| json!({"name": k, "value": escape(v)})))
        .collect();
    if !env.is_empty() {
        c.insert("env".into(), Value::Array(env));
    }
    let ports = container_ports(service);
    if !ports.is_empty() {
        c.insert("ports".into(), Value::Array(ports));
    }
    if let Some(resources) = resources(service) {
        c.insert("resources".into(), resources);
    }
    if let Some(probe) = service.healthcheck.as_ref().and_then(probes::probe) {
        c.insert("livenessProbe".into(), probe.clone());
        c.insert("readinessProbe".into(), probe);
    }
    if let Some(security) = security_context(ctx, &key, service) {
        c.insert("securityContext".into(), security);
    }
    let mut mounts = storage::mounts(ctx, name, service, pod);
    files::mounts(ctx, name, service, &mut mounts);
    if !mounts.mounts.is_empty() {
        c.insert("volumeMounts".into(), Value::Array(mounts.mounts.clone()));
    }
    for volume in mounts.volumes {
        pod_mounts.add_volume(volume);
    }
    for template in mounts.templates {
        if !pod_mounts.templates.iter().any(|t| t["metadata"]["name"] == template["metadata"]["name"]) {
            pod_mounts.templates.push(template);
        }
    }
    if service.tty {
        c.insert("tty".into(), json!(true));
    }
    if service.stdin_open {
        c.insert("stdin".into(), json!(true));
    }
    Value::Object(c)
}

/// `text` with Kubernetes' `$(VAR)` expansion escaped (`$$(VAR)`): command, args and env values
/// reach the container as compose passes them, already interpolated.
fn escape(text: &str) -> String {
    text.replace("$(", "$$(")
}

fn escaped(list: &[String]) -> Vec<String> {
    list.iter().map(|s| escape(s)).collect()
}

/// The image; a service with only `build` gets the name compose gives the image it builds
/// (`<project>-<service>`), to be built and pushed where the cluster pulls from.
fn image(ctx: &mut Context, name: &str, service: &Service) -> String {
    if service.build.is_some() {
        ctx.warn(format!("services.{name}.build"), "Kubernetes does not build images: build and push the image to a registry the cluster pulls from");
    }
    if service.image.is_empty() {
        format!("{}-{name}", ctx.project.name)
    } else {
        service.image.clone()
    }
}

/// `imagePullPolicy` from compose's `pull_policy`.
fn pull_policy(ctx: &mut Context, key: &str, policy: &str) -> Option<&'static str> {
    match policy {
        "" => None,
        "always" | "daily" | "weekly" => Some("Always"),
        "never" => Some("Never"),
        "missing" | "if_not_present" => Some("IfNotPresent"),
        other => {
            ctx.warn(format!("{key}.pull_policy"), format!("pull_policy {other} has no Kubernetes equivalent; left out"));
            None
        }
    }
}

/// `containerPort`s: every target port, published or exposed, once.
fn container_ports(service: &Service) -> Vec<Value> {
    let mut seen: Vec<(u32, String)> = Vec::new();
    for port in &service.ports {
        let protocol = protocol(&port.protocol);
        if !seen.contains(&(port.target, protocol.clone())) {
            seen.push((port.target, protocol));
        }
    }
    for (port, protocol) in service.expose.iter().flat_map(|e| expose_ports(e)) {
        if !seen.contains(&(port, protocol.clone())) {
            seen.push((port, protocol));
        }
    }
    seen.into_iter().map(|(port, protocol)| json!({"containerPort": port, "protocol": protocol})).collect()
}

/// Kubernetes' name of a protocol (`tcp` is `TCP`).
pub fn protocol(compose: &str) -> String {
    if compose.is_empty() {
        "TCP".into()
    } else {
        compose.to_uppercase()
    }
}

/// The ports of an `expose` entry: `3000`, `3000/udp`, `3000-3002`.
pub fn expose_ports(entry: &str) -> Vec<(u32, String)> {
    let (range, proto) = entry.split_once('/').unwrap_or((entry, "tcp"));
    let (start, end) = range.split_once('-').unwrap_or((range, range));
    match (start.parse::<u32>(), end.parse::<u32>()) {
        (Ok(start), Ok(end)) if start <= end => (start..=end).map(|p| (p, protocol(proto))).collect(),
        _ => Vec::new(),
    }
}

/// Limits and requests from `deploy.resources` and the short forms (`cpus`, `mem_limit`,
/// `mem_reservation`), the long form winning as in compose.
fn resources(service: &Service) -> Option<Value> {
    let deploy = service.deploy.as_ref().map(|d| &d.resources);
    let limits = deploy.and_then(|r| r.limits.as_ref());
    let reservations = deploy.and_then(|r| r.reservations.as_ref());
    let mut out = Map::new();
    let mut limit = Map::new();
    if let Some(cpus) = limits.and_then(|l| l.cpus).or(service.cpus).filter(|c| c.0 > 0.0) {
        limit.insert("cpu".into(), quantity::cpus(cpus.0));
    }
    if let Some(memory) = limits.and_then(|l| l.memory).or(service.mem_limit).filter(|m| m.0 > 0) {
        limit.insert("memory".into(), quantity::bytes(memory.0));
    }
    let mut request = Map::new();
    if let Some(cpus) = reservations.and_then(|l| l.cpus).filter(|c| c.0 > 0.0) {
        request.insert("cpu".into(), quantity::cpus(cpus.0));
    }
    if let Some(memory) = reservations.and_then(|l| l.memory).or(service.mem_reservation).filter(|m| m.0 > 0) {
        request.insert("memory".into(), quantity::bytes(memory.0));
    }
    if !limit.is_empty() {
        out.insert("limits".into(), Value::Object(limit));
    }
    if !request.is_empty() {
        out.insert("requests".into(), Value::Object(request));
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// `securityContext` from `user`, `privileged`, `read_only`, `cap_add` and `cap_drop`.
fn security_context(ctx: &mut Context, key: &str, service: &Service) -> Option<Value> {
    let mut out = Map::new();
    if !service.user.is_empty() {
        let (user, group) = service.user.split_once(':').map_or((service.user.as_str(), None), |(u, g)| (u, Some(g)));
        match user.parse::<i64>() {
            Ok(uid) => {
                out.insert("runAsUser".into(), json!(uid));
            }
            Err(_) => ctx.warn(format!("{key}.user"), format!("user {user} is a name; Kubernetes takes only numeric ids (runAsUser): left out")),
        }
        match group.map(str::parse::<i64>) {
            Some(Ok(gid)) => {
                out.insert("runAsGroup".into(), json!(gid));
            }
            Some(Err(_)) => ctx.warn(format!("{key}.user"), "the group is a name; Kubernetes takes only numeric ids (runAsGroup): left out"),
            None => {}
        }
    }
    if service.privileged {
        out.insert("privileged".into(), json!(true));
    }
    if service.read_only {
        out.insert("readOnlyRootFilesystem".into(), json!(true));
    }
    let caps = |list: &[String]| -> Vec<String> {
        list.iter().map(|c| c.to_uppercase()).map(|c| c.strip_prefix("CAP_").map(str::to_string).unwrap_or(c)).collect()
    };
    let mut capabilities = Map::new();
    if !service.cap_add.is_empty() {
        capabilities.insert("add".into(), json!(caps(&service.cap_add)));
    }
    if !service.cap_drop.is_empty() {
        capabilities.insert("drop".into(), json!(caps(&service.cap_drop)));
    }
    if !capabilities.is_empty() {
        out.insert("capabilities".into(), Value::Object(capabilities));
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_expansion_is_escaped() {
        assert_eq!(escape("echo $(date) $HOME"), "echo $$(date) $HOME");
        assert_eq!(expose_ports("3000-3001/udp"), vec![(3000, "UDP".to_string()), (3001, "UDP".to_string())]);
    }
}
