//! A compose project as a Docker Swarm stack, built as `docker stack deploy -c` builds it
//! (docker/cli's `cli/compose/convert`): every object named `<stack>_<name>` and labelled
//! `com.docker.stack.namespace=<stack>`, overlay networks, secrets and configs with their
//! content, and one Engine API `ServiceSpec` per service. Secret and config references carry
//! names only; whoever creates the services fills in their ids.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{json, Map, Value};
use xcompose_loader::model::{FileObject, FileReference, Service, ServiceVolume};
use xcompose_loader::Project;

/// The label naming a stack's objects.
pub const NAMESPACE_LABEL: &str = "com.docker.stack.namespace";
/// The label recording the image a service was deployed with.
pub const IMAGE_LABEL: &str = "com.docker.stack.image";

/// Service keys `docker stack deploy` ignores and names in "Ignoring unsupported options"
/// (docker/cli's `loader.UnsupportedProperties`).
const UNSUPPORTED: [&str; 16] = [
    "build", "cgroupns_mode", "cgroup_parent", "devices", "domainname", "external_links", "ipc", "links", "mac_address",
    "network_mode", "pid", "privileged", "restart", "security_opt", "shm_size", "userns_mode",
];

/// A stack ready to deploy.
#[derive(Debug, Clone, Default)]
pub struct Stack {
    /// The stack's name (the project's).
    pub namespace: String,
    /// Networks to create: (name, `POST /networks/create` body without the name).
    pub networks: Vec<(String, Value)>,
    /// External networks the services use, which must exist.
    pub external_networks: Vec<String>,
    /// Secrets to create: `SecretSpec`s.
    pub secrets: Vec<Value>,
    /// Configs to create: `ConfigSpec`s.
    pub configs: Vec<Value>,
    /// Services: `ServiceSpec`s, by name.
    pub services: Vec<Value>,
    /// Keys ignored, as docker prints them: "Ignoring unsupported options: build, restart".
    pub unsupported: Vec<String>,
    /// Deprecated keys ignored, with docker's reason.
    pub deprecated: Vec<(String, String)>,
}

impl Stack {
    /// What `docker stack deploy` prints on stderr about the keys it ignores.
    pub fn ignored_message(&self) -> String {
        let mut out = String::new();
        if !self.unsupported.is_empty() {
            out.push_str(&format!("Ignoring unsupported options: {}\n\n", self.unsupported.join(", ")));
        }
        if !self.deprecated.is_empty() {
            let lines: Vec<String> = self.deprecated.iter().map(|(k, why)| format!("{k}: {why}")).collect();
            out.push_str(&format!("Ignoring deprecated options:\n\n{}\n\n", lines.join("\n")));
        }
        out
    }
}

/// `name` in the stack: `<stack>_<name>`.
pub fn scope(namespace: &str, name: &str) -> String {
    format!("{namespace}_{name}")
}

/// Converts `project` to a stack; `contents` holds the secrets' and configs' content by
/// `secrets.NAME` / `configs.NAME` (one missing is an error: docker refuses to deploy it too).
pub fn convert(project: &Project, contents: &BTreeMap<String, Vec<u8>>) -> Result<Stack, String> {
    let namespace = project.name.clone();
    let mut stack = Stack { namespace: namespace.clone(), ..Default::default() };
    stack.unsupported = ignored(project, &UNSUPPORTED);
    for (key, why) in [
        ("container_name", "Setting the container name is not supported."),
        ("expose", "Exposing ports is unnecessary - services on the same network can access each other's containers on any port."),
    ] {
        if !ignored(project, &[key]).is_empty() {
            stack.deprecated.push((key.to_string(), why.to_string()));
        }
    }
    networks(project, &mut stack);
    stack.secrets = file_objects(project, "secrets", &project.secrets, contents)?;
    stack.configs = file_objects(project, "configs", &project.configs, contents)?;
    for (name, service) in &project.services {
        stack.services.push(service_spec(project, name, service)?);
    }
    Ok(stack)
}

