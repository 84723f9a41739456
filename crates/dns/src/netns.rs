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
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::sched::CloneFlags;

use crate::nftables::{self, Dnat};
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

/// Leads queries to [`RESOLVER_ADDRESS`] over UDP and TCP, in the calling thread's network
/// namespace, to the ports `(udp, tcp)` of 127.0.0.11 (the answers go back through the
/// connection tracking). With nftables, over netlink in one transaction (no process: this was
/// one `iptables-restore` per container, 3-15 ms each); where the kernel has no nftables, with
/// `iptables-restore`. Either way what an earlier resolver wrote is replaced, so a resolver
/// started again replaces the rules of the one before (Docker writes its rules to the
/// container's NAT table with iptables; the container sees the same redirect).
fn redirect(ports: (u16, u16)) -> Result<(), String> {
    let Err(nft) = redirect_with_nftables(ports) else { return Ok(()) };
    redirect_with_iptables(ports).map_err(|iptables| format!("nftables: {nft}; {iptables}"))
}

/// The table and chain of the redirect's nftables rules.
const NFT_TABLE: &str = "xcompose_dns";
const NFT_CHAIN: &str = "output";

/// [`redirect`] as an nftables table of its own.
fn redirect_with_nftables((udp, tcp): (u16, u16)) -> std::io::Result<()> {
    let from = (RESOLVER_IPV4, RESOLVER_ADDRESS.port());
    let rules = [Dnat { protocol: IPPROTO_UDP, from, to: (RESOLVER_IPV4, udp) }, Dnat { protocol: IPPROTO_TCP, from, to: (RESOLVER_IPV4, tcp) }];
    nftables::replace_output_dnat(NFT_TABLE, NFT_CHAIN, &rules)
}

/// [`RESOLVER_ADDRESS`]'s address.
const RESOLVER_IPV4: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
/// IP protocol numbers.
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// [`redirect`] as the whole NAT table of the namespace, written by `iptables-restore`.
fn redirect_with_iptables((udp, tcp): (u16, u16)) -> Result<(), String> {
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

    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    /// In a fresh network namespace, `write` leads 127.0.0.11:53 to sockets on other ports of
    /// 127.0.0.11, over UDP and TCP; written again for new sockets, it leads to those only;
    /// and port 53 of every address stays free for the container's own server.
    fn redirect_leads_queries_to_the_resolvers_ports(write: fn((u16, u16)) -> Result<(), String>) {
        let sb = xcompose_testkit::Sandbox::new().unwrap();
        sb.in_net(|| {
            let timeout = Some(Duration::from_secs(3));
            for round in ["first", "second"] {
                let udp = UdpSocket::bind((RESOLVER_IPV4, 0)).unwrap();
                udp.set_read_timeout(timeout).unwrap();
                let tcp = TcpListener::bind((RESOLVER_IPV4, 0)).unwrap();
                write((udp.local_addr().unwrap().port(), tcp.local_addr().unwrap().port())).unwrap();

                let client = UdpSocket::bind("127.0.0.1:0").unwrap();
                client.send_to(round.as_bytes(), RESOLVER_ADDRESS).unwrap();
                let mut buf = [0; 16];
                let (len, _) = udp.recv_from(&mut buf).unwrap_or_else(|e| panic!("{round} UDP query: {e}"));
                assert_eq!(&buf[..len], round.as_bytes());

                let mut stream = TcpStream::connect_timeout(&RESOLVER_ADDRESS, Duration::from_secs(3)).unwrap();
                stream.write_all(round.as_bytes()).unwrap();
                let (mut accepted, _) = tcp.accept().unwrap();
                accepted.set_read_timeout(timeout).unwrap();
                let len = accepted.read(&mut buf).unwrap();
                assert_eq!(&buf[..len], round.as_bytes(), "{round} TCP query");
            }
            let own_server = (UdpSocket::bind("0.0.0.0:53"), TcpListener::bind("0.0.0.0:53"));
            assert!(own_server.0.is_ok() && own_server.1.is_ok(), "port 53 stays free: {own_server:?}");
        })
        .unwrap();
    }

    #[test]
    fn nftables_redirect_leads_queries_to_the_resolvers_ports() {
        redirect_leads_queries_to_the_resolvers_ports(|ports| redirect_with_nftables(ports).map_err(|e| e.to_string()));
    }

    #[test]
    fn iptables_redirect_leads_queries_to_the_resolvers_ports() {
        redirect_leads_queries_to_the_resolvers_ports(redirect_with_iptables);
    }

    #[test]
    fn the_nftables_address_is_the_resolvers() {
        assert_eq!(SocketAddr::from((RESOLVER_IPV4, RESOLVER_ADDRESS.port())), RESOLVER_ADDRESS);
    }

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
