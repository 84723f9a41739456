//! Outbound access of the user's network namespace: slirp4netns (Debian's package) attached to
//! a fresh holder gives it a tap device `tap0` with 10.0.2.100/24, a default route through
//! 10.0.2.2 and a DNS forwarder at 10.0.2.3; connections leave from the host as the user's own.
//! Loopback of the host is not reachable from inside (`--disable-host-loopback`, podman's default).
//!
//! slirp4netns opens /dev/net/tun as the user: where the device is 0600, it is refused with the fix.

use std::fs::OpenOptions;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::{Result, RootlessError};

/// slirp4netns's DNS forwarder, the namespace's resolver where the host's is on its loopback.
const SLIRP_DNS: &str = "10.0.2.3";
/// The tap device's name inside the user's network namespace.
const TAP: &str = "tap0";
/// The MTU slirp4netns is fastest with (podman's and rootlesskit's choice).
const MTU: &str = "65520";
/// The descriptor slirp4netns writes to once the tap device is configured.
const READY_FD: i32 = 3;

/// Checks that ordinary users may open /dev/net/tun, with the fix where they may not.
pub(crate) fn check_tun() -> Result<()> {
    match OpenOptions::new().read(true).write(true).open("/dev/net/tun") {
        Ok(_) => Ok(()),
        Err(e) => Err(RootlessError::Setup(format!(
            "cannot open /dev/net/tun ({e}): rootless networking needs it usable by ordinary users; as root run `chmod 0666 /dev/net/tun` (Debian ships it 0666), or load the tun module (`modprobe tun`)"
        ))),
    }
}

/// Starts slirp4netns for holder `holder` in a session of its own, waits until its tap device is
/// up, and records its pid in `pid_file` (so that the next holder's start can end it).
pub(crate) fn start(holder: u32, pid_file: &Path) -> Result<()> {
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

/// Ends the slirp4netns `pid_file` names, if it still runs (its holder died).
pub(crate) fn end(pid_file: &Path) {
    let Some(pid) = std::fs::read_to_string(pid_file).ok().and_then(|p| p.trim().parse::<i32>().ok()) else { return };
    let is_slirp = std::fs::read(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.starts_with(b"slirp4netns"));
    if is_slirp {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    }
    let _ = std::fs::remove_file(pid_file);
}

/// The user's namespace's resolv.conf for the host's `text`: `nameserver` lines naming a loopback
/// address (systemd-resolved's 127.0.0.53, a local dnsmasq), unreachable from the namespace, become
/// slirp4netns's forwarder (which asks the host's resolvers); everything else is kept, as podman
/// does. `None` when nothing changes.
pub(crate) fn namespace_resolv_conf(text: &str) -> Option<String> {
    let mut changed = false;
    let mut out = String::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let loopback = matches!((words.next(), words.next().and_then(|a| a.parse::<std::net::IpAddr>().ok())), (Some("nameserver"), Some(ip)) if ip.is_loopback());
        if loopback {
            if !changed {
                out.push_str(&format!("nameserver {SLIRP_DNS}\n"));
            }
            changed = true;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    changed.then_some(out)
}

/// Binds the namespace's resolv.conf (see [`namespace_resolv_conf`]), written to `runtime_dir`,
/// over /etc/resolv.conf in the holder's mount namespace, where the host's names a loopback
/// resolver.
pub(crate) fn bind_resolv_conf(runtime_dir: &Path) -> Result<()> {
    let Ok(host) = std::fs::read_to_string("/etc/resolv.conf") else { return Ok(()) };
    let Some(text) = namespace_resolv_conf(&host) else { return Ok(()) };
    let path = runtime_dir.join("resolv.conf");
    std::fs::write(&path, text).map_err(|e| RootlessError::Setup(format!("writing {}: {e}", path.display())))?;
    nix::mount::mount(Some(&path), "/etc/resolv.conf", None::<&str>, nix::mount::MsFlags::MS_BIND, None::<&str>)
        .map_err(|e| RootlessError::Setup(format!("binding {} over /etc/resolv.conf: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_resolvers_become_slirp4netns_forwarder_once() {
        let host = "# stub\nnameserver 127.0.0.53\nnameserver ::1\noptions edns0\nsearch lan\n";
        assert_eq!(namespace_resolv_conf(host).unwrap(), "# stub\nnameserver 10.0.2.3\noptions edns0\nsearch lan\n");
        assert_eq!(namespace_resolv_conf("nameserver 192.0.2.53\n"), None);
    }
}
