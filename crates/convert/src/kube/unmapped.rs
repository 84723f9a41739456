//! The compose keys with no Kubernetes equivalent: one warning per key set, never dropped
//! silently. (Keys mapped partly warn where they are converted.)

use xcompose_loader::model::Service;

use super::context::Context;

/// Why each service key without a mapping cannot map, if `service` sets it.
fn unmapped(service: &Service) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    let mut check = |set: bool, key: &'static str, why: &'static str| {
        if set {
            out.push((key, why));
        }
    };
    check(!service.devices.is_empty(), "devices", "pods cannot be given host devices (a device plugin is the Kubernetes way)");
    check(!service.device_cgroup_rules.is_empty(), "device_cgroup_rules", "pods cannot be given host devices");
    check(!service.gpus.is_empty(), "gpus", "GPUs are requested through a device plugin's resource (nvidia.com/gpu), which depends on the cluster");
    check(service.network_mode == "host", "network_mode", "host networking would give the node's network, not this machine's (the pod keeps its own)");
    check(service.network_mode == "none", "network_mode", "a pod always has a network");
    check(service.network_mode.starts_with("service:") || service.network_mode.starts_with("container:"), "network_mode", "sharing another container's network means one pod for both (the pods stay separate)");
    check(!service.container_name.is_empty(), "container_name", "Kubernetes names pods itself");
    check(!service.links.is_empty(), "links", "services find each other by their Service name; link aliases do not map");
    check(!service.external_links.is_empty(), "external_links", "no equivalent");
    check(!service.volumes_from.is_empty(), "volumes_from", "pods cannot mount another pod's volumes");
    check(!service.cgroup_parent.is_empty(), "cgroup_parent", "the kubelet chooses cgroups");
    check(!service.cgroup.is_empty(), "cgroup", "the kubelet chooses cgroups");
    check(!service.cpuset.is_empty(), "cpuset", "CPU pinning is the kubelet's CPU manager's policy, not a pod field");
    check(service.cpu_shares.is_some(), "cpu_shares", "use deploy.resources.reservations.cpus (requests)");
    check(service.cpu_quota.is_some() || service.cpu_period.is_some(), "cpu_quota", "use cpus or deploy.resources.limits.cpus (limits)");
    check(service.cpu_rt_period.is_some() || service.cpu_rt_runtime.is_some(), "cpu_rt_runtime", "no real-time scheduling in pods");
    check(service.cpu_count.is_some() || service.cpu_percent.is_some(), "cpu_count", "Windows-only; no equivalent");
    check(service.blkio_config.is_some(), "blkio_config", "no block IO limits in pods");
    check(service.memswap_limit.is_some(), "memswap_limit", "swap is the node's configuration");
    check(service.mem_swappiness.is_some(), "mem_swappiness", "swap is the node's configuration");
    check(service.oom_kill_disable, "oom_kill_disable", "no equivalent");
    check(service.oom_score_adj.is_some(), "oom_score_adj", "the kubelet sets it from the pod's QoS class");
    check(service.pids_limit.is_some() || service.deploy.as_ref().and_then(|d| d.resources.limits.as_ref()).and_then(|l| l.pids).is_some(), "pids_limit", "the pid limit is the kubelet's (podPidsLimit)");
    check(!service.ulimits.is_empty(), "ulimits", "no ulimits in pods (the container runtime's defaults apply)");
    check(!service.security_opt.is_empty(), "security_opt", "seccomp, AppArmor and SELinux options take other forms (securityContext.seccompProfile, appArmorProfile, seLinuxOptions)");
    check(!service.storage_opt.is_empty(), "storage_opt", "no equivalent");
    check(!service.userns_mode.is_empty(), "userns_mode", "user namespaces are hostUsers: false, not a mode");
    check(!service.uts.is_empty(), "uts", "no equivalent");
    check(!service.isolation.is_empty(), "isolation", "Windows-only; no equivalent");
    check(!service.runtime.is_empty(), "runtime", "use a RuntimeClass (runtimeClassName) defined in the cluster");
    check(!service.stop_signal.is_empty(), "stop_signal", "Kubernetes stops containers with SIGTERM (or the image's STOPSIGNAL)");
    check(!service.mac_address.is_empty(), "mac_address", "no equivalent");
    check(!service.domainname.is_empty(), "domainname", "no equivalent (a pod's domain comes from its Service)");
    check(service.logging.is_some(), "logging", "the cluster's logging applies");
    check(service.credential_spec.is_some(), "credential_spec", "Windows-only; no equivalent");
    check(service.develop.is_some(), "develop", "file watching is for local development");
    check(service.provider.is_some(), "provider", "provider services run on the machine of compose; no equivalent");
    check(service.models.is_some(), "models", "no equivalent");
    check(!service.post_start.is_empty(), "post_start", "lifecycle.postStart runs without the hook's user and environment");
    check(!service.pre_stop.is_empty(), "pre_stop", "lifecycle.preStop runs without the hook's user and environment");
    check(service.use_api_socket, "use_api_socket", "there is no Docker API in a pod");
    check(service.attach == Some(false), "attach", "logs are kubectl's");
    check(!service.label_file.is_empty(), "label_file", "the labels were read in; they map as the other labels do");
    check(service.deploy.as_ref().is_some_and(|d| d.rollback_config.is_some()), "deploy.rollback_config", "Deployments roll back with kubectl rollout undo");
    check(service.deploy.as_ref().is_some_and(|d| !d.endpoint_mode.is_empty()), "deploy.endpoint_mode", "a Service always has its ClusterIP (or none when headless)");
    check(service.deploy.as_ref().and_then(|d| d.resources.reservations.as_ref()).is_some_and(|r| !r.devices.is_empty() || !r.generic_resources.is_empty()), "deploy.resources.reservations.devices", "devices are requested through a device plugin's resource, which depends on the cluster");
    out
}

/// Warns about every service key that does not map, and every depends_on condition Kubernetes
/// has no ordering for.
pub fn check(ctx: &mut Context) {
    for (name, service) in &ctx.project.services {
        for (key, why) in unmapped(service) {
            ctx.warn(format!("services.{name}.{key}"), format!("{why}; left out"));
        }
        for (dep, condition) in &service.depends_on {
            if condition.condition != super::context::COMPLETED {
                ctx.warn(
                    format!("services.{name}.depends_on.{dep}"),
                    format!("Kubernetes starts pods in no order ({}): {name} must retry until {dep} answers (its readiness probe gates {dep}'s Service)", condition.condition),
                );
            }
        }
        for (network, attachment) in &service.networks {
            if let Some(attachment) = attachment {
                if !attachment.aliases.is_empty() {
                    ctx.warn(format!("services.{name}.networks.{network}.aliases"), "pods are found by their Service name only; aliases do not map");
                }
                if !attachment.ipv4_address.is_empty() || !attachment.ipv6_address.is_empty() {
                    ctx.warn(format!("services.{name}.networks.{network}.ipv4_address"), "pod addresses are the cluster's to choose");
                }
            }
        }
    }
    for (name, network) in &ctx.project.networks {
        if !network.driver.is_empty() && network.driver != "bridge" {
            ctx.warn(format!("networks.{name}.driver"), format!("the {} driver does not map: the cluster network applies (isolation kept by NetworkPolicy)", network.driver));
        }
        if !network.ipam.config.is_empty() {
            ctx.warn(format!("networks.{name}.ipam"), "subnets are the cluster's to choose");
        }
        if network.external {
            ctx.warn(format!("networks.{name}.external"), "an external network is one more label; pods of other projects must carry it to connect");
        }
    }
}