/// The keys of `keys` some service sets, sorted.
fn ignored(project: &Project, keys: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = keys
        .iter()
        .filter(|key| project.services.values().any(|s| sets(s, key)))
        .map(|k| k.to_string())
        .collect();
    out.sort();
    out
}

/// Whether `service` sets `key` (one of the keys docker ignores).
fn sets(s: &Service, key: &str) -> bool {
    match key {
        "build" => s.build.is_some(),
        "cgroupns_mode" => !s.cgroup.is_empty(),
        "cgroup_parent" => !s.cgroup_parent.is_empty(),
        "devices" => !s.devices.is_empty(),
        "domainname" => !s.domainname.is_empty(),
        "external_links" => !s.external_links.is_empty(),
        "ipc" => !s.ipc.is_empty(),
        "links" => !s.links.is_empty(),
        "mac_address" => !s.mac_address.is_empty(),
        "network_mode" => !s.network_mode.is_empty(),
        "pid" => !s.pid.is_empty(),
        "privileged" => s.privileged,
        "restart" => !s.restart.is_empty(),
        "security_opt" => !s.security_opt.is_empty(),
        "shm_size" => s.shm_size.is_some(),
        "userns_mode" => !s.userns_mode.is_empty(),
        "container_name" => !s.container_name.is_empty(),
        "expose" => !s.expose.is_empty(),
        _ => false,
    }
}

/// The labels `labels` plus the stack's.
fn with_stack_label(namespace: &str, labels: &BTreeMap<String, String>) -> Value {
    let mut out: Map<String, Value> = labels.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    out.insert(NAMESPACE_LABEL.into(), json!(namespace));
    Value::Object(out)
}

/// The networks the services use: overlay unless another driver is named; external ones listed.
fn networks(project: &Project, stack: &mut Stack) {
    let mut used: Vec<&String> = project.services.values().flat_map(|s| s.networks.keys()).collect();
    used.sort();
    used.dedup();
    for key in used {
        let network = project.networks.get(key).cloned().unwrap_or_default();
        let name = if network.name.is_empty() { scope(&stack.namespace, key) } else { network.name.clone() };
        if network.external {
            stack.external_networks.push(name);
            continue;
        }
        let mut create = json!({
            "Driver": if network.driver.is_empty() { "overlay" } else { network.driver.as_str() },
            "Internal": network.internal,
            "Attachable": network.attachable,
            "Labels": with_stack_label(&stack.namespace, &network.labels),
        });
        if !network.driver_opts.is_empty() {
            create["Options"] = json!(network.driver_opts);
        }
        if !network.ipam.driver.is_empty() || !network.ipam.config.is_empty() {
            let mut ipam = json!({"Config": network.ipam.config.iter().map(|c| json!({"Subnet": c.subnet})).collect::<Vec<_>>()});
            if !network.ipam.driver.is_empty() {
                ipam["Driver"] = json!(network.ipam.driver);
            }
            create["IPAM"] = ipam;
        }
        stack.networks.push((name, create));
    }
}

/// The name of secret or config `key` in the swarm.
fn object_name(namespace: &str, key: &str, object: &FileObject) -> String {
    if object.name.is_empty() {
        scope(namespace, key)
    } else {
        object.name.clone()
    }
}

/// `SecretSpec`s or `ConfigSpec`s for the non-external secrets or configs.
fn file_objects(project: &Project, kind: &str, table: &BTreeMap<String, FileObject>, contents: &BTreeMap<String, Vec<u8>>) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for (key, object) in table {
        if object.external {
            continue;
        }
        let data = if !object.content.is_empty() {
            object.content.clone().into_bytes()
        } else {
            let from = if object.file.is_empty() { format!("environment variable {}", object.environment) } else { object.file.clone() };
            contents.get(&format!("{kind}.{key}")).cloned().ok_or_else(|| format!("{kind}.{key}: cannot read {from}: give the file (or variable) before deploying"))?
        };
        let mut spec = json!({
            "Name": object_name(&project.name, key, object),
            "Labels": with_stack_label(&project.name, &object.labels),
            "Data": base64::engine::general_purpose::STANDARD.encode(data),
        });
        if !object.template_driver.is_empty() {
            spec["Templating"] = json!({"Name": object.template_driver});
        }
        out.push(spec);
    }
    Ok(out)
}

