//! NetworkPolicies that reproduce compose networks' isolation: a pod takes connections only
//! from pods on one of its networks (each network a pod label), plus, with a NodePort or
//! LoadBalancer Service, from anywhere on its published ports; a service on internal networks
//! only connects to pods on them (and DNS). kompose makes the first kind only, and no
//! internal-network egress rule.

use serde_json::{json, Value};

use super::container::protocol;
use super::context::Context;
use super::{meta, ServiceType};

/// The policies of the project.
pub fn objects(ctx: &mut Context) -> Vec<Value> {
    let mut out = Vec::new();
    let attached = |ctx: &Context, network: &str| {
        ctx.project.services.iter().any(|(n, s)| !ctx.runs_as_init(n) && s.network_mode.is_empty() && s.networks.contains_key(network))
    };
    for network in ctx.project.networks.keys() {
        if !attached(ctx, network) {
            continue;
        }
        let k8s = ctx.networks.get(network);
        let on_network = json!({"matchLabels": {meta::network_label(&k8s): "true"}});
        out.push(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta::metadata(ctx, &format!("{k8s}-network"), None),
            "spec": {"podSelector": on_network, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": on_network}]}]},
        }));
    }
    for (name, service) in &ctx.project.services {
        if ctx.runs_as_init(name) || !service.network_mode.is_empty() {
            continue;
        }
        let object_name = ctx.services.get(name);
        let published: Vec<Value> = service
            .ports
            .iter()
            .filter(|p| !p.published.is_empty())
            .map(|p| json!({"port": p.target, "protocol": protocol(&p.protocol)}))
            .collect();
        if !published.is_empty() && ctx.options.service_type != ServiceType::ClusterIp {
            out.push(json!({
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": meta::metadata(ctx, &format!("{object_name}-published"), Some(name)),
                "spec": {"podSelector": {"matchLabels": meta::selector(ctx, name)}, "policyTypes": ["Ingress"], "ingress": [{"ports": published}]},
            }));
        }
        let networks: Vec<&String> = service.networks.keys().collect();
        let all_internal = !networks.is_empty() && networks.iter().all(|n| ctx.project.networks.get(*n).is_some_and(|net| net.internal));
        if all_internal {
            let mut to: Vec<Value> = networks
                .iter()
                .map(|n| json!({"podSelector": {"matchLabels": {meta::network_label(&ctx.networks.get(n)): "true"}}}))
                .collect();
            to.sort_by_key(|v| v.to_string());
            out.push(json!({
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": meta::metadata(ctx, &format!("{object_name}-internal"), Some(name)),
                "spec": {
                    "podSelector": {"matchLabels": meta::selector(ctx, name)},
                    "policyTypes": ["Egress"],
                    "egress": [
                        {"to": to},
                        {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
                    ],
                },
            }));
        }
    }
    out
}
