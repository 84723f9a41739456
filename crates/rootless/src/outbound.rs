//! Outbound access of the user's network namespace, by one of two drivers attached to a fresh
//! holder, chosen with [`NET_ENV`] (`XCOMPOSE_ROOTLESS_NET`) when the holder starts (a running
//! holder keeps its driver):
//!
//! - `slirp4netns` (the default; Debian's package): a tap device `tap0` with 10.0.2.100/24, a
//!   default route through 10.0.2.2 and a DNS forwarder at 10.0.2.3; the host's loopback is not
//!   reachable from inside (`--disable-host-loopback`, podman's default).
//! - `pasta` (Debian's passt package): a tap device named and addressed as the host's interface
//!   of the default route, with its routes; DNS sent to [`PASTA_DNS`] is forwarded to the host's
//!   resolver (podman's address for it); the host's loopback is not reachable (`--no-map-gw`).
//!   pasta forwards no port itself (`-t none -u none -T none -U none`): the port agent does.
//!
//! Either way connections leave from the host as the user's own. Both open /dev/net/tun as the
//! user: where the device is 0600, it is refused with the fix.

use std::fs::OpenOptions;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::{Result, RootlessError};

/// The environment variable choosing the outbound driver: `slirp4netns` (the default) or `pasta`.
pub(crate) const NET_ENV: &str = "XCOMPOSE_ROOTLESS_NET";
/// slirp4netns's DNS forwarder, the namespace's resolver where the host's is on its loopback.
const SLIRP_DNS: &str = "10.0.2.3";
/// The address pasta forwards DNS queries from (podman's choice), the namespace's resolver where
/// the host's is on its loopback.
const PASTA_DNS: &str = "169.254.1.1";
/// The tap device's name inside the user's network namespace.
const TAP: &str = "tap0";
/// The MTU slirp4netns is fastest with (podman's and rootlesskit's choice).
const MTU: &str = "65520";
/// The descriptor slirp4netns writes to once the tap device is configured.
const READY_FD: i32 = 3;
/// The processes [`end`] may end (the start of their `/proc/PID/comm`: pasta runs as `passt`,
/// or `passt.avx2` which it executes where the processor has AVX2).
const DRIVER_COMMANDS: [&[u8]; 3] = [b"slirp4netns", b"pasta", b"passt"];

/// The program giving the user's network namespace outbound access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Driver {
    /// slirp4netns, the default.
    Slirp4netns,
    /// pasta, of the passt package.
    Pasta,
}

impl Driver {
    /// The driver [`NET_ENV`] names (slirp4netns where it is unset or empty).
    pub(crate) fn from_env() -> Result<Self> {
        Self::named(std::env::var(NET_ENV).ok().as_deref().unwrap_or(""))
    }

    /// The driver called `name` (slirp4netns for an empty name).
    fn named(name: &str) -> Result<Self> {
        match name {
            "" | "slirp4netns" => Ok(Driver::Slirp4netns),
            "pasta" => Ok(Driver::Pasta),
            other => Err(RootlessError::Setup(format!("{NET_ENV}={other:?} is not a rootless network driver: set it to slirp4netns (the default) or pasta"))),
        }
    }

    /// The resolver the namespace asks instead of a host resolver on loopback.
    fn dns(self) -> &'static str {
        match self {
            Driver::Slirp4netns => SLIRP_DNS,
            Driver::Pasta => PASTA_DNS,
        }
    }

    /// Attaches the driver to holder `holder` (in a session of its own), waits until the
    /// namespace's tap device is up, and records the driver's pid in `pid_file` (so that the
    /// next holder's start can end it).
    pub(crate) fn start(self, holder: u32, pid_file: &Path) -> Result<()> {
        match self {
            Driver::Slirp4netns => start_slirp4netns(holder, pid_file),
            Driver::Pasta => start_pasta(holder, pid_file),
        }
    }
}

/// Checks that ordinary users may open /dev/net/tun, with the fix where they may not.
pub(crate) fn check_tun() -> Result<()> {
    match OpenOptions::new().read(true).write(true).open("/dev/net/tun") {
        Ok(_) => Ok(()),
        Err(e) => Err(RootlessError::Setup(format!(
            "cannot open /dev/net/tun ({e}): rootless networking needs it usable by ordinary users; as root run `chmod 0666 /dev/net/tun` (Debian ships it 0666), or load the tun module (`modprobe tun`)"
        ))),
    }
}

