//! A service's workload: a Deployment (a StatefulSet with `--statefulset` and named volumes, a
//! DaemonSet for `deploy.mode: global`, a Job for the job modes), its pod, and the services it
//! waits to complete as init containers.

use serde_json::{json, Map, Value};
use xcompose_loader::model::Service;

use super::context::{Context, COMPLETED};
use super::storage::{self, Mounts};
use super::{container, meta, quantity};

/// The workload of service `name`.
pub fn objects(ctx: &mut Context, name: &str, service: &Service) -> Vec<Value> {
    let key = format!("services.{name}");
    let object_name = ctx.services.get(name);
    let mode = service.deploy.as_ref().map(|d| d.mode.as_str()).unwrap_or("");
    let kind = match mode {
        "global" => "DaemonSet",
        "replicated-job" | "global-job" => "Job",
        _ if storage::wants_statefulset(ctx, service) => "StatefulSet",
        _ => "Deployment",
    };
    let (pod, templates) = pod(ctx, name, service, kind);
    let mut metadata = meta::metadata(ctx, &object_name, Some(name));
    if let Some(deploy) = &service.deploy {
        let annotations = meta::annotations(ctx, &format!("{key}.deploy.labels"), &deploy.labels);
        if !annotations.is_empty() {
            metadata["annotations"] = Value::Object(annotations);
        }
    }
    let mut spec = Map::new();
    if matches!(kind, "Deployment" | "StatefulSet") {
        spec.insert("replicas".into(), json!(service.replicas()));
    }
    if kind == "Job" {
        let completions = if mode == "replicated-job" { service.replicas() } else { 1 };
        spec.insert("completions".into(), json!(completions));
        spec.insert("parallelism".into(), json!(completions));
        if let Some(attempts) = service.deploy.as_ref().and_then(|d| d.restart_policy.as_ref()).and_then(|p| p.max_attempts) {
            spec.insert("backoffLimit".into(), json!(attempts));
        }
        if mode == "global-job" {
            ctx.warn(format!("{key}.deploy.mode"), "global-job runs once per node in Swarm; a Job runs it once");
        }
    } else {
        spec.insert("selector".into(), json!({"matchLabels": meta::selector(ctx, name)}));
    }
    if kind == "StatefulSet" {
        spec.insert("serviceName".into(), json!(object_name));
        if !templates.is_empty() {
            spec.insert("volumeClaimTemplates".into(), Value::Array(templates));
        }
    }
    if kind == "Deployment" {
        if let Some(strategy) = strategy(ctx, &key, service) {
            spec.insert("strategy".into(), strategy);
        }
    }
    spec.insert("template".into(), pod);
    let api = if kind == "Job" { "batch/v1" } else { "apps/v1" };
    vec![json!({"apiVersion": api, "kind": kind, "metadata": metadata, "spec": spec})]
}

