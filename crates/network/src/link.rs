//! Bridges and veth pairs, made over rtnetlink in the calling thread's network namespace.
//!
//! One bridge per network, `xc-<first 12 hex digits of the network id>`, holding the gateway
//! address; one veth pair per container attachment: the host end `xv<first 13 hex digits of the
//! endpoint id>` is a port of the bridge, the other end goes into the container's network
//! namespace as the lowest free `ethN` (or its `interface_name`), with the container's address,
//! Docker's MAC for it ([`container_mac`], unless `mac_address` sets one) and a default route via the gateway, and announces the address
//! (gratuitous ARP) once the bridge forwards. All names fit IFNAMSIZ (15 characters).

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use futures_util::TryStreamExt;
use ipnet::{Ipv4Net, Ipv6Net};
use nix::sched::CloneFlags;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::packet_route::link::{BridgePortState, InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoVeth, LinkAttribute, LinkInfo, LinkMessage};
use rtnetlink::{Handle, LinkBridge, LinkUnspec, LinkVeth, RouteMessageBuilder};

use crate::announce::Announcer;
use crate::netlink::{errno, with_handle, NetlinkError};

/// Why a link operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The kernel refused a request, or netlink could not be used.
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    /// An id is too short or not hexadecimal, so no interface name can be made from it.
    #[error(
        "{what} id {id:?} must start with at least {digits} hexadecimal digits: pass the full id"
    )]
    InvalidId {
        /// "network" or "endpoint".
        what: &'static str,
        /// The id given.
        id: String,
        /// How many hex digits the name needs.
        digits: usize,
    },
    /// A bridge with the name exists that xcompose did not make (it lacks [`BRIDGE_GROUP`]).
    #[error("bridge {0} exists and was not made by xcompose: delete it (`ip link del {0}`) or name the network's bridge differently")]
    ForeignBridge(String),
    /// A link with the bridge's name exists but is not a bridge.
    #[error(
        "interface {0} exists but is not a bridge: delete it (`ip link del {0}`) and try again"
    )]
    NotABridge(String),
    /// The bridge to attach to does not exist.
    #[error("bridge {0} does not exist: create the network's bridge before attaching containers")]
    NoBridge(String),
    /// The container's network namespace could not be opened or entered.
    #[error("cannot use network namespace {path}: {source}; is the container still running?")]
    Namespace {
        /// The namespace file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// The container's address could not be announced on its new interface.
    #[error("announcing the address of {name} in the container (gratuitous ARP): {source}")]
    Announce {
        /// The container's interface.
        name: String,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// A kernel parameter of the container's interface could not be set.
    #[error("setting {path} in the container: {source}")]
    Sysctl {
        /// The /proc/sys file.
        path: String,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// The link notifications could not be listened to.
    #[error("listening to the kernel's link notifications: {0}; xcompose needs root (CAP_NET_ADMIN) to manage networks")]
    Watch(#[source] std::io::Error),
    /// The veth end vanished between steps (its namespace died meanwhile).
    #[error("interface {0} disappeared while being set up: the container probably exited; start it again")]
    Vanished(String),
}

/// A network namespace to put a container's end of a veth pair in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Netns {
    /// The namespace of a process: `/proc/<pid>/ns/net`.
    Pid(u32),
    /// A namespace file, e.g. a bind mount under /run/netns.
    Path(PathBuf),
}

impl Netns {
    /// The namespace's file.
    pub fn path(&self) -> PathBuf {
        match self {
            Netns::Pid(pid) => PathBuf::from(format!("/proc/{pid}/ns/net")),
            Netns::Path(path) => path.clone(),
        }
    }
}

/// One container's attachment to a network.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// The network's bridge.
    pub bridge: String,
    /// Id of the endpoint, unique per container and network (its veth is [`host_veth_name`]).
    pub endpoint_id: String,
    /// The container's network namespace.
    pub netns: Netns,
    /// The container's address with the subnet's prefix length.
    pub address: Ipv4Net,
    /// The default route's gateway; `None` for internal networks (no default route).
    pub gateway: Option<Ipv4Addr>,
    /// MTU of both veth ends; the kernel's default (1500) if `None`.
    pub mtu: Option<u32>,
    /// The container's IPv6 side on an `enable_ipv6` network; `None` turns IPv6 off on the
    /// container's interface, as Docker does on IPv4-only networks.
    pub ipv6: Option<Ipv6Attachment>,
    /// What the compose file sets of the container's interface.
    pub settings: InterfaceSettings,
}

/// A container interface's `mac_address`, `interface_name`, `link_local_ips` and sysctls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterfaceSettings {
    /// Its MAC address; Docker's, derived from the IPv4 address ([`container_mac`]), if `None`.
    pub mac: Option<[u8; 6]>,
    /// Its name; the lowest free `ethN` if `None`.
    pub name: Option<String>,
    /// More addresses, each with a host prefix (/32, /128) as Docker adds link-local ones.
    pub link_local: Vec<IpAddr>,
    /// Kernel parameters of the interface, set once it has its name: (`net.X.Y.IFNAME.Z`, value),
    /// the fourth part of the key replaced by the interface's name, as Docker's
    /// `com.docker.network.endpoint.sysctls` gives them.
    pub sysctls: Vec<(String, String)>,
}

