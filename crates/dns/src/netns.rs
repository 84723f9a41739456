//! Sockets made inside a container's network namespace: a thread enters the namespace, makes
//! them and ends. A socket stays in the namespace it was made in, so the resolver serves them
//! from its own thread, in the host's namespace, where it also asks the upstream resolvers.
//!
//! As Docker does, the sockets are bound to 127.0.0.11 on ports the kernel picks, and NAT rules
//! of the container's namespace lead 127.0.0.11:53 to them: the container's own programs may
//! then listen on port 53 of every address (a DNS server in a container, such as pihole, binds
//! 0.0.0.0:53, which a socket on 127.0.0.11:53 would prevent).

use std::fs::File;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::sched::CloneFlags;

use crate::{Error, RESOLVER_ADDRESS};

/// What identifies a network namespace: the device and inode of its nsfs file. A container
/// whose namespace was made anew at the same path has another.
pub(crate) type NamespaceId = (u64, u64);

/// The UDP socket and TCP listener of one container.
#[derive(Debug)]
pub(crate) struct Listeners {
    /// Queries over UDP.
    pub(crate) udp: UdpSocket,
    /// Queries over TCP.
    pub(crate) tcp: TcpListener,
}

/// The identity of the network namespace pinned at `netns`, and a UDP socket and a TCP listener
/// inside it that queries to [`RESOLVER_ADDRESS`] reach.
pub(crate) fn bind_in(netns: &Path) -> Result<(NamespaceId, Listeners), Error> {
    let enter_err = |source| Error::Netns { path: netns.to_path_buf(), source };
    let file = File::open(netns).map_err(enter_err)?;
    let meta = file.metadata().map_err(enter_err)?;
    let any_port = SocketAddr::new(RESOLVER_ADDRESS.ip(), 0);
    let bind_err = |protocol| move |source| Error::Bind { protocol, addr: any_port, netns: netns.to_path_buf(), source };
    // The thread ends right after: nothing else ever runs in the container's namespace, and
    // the process's own threads never leave the host's.
    let listeners = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                nix::sched::setns(&file, CloneFlags::CLONE_NEWNET).map_err(|e| enter_err(e.into()))?;
                let udp = UdpSocket::bind(any_port).map_err(bind_err("udp"))?;
                let tcp = TcpListener::bind(any_port).map_err(bind_err("tcp"))?;
                let ports = (udp.local_addr().map_err(bind_err("udp"))?.port(), tcp.local_addr().map_err(bind_err("tcp"))?.port());
                redirect(ports).map_err(|message| Error::Redirect { netns: netns.to_path_buf(), message })?;
                Ok(Listeners { udp, tcp })
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })?;
    Ok(((meta.dev(), meta.ino()), listeners))
}

/// The NAT table of the calling thread's network namespace: queries to [`RESOLVER_ADDRESS`]
/// over UDP and TCP go to the ports `(udp, tcp)` of 127.0.0.11 (the answers go back through the
/// connection tracking). The whole table is replaced, so a resolver started again replaces the
/// rules of the one before (Docker writes its rules to the container's NAT table too).
fn redirect((udp, tcp): (u16, u16)) -> Result<(), String> {
    let ip = RESOLVER_ADDRESS.ip();
    let port = RESOLVER_ADDRESS.port();
    let script = format!(
        "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n\
         -A OUTPUT -d {ip}/32 -p udp -m udp --dport {port} -j DNAT --to-destination {ip}:{udp}\n\
         -A OUTPUT -d {ip}/32 -p tcp -m tcp --dport {port} -j DNAT --to-destination {ip}:{tcp}\n\
         COMMIT\n"
    );
    // A child of this thread starts in its network namespace.
    let mut child = Command::new("iptables-restore")
        .arg("--wait")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running iptables-restore: {e} (package iptables)"))?;
    child.stdin.take().expect("stdin is piped").write_all(script.as_bytes()).map_err(|e| format!("writing to iptables-restore: {e}"))?;
    let out = child.wait_with_output().map_err(|e| format!("iptables-restore: {e}"))?;
    if !out.status.success() {
        return Err(format!("iptables-restore: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_pins_no_namespace_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("netns");
        std::fs::write(&path, "").unwrap();
        let err = bind_in(&path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("entering the network namespace {}", path.display())), "{err}");
        let err = bind_in(&dir.path().join("gone")).unwrap_err().to_string();
        assert!(err.contains("gone"), "{err}");
    }
}