/// [`Driver::start`] of slirp4netns.
fn start_slirp4netns(holder: u32, pid_file: &Path) -> Result<()> {
    let (mut ready_read, ready_write): (std::fs::File, OwnedFd) = {
        let (read, write) = nix::unistd::pipe().map_err(|e| RootlessError::Setup(format!("making a pipe: {e}")))?;
        (read.into(), write)
    };
    let write_fd = ready_write.as_raw_fd();
    let mut command = Command::new("slirp4netns");
    command
        .args(["--configure", "--mtu", MTU, "--disable-host-loopback", &format!("--ready-fd={READY_FD}")])
        .arg(format!("--userns-path=/proc/{holder}/ns/user"))
        .arg(holder.to_string())
        .arg(TAP)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid and dup2 are async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            if nix::libc::dup2(write_fd, READY_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command
        .spawn()
        .map_err(|e| RootlessError::Setup(format!("starting slirp4netns (install Debian's slirp4netns package): {e}")))?;
    drop(ready_write);
    let mut ready = [0u8; 1];
    if ready_read.read_exact(&mut ready).is_err() {
        return Err(RootlessError::Setup("slirp4netns did not bring up the user's network namespace's tap device".into()));
    }
    std::fs::write(pid_file, child.id().to_string()).map_err(|e| RootlessError::Setup(format!("writing {}: {e}", pid_file.display())))
}

/// pasta's [`Driver::start`]: pasta configures the namespace, writes its pid file and goes to the
/// background; its first process exits then, with the status of the setup.
fn start_pasta(holder: u32, pid_file: &Path) -> Result<()> {
    let log = pid_file.with_extension("log");
    let stderr = std::fs::File::create(&log).map_err(|e| RootlessError::Setup(format!("creating {}: {e}", log.display())))?;
    let mut command = Command::new("pasta");
    command
        .args(["--config-net", "--quiet", "--no-map-gw", "-t", "none", "-u", "none", "-T", "none", "-U", "none", "--dns-forward", PASTA_DNS])
        .arg("--pid")
        .arg(pid_file)
        .arg(format!("--userns=/proc/{holder}/ns/user"))
        .arg(format!("--netns=/proc/{holder}/ns/net"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        command.pre_exec(|| nix::unistd::setsid().map(drop).map_err(std::io::Error::from));
    }
    let status = command.status().map_err(|e| RootlessError::Setup(format!("starting pasta (install Debian's passt package): {e}")))?;
    if status.success() {
        return Ok(());
    }
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    let reason = said.lines().rfind(|l| !l.trim().is_empty() && !l.starts_with("Failed to send")).unwrap_or("no message");
    Err(RootlessError::Setup(format!("pasta could not connect the user's network namespace ({status}): {reason}")))
}

/// Ends the outbound driver `pid_file` names, if it still runs (its holder died).
pub(crate) fn end(pid_file: &Path) {
    let Some(pid) = std::fs::read_to_string(pid_file).ok().and_then(|p| p.trim().parse::<i32>().ok()) else { return };
    let is_driver = std::fs::read(format!("/proc/{pid}/comm")).is_ok_and(|comm| DRIVER_COMMANDS.iter().any(|name| comm.starts_with(name)));
    if is_driver {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    }
    let _ = std::fs::remove_file(pid_file);
}

/// The user's namespace's resolv.conf for the host's `text`: `nameserver` lines naming a loopback
/// address (systemd-resolved's 127.0.0.53, a local dnsmasq), unreachable from the namespace, become
/// the driver's forwarder `dns` (which asks the host's resolvers); everything else is kept, as
/// podman does. `None` when nothing changes.
fn namespace_resolv_conf(text: &str, dns: &str) -> Option<String> {
    let mut changed = false;
    let mut out = String::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let loopback = matches!((words.next(), words.next().and_then(|a| a.parse::<std::net::IpAddr>().ok())), (Some("nameserver"), Some(ip)) if ip.is_loopback());
        if loopback {
            if !changed {
                out.push_str(&format!("nameserver {dns}\n"));
            }
            changed = true;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    changed.then_some(out)
}

/// Binds the namespace's resolv.conf for `driver` (see [`namespace_resolv_conf`]), written to
/// `runtime_dir`, over /etc/resolv.conf in the holder's mount namespace, where the host's names a
/// loopback resolver.
pub(crate) fn bind_resolv_conf(runtime_dir: &Path, driver: Driver) -> Result<()> {
    let Ok(host) = std::fs::read_to_string("/etc/resolv.conf") else { return Ok(()) };
    let Some(text) = namespace_resolv_conf(&host, driver.dns()) else { return Ok(()) };
    let path = runtime_dir.join("resolv.conf");
    std::fs::write(&path, text).map_err(|e| RootlessError::Setup(format!("writing {}: {e}", path.display())))?;
    nix::mount::mount(Some(&path), "/etc/resolv.conf", None::<&str>, nix::mount::MsFlags::MS_BIND, None::<&str>)
        .map_err(|e| RootlessError::Setup(format!("binding {} over /etc/resolv.conf: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_resolvers_become_the_drivers_forwarder_once() {
        let host = "# stub\nnameserver 127.0.0.53\nnameserver ::1\noptions edns0\nsearch lan\n";
        assert_eq!(namespace_resolv_conf(host, Driver::Slirp4netns.dns()).unwrap(), "# stub\nnameserver 10.0.2.3\noptions edns0\nsearch lan\n");
        assert_eq!(namespace_resolv_conf(host, Driver::Pasta.dns()).unwrap(), "# stub\nnameserver 169.254.1.1\noptions edns0\nsearch lan\n");
        assert_eq!(namespace_resolv_conf("nameserver 192.0.2.53\n", SLIRP_DNS), None);
    }

    #[test]
    fn the_driver_is_slirp4netns_unless_pasta_is_named_and_anything_else_is_refused() {
        assert_eq!(Driver::named("").unwrap(), Driver::Slirp4netns);
        assert_eq!(Driver::named("slirp4netns").unwrap(), Driver::Slirp4netns);
        assert_eq!(Driver::named("pasta").unwrap(), Driver::Pasta);
        let err = Driver::named("vpnkit").unwrap_err().to_string();
        assert_eq!(err, "rootless xcompose: XCOMPOSE_ROOTLESS_NET=\"vpnkit\" is not a rootless network driver: set it to slirp4netns (the default) or pasta");
    }
}