/// The `ServiceSpec` of service `name`.
fn service_spec(project: &Project, name: &str, service: &Service) -> Result<Value, String> {
    let namespace = project.name.as_str();
    let deploy = service.deploy.clone().unwrap_or_default();
    let mut container = Map::new();
    container.insert("Image".into(), json!(service.image));
    container.insert("Labels".into(), with_stack_label(namespace, &service.labels));
    if let Some(entrypoint) = &service.entrypoint {
        container.insert("Command".into(), json!(entrypoint));
    }
    if let Some(command) = &service.command {
        container.insert("Args".into(), json!(command));
    }
    if !service.hostname.is_empty() {
        container.insert("Hostname".into(), json!(service.hostname));
    }
    let env: Vec<String> = service.environment.iter().map(|(k, v)| v.as_ref().map_or_else(|| k.clone(), |v| format!("{k}={v}"))).collect();
    if !env.is_empty() {
        container.insert("Env".into(), json!(env));
    }
    if !service.working_dir.is_empty() {
        container.insert("Dir".into(), json!(service.working_dir));
    }
    if !service.user.is_empty() {
        container.insert("User".into(), json!(service.user));
    }
    let mounts = service.volumes.iter().map(|v| mount(project, name, v)).collect::<Result<Vec<_>, _>>()?;
    if !mounts.is_empty() {
        container.insert("Mounts".into(), json!(mounts));
    }
    if let Some(grace) = service.stop_grace_period {
        container.insert("StopGracePeriod".into(), json!(grace.0));
    }
    if !service.stop_signal.is_empty() {
        container.insert("StopSignal".into(), json!(service.stop_signal));
    }
    if let Some(check) = &service.healthcheck {
        container.insert("Healthcheck".into(), healthcheck(check));
    }
    let hosts: Vec<String> = service.extra_hosts.iter().filter_map(|h| h.split_once('=')).map(|(host, ip)| format!("{ip} {host}")).collect();
    if !hosts.is_empty() {
        container.insert("Hosts".into(), json!(hosts));
    }
    if !service.dns.is_empty() || !service.dns_search.is_empty() {
        container.insert("DNSConfig".into(), json!({"Nameservers": service.dns, "Search": service.dns_search}));
    }
    if service.tty {
        container.insert("TTY".into(), json!(true));
    }
    if service.stdin_open {
        container.insert("OpenStdin".into(), json!(true));
    }
    if service.read_only {
        container.insert("ReadOnly".into(), json!(true));
    }
    if let Some(init) = service.init {
        container.insert("Init".into(), json!(init));
    }
    container.insert("Privileges".into(), privileges(service.credential_spec.as_ref()));
    if !service.sysctls.is_empty() {
        container.insert("Sysctls".into(), json!(service.sysctls));
    }
    let (add, drop) = capabilities(&service.cap_add, &service.cap_drop);
    if !add.is_empty() {
        container.insert("CapabilityAdd".into(), json!(add));
    }
    if !drop.is_empty() {
        container.insert("CapabilityDrop".into(), json!(drop));
    }
    if !service.ulimits.is_empty() {
        let ulimits: Vec<Value> = service
            .ulimits
            .iter()
            .map(|(n, u)| match u {
                xcompose_loader::model::Ulimit::Single(v) => json!({"Name": n, "Soft": v.0, "Hard": v.0}),
                xcompose_loader::model::Ulimit::Range { soft, hard } => json!({"Name": n, "Soft": soft.0, "Hard": hard.0}),
            })
            .collect();
        container.insert("Ulimits".into(), json!(ulimits));
    }
    let secrets = references(project, "secrets", &service.secrets, |key| project.secrets.get(key));
    if !secrets.is_empty() {
        container.insert("Secrets".into(), json!(secrets));
    }
    let configs = references(project, "configs", &service.configs, |key| project.configs.get(key));
    if !configs.is_empty() {
        container.insert("Configs".into(), json!(configs));
    }
    let mut task = json!({"ContainerSpec": container});
    task["Resources"] = resources(&deploy.resources);
    if let Some(policy) = restart_policy(&service.restart, deploy.restart_policy.as_ref()) {
        task["RestartPolicy"] = policy;
    }
    let mut placement = Map::new();
    if let Some(constraints) = deploy.placement.get("constraints") {
        placement.insert("Constraints".into(), constraints.clone());
    }
    if let Some(preferences) = deploy.placement.get("preferences").and_then(Value::as_array) {
        let preferences: Vec<Value> = preferences.iter().map(|p| json!({"Spread": {"SpreadDescriptor": p.get("spread").cloned().unwrap_or(Value::Null)}})).collect();
        placement.insert("Preferences".into(), json!(preferences));
    }
    if let Some(max) = deploy.placement.get("max_replicas_per_node") {
        placement.insert("MaxReplicas".into(), max.clone());
    }
    task["Placement"] = Value::Object(placement);
    if let Some(logging) = &service.logging {
        task["LogDriver"] = json!({"Name": logging.driver, "Options": logging.options});
    }
    task["Networks"] = json!(attachments(project, name, service));
    let mut labels = with_stack_label(namespace, &deploy.labels);
    labels[IMAGE_LABEL] = json!(service.image);
    let mut spec = json!({
        "Name": scope(namespace, name),
        "Labels": labels,
        "TaskTemplate": task,
        "Mode": mode(&deploy.mode, deploy.replicas)?,
        "EndpointSpec": endpoint(&deploy.endpoint_mode, service),
    });
    if let Some(update) = update_config(deploy.update_config.as_ref()) {
        spec["UpdateConfig"] = update;
    }
    if let Some(rollback) = update_config(deploy.rollback_config.as_ref()) {
        spec["RollbackConfig"] = rollback;
    }
    Ok(spec)
}