/// The pod template of service `name` for a workload of `kind`, and its claim templates.
fn pod(ctx: &mut Context, name: &str, service: &Service, kind: &str) -> (Value, Vec<Value>) {
    let key = format!("services.{name}");
    let mut mounts = Mounts::default();
    let main = container::container(ctx, name, service, name, &mut mounts);
    let mut inits = Vec::new();
    for dep in completed_dependencies(ctx, name) {
        let dep_service = ctx.project.services[&dep].clone();
        inits.push(container::container(ctx, &dep, &dep_service, name, &mut mounts));
        ctx.warn(
            format!("services.{dep}"),
            format!("runs to completion before {name} (depends_on condition {COMPLETED}): an init container of {name}'s pods, once per pod, not a workload of its own"),
        );
    }
    let mut spec = Map::new();
    if !inits.is_empty() {
        spec.insert("initContainers".into(), Value::Array(inits));
    }
    spec.insert("containers".into(), json!([main]));
    spec.insert("restartPolicy".into(), json!(restart_policy(ctx, &key, service, kind)));
    if let Some(grace) = service.stop_grace_period {
        spec.insert("terminationGracePeriodSeconds".into(), json!(quantity::seconds(grace.0, 0)));
    }
    if !service.hostname.is_empty() {
        spec.insert("hostname".into(), json!(crate::names::dns_label(&service.hostname)));
    }
    if service.init == Some(true) {
        // The pause container becomes PID 1 and reaps zombies: what `init: true` is for.
        spec.insert("shareProcessNamespace".into(), json!(true));
    }
    if service.pid == "host" {
        spec.insert("hostPID".into(), json!(true));
    }
    if service.ipc == "host" {
        spec.insert("hostIPC".into(), json!(true));
    }
    if let Some(aliases) = host_aliases(&service.extra_hosts) {
        spec.insert("hostAliases".into(), aliases);
    }
    if let Some(dns) = dns_config(service) {
        spec.insert("dnsConfig".into(), dns);
    }
    if let Some(selector) = node_selector(ctx, &key, service) {
        spec.insert("nodeSelector".into(), selector);
    }
    if let Some(security) = pod_security(ctx, &key, service) {
        spec.insert("securityContext".into(), security);
    }
    if !mounts.volumes.is_empty() {
        spec.insert("volumes".into(), Value::Array(mounts.volumes));
    }
    let mut labels = meta::selector(ctx, name);
    for network in service.networks.keys() {
        if service.network_mode.is_empty() {
            labels[meta::network_label(&ctx.networks.get(network))] = json!("true");
        }
    }
    let mut metadata = json!({"labels": labels});
    let mut annotations = meta::annotations(ctx, &format!("{key}.labels"), &service.labels);
    annotations.extend(meta::annotations(ctx, &format!("{key}.annotations"), &service.annotations));
    if !annotations.is_empty() {
        metadata["annotations"] = Value::Object(annotations);
    }
    (json!({"metadata": metadata, "spec": spec}), mounts.templates)
}

/// The services `name` waits to complete, each after those it waits for itself.
fn completed_dependencies(ctx: &Context, name: &str) -> Vec<String> {
    fn visit(ctx: &Context, name: &str, out: &mut Vec<String>) {
        let Some(service) = ctx.project.services.get(name) else { return };
        for (dep, condition) in &service.depends_on {
            if condition.condition == COMPLETED && ctx.project.services.contains_key(dep) && !out.contains(dep) {
                visit(ctx, dep, out);
                if !out.contains(dep) {
                    out.push(dep.clone());
                }
            }
        }
    }
    let mut out = Vec::new();
    visit(ctx, name, &mut out);
    out
}

/// The pod's restart policy: long-running workloads restart always (whatever compose asked,
/// with a warning when it asked otherwise); a Job's pod restarts on failure unless told never to.
fn restart_policy(ctx: &mut Context, key: &str, service: &Service, kind: &str) -> &'static str {
    let condition = service.deploy.as_ref().and_then(|d| d.restart_policy.as_ref()).map(|p| p.condition.as_str()).unwrap_or("");
    let restart = service.restart.as_str();
    if kind == "Job" {
        return if condition == "none" || restart == "no" { "Never" } else { "OnFailure" };
    }
    if restart == "no" || restart.starts_with("on-failure") {
        ctx.warn(format!("{key}.restart"), format!("restart {restart}: a {kind}'s pods always restart; mapped to Always"));
    }
    if condition == "none" || condition == "on-failure" {
        ctx.warn(format!("{key}.deploy.restart_policy.condition"), format!("{condition}: a {kind}'s pods always restart; mapped to Always"));
    }
    "Always"
}

/// The rolling update from `deploy.update_config` (parallelism and order).
fn strategy(ctx: &mut Context, key: &str, service: &Service) -> Option<Value> {
    let config = service.deploy.as_ref()?.update_config.as_ref()?.as_object()?;
    let parallelism = config.get("parallelism").and_then(Value::as_i64).filter(|p| *p > 0).unwrap_or(1);
    let start_first = config.get("order").and_then(Value::as_str) == Some("start-first");
    for field in config.keys().filter(|k| !matches!(k.as_str(), "parallelism" | "order")) {
        ctx.warn(format!("{key}.deploy.update_config.{field}"), "no Deployment equivalent; left out");
    }
    let (surge, unavailable) = if start_first { (parallelism, 0) } else { (0, parallelism) };
    Some(json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}))
}