impl Attachment {
    /// The MAC address of the container's interface.
    pub fn mac(&self) -> [u8; 6] {
        self.settings.mac.unwrap_or_else(|| container_mac(self.address.addr()))
    }
}

/// The IPv6 side of an [`Attachment`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Attachment {
    /// The container's IPv6 address with the subnet's prefix length.
    pub address: Ipv6Net,
    /// The IPv6 default route's gateway; `None` for internal networks.
    pub gateway: Option<Ipv6Addr>,
}

/// What [`attach`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    /// The host end of the veth pair, a port of the bridge.
    pub host_ifname: String,
    /// The container's interface, `ethN`.
    pub container_ifname: String,
}

/// The interface group (IFLA_GROUP, "xc") of every bridge xcompose makes: the firewall sends
/// traffic between two of them to its isolation chain by this group, whatever their names.
pub const BRIDGE_GROUP: u32 = 0x7863;

/// The default bridge of network `network_id`: `xc-` and the id's first 12 hex digits (lowercased).
pub fn bridge_name(network_id: &str) -> Result<String, LinkError> {
    Ok(format!("xc-{}", hex_prefix("network", network_id, 12)?))
}

/// The host end of endpoint `endpoint_id`'s veth pair: `xv` and the id's first 13 hex digits.
pub fn host_veth_name(endpoint_id: &str) -> Result<String, LinkError> {
    Ok(format!("xv{}", hex_prefix("endpoint", endpoint_id, 13)?))
}

/// The container end's name until it is renamed inside the container: `xt` and 13 hex digits.
fn temp_veth_name(endpoint_id: &str) -> Result<String, LinkError> {
    Ok(format!("xt{}", hex_prefix("endpoint", endpoint_id, 13)?))
}

fn hex_prefix(what: &'static str, id: &str, digits: usize) -> Result<String, LinkError> {
    match id.get(..digits) {
        Some(prefix) if prefix.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(prefix.to_ascii_lowercase())
        }
        _ => Err(LinkError::InvalidId {
            what,
            id: id.to_string(),
            digits,
        }),
    }
}

/// A fixed, locally administered MAC address for network `network_id`'s bridge. Without one, a
/// bridge takes the lowest MAC of its ports and changes it as ports come and go: the containers'
/// ARP entries for the gateway then point nowhere until they expire (~30 s without traffic out).
fn bridge_mac(network_id: &str) -> Vec<u8> {
    // 02: locally administered, unicast; then the id's first five bytes (bridge_name checked
    // that it starts with hex digits).
    let byte = |i: usize| network_id.get(2 * i..2 * i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()).unwrap_or(0);
    vec![0x02, byte(0), byte(1), byte(2), byte(3), byte(4)]
}

/// The MAC address of a container's interface with IPv4 address `address`, as Docker derives it:
/// `02:42` (locally administered, unicast) and the address's four bytes. A container restarted
/// with the same address keeps its MAC, so its neighbours' ARP entries stay right.
pub fn container_mac(address: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = address.octets();
    [0x02, 0x42, a, b, c, d]
}

