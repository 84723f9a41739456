//! `pid`, `ipc`, `uts` and `cgroup`: which namespaces a service's containers keep
//! to themselves, share with the host, or join from another container, as Docker reads them.

use xcompose_container::{Namespace, Shm};
use xcompose_loader::model::Service;
use xcompose_runtime::CreateRequest;
use xcompose_supervisor::run::{SharedKind, SharedNamespace};

use crate::{Stack, StackError};

/// What a mode names: the container's own namespace, the host's, or another container's.
enum Mode<'a> {
    Own,
    Host,
    Other(&'a str),
}

/// Reads `key: value` where `own` lists the values meaning a namespace of its own and
/// `joins` says whether `service:x` / `container:x` are allowed.
fn mode<'a>(key: &str, value: &'a str, own: &[&str], joins: bool) -> Result<Mode<'a>, String> {
    if value.is_empty() || own.contains(&value) {
        return Ok(Mode::Own);
    }
    if value == "host" {
        return Ok(Mode::Host);
    }
    if joins && (value.starts_with("service:") || value.starts_with("container:")) {
        return Ok(Mode::Other(value));
    }
    let mut allowed: Vec<String> = own.iter().map(|v| format!("{v:?}")).collect();
    allowed.push("\"host\"".into());
    if joins {
        allowed.push("\"service:NAME\", \"container:NAME\"".into());
    }
    Err(format!("invalid {key} mode {value:?}: use {}", allowed.join(", ")))
}

/// The values Docker accepts for each key, checked before anything is created (`userns_mode`
/// other than `host` is refused with the keys xcompose does not honour, in `support`).
pub(crate) fn check(service: &Service) -> Result<(), String> {
    mode("pid", &service.pid, &[], true)?;
    mode("ipc", &service.ipc, &["private", "shareable", "none"], true)?;
    mode("uts", &service.uts, &[], false)?;
    mode("cgroup", &service.cgroup, &["private"], false)?;
    if service.uts == "host" && !service.hostname.is_empty() {
        // Docker's words (runconfig ErrConflictUTSHostname).
        return Err("conflicting options: hostname and the UTS mode".into());
    }
    Ok(())
}

impl Stack {
    /// Fills `request`'s namespaces from `service_name`'s keys; another container's namespace
    /// is joined when the container starts, and its IPC only if it is shareable (Docker's
    /// "non-shareable IPC" refusal).
    pub(crate) fn set_namespaces(&self, service_name: &str, service: &Service, request: &mut CreateRequest) -> Result<(), StackError> {
        check(service).map_err(|message| StackError::Service { service: service_name.into(), message })?;
        let ns = &mut request.namespaces;
        if mode("uts", &service.uts, &[], false).is_ok_and(|m| matches!(m, Mode::Host)) {
            ns.uts = Namespace::Host;
            // As Docker: the host's name, in /etc/hostname too.
            request.hostname = nix::unistd::gethostname().ok().map(|h| h.to_string_lossy().into_owned());
        }
        if service.cgroup == "host" {
            ns.cgroup = Namespace::Host;
        }
        match mode("pid", &service.pid, &[], true).map_err(StackError::Invalid)? {
            Mode::Own => {}
            Mode::Host => ns.pid = Namespace::Host,
            Mode::Other(reference) => {
                let record = self.runtime.find(&self.container_named(service_name, &format!("pid {reference}"), strip_service(reference))?)?;
                request.shared_namespaces.push(SharedNamespace { kind: SharedKind::Pid, container: record.name, state_path: record.supervisor.state_path });
            }
        }
        match mode("ipc", &service.ipc, &["private", "shareable", "none"], true).map_err(StackError::Invalid)? {
            Mode::Own => {
                request.ipc_shareable = service.ipc == "shareable";
                if service.ipc == "none" {
                    request.namespaces.shm = Shm::None;
                }
            }
            Mode::Host => {
                ns.ipc = Namespace::Host;
                ns.shm = Shm::Bind("/dev/shm".into());
            }
            Mode::Other(reference) => {
                let record = self.runtime.find(&self.container_named(service_name, &format!("ipc {reference}"), strip_service(reference))?)?;
                let shm = match (&record.supervisor.shm_dir, &record.supervisor.spec.namespaces.ipc) {
                    (Some(dir), _) => Shm::Bind(dir.clone()),
                    (None, Namespace::Host) => Shm::Bind("/dev/shm".into()),
                    _ => {
                        let message = format!("ipc {reference}: container {}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)", record.name);
                        return Err(StackError::Service { service: service_name.into(), message });
                    }
                };
                request.namespaces.shm = shm;
                request.shared_namespaces.push(SharedNamespace { kind: SharedKind::Ipc, container: record.name, state_path: record.supervisor.state_path });
            }
        }
        Ok(())
    }
}

/// `service:x` names service `x`; `container:x` stays as it is (see `Stack::container_named`).
fn strip_service(reference: &str) -> &str {
    reference.strip_prefix("service:").unwrap_or(reference)
}