/// `hostAliases` from `extra_hosts` (`host=ip` once loaded), one entry per address.
fn host_aliases(extra_hosts: &[String]) -> Option<Value> {
    let mut by_ip: Vec<(String, Vec<String>)> = Vec::new();
    for entry in extra_hosts {
        let Some((host, ip)) = entry.split_once('=') else { continue };
        let ip = ip.trim_start_matches('[').trim_end_matches(']').to_string();
        match by_ip.iter_mut().find(|(i, _)| *i == ip) {
            Some((_, hosts)) => hosts.push(host.to_string()),
            None => by_ip.push((ip, vec![host.to_string()])),
        }
    }
    (!by_ip.is_empty()).then(|| Value::Array(by_ip.into_iter().map(|(ip, hostnames)| json!({"ip": ip, "hostnames": hostnames})).collect()))
}

/// `dnsConfig`: the service's resolvers, search domains and options, added to the cluster's
/// (compose's `dns` replaces the resolvers, but the cluster's DNS is what finds other services).
fn dns_config(service: &Service) -> Option<Value> {
    let mut out = Map::new();
    if !service.dns.is_empty() {
        out.insert("nameservers".into(), json!(service.dns));
    }
    if !service.dns_search.is_empty() {
        out.insert("searches".into(), json!(service.dns_search));
    }
    if !service.dns_opt.is_empty() {
        let options: Vec<Value> = service
            .dns_opt
            .iter()
            .map(|o| match o.split_once(':') {
                Some((n, v)) => json!({"name": n, "value": v}),
                None => json!({"name": o}),
            })
            .collect();
        out.insert("options".into(), Value::Array(options));
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// `nodeSelector` from `platform` and `deploy.placement.constraints` of the `==` kind on node
/// labels, OS or architecture.
fn node_selector(ctx: &mut Context, key: &str, service: &Service) -> Option<Value> {
    let mut out = Map::new();
    if !service.platform.is_empty() {
        let mut parts = service.platform.split('/');
        if let Some(os) = parts.next() {
            out.insert("kubernetes.io/os".into(), json!(os));
        }
        if let Some(arch) = parts.next() {
            out.insert("kubernetes.io/arch".into(), json!(arch));
        }
    }
    let placement = service.deploy.as_ref().map(|d| &d.placement);
    let constraints = placement.and_then(|p| p.get("constraints")).and_then(Value::as_array).cloned().unwrap_or_default();
    for (i, constraint) in constraints.iter().filter_map(Value::as_str).enumerate() {
        let mapped = constraint.split_once("==").and_then(|(k, v)| {
            let (k, v) = (k.trim(), v.trim());
            let label = match k {
                "node.platform.os" => "kubernetes.io/os".to_string(),
                "node.platform.arch" => "kubernetes.io/arch".to_string(),
                "node.hostname" => "kubernetes.io/hostname".to_string(),
                _ => k.strip_prefix("node.labels.")?.to_string(),
            };
            Some((label, v.to_string()))
        });
        match mapped {
            Some((label, value)) => {
                out.insert(label, json!(value));
            }
            None => ctx.warn(format!("{key}.deploy.placement.constraints[{i}]"), format!("{constraint}: only `==` on node labels, hostname, OS or architecture maps (to nodeSelector); left out")),
        }
    }
    if let Some(placement) = placement.and_then(Value::as_object) {
        for field in placement.keys().filter(|k| *k != "constraints") {
            ctx.warn(format!("{key}.deploy.placement.{field}"), "no nodeSelector equivalent; left out");
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// The pod's `securityContext`: namespaced `sysctls` and numeric `group_add`.
fn pod_security(ctx: &mut Context, key: &str, service: &Service) -> Option<Value> {
    let mut out = Map::new();
    if !service.sysctls.is_empty() {
        let sysctls: Vec<Value> = service.sysctls.iter().map(|(n, v)| json!({"name": n, "value": v})).collect();
        out.insert("sysctls".into(), Value::Array(sysctls));
    }
    let mut groups = Vec::new();
    for group in &service.group_add {
        match group.parse::<i64>() {
            Ok(gid) => groups.push(gid),
            Err(_) => ctx.warn(format!("{key}.group_add"), format!("group {group} is a name; Kubernetes takes only numeric ids (supplementalGroups): left out")),
        }
    }
    if !groups.is_empty() {
        out.insert("supplementalGroups".into(), json!(groups));
    }
    (!out.is_empty()).then_some(Value::Object(out))
}