/// A mount, as docker/cli's `convertVolumeToMount`.
fn mount(project: &Project, service: &str, volume: &ServiceVolume) -> Result<Value, String> {
    let mut out = json!({"Type": volume.kind, "Target": volume.target});
    if volume.read_only {
        out["ReadOnly"] = json!(true);
    }
    if !volume.consistency.is_empty() {
        out["Consistency"] = json!(volume.consistency);
    }
    match volume.kind.as_str() {
        "volume" if volume.source.is_empty() => {
            if let Some(options) = &volume.volume {
                out["VolumeOptions"] = json!({"NoCopy": options.nocopy});
            }
        }
        "volume" => {
            let top = project.volumes.get(&volume.source).ok_or_else(|| format!("services.{service}.volumes: undefined volume {:?}", volume.source))?;
            out["Source"] = json!(if top.name.is_empty() { scope(&project.name, &volume.source) } else { top.name.clone() });
            let mut options = json!({"NoCopy": volume.volume.as_ref().is_some_and(|v| v.nocopy)});
            if let Some(sub) = volume.volume.as_ref().map(|v| &v.subpath).filter(|s| !s.is_empty()) {
                options["Subpath"] = json!(sub);
            }
            if !top.external {
                options["Labels"] = with_stack_label(&project.name, &top.labels);
                if !top.driver.is_empty() || !top.driver_opts.is_empty() {
                    options["DriverConfig"] = json!({"Name": top.driver, "Options": top.driver_opts});
                }
            }
            out["VolumeOptions"] = options;
        }
        "bind" => {
            out["Source"] = json!(volume.source);
            if let Some(propagation) = volume.bind.as_ref().map(|b| &b.propagation).filter(|p| !p.is_empty()) {
                out["BindOptions"] = json!({"Propagation": propagation});
            }
        }
        "tmpfs" => {
            if let Some(tmpfs) = &volume.tmpfs {
                let mut options = Map::new();
                if let Some(size) = tmpfs.size {
                    options.insert("SizeBytes".into(), json!(size.0));
                }
                if let Some(mode) = tmpfs.mode {
                    options.insert("Mode".into(), json!(mode));
                }
                out["TmpfsOptions"] = Value::Object(options);
            }
        }
        other => return Err(format!("services.{service}.volumes: volume type {other} is not supported by swarm services")),
    }
    Ok(out)
}

