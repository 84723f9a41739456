//! Kubernetes Services: every compose service gets one under its name, so other pods find it as
//! compose containers find each other. With ports (published or exposed) it is a ClusterIP
//! Service on the target ports (what other services connect to in compose); without, a headless
//! one, which still resolves the name to the pods (kompose creates none: the name would not
//! resolve). Published ports may also get a `<service>-published` NodePort or LoadBalancer.

use serde_json::{json, Value};
use xcompose_loader::model::Service;

use super::container::{expose_ports, protocol};
use super::context::Context;
use super::{meta, ServiceType};

/// Node ports Kubernetes allows by default.
const NODE_PORTS: std::ops::RangeInclusive<u32> = 30000..=32767;

/// The Services of compose service `name` (none when it shares another's network stack).
pub fn objects(ctx: &mut Context, name: &str, service: &Service) -> Vec<Value> {
    if !service.network_mode.is_empty() {
        return Vec::new();
    }
    let key = format!("services.{name}");
    let object_name = ctx.services.get(name);
    let mut targets: Vec<(u32, String)> = Vec::new();
    for port in &service.ports {
        let entry = (port.target, protocol(&port.protocol));
        if !targets.contains(&entry) {
            targets.push(entry);
        }
    }
    for entry in service.expose.iter().flat_map(|e| expose_ports(e)) {
        if !targets.contains(&entry) {
            targets.push(entry);
        }
    }
    let selector = meta::selector(ctx, name);
    let mut spec = json!({"selector": selector});
    if targets.is_empty() {
        spec["clusterIP"] = json!("None");
    } else {
        let ports: Vec<Value> = targets
            .iter()
            .map(|(port, proto)| json!({"name": port_name(proto, *port), "port": port, "targetPort": port, "protocol": proto}))
            .collect();
        spec["ports"] = Value::Array(ports);
    }
    let mut out = vec![json!({"apiVersion": "v1", "kind": "Service", "metadata": meta::metadata(ctx, &object_name, Some(name)), "spec": spec})];
    let published: Vec<_> = service.ports.iter().filter(|p| !p.published.is_empty()).collect();
    for (i, port) in service.ports.iter().enumerate() {
        if !port.host_ip.is_empty() && ctx.options.service_type != ServiceType::ClusterIp {
            ctx.warn(format!("{key}.ports[{i}].host_ip"), format!("{} cannot be chosen for a cluster Service; it listens on every address", port.host_ip));
        }
        if port.mode == "host" {
            ctx.warn(format!("{key}.ports[{i}].mode"), "host mode publishing has no Service equivalent (hostPort is avoided); published through the Service instead");
        }
    }
    if published.is_empty() {
        return out;
    }
    let service_type = match ctx.options.service_type {
        ServiceType::ClusterIp => {
            let list: Vec<String> = published.iter().map(|p| format!("{}->{}", p.published, p.target)).collect();
            ctx.warn(
                format!("{key}.ports"),
                format!("published ports ({}) are reachable inside the cluster only, at {object_name}:<target>; convert with --service-type loadbalancer or nodeport to publish them", list.join(", ")),
            );
            return out;
        }
        ServiceType::NodePort => "NodePort",
        ServiceType::LoadBalancer => "LoadBalancer",
    };
    let mut ports: Vec<Value> = Vec::new();
    for port in published {
        let proto = protocol(&port.protocol);
        let (start, end) = port.published.split_once('-').unwrap_or((&port.published, &port.published));
        let (Ok(start), Ok(end)) = (start.parse::<u32>(), end.parse::<u32>()) else { continue };
        for published in start..=end {
            let mut entry = json!({"name": port_name(&proto, published), "port": published, "targetPort": port.target, "protocol": proto});
            if service_type == "NodePort" && NODE_PORTS.contains(&published) {
                entry["nodePort"] = json!(published);
            }
            if !ports.iter().any(|p| p["name"] == entry["name"]) {
                ports.push(entry);
            }
        }
    }
    let published_name = format!("{}-published", &object_name[..object_name.len().min(crate::names::MAX_LABEL - 10)]);
    out.push(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta::metadata(ctx, &published_name, Some(name)),
        "spec": {"type": service_type, "selector": meta::selector(ctx, name), "ports": ports},
    }));
    out
}

/// A port's name, unique within its Service: `tcp-80`.
fn port_name(protocol: &str, port: u32) -> String {
    format!("{}-{port}", protocol.to_lowercase())
}