/// Makes sure network `network_id`'s bridge `name` exists, with a fixed MAC address, the group
/// [`BRIDGE_GROUP`], MTU `mtu` (if given) and address `gateway` (the gateway with the subnet's
/// prefix length), and is up. An existing bridge is reused if xcompose made it (see
/// [`check_bridge`]). Returns its name.
pub fn ensure_bridge(
    network_id: &str,
    name: &str,
    gateway: Ipv4Net,
    mtu: Option<u32>,
) -> Result<String, LinkError> {
    let name = name.to_string();
    with_handle(|handle| async move {
        let index = match existing_bridge(&handle, network_id, &name).await? {
            Some(index) => index,
            None => {
                handle
                    .link()
                    .add(LinkBridge::new(&name).address(bridge_mac(network_id)).link_group(BRIDGE_GROUP).build())
                    .execute()
                    .await
                    .map_err(|e| NetlinkError::request(format!("creating bridge {name}"), e))?;
                find_link(&handle, &name)
                    .await?
                    .ok_or_else(|| LinkError::Vanished(name.clone()))?
                    .header
                    .index
            }
        };
        // The group again: a bridge made before bridges had one gets it.
        let mut settings = LinkUnspec::new_with_index(index).link_group(BRIDGE_GROUP).up();
        if let Some(mtu) = mtu {
            settings = settings.mtu(mtu);
        }
        handle
            .link()
            .set(settings.build())
            .execute()
            .await
            .map_err(|e| {
                NetlinkError::request(format!("setting MTU and bringing up bridge {name}"), e)
            })?;
        handle
            .address()
            .add(index, IpAddr::V4(gateway.addr()), gateway.prefix_len())
            .replace()
            .execute()
            .await
            .map_err(|e| {
                NetlinkError::request(format!("adding address {gateway} to bridge {name}"), e)
            })?;
        Ok(name)
    })
}

/// Fails, changing nothing, if network `network_id`'s bridge cannot be `name`: a link of that
/// name exists that is not a bridge, or a bridge xcompose did not make.
pub fn check_bridge(network_id: &str, name: &str) -> Result<(), LinkError> {
    with_handle(|handle| async move { existing_bridge(&handle, network_id, name).await.map(|_| ()) })
}

/// The index of bridge `name` of network `network_id` if it exists and may be used.
///
/// Docker's bridge driver reuses any existing bridge of the name its option gives. xcompose
/// reuses only one it made itself (in [`BRIDGE_GROUP`]; or its own `xc-<id>` name, made before
/// bridges had a group): `down` deletes the bridge, which must not take a host's own bridge
/// (and its other ports) with it, and the network's firewall rules must not apply to it.
async fn existing_bridge(handle: &Handle, network_id: &str, name: &str) -> Result<Option<u32>, LinkError> {
    match find_link(handle, name).await? {
        None => Ok(None),
        Some(link) if !is_bridge(&link) => Err(LinkError::NotABridge(name.to_string())),
        Some(link) if in_bridge_group(&link) || bridge_name(network_id).is_ok_and(|own| own == name) => Ok(Some(link.header.index)),
        Some(_) => Err(LinkError::ForeignBridge(name.to_string())),
    }
}

/// Gives bridge `name` (made by [`ensure_bridge`]) the IPv6 address `gateway` (the gateway with
/// the subnet's prefix length), usable at once (no duplicate address detection: the address is
/// the network's own).
pub fn add_bridge_ipv6(name: &str, gateway: Ipv6Net) -> Result<(), LinkError> {
    let name = name.to_string();
    with_handle(|handle| async move {
        let index = find_link(&handle, &name).await?.ok_or_else(|| LinkError::NoBridge(name.clone()))?.header.index;
        let mut request = handle.address().add(index, IpAddr::V6(gateway.addr()), gateway.prefix_len()).replace();
        request.message_mut().attributes.push(AddressAttribute::Flags(AddressFlags::Nodad));
        request.execute().await.map_err(|e| NetlinkError::request(format!("adding address {gateway} to bridge {name}"), e))?;
        Ok(())
    })
}

/// Deletes bridge `name` (its ports are detached, not deleted); nothing to do if it does not
/// exist.
pub fn delete_bridge(name: &str) -> Result<(), LinkError> {
    delete_link(name)
}