/// A healthcheck as a `HealthConfig` (durations in nanoseconds; disabled is `NONE`).
fn healthcheck(check: &xcompose_loader::model::Healthcheck) -> Value {
    if check.disable {
        return json!({"Test": ["NONE"]});
    }
    let mut out = json!({"Test": check.test});
    for (field, value) in [("Interval", check.interval), ("Timeout", check.timeout), ("StartPeriod", check.start_period), ("StartInterval", check.start_interval)] {
        if let Some(d) = value {
            out[field] = json!(d.0);
        }
    }
    if let Some(retries) = check.retries {
        out["Retries"] = json!(retries);
    }
    out
}

/// `Privileges`, which docker always sends: the credential spec (Windows), if any.
fn privileges(credential_spec: Option<&Value>) -> Value {
    let spec = credential_spec.and_then(Value::as_object).map(|spec| {
        let fields: Map<String, Value> = spec
            .iter()
            .filter_map(|(k, v)| match k.as_str() {
                "config" => Some(("Config".to_string(), v.clone())),
                "file" => Some(("File".to_string(), v.clone())),
                "registry" => Some(("Registry".to_string(), v.clone())),
                _ => None,
            })
            .collect();
        Value::Object(fields)
    });
    json!({"CredentialSpec": spec, "SELinuxContext": null})
}

/// Capabilities as docker's `EffectiveCapAddCapDrop`: `CAP_`-prefixed, upper case, sorted, a
/// capability both added and dropped only added.
fn capabilities(add: &[String], drop: &[String]) -> (Vec<String>, Vec<String>) {
    let normalize = |list: &[String]| -> Vec<String> {
        let mut out: Vec<String> = list
            .iter()
            .map(|c| c.to_uppercase())
            .map(|c| if c == "ALL" || c.starts_with("CAP_") { c } else { format!("CAP_{c}") })
            .collect();
        out.sort();
        out.dedup();
        out
    };
    let add = normalize(add);
    let drop = normalize(drop).into_iter().filter(|c| !add.contains(c)).collect();
    (add, drop)
}

/// Secret or config references (ids left to the deployer), sorted by name.
fn references<'a>(project: &Project, kind: &str, list: &[FileReference], lookup: impl Fn(&str) -> Option<&'a FileObject>) -> Vec<Value> {
    let mut out: Vec<Value> = list
        .iter()
        .map(|r| {
            let name = lookup(&r.source).map_or_else(|| scope(&project.name, &r.source), |o| object_name(&project.name, &r.source, o));
            // The loader writes compose's default targets out (`/run/secrets/<name>`, `/<name>`);
            // docker's own loader leaves them to the daemon as the bare name, which it mounts at
            // the same place: the bare name, as docker sends it.
            let default_target = if kind == "secrets" { format!("/run/secrets/{}", r.source) } else { format!("/{}", r.source) };
            let target = if r.target.is_empty() || r.target == default_target { r.source.clone() } else { r.target.clone() };
            let file = json!({
                "Name": target,
                "UID": if r.uid.is_empty() { "0" } else { r.uid.as_str() },
                "GID": if r.gid.is_empty() { "0" } else { r.gid.as_str() },
                "Mode": r.mode.map_or(0o444, |m| m.0),
            });
            let name_field = if kind == "secrets" { "SecretName" } else { "ConfigName" };
            json!({"File": file, name_field: name})
        })
        .collect();
    let name_field = if kind == "secrets" { "SecretName" } else { "ConfigName" };
    out.sort_by(|a, b| a[name_field].as_str().cmp(&b[name_field].as_str()));
    out
}

