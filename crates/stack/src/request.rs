//! What the runtime is asked to create for one replica of a service: the service's settings
//! translated into a [`CreateRequest`], with the image's config, then Docker's defaults, where
//! the service says nothing.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use xcompose_cgroups::Resources;
use xcompose_container::{Mount, MountKind, NetworkNamespace, Rlimit};
use xcompose_loader::model::{Service, Ulimit};
use xcompose_runtime::CreateRequest;
use xcompose_supervisor::restart::RestartPolicy;

use crate::image_config::{self, ImageDefaults};
use crate::StackError;

/// What a service's settings become, apart from what depends on other containers (the network
/// namespace) and on the image (the process): filled in by the caller.
pub(crate) fn create_request(service_name: &str, service: &Service, name: &str, image: &ImageDefaults) -> Result<CreateRequest, StackError> {
    let invalid = |message: String| StackError::Service { service: service_name.to_string(), message };
    Ok(CreateRequest {
        name: name.to_string(),
        image: service.image.clone(),
        user: String::new(),
        hostname: (!service.hostname.is_empty()).then(|| service.hostname.clone()),
        domainname: service.domainname.clone(),
        network: NetworkNamespace::New,
        sysctls: service.sysctls.clone(),
        shm_size: service.shm_size.map(|b| b.0.max(0) as u64).unwrap_or(0),
        privileged: service.privileged,
        labels: Default::default(),
        restart: restart_policy(service).map_err(invalid)?,
        healthcheck: image_config::healthcheck(service.healthcheck.as_ref(), image),
        mounts: tmpfs_mounts(&service.tmpfs).map_err(invalid)?,
        resources: resources(service).map_err(invalid)?,
        read_only: service.read_only,
        init: service.init.unwrap_or(false),
        rlimits: service.ulimits.iter().map(|(name, limit)| rlimit(name, limit)).collect(),
        stop_signal: image_config::stop_signal(&service.stop_signal, image).map_err(invalid)?,
        exposed_ports: image_config::exposed_ports(&service.expose, image).map_err(invalid)?,
        stop_grace: service.stop_grace_period.map(|d| Duration::from_nanos(d.0.max(0) as u64)).unwrap_or(xcompose_runtime::DEFAULT_STOP_GRACE),
        group_add: service.group_add.clone(),
        tty: service.tty,
        stdin_open: service.stdin_open,
        host_userns: crate::userns::host_ids(service),
        log: crate::logging::log_options(service.logging.as_ref()).map_err(invalid)?,
        devices: crate::devices::devices(service).map_err(invalid)?.0,
        oom_score_adj: service.oom_score_adj.map(|n| n.0 as i32),
        cgroup_parent: (!service.cgroup_parent.is_empty()).then(|| service.cgroup_parent.clone()),
        // The process and the namespaces (which depend on the image and on other containers)
        // are filled in by the caller.
        ..CreateRequest::new(name, &service.image, xcompose_container::ContainerSpec::new(xcompose_container::RootFs::Directory(PathBuf::new()), Vec::new()).process)
    })
}

/// What of a service's settings can be refused without creating anything, checked for every
/// service before `up` changes anything: namespace modes, logging, devices, cgroup settings.
pub(crate) fn check(service: &Service) -> Result<(), String> {
    crate::namespaces::check(service)?;
    crate::logging::log_options(service.logging.as_ref())?;
    let resources = resources(service)?;
    if xcompose_rootless::active() {
        check_rootless(service, &resources)?;
    }
    Ok(())
}

/// What rootless mode refuses on this host: cgroup limits (no cgroup v2 delegation on a v1
/// host) and published ports the host does not let an ordinary user bind.
fn check_rootless(service: &Service, resources: &Resources) -> Result<(), String> {
    // Device rules are no limit here: devices are bound from the host's /dev in a user namespace.
    if *resources != (Resources { devices: resources.devices.clone(), ..Resources::default() }) {
        return Err(xcompose_rootless::limits::refuse_cgroup_limits("resource limits"));
    }
    for port in &service.ports {
        let lowest = port.published.split('-').next().and_then(|p| p.parse::<u16>().ok());
        if let Some(refusal) = lowest.and_then(xcompose_rootless::limits::refuse_port) {
            return Err(refusal);
        }
    }
    Ok(())
}

