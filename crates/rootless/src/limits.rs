//! What rootless mode cannot do on this host, refused with what to change: cgroup limits
//! without cgroup v2 delegation, and ports below the host's
//! `net.ipv4.ip_unprivileged_port_start`.

use std::sync::OnceLock;

/// The host's `net.ipv4.ip_unprivileged_port_start`, read before joining the holder's network
/// namespace (which has its own value).
static HOST_PORT_START: OnceLock<u16> = OnceLock::new();

/// The file of the sysctl, for the network namespace of the reader.
const PORT_START_SYSCTL: &str = "/proc/sys/net/ipv4/ip_unprivileged_port_start";
/// The kernel's default of the sysctl.
const DEFAULT_PORT_START: u16 = 1024;

/// Reads the host's unprivileged port start; called before leaving the host's network namespace.
pub(crate) fn record_host_port_start() {
    let value = std::fs::read_to_string(PORT_START_SYSCTL).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(DEFAULT_PORT_START);
    let _ = HOST_PORT_START.set(value);
}

/// The refusal of publishing `port` in rootless mode, if the host does not let ordinary users
/// bind it.
pub fn refuse_port(port: u16) -> Option<String> {
    let start = *HOST_PORT_START.get()?;
    (port < start).then(|| {
        format!(
            "port {port} cannot be published rootless: ports below {start} need root on this host; publish a port >= {start}, or lower the sysctl net.ipv4.ip_unprivileged_port_start (e.g. to {port})"
        )
    })
}

/// The refusal of cgroup limits in rootless mode, naming what `what` needed: on a cgroup v1
/// host there is nothing to delegate; on a v2 host, delegation is not used yet.
pub fn refuse_cgroup_limits(what: &str) -> String {
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        format!("{what}: cgroup limits need cgroup v2 delegation, which rootless xcompose does not use yet; run as root")
    } else {
        format!("{what}: cgroup limits need cgroup v2 delegation; this host has cgroup v1 (run as root, or boot with the unified hierarchy and delegate controllers to the user)")
    }
}