/// `Resources` from `deploy.resources` (docker ignores the short forms `cpus`, `mem_limit`).
fn resources(source: &xcompose_loader::model::Resources) -> Value {
    let mut out = json!({});
    if let Some(limits) = &source.limits {
        let mut limit = json!({});
        if let Some(cpus) = limits.cpus {
            limit["NanoCPUs"] = json!((f64::from(cpus.0) * 1e9).round() as i64);
        }
        if let Some(memory) = limits.memory {
            limit["MemoryBytes"] = json!(memory.0);
        }
        if let Some(pids) = limits.pids {
            limit["Pids"] = json!(pids.0);
        }
        out["Limits"] = limit;
    }
    if let Some(reservations) = &source.reservations {
        let mut reservation = json!({});
        if let Some(cpus) = reservations.cpus {
            reservation["NanoCPUs"] = json!((f64::from(cpus.0) * 1e9).round() as i64);
        }
        if let Some(memory) = reservations.memory {
            reservation["MemoryBytes"] = json!(memory.0);
        }
        out["Reservations"] = reservation;
    }
    out
}

/// The restart policy: `deploy.restart_policy`, else from `restart` (none for `no`).
fn restart_policy(restart: &str, policy: Option<&xcompose_loader::model::RestartPolicy>) -> Option<Value> {
    if let Some(policy) = policy {
        let mut out = json!({"Condition": policy.condition});
        if let Some(delay) = policy.delay {
            out["Delay"] = json!(delay.0);
        }
        if let Some(attempts) = policy.max_attempts {
            out["MaxAttempts"] = json!(attempts);
        }
        if let Some(window) = policy.window {
            out["Window"] = json!(window.0);
        }
        return Some(out);
    }
    match restart {
        "" | "no" => None,
        "always" | "unless-stopped" => Some(json!({"Condition": "any"})),
        other => {
            let attempts = other.strip_prefix("on-failure").map(|r| r.trim_start_matches(':').parse::<u64>().unwrap_or(0))?;
            Some(json!({"Condition": "on-failure", "MaxAttempts": attempts}))
        }
    }
}

/// The network attachments, sorted by network: aliased by the service's name on each.
fn attachments(project: &Project, name: &str, service: &Service) -> Vec<Value> {
    let mut out: Vec<Value> = service
        .networks
        .iter()
        .map(|(key, attachment)| {
            let target = project.networks.get(key).map(|n| n.name.clone()).filter(|n| !n.is_empty()).unwrap_or_else(|| scope(&project.name, key));
            let mut aliases: Vec<String> = attachment.as_ref().map(|a| a.aliases.clone()).unwrap_or_default();
            aliases.push(name.to_string());
            json!({"Target": target, "Aliases": aliases})
        })
        .collect();
    out.sort_by(|a, b| a["Target"].as_str().cmp(&b["Target"].as_str()));
    out
}

/// The service mode from `deploy.mode` and `deploy.replicas`.
fn mode(mode: &str, replicas: Option<i64>) -> Result<Value, String> {
    let replicated = match replicas {
        Some(n) => json!({"Replicas": n}),
        None => json!({}),
    };
    match mode {
        "" | "replicated" => Ok(json!({"Replicated": replicated})),
        "global" if replicas.is_some() => Err("deploy.replicas: replicas can only be used with replicated or replicated-job mode".into()),
        "global" => Ok(json!({"Global": {}})),
        "replicated-job" => Ok(json!({"ReplicatedJob": {"MaxConcurrent": replicas, "TotalCompletions": replicas}})),
        "global-job" => Ok(json!({"GlobalJob": {}})),
        other => Err(format!("deploy.mode: unknown mode: {other}")),
    }
}

