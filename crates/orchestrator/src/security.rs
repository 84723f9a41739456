//! `security_opt` and `privileged`: the seccomp profile and `no_new_privs` of a service's
//! processes, as Docker applies them.
//!
//! Docker's forms are taken with `=` or the older `:` (`seccomp=unconfined`, `seccomp:FILE`).
//! `seccomp=FILE` is Docker's profile JSON, relative to the project directory. A privileged
//! container runs without a filter, as with Docker. AppArmor (`apparmor=…`) and SELinux
//! (`label=…`) options are refused, with why: this host lacks the module, or xcompose does not
//! apply such profiles; only the forms asking for no confinement (`apparmor=unconfined`,
//! `label=disable`) are accepted, since that is what xcompose's containers get.

use std::path::Path;

use xcompose_loader::model::Service;
use xcompose_seccomp::Profile;

/// What a service's `security_opt` and `privileged` give its processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Security {
    /// Set `no_new_privs`.
    pub no_new_privileges: bool,
    /// The seccomp profile (`None`: unconfined).
    pub seccomp: Option<Profile>,
}

/// The security settings of `service`, whose relative profile paths are in `project_dir`.
/// Errors are one line naming the option (the caller names the service).
pub fn security_for(service: &Service, project_dir: &Path) -> Result<Security, String> {
    let mut security = Security { no_new_privileges: false, seccomp: Some(Profile::docker_default()) };
    let fail = |option: &str, why: String| format!("security_opt {option:?}: {why}");
    for option in &service.security_opt {
        let (key, value) = option.split_once(['=', ':']).unwrap_or((option.as_str(), ""));
        match (key, value) {
            ("no-new-privileges", "" | "true") => security.no_new_privileges = true,
            ("no-new-privileges", "false") => security.no_new_privileges = false,
            ("seccomp", "unconfined") => security.seccomp = None,
            ("seccomp", "") => return Err(fail(option, "give a profile file or `unconfined`".into())),
            ("seccomp", path) => {
                let path = project_dir.join(path);
                security.seccomp = Some(Profile::from_file(&path).map_err(|e| fail(option, e.to_string()))?);
            }
            ("apparmor", "unconfined") | ("label", "disable") => {}
            ("apparmor", _) => return Err(fail(option, confinement_refusal("AppArmor", Path::new("/sys/module/apparmor")))),
            ("label", _) => return Err(fail(option, confinement_refusal("SELinux", Path::new("/sys/fs/selinux")))),
            _ => return Err(fail(option, "unknown option (use seccomp=, no-new-privileges, apparmor= or label=)".into())),
        }
    }
    if service.privileged {
        // Docker: a privileged container is not confined by seccomp.
        security.seccomp = None;
    }
    Ok(security)
}

/// Why an AppArmor or SELinux profile is not applied, by whether the host has the module at
/// `marker`.
fn confinement_refusal(module: &str, marker: &Path) -> String {
    if marker.exists() {
        format!("xcompose does not apply {module} profiles; remove the option or use the unconfined form")
    } else {
        format!("{module} is not enabled on this host; remove the option")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(opts: &[&str], privileged: bool) -> Service {
        Service { security_opt: opts.iter().map(|o| o.to_string()).collect(), privileged, ..Default::default() }
    }

    #[test]
    fn docker_default_unless_unconfined_or_privileged() {
        let dir = Path::new("/");
        assert_eq!(security_for(&service(&[], false), dir).unwrap().seccomp, Some(Profile::docker_default()));
        assert_eq!(security_for(&service(&["seccomp=unconfined"], false), dir).unwrap().seccomp, None);
        assert_eq!(security_for(&service(&["seccomp:unconfined"], false), dir).unwrap().seccomp, None);
        assert_eq!(security_for(&service(&[], true), dir).unwrap().seccomp, None);
        let s = security_for(&service(&["no-new-privileges:true"], false), dir).unwrap();
        assert!(s.no_new_privileges);
        assert!(!security_for(&service(&["no-new-privileges=false"], false), dir).unwrap().no_new_privileges);
    }

    #[test]
    fn profile_files_are_relative_to_the_project() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.json"), r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#).unwrap();
        let s = security_for(&service(&["seccomp=p.json"], false), dir.path()).unwrap();
        assert_eq!(s.seccomp.unwrap().default_action, "SCMP_ACT_ALLOW");
        let err = security_for(&service(&["seccomp=missing.json"], false), dir.path()).unwrap_err();
        assert!(err.starts_with("security_opt \"seccomp=missing.json\": reading seccomp profile"), "{err}");
        std::fs::write(dir.path().join("bad.json"), r#"{"defaultAction": "SCMP_ACT_FOO"}"#).unwrap();
        assert!(security_for(&service(&["seccomp=bad.json"], false), dir.path()).unwrap_err().contains("unknown action"));
    }

    #[test]
    fn unknown_and_unavailable_options_are_refused() {
        let dir = Path::new("/");
        assert!(security_for(&service(&["bogus"], false), dir).unwrap_err().contains("unknown option"));
        assert!(security_for(&service(&["apparmor=unconfined", "label=disable"], false), dir).is_ok());
        let err = security_for(&service(&["apparmor=docker-default"], false), dir).unwrap_err();
        assert!(err.contains("AppArmor"), "{err}");
        let err = security_for(&service(&["label=type:svirt_apache_t"], false), dir).unwrap_err();
        assert!(err.contains("SELinux"), "{err}");
    }
}
