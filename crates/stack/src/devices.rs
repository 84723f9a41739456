//! `devices`, `device_cgroup_rules` and `privileged`: the device nodes a service's containers get
//! and the device cgroup rules that let them use them, as Docker does.

use std::path::Path;

use serde_json::Value;
use xcompose_cgroups::DeviceAccess;
use xcompose_container::Device;
use xcompose_loader::model::Service;

/// One `devices` entry: `HOST[:CONTAINER[:PERMISSIONS]]` or `{source, target, permissions}`.
fn entry(value: &Value) -> Result<(String, String, String), String> {
    let (source, target, permissions) = match value {
        Value::String(text) => {
            let parts: Vec<&str> = text.splitn(3, ':').collect();
            match parts.as_slice() {
                [source] => (source.to_string(), String::new(), String::new()),
                // `HOST:PERMISSIONS` when the second part reads as permissions (Docker's parser).
                [source, second] if is_permissions(second) => (source.to_string(), String::new(), second.to_string()),
                [source, target] => (source.to_string(), target.to_string(), String::new()),
                [source, target, permissions] => (source.to_string(), target.to_string(), permissions.to_string()),
                _ => unreachable!("splitn(3) gives one to three parts"),
            }
        }
        Value::Object(map) => {
            let field = |k: &str| map.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            (field("source"), field("target"), field("permissions"))
        }
        other => return Err(format!("devices: invalid entry {other}")),
    };
    if !source.starts_with('/') {
        if source.contains('=') {
            return Err(format!("devices {source:?}: CDI device names need a CDI registry; xcompose has none: give the device's host path"));
        }
        return Err(format!("devices {source:?}: not an absolute host path to a device"));
    }
    let target = if target.is_empty() { source.clone() } else { target };
    let permissions = if permissions.is_empty() { "rwm".to_string() } else { permissions };
    if !is_permissions(&permissions) {
        return Err(format!("devices {source:?}: invalid permissions {permissions:?}: use any of r, w, m"));
    }
    Ok((source, target, permissions))
}

fn is_permissions(text: &str) -> bool {
    !text.is_empty() && text.len() <= 3 && text.chars().all(|c| "rwm".contains(c))
}

/// `device_cgroup_rules` entries as Docker checks them: `TYPE MAJOR:MINOR PERMISSIONS`.
fn check_rule(rule: &str) -> Result<(), String> {
    let number = |n: &str| n == "*" || (!n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    let valid = match rule.split_whitespace().collect::<Vec<_>>().as_slice() {
        [kind, numbers, permissions] => {
            ["a", "b", "c"].contains(kind) && numbers.split_once(':').is_some_and(|(ma, mi)| number(ma) && number(mi)) && is_permissions(permissions)
        }
        _ => false,
    };
    if valid { Ok(()) } else { Err(format!("device_cgroup_rules: invalid device cgroup format {rule:?}: use \"TYPE MAJOR:MINOR PERMISSIONS\", as \"c 1:3 rwm\"")) }
}

/// The nodes to make and the device cgroup's rules: every device for a privileged container,
/// else Docker's defaults, `device_cgroup_rules` and the `devices`.
pub(crate) fn devices(service: &Service) -> Result<(Vec<Device>, DeviceAccess), String> {
    let mut nodes = Vec::new();
    let mut rules = Vec::new();
    for value in &service.devices {
        let (source, target, permissions) = entry(value)?;
        let device = Device::from_host(Path::new(&source), Path::new(&target))?;
        rules.push(device.cgroup_rule(&permissions));
        nodes.push(device);
    }
    for rule in &service.device_cgroup_rules {
        check_rule(rule)?;
        rules.push(rule.clone());
    }
    if !service.device_cgroup_rules.is_empty() && xcompose_cgroups::Hierarchy::detect().is_ok_and(|h| h == xcompose_cgroups::Hierarchy::Unified) {
        // Docker installs an eBPF device filter on cgroup v2; xcompose has none to enforce them.
        return Err("device_cgroup_rules cannot be enforced on this cgroup v2 host (xcompose has no eBPF device filter): remove the key".into());
    }
    let access = if service.privileged { DeviceAccess::All } else { DeviceAccess::Allow(rules) };
    Ok((nodes, access))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_as_docker_reads_them() {
        let s = |t: &str| entry(&Value::String(t.into())).unwrap();
        assert_eq!(s("/dev/null"), ("/dev/null".into(), "/dev/null".into(), "rwm".into()));
        assert_eq!(s("/dev/null:r"), ("/dev/null".into(), "/dev/null".into(), "r".into()));
        assert_eq!(s("/dev/null:/dev/mine"), ("/dev/null".into(), "/dev/mine".into(), "rwm".into()));
        assert_eq!(s("/dev/null:/dev/mine:rw"), ("/dev/null".into(), "/dev/mine".into(), "rw".into()));
        assert!(entry(&Value::String("nvidia.com/gpu=all".into())).unwrap_err().contains("CDI device names"));
        assert!(entry(&Value::String("/dev/null:/x:rwx".into())).unwrap_err().contains("invalid permissions"));
    }

    #[test]
    fn cgroup_rules_are_checked() {
        assert!(check_rule("c 1:3 rwm").is_ok() && check_rule("b *:* m").is_ok() && check_rule("a *:* rwm").is_ok());
        assert!(check_rule("c 1 rwm").is_err() && check_rule("x 1:3 r").is_err() && check_rule("c 1:3 q").is_err());
    }
}
