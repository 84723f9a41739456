//! `userns_mode` under a remapped state root (see `xcompose_runtime::remap`): `host` opts a
//! service out of remapping, as Docker's `--userns=host`; what needs the host's ids is refused
//! without it, with dockerd's words.

use xcompose_loader::model::Service;

/// The service keeps the host's user ids (`userns_mode: host`).
pub(crate) fn host_ids(service: &Service) -> bool {
    service.userns_mode == "host"
}

/// Refuses what dockerd refuses of a container in a remapped daemon's user namespace:
/// `privileged`, and sharing the host's network or pid namespace.
pub(crate) fn check(service: &Service, remapped: bool) -> Result<(), String> {
    if !remapped || host_ids(service) {
        return Ok(());
    }
    if service.privileged {
        return Err("privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode (userns_mode: host)".into());
    }
    if service.network_mode == "host" {
        return Err("cannot share the host's network namespace when user namespaces are enabled (add userns_mode: host)".into());
    }
    if service.pid == "host" {
        return Err("cannot share the host PID namespace when user namespaces are enabled (add userns_mode: host)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_settings_need_the_host_ids_when_remapped() {
        let mut service = Service { privileged: true, ..Default::default() };
        assert!(check(&service, false).is_ok());
        assert!(check(&service, true).unwrap_err().starts_with("privileged mode is incompatible with user namespaces"));
        service.userns_mode = "host".into();
        assert!(check(&service, true).is_ok());
        let net = Service { network_mode: "host".into(), ..Default::default() };
        assert!(check(&net, true).unwrap_err().contains("host's network namespace"));
        let pid = Service { pid: "host".into(), ..Default::default() };
        assert!(check(&pid, true).unwrap_err().contains("host PID namespace"));
    }
}