/// Connects a container to a network: a veth pair whose host end joins the network's bridge and
/// is up, and whose other end becomes the lowest free `ethN` of the container's namespace, with
/// the address, up, with loopback up and (unless `gateway` is `None`) a default route via the
/// gateway if the container has none yet. On failure, the veth pair is removed again.
pub fn attach(attachment: &Attachment) -> Result<Attached, LinkError> {
    let bridge = &attachment.bridge;
    let host = host_veth_name(&attachment.endpoint_id)?;
    let temp = temp_veth_name(&attachment.endpoint_id)?;
    let path = attachment.netns.path();
    let netns = File::open(&path).map_err(|source| LinkError::Namespace {
        path: path.clone(),
        source,
    })?;
    create_veth(bridge, &host, &temp, attachment.mac(), attachment.mtu, &netns)?;
    let configured = configure_container_end(&netns, &path, &temp, attachment).and_then(|(container_ifname, announcer)| {
        wait_forwarding(&host)?;
        announcer.announce().map_err(|source| LinkError::Announce { name: container_ifname.clone(), source })?;
        Ok(container_ifname)
    });
    match configured {
        Ok(container_ifname) => Ok(Attached {
            host_ifname: host,
            container_ifname,
        }),
        Err(e) => {
            // Deleting the host end deletes the pair, wherever the other end is.
            let _ = delete_link(&host);
            Err(e)
        }
    }
}

/// Disconnects endpoint `endpoint_id`: deletes its veth pair (both ends); nothing to do if it is
/// already gone (as it is once the container's namespace has died).
pub fn detach(endpoint_id: &str) -> Result<(), LinkError> {
    delete_link(&host_veth_name(endpoint_id)?)
}

/// In the calling thread's namespace: the veth pair `host`/`temp`, `host` a port of `bridge` and
/// up, `temp` made directly inside `netns` (one request: moving an interface between namespaces
/// afterwards costs the kernel an RCU grace period, ~10 ms) with MAC address `mac`.
fn create_veth(
    bridge: &str,
    host: &str,
    temp: &str,
    mac: [u8; 6],
    mtu: Option<u32>,
    netns: &File,
) -> Result<(), LinkError> {
    with_handle(|handle| async move {
        let bridge_index = find_link(&handle, bridge)
            .await?
            .ok_or_else(|| LinkError::NoBridge(bridge.to_string()))?
            .header
            .index;
        let mut peer = LinkUnspec::new_with_name(temp).address(mac.to_vec()).setns_by_fd(netns.as_raw_fd());
        let mut pair = LinkVeth::new(host, temp).controller(bridge_index).up();
        if let Some(mtu) = mtu {
            peer = peer.mtu(mtu);
            pair = pair.mtu(mtu);
        }
        let pair = pair.set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())));
        handle
            .link()
            .add(pair.build())
            .execute()
            .await
            .map_err(|e| NetlinkError::request(format!("creating veth pair {host}/{temp} on bridge {bridge}"), e))?;
        Ok(())
    })
}

/// Inside `netns` (on a thread of its own): renames `temp` to the lowest free `ethN`, brings it
/// and loopback up, adds the address and the default route. Returns the `ethN` name and what
/// announces its address.
fn configure_container_end(
    netns: &File,
    path: &std::path::Path,
    temp: &str,
    attachment: &Attachment,
) -> Result<(String, Announcer), LinkError> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                nix::sched::setns(netns, CloneFlags::CLONE_NEWNET).map_err(|errno| {
                    LinkError::Namespace {
                        path: path.to_path_buf(),
                        source: errno.into(),
                    }
                })?;
                let (name, index) = with_handle(|handle| configure_in_namespace(handle, temp, attachment))?;
                let address = attachment.address.addr();
                let announcer = Announcer::open(index, attachment.mac(), address).map_err(|source| LinkError::Announce { name: name.clone(), source })?;
                Ok((name, announcer))
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

async fn configure_in_namespace(
    handle: Handle,
    temp: &str,
    attachment: &Attachment,
) -> Result<(String, u32), LinkError> {
    let index = find_link(&handle, temp)
        .await?
        .ok_or_else(|| LinkError::Vanished(temp.to_string()))?
        .header
        .index;
    let name = match &attachment.settings.name {
        Some(name) => name.clone(),
        None => free_eth_name(&handle).await?,
    };
    // Up at once: the host end's bridge port turns forwarding (asynchronously, once the kernel
    // sees the carrier) while the address and routes are set, in time for the announcement.
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).name(name.clone()).up().build())
        .execute()
        .await
        .map_err(|e| {
            NetlinkError::request(format!("renaming {temp} to {name} in the container and bringing it up"), e)
        })?;
    let address = attachment.address;
    handle
        .address()
        .add(index, IpAddr::V4(address.addr()), address.prefix_len())
        .execute()
        .await
        .map_err(|e| {
            NetlinkError::request(
                format!("adding address {address} to {name} in the container"),
                e,
            )
        })?;
    set_loopback_up(&handle).await?;
    match attachment.ipv6 {
        Some(ipv6) => add_ipv6(&handle, index, &name, ipv6).await?,
        None => disable_ipv6(&name)?,
    }
    for (key, value) in &attachment.settings.sysctls {
        set_interface_sysctl(&name, key, value)?;
    }
    for address in &attachment.settings.link_local {
        let prefix = if address.is_ipv4() { 32 } else { 128 };
        let mut request = handle.address().add(index, *address, prefix);
        request.message_mut().attributes.push(AddressAttribute::Flags(AddressFlags::Nodad));
        request.execute().await.map_err(|e| NetlinkError::request(format!("adding link-local address {address} to {name} in the container"), e))?;
    }
    if let Some(gateway) = attachment.gateway {
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .gateway(gateway)
            .output_interface(index)
            .build();
        match handle.route().add(route).execute().await {
            Ok(()) => {}
            // The container already has a default route, via a network attached earlier.
            Err(e) if errno(&e) == Some(nix::libc::EEXIST) => {}
            Err(e) => {
                return Err(NetlinkError::request(
                    format!("adding the default route via {gateway} in the container"),
                    e,
                )
                .into())
            }
        }
    }
    Ok((name, index))
}

