//! What a service's container runs, from the service and its image's config, with Docker's rules:
//! `entrypoint` in the service replaces the image's and drops the image's `Cmd` (an empty one
//! keeps it); `command`
//! replaces the image's `Cmd`; the service's environment overrides the image's by key; the
//! service's `working_dir` and `user` win over the image's.

use xcompose_container::{capability_set, Process};
use xcompose_loader::model::Service;

/// Why a service cannot become a process.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProcessError {
    /// Neither the service nor the image names a command.
    #[error("service {0:?} has no command: set `command` or `entrypoint`, or use an image with a CMD")]
    NoCommand(String),
    /// A `security_opt` entry is wrong or cannot be applied.
    #[error("{0}")]
    Security(String),
    /// A capability name is unknown.
    #[error("service {service:?}: {message}")]
    Capability {
        /// The service.
        service: String,
        /// What is wrong.
        message: String,
    },
}

/// The process for `service_name`, given its image's config. The user stays a name here when
/// the service gives one (`uid`/`gid` are filled by resolving it in the image's `/etc/passwd`),
/// so this returns it beside the process. A seccomp profile file is looked up in `project_dir`.
pub fn process_for(
    service_name: &str,
    service: &Service,
    image: Option<&oci_spec::image::Config>,
    project_dir: &std::path::Path,
) -> Result<(Process, String), ProcessError> {
    let image_entrypoint = image.and_then(|c| c.entrypoint().clone()).unwrap_or_default();
    let image_cmd = image.and_then(|c| c.cmd().clone()).unwrap_or_default();
    let (entrypoint, cmd) = match (&service.entrypoint, &service.command) {
        (Some(entrypoint), Some(command)) => (entrypoint.clone(), command.clone()),
        // Docker's merge: an empty entrypoint clears the image's but keeps its CMD.
        (Some(entrypoint), None) if entrypoint.is_empty() => (Vec::new(), image_cmd),
        (Some(entrypoint), None) => (entrypoint.clone(), Vec::new()),
        (None, Some(command)) => (image_entrypoint, command.clone()),
        (None, None) => (image_entrypoint, image_cmd),
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(ProcessError::NoCommand(service_name.to_string()));
    }
    let mut env: Vec<String> = image.and_then(|c| c.env().clone()).unwrap_or_default();
    for (key, value) in &service.environment {
        // A variable declared without a value and not found in the host environment is left unset.
        let Some(value) = value else { continue };
        env.retain(|e| e.split_once('=').map(|(k, _)| k) != Some(key.as_str()));
        // Interpolation already turned `$$` into `$`: values are taken as they are.
        env.push(format!("{key}={value}"));
    }
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    }
    let cwd = if service.working_dir.is_empty() {
        image.and_then(|c| c.working_dir().clone()).filter(|w| !w.is_empty()).unwrap_or_else(|| "/".into())
    } else {
        service.working_dir.clone()
    };
    let user = if service.user.is_empty() { image.and_then(|c| c.user().clone()).unwrap_or_default() } else { service.user.clone() };
    let capabilities = capability_set(&service.cap_add, &service.cap_drop, service.privileged)
        .map_err(|message| ProcessError::Capability { service: service_name.to_string(), message })?;
    let security = crate::security::security_for(service, project_dir).map_err(ProcessError::Security)?;
    let process = Process {
        args,
        env,
        cwd: cwd.into(),
        uid: 0,
        gid: 0,
        additional_gids: Vec::new(),
        capabilities,
        no_new_privileges: security.no_new_privileges,
        seccomp: security.seccomp,
    };
    Ok((process, user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use oci_spec::image::ConfigBuilder;

    fn image(entrypoint: &[&str], cmd: &[&str]) -> oci_spec::image::Config {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        ConfigBuilder::default()
            .entrypoint(v(entrypoint))
            .cmd(v(cmd))
            .env(vec!["PATH=/bin".to_string(), "A=image".to_string()])
            .working_dir("/app")
            .user("app")
            .build()
            .unwrap()
    }

    fn svc(entrypoint: Option<&[&str]>, command: Option<&[&str]>) -> Service {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Service { entrypoint: entrypoint.map(v), command: command.map(v), ..Default::default() }
    }

    #[test]
    fn entrypoint_and_cmd_follow_dockers_table() {
        let img = image(&["/entry"], &["default"]);
        let args = |s: Service| process_for("s", &s, Some(&img), Path::new("/")).unwrap().0.args;
        assert_eq!(args(svc(None, None)), vec!["/entry", "default"]);
        assert_eq!(args(svc(None, Some(&["mine"]))), vec!["/entry", "mine"]);
        assert_eq!(args(svc(Some(&["/other"]), None)), vec!["/other"], "a new entrypoint drops the image's CMD");
        assert_eq!(args(svc(Some(&["/other"]), Some(&["x"]))), vec!["/other", "x"]);
        assert_eq!(args(svc(Some(&[]), Some(&["sh"]))), vec!["sh"], "an empty entrypoint clears the image's");
        assert_eq!(args(svc(Some(&[]), None)), vec!["default"], "an empty entrypoint alone runs the image's CMD");
        let bare = image(&[], &[]);
        assert_eq!(process_for("s", &svc(None, None), Some(&bare), Path::new("/")).unwrap_err(), ProcessError::NoCommand("s".into()));
    }

    #[test]
    fn environment_workdir_user_and_capabilities() {
        let img = image(&[], &["sh"]);
        let mut s = svc(None, None);
        s.environment.insert("A".into(), Some("service".into()));
        s.environment.insert("B".into(), Some("p$w".into()));
        s.environment.insert("UNSET".into(), None);
        s.cap_add = vec!["NET_ADMIN".into()];
        s.security_opt = vec!["no-new-privileges:true".into()];
        let (p, user) = process_for("s", &s, Some(&img), Path::new("/")).unwrap();
        assert_eq!(p.env, vec!["PATH=/bin", "A=service", "B=p$w"]);
        assert_eq!((p.cwd.to_str().unwrap(), user.as_str()), ("/app", "app"));
        assert!(p.capabilities.contains(&caps::Capability::CAP_NET_ADMIN) && p.no_new_privileges);
        s.working_dir = "/srv".into();
        s.user = "1000:1000".into();
        let (p, user) = process_for("s", &s, Some(&img), Path::new("/")).unwrap();
        assert_eq!((p.cwd.to_str().unwrap(), user.as_str()), ("/srv", "1000:1000"));
        s.cap_add = vec!["FLY".into()];
        assert!(matches!(process_for("s", &s, Some(&img), Path::new("/")), Err(ProcessError::Capability { .. })));
    }
}
