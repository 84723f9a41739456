//! The build network: where RUN steps with the default network (`--network=default`, compose's
//! `build.network` unset or `default`) run, as Docker's classic builder runs them on the default
//! bridge and BuildKit on a bridge of its own. One bridge for every build of a state root, with a
//! subnet picked by the same IPAM as compose networks (so the two never overlap) and masquerade
//! out, like any non-internal network; each RUN gets a network namespace of its own with a veth
//! pair on the bridge and an address, both gone when the step ends.
//!
//! The bridge is made on first use and kept between builds (as docker0 is kept): making it and
//! its firewall rules costs more than a RUN's own setup, and every build would pay it again.
//! `builder prune` removes it when no build uses it ([`remove`]). A build killed mid-RUN leaves a
//! veth pair and an address held: the next build, or `builder prune`, frees them ([`detach`],
//! called for each abandoned step).

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest as _, Sha256};
use xcompose_network::firewall::{self, NetworkRules};
use xcompose_network::ipam::{Ipam, IpamError, Subnet, SubnetRequest};
use xcompose_network::link::{self, Attachment, InterfaceSettings, Netns};

/// The build network's id in IPAM for state root `root`, from a text no compose network name can
/// be (names have no spaces), so that it never shares a compose network's id, bridge or subnet;
/// and from the state root (its canonical path), so that two state roots on one machine never
/// share a bridge: one's `builder prune` must not delete the other's, nor its subnet be added to
/// the other's bridge.
fn network_id(root: &Path) -> String {
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let mut hasher = Sha256::new();
    hasher.update(b"xcompose build network\0");
    hasher.update(root.as_os_str().as_encoded_bytes());
    hex::encode(hasher.finalize())
}

/// The build network's bridge of state root `root` (`xc-` and 12 hex digits, as compose
/// networks' default bridges; in their interface group, [`link::BRIDGE_GROUP`], as
/// [`link::ensure_bridge`] makes every bridge: the firewall isolates it from them as Docker
/// isolates its default bridge from user networks).
fn bridge(root: &Path) -> String {
    link::bridge_name(&network_id(root)).expect("the id is hex")
}

/// The IPAM of state root `root` (shared with compose networks).
fn ipam(root: &Path) -> Result<Ipam, String> {
    Ipam::open(root.join("ipam")).map_err(|e| format!("build network: {e}"))
}

/// The build network of a state root, set up.
#[derive(Debug, Clone)]
pub struct BuildNetwork {
    ipam: Ipam,
    id: String,
    subnet: Subnet,
}

/// The endpoint id of a RUN step's attachment, from its owner (the step's working directory
/// name): names its veth pair.
fn endpoint_id(owner: &str) -> String {
    hex::encode(Sha256::digest(format!("build/{owner}").as_bytes()))
}

fn rules(root: &Path, subnet: &Subnet) -> NetworkRules {
    NetworkRules { bridge: bridge(root), subnet: subnet.subnet, subnet6: None, internal: false, masquerade: true, icc: true }
}

impl BuildNetwork {
    /// The build network of state root `root`: its subnet (picked on first use), its bridge up
    /// and its NAT and filter rules (made again if a reboot removed them).
    pub fn ensure(root: &Path) -> Result<Self, String> {
        let ipam = ipam(root)?;
        let id = network_id(root);
        let subnet = ipam.create_network(&id, &SubnetRequest::default()).map_err(|e| format!("build network: {e}"))?;
        // A second try: another build may have made the bridge between the first one's look
        // and its request.
        let bridge = bridge(root);
        link::ensure_bridge(&id, &bridge, subnet.gateway_net(), None)
            .or_else(|_| link::ensure_bridge(&id, &bridge, subnet.gateway_net(), None))
            .map_err(|e| format!("build network bridge: {e}"))?;
        firewall::add_network(&rules(root, &subnet)).map_err(|e| format!("build network rules: {e}"))?;
        Ok(Self { ipam, id, subnet })
    }

    /// Attaches the pinned namespace `netns` of the RUN step `owner`: an address of the build
    /// subnet on its `eth0`, the default route through the bridge. The address.
    pub fn attach(&self, owner: &str, netns: &Path) -> Result<Ipv4Addr, String> {
        let id = &self.id;
        let address = self.ipam.allocate(id, owner, None).map_err(|e| format!("build network: {e}"))?;
        let attachment = Attachment {
            bridge: link::bridge_name(id).expect("the id is hex"),
            endpoint_id: endpoint_id(owner),
            netns: Netns::Path(netns.to_path_buf()),
            address,
            gateway: Some(self.subnet.gateway),
            mtu: None,
            ipv6: None,
            settings: InterfaceSettings::default(),
        };
        if let Err(e) = link::attach(&attachment) {
            let _ = self.ipam.release_owner(id, owner);
            return Err(format!("attaching the RUN step to the build network: {e}"));
        }
        Ok(address.addr())
    }
}