/// Gives the container's interface `name` (index `index`) its IPv6 address, usable at once, and
/// the IPv6 default route via the gateway if it has none yet.
async fn add_ipv6(handle: &Handle, index: u32, name: &str, ipv6: Ipv6Attachment) -> Result<(), LinkError> {
    let address = ipv6.address;
    let mut request = handle.address().add(index, IpAddr::V6(address.addr()), address.prefix_len());
    request.message_mut().attributes.push(AddressAttribute::Flags(AddressFlags::Nodad));
    request.execute().await.map_err(|e| NetlinkError::request(format!("adding address {address} to {name} in the container"), e))?;
    if let Some(gateway) = ipv6.gateway {
        let route = RouteMessageBuilder::<Ipv6Addr>::new().gateway(gateway).output_interface(index).build();
        match handle.route().add(route).execute().await {
            Ok(()) => {}
            // The container already has an IPv6 default route, via a network attached earlier.
            Err(e) if errno(&e) == Some(nix::libc::EEXIST) => {}
            Err(e) => return Err(NetlinkError::request(format!("adding the IPv6 default route via {gateway} in the container"), e).into()),
        }
    }
    Ok(())
}

/// Turns IPv6 off on the calling thread's namespace's interface `name` (no link-local address,
/// no router solicitations), as Docker does for an endpoint on a network without IPv6.
fn disable_ipv6(name: &str) -> Result<(), LinkError> {
    let path = format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6");
    match std::fs::write(&path, "1") {
        Ok(()) => Ok(()),
        // A kernel without IPv6: nothing to turn off.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(LinkError::Sysctl { path, source }),
    }
}

/// Sets kernel parameter `key` (`net.X.Y.IFNAME.Z`) of the calling thread's namespace's
/// interface `name` to `value`: the file `/proc/sys/net/X/Y/<name>/Z`, which must exist, as
/// Docker's endpoint sysctls are set.
fn set_interface_sysctl(name: &str, key: &str, value: &str) -> Result<(), LinkError> {
    let parts: Vec<&str> = key.split('.').enumerate().map(|(i, part)| if i == 3 { name } else { part }).collect();
    let path = format!("/proc/sys/{}", parts.join("/"));
    // Opened without create: a parameter the kernel does not have is an error, not a new file.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut file| std::io::Write::write_all(&mut file, value.as_bytes()))
        .map_err(|source| LinkError::Sysctl { path, source })
}

/// Waits (up to [`FORWARDING_WAIT`]) until bridge port `host` forwards, which the kernel makes
/// it shortly after the container's end comes up: what the container sends before is lost.
fn wait_forwarding(host: &str) -> Result<(), LinkError> {
    with_handle(|handle| async move {
        let deadline = std::time::Instant::now() + FORWARDING_WAIT;
        loop {
            let link = find_link(&handle, host).await?.ok_or_else(|| LinkError::Vanished(host.to_string()))?;
            if is_forwarding(&link) || std::time::Instant::now() >= deadline {
                return Ok(());
            }
            // Between two requests: nothing else runs on this runtime meanwhile.
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    })
}

/// How long [`wait_forwarding`] waits before the announcement goes out regardless.
const FORWARDING_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether `link` is a bridge port in the forwarding state.
fn is_forwarding(link: &LinkMessage) -> bool {
    link.attributes.iter().any(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos.iter().any(|i| match i {
            LinkInfo::PortData(InfoPortData::BridgePort(port)) => port.contains(&InfoBridgePort::State(BridgePortState::Forwarding)),
            _ => false,
        }),
        _ => false,
    })
}