/// `restart:`, or `deploy.restart_policy` (compose maps `any` to `always`).
fn restart_policy(service: &Service) -> Result<RestartPolicy, String> {
    if !service.restart.is_empty() {
        return RestartPolicy::from_str(&service.restart);
    }
    match service.deploy.as_ref().and_then(|d| d.restart_policy.as_ref()) {
        Some(p) => match p.condition.as_str() {
            "none" => Ok(RestartPolicy::No),
            "on-failure" => Ok(RestartPolicy::OnFailure { max_retries: p.max_attempts.map(|n| n as u32) }),
            _ => Ok(RestartPolicy::Always),
        },
        None => Ok(RestartPolicy::No),
    }
}

/// `tmpfs: [/run, "/tmp:size=64m,mode=1777"]`.
fn tmpfs_mounts(entries: &[String]) -> Result<Vec<Mount>, String> {
    entries
        .iter()
        .map(|entry| {
            let (target, options) = entry.split_once(':').unwrap_or((entry, ""));
            let mut size = None;
            let mut mode = None;
            for option in options.split(',').filter(|o| !o.is_empty()) {
                match option.split_once('=') {
                    Some(("size", v)) => size = Some(xcompose_loader::units::Bytes::parse(v)?.0.max(0) as u64),
                    Some(("mode", v)) => mode = Some(u32::from_str_radix(v, 8).map_err(|_| format!("tmpfs {entry:?}: invalid mode {v:?}"))?),
                    _ => {}
                }
            }
            Ok(Mount { target: target.into(), kind: MountKind::Tmpfs { size, mode }, read_only: options.split(',').any(|o| o == "ro") })
        })
        .collect()
}

/// Limits from the service's own keys, with `deploy.resources.limits` winning (as compose),
/// and `deploy.resources.reservations.memory` as the soft limit. A CPU reservation is a swarm
/// setting that compose does not pass to the engine (its `setReservations`): nor does this.
fn resources(service: &Service) -> Result<Resources, String> {
    let deploy = service.deploy.as_ref().map(|d| &d.resources);
    let limits = deploy.and_then(|r| r.limits.as_ref());
    let reserved_memory = deploy.and_then(|r| r.reservations.as_ref()).and_then(|r| r.memory).filter(|m| m.0 > 0);
    let swappiness = match service.mem_swappiness.map(|b| b.0) {
        Some(s @ 0..=100) => Some(s as u64),
        // Docker's -1: the host's default.
        Some(-1) | None => None,
        Some(other) => return Err(format!("mem_swappiness {other}: use 0 to 100")),
    };
    Ok(Resources {
        memory_limit: limits.and_then(|l| l.memory).or(service.mem_limit).map(|b| b.0),
        memory_reservation: reserved_memory.or(service.mem_reservation).map(|b| b.0),
        memory_swap_limit: service.memswap_limit.map(|b| b.0),
        cpus: limits.and_then(|l| l.cpus).or(service.cpus).map(|c| f64::from(c.0)).filter(|c| *c > 0.0),
        cpu_shares: service.cpu_shares.map(|s| s.0.max(0) as u64),
        cpuset_cpus: (!service.cpuset.is_empty()).then(|| service.cpuset.clone()),
        pids_limit: limits.and_then(|l| l.pids).or(service.pids_limit).map(|p| p.0),
        cpu_quota: service.cpu_quota.map(|q| q.0),
        cpu_period: service.cpu_period.map(|p| p.0.max(0) as u64),
        cpu_rt_runtime: service.cpu_rt_runtime.map(|r| r.0),
        cpu_rt_period: service.cpu_rt_period.map(|p| p.0.max(0) as u64),
        memory_swappiness: swappiness,
        oom_kill_disable: service.oom_kill_disable,
        blkio: crate::blkio::blkio(service.blkio_config.as_ref())?,
        devices: Some(crate::devices::devices(service)?.1),
    })
}

fn rlimit(name: &str, limit: &Ulimit) -> Rlimit {
    let (soft, hard) = match limit {
        Ulimit::Single(n) => (n.0, n.0),
        Ulimit::Range { soft, hard } => (soft.0, hard.0),
    };
    Rlimit { name: name.to_string(), soft: soft.max(0) as u64, hard: hard.max(0) as u64 }
}

/// Where a relative bind-mount source points: relative to the project directory.
pub(crate) fn bind_source(project_dir: &Path, source: &str) -> PathBuf {
    let path = Path::new(source);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        project_dir.join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_options() {
        let m = tmpfs_mounts(&["/run".into(), "/tmp:size=1m,mode=1777".into()]).unwrap();
        assert_eq!(m[0].kind, MountKind::Tmpfs { size: None, mode: None });
        assert_eq!(m[1].kind, MountKind::Tmpfs { size: Some(1 << 20), mode: Some(0o1777) });
        assert!(tmpfs_mounts(&["/tmp:mode=9x".into()]).is_err());
    }
}