/// The build network of one build, set up when its first RUN step needs it.
#[derive(Debug)]
pub struct OnDemand {
    root: PathBuf,
    network: OnceLock<Result<BuildNetwork, String>>,
}

impl OnDemand {
    /// The build network of state root `root`, not set up yet.
    pub fn new(root: &Path) -> Self {
        Self { root: root.to_path_buf(), network: OnceLock::new() }
    }

    /// The state root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The network, set up on the first call (an error stays the build's answer).
    pub fn get(&self) -> Result<&BuildNetwork, String> {
        self.network.get_or_init(|| BuildNetwork::ensure(&self.root)).as_ref().map_err(Clone::clone)
    }
}

/// Detaches the RUN step `owner` from the build network of state root `root`: its veth pair
/// deleted and its address freed; nothing to do for what is already gone.
pub fn detach(root: &Path, owner: &str) -> Result<(), String> {
    link::detach(&endpoint_id(owner)).map_err(|e| format!("detaching a RUN step from the build network: {e}"))?;
    ipam(root)?.release_owner(&network_id(root), owner).map_err(|e| format!("build network: {e}"))
}

/// Removes the build network of state root `root` (`builder prune`): its rules, its bridge and
/// its subnet. `false`, and nothing removed, while a RUN step holds an address on it.
pub fn remove(root: &Path) -> Result<bool, String> {
    let ipam = ipam(root)?;
    let id = network_id(root);
    let subnet = match ipam.subnet(&id) {
        Ok(subnet) => subnet,
        Err(IpamError::UnknownNetwork(_)) => return Ok(true),
        Err(e) => return Err(format!("build network: {e}")),
    };
    match ipam.remove_network(&id) {
        Ok(()) => {}
        Err(IpamError::NetworkInUse { .. }) => return Ok(false),
        Err(e) => return Err(format!("build network: {e}")),
    }
    firewall::remove_network(&rules(root, &subnet)).map_err(|e| format!("build network rules: {e}"))?;
    link::delete_bridge(&bridge(root)).map_err(|e| format!("build network bridge: {e}"))?;
    Ok(true)
}

/// `/etc/resolv.conf` for a RUN step on the build network, as Docker writes it for a container
/// on its default bridge (libnetwork's `FilterResolvDNS` with IPv6 off): the host's file (the
/// one systemd-resolved's stub points at, if that is all the host's names), without loopback and
/// IPv6 nameservers, which cannot be reached from the bridge; Google's public resolvers when no
/// nameserver is left.
pub fn resolv_conf(host: &str) -> String {
    let mut out = String::new();
    let mut nameservers = 0;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            match words.next().and_then(|a| a.parse::<IpAddr>().ok()) {
                Some(IpAddr::V4(a)) if !a.is_loopback() => nameservers += 1,
                Some(_) => continue,
                None => {}
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    if nameservers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

/// The host's resolver configuration as Docker reads it: `/etc/resolv.conf`, or systemd-resolved's
/// upstream file when `/etc/resolv.conf` names only its stub (127.0.0.53).
pub fn host_resolv_conf() -> String {
    let etc = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let servers: Vec<&str> = etc.lines().filter_map(|l| l.strip_prefix("nameserver")).map(str::trim).collect();
    if !servers.is_empty() && servers.iter().all(|s| *s == "127.0.0.53") {
        if let Ok(upstream) = std::fs::read_to_string("/run/systemd/resolve/resolv.conf") {
            return upstream;
        }
    }
    etc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_ipv6_nameservers_are_dropped_as_docker_drops_them() {
        let host = "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver ::1\nnameserver fd00::1\nsearch example.org\noptions edns0\n";
        assert_eq!(resolv_conf(host), "# generated\nnameserver 10.0.0.2\nsearch example.org\noptions edns0\n");
    }

    #[test]
    fn without_a_reachable_nameserver_googles_are_used() {
        assert_eq!(resolv_conf("nameserver 127.0.0.1\nsearch lan\n"), "search lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n");
        assert_eq!(resolv_conf(""), "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }

    #[test]
    fn the_bridge_is_a_compose_style_bridge_of_its_own() {
        let root = Path::new("/var/lib/xcompose");
        assert!(bridge(root).starts_with("xc-") && bridge(root).len() == 15, "{}", bridge(root));
        assert_ne!(network_id(root), hex::encode(Sha256::digest(b"xcompose-build")));
        assert_ne!(bridge(root), bridge(Path::new("/srv/other-root")), "two state roots share no bridge");
        assert_ne!(endpoint_id("1-a"), endpoint_id("1-b"));
    }
}