/// The lowest `ethN` not taken in the handle's namespace.
/// Brings up the loopback interface of the calling thread's network namespace.
pub fn loopback_up() -> Result<(), NetlinkError> {
    with_handle(|handle| async move { set_loopback_up(&handle).await })
}

async fn set_loopback_up(handle: &Handle) -> Result<(), NetlinkError> {
    handle
        .link()
        .set(LinkUnspec::new_with_name("lo").up().build())
        .execute()
        .await
        .map_err(|e| NetlinkError::request("bringing up loopback in the container", e))
}

async fn free_eth_name(handle: &Handle) -> Result<String, LinkError> {
    let mut links = handle.link().get().execute();
    let mut taken = Vec::new();
    while let Some(link) = links
        .try_next()
        .await
        .map_err(|e| NetlinkError::request("listing the container's interfaces", e))?
    {
        taken.extend(link_name(&link));
    }
    let name = (0..)
        .map(|n| format!("eth{n}"))
        .find(|name| !taken.contains(name))
        .expect("some ethN is free");
    Ok(name)
}

/// Those of links `names` that exist in the calling thread's namespace.
pub(crate) fn existing(names: &[String]) -> Result<std::collections::BTreeSet<String>, LinkError> {
    with_handle(|handle| async move {
        let mut found = std::collections::BTreeSet::new();
        for name in names {
            if find_link(&handle, name).await?.is_some() {
                found.insert(name.clone());
            }
        }
        Ok(found)
    })
}

/// Deletes link `name` in the calling thread's namespace; nothing to do if there is none.
pub(crate) fn delete_link(name: &str) -> Result<(), LinkError> {
    with_handle(|handle| async move {
        if let Some(link) = find_link(&handle, name).await? {
            match handle.link().del(link.header.index).execute().await {
                Ok(()) => {}
                // Gone meanwhile, e.g. with the other end of its veth pair.
                Err(e) if errno(&e) == Some(nix::libc::ENODEV) => {}
                Err(e) => {
                    return Err(
                        NetlinkError::request(format!("deleting interface {name}"), e).into(),
                    )
                }
            }
        }
        Ok(())
    })
}

/// The link called `name`, if there is one.
async fn find_link(handle: &Handle, name: &str) -> Result<Option<LinkMessage>, LinkError> {
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(link) => Ok(link),
        Err(e) if errno(&e) == Some(nix::libc::ENODEV) => Ok(None),
        Err(e) => Err(NetlinkError::request(format!("looking up interface {name}"), e).into()),
    }
}

/// The name of `link`, if the kernel gave one.
pub(crate) fn link_name(link: &LinkMessage) -> Option<String> {
    link.attributes
        .iter()
        .find_map(|attribute| match attribute {
            LinkAttribute::IfName(name) => Some(name.clone()),
            _ => None,
        })
}

fn in_bridge_group(link: &LinkMessage) -> bool {
    link.attributes.iter().any(|attribute| matches!(attribute, LinkAttribute::Group(BRIDGE_GROUP)))
}

fn is_bridge(link: &LinkMessage) -> bool {
    link.attributes.iter().any(|attribute| match attribute {
        LinkAttribute::LinkInfo(infos) => infos
            .iter()
            .any(|info| matches!(info, LinkInfo::Kind(InfoKind::Bridge))),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_ifnamsiz() {
        let id = "0123456789ABCDEF0123456789abcdef";
        assert_eq!(bridge_name(id).unwrap(), "xc-0123456789ab");
        assert_eq!(host_veth_name(id).unwrap(), "xv0123456789abc");
        assert_eq!(temp_veth_name(id).unwrap(), "xt0123456789abc");
        for name in [bridge_name(id), host_veth_name(id), temp_veth_name(id)] {
            assert!(name.unwrap().len() <= 15);
        }
    }

    #[test]
    fn ids_must_be_long_hex() {
        assert!(matches!(
            bridge_name("0123"),
            Err(LinkError::InvalidId { digits: 12, .. })
        ));
        assert!(matches!(
            host_veth_name("web-1-0123456789abcdef"),
            Err(LinkError::InvalidId { .. })
        ));
        assert!(bridge_name("é123456789abcdef").is_err());
    }
}