/// The endpoint: resolution mode and published ports (ingress mode, tcp unless said), sorted by
/// published port.
fn endpoint(mode: &str, service: &Service) -> Value {
    let mut ports: Vec<Value> = service
        .ports
        .iter()
        .map(|p| {
            let mut port = json!({
                "Protocol": if p.protocol.is_empty() { "tcp" } else { p.protocol.as_str() },
                "TargetPort": p.target,
                "PublishMode": if p.mode.is_empty() { "ingress" } else { p.mode.as_str() },
            });
            if let Ok(published) = p.published.parse::<u32>() {
                port["PublishedPort"] = json!(published);
            }
            port
        })
        .collect();
    ports.sort_by_key(|p| p["PublishedPort"].as_u64().unwrap_or(0));
    json!({"Mode": mode.to_lowercase(), "Ports": ports})
}

/// `UpdateConfig` / `RollbackConfig` (parallelism 1 unless set).
fn update_config(config: Option<&Value>) -> Option<Value> {
    let config = config?.as_object()?;
    let duration = |key: &str| config.get(key).and_then(Value::as_str).and_then(|d| xcompose_loader::units::Duration::parse(d).ok()).map(|d| d.0);
    let mut out = json!({"Parallelism": config.get("parallelism").and_then(Value::as_u64).unwrap_or(1)});
    if let Some(delay) = duration("delay") {
        out["Delay"] = json!(delay);
    }
    if let Some(monitor) = duration("monitor") {
        out["Monitor"] = json!(monitor);
    }
    if let Some(action) = config.get("failure_action") {
        out["FailureAction"] = action.clone();
    }
    if let Some(ratio) = config.get("max_failure_ratio") {
        out["MaxFailureRatio"] = ratio.clone();
    }
    if let Some(order) = config.get("order") {
        out["Order"] = order.clone();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(yaml: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("compose.yaml"), yaml).unwrap();
        let mut opts = xcompose_loader::ProjectOptions::default();
        opts.files.push(dir.path().join("compose.yaml"));
        opts.project_name = Some("st".into());
        xcompose_loader::load(&opts).unwrap()
    }

    #[test]
    fn services_are_scoped_labelled_and_attached() {
        let p = project("services:\n  web:\n    image: bb\n    ports: ['8080:80']\n    restart: always\n    build: .\n    expose: ['81']\n    environment: {B: '2', A: '1'}\n");
        let stack = convert(&p, &BTreeMap::new()).unwrap();
        let web = &stack.services[0];
        assert_eq!(web["Name"], "st_web");
        assert_eq!(web["Labels"], json!({"com.docker.stack.image": "bb", "com.docker.stack.namespace": "st"}));
        assert_eq!(web["TaskTemplate"]["ContainerSpec"]["Env"], json!(["A=1", "B=2"]));
        assert_eq!(web["TaskTemplate"]["Networks"], json!([{"Target": "st_default", "Aliases": ["web"]}]));
        assert_eq!(web["TaskTemplate"]["RestartPolicy"], json!({"Condition": "any"}));
        assert_eq!(web["EndpointSpec"]["Ports"], json!([{"Protocol": "tcp", "TargetPort": 80, "PublishMode": "ingress", "PublishedPort": 8080}]));
        assert_eq!(stack.networks[0].0, "st_default");
        assert_eq!(stack.networks[0].1["Driver"], "overlay");
        assert_eq!(
            stack.ignored_message(),
            "Ignoring unsupported options: build, restart\n\nIgnoring deprecated options:\n\nexpose: Exposing ports is unnecessary - services on the same network can access each other's containers on any port.\n\n"
        );
    }

    #[test]
    fn a_secret_without_content_is_refused() {
        let p = project("services:\n  web:\n    image: bb\n    secrets: [s]\nsecrets:\n  s:\n    file: ./missing\n");
        let err = convert(&p, &BTreeMap::new()).unwrap_err();
        assert!(err.starts_with("secrets.s: cannot read "), "{err}");
    }
}
