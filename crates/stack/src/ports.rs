//! Published ports: a service's `ports:` become bindings of host addresses and ports to the
//! container's address on its first network (a port without a host address on both IPv4 and,
//! if that network has IPv6, IPv6 `[::]`, as Docker publishes it), recorded per container
//! (`<root>/ports/<container id>.json`) before the firewall rules are made, so that removing the
//! container (or an interrupted publish) takes exactly those rules away again.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use xcompose_loader::model::Port;
use xcompose_network::firewall::{self, PortMapping, Protocol};
use xcompose_proxy::{Forward, Transport};

use crate::proxies::Proxies;
use crate::{NetworkRecord, StackError};

/// One published port of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortBinding {
    /// `tcp` or `udp`.
    pub protocol: String,
    /// The host address it is published on; `None` for all of them of the container address's
    /// family.
    pub host_ip: Option<IpAddr>,
    /// The host port.
    pub host_port: u16,
    /// The container's port.
    pub container_port: u16,
    /// The container's address (IPv4 or IPv6).
    pub container_ip: IpAddr,
    /// The bridge the container's address is on.
    pub bridge: String,
}

impl PortBinding {
    /// The host address as Docker names it: `0.0.0.0` or `::` for all of a family.
    pub fn host_address(&self) -> IpAddr {
        self.host_ip.unwrap_or(match self.container_ip {
            IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
        })
    }

    /// The host address and port as `port` prints them: `0.0.0.0:8080`, `[::]:8080`.
    pub fn host_socket(&self) -> String {
        std::net::SocketAddr::new(self.host_address(), self.host_port).to_string()
    }

    /// As `ps` shows it: `127.0.0.1:8080->80/tcp`, `[::]:8080->80/tcp`.
    pub fn display(&self) -> String {
        format!("{}->{}/{}", self.host_socket(), self.container_port, self.protocol)
    }

    /// Whether a userland proxy forwards it (IPv6 loopback, which cannot be NATed into a bridge).
    fn proxied(&self) -> bool {
        matches!(self.host_ip, Some(IpAddr::V6(ip)) if ip.is_loopback())
    }

    fn mapping(&self) -> PortMapping {
        PortMapping {
            protocol: if self.protocol == "udp" { Protocol::Udp } else { Protocol::Tcp },
            host_ip: self.host_ip,
            host_port: self.host_port,
            container_ip: self.container_ip,
            container_port: self.container_port,
            bridge: self.bridge.clone(),
        }
    }

    /// What its proxy forwards.
    fn forward(&self) -> Forward {
        let transport = if self.protocol == "udp" { Transport::Udp } else { Transport::Tcp };
        Forward { transport, listen: SocketAddr::new(self.host_address(), self.host_port), target: SocketAddr::new(self.container_ip, self.container_port) }
    }
}

/// The published ports of the containers of one state root.
#[derive(Debug, Clone)]
pub(crate) struct Ports {
    dir: PathBuf,
    proxies: Proxies,
}

fn invalid(service: &str, message: String) -> StackError {
    StackError::Service { service: service.to_string(), message }
}

impl Ports {
    /// The ports of state root `root`; their proxies are run as `exe __proxy`.
    pub(crate) fn open(root: &Path, exe: &Path) -> Result<Self, StackError> {
        let dir = root.join("ports");
        fs::create_dir_all(&dir).map_err(StackError::io(&dir))?;
        Ok(Self { proxies: Proxies::new(&dir, exe), dir })
    }

    fn path(&self, container_id: &str) -> PathBuf {
        self.dir.join(format!("{container_id}.json"))
    }

    /// The ports container `container_id` publishes.
    pub(crate) fn of(&self, container_id: &str) -> Result<Vec<PortBinding>, StackError> {
        let path = self.path(container_id);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StackError::Corrupt { path, message: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(StackError::io(&path)(e)),
        }
    }

    fn save(&self, container_id: &str, bindings: &[PortBinding]) -> Result<(), StackError> {
        let path = self.path(container_id);
        if bindings.is_empty() {
            return match fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(StackError::io(&path)(e)),
            };
        }
        Ok(xcompose_images::store::atomic_write(&path, &serde_json::to_vec_pretty(bindings).expect("bindings serialise"))?)
    }

    /// Publishes `ports` of `service` for container `container_id`, reachable at `container_ip`
    /// (and `container_ip6` if it has IPv6) on `network`; a port without a host address on the
    /// network's `host_binding_ipv4` if set. A port without a host port gets a free one.
    pub(crate) fn publish(&self, service: &str, container_id: &str, ports: &[Port], network: &NetworkRecord, container_ip: Ipv4Addr, container_ip6: Option<Ipv6Addr>) -> Result<(), StackError> {
        let bridge = crate::networks::bridge_of(network)?;
        let default_host_ip = network.options.host_binding_ipv4;
        let mut bindings = Vec::new();
        for port in ports {
            let protocol = if port.protocol.is_empty() { "tcp".to_string() } else { port.protocol.to_ascii_lowercase() };
            let proto = match protocol.as_str() {
                "tcp" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                other => return Err(invalid(service, format!("port protocol {other:?} is not supported (tcp or udp)"))),
            };
            let families = families(service, &port.host_ip, default_host_ip, container_ip, container_ip6)?;
            let host_ip = families[0].0;
            let container_port = u16::try_from(port.target).map_err(|_| invalid(service, format!("invalid port {}", port.target)))?;
            let host_port = match port.published.split_once('-') {
                _ if port.published.is_empty() => firewall::random_host_port(proto, host_ip).map_err(StackError::network)?,
                // A range: the first port of it that is free.
                Some((low, high)) => {
                    let parse = |p: &str| p.parse::<u16>().map_err(|_| invalid(service, format!("invalid published port range {:?}", port.published)));
                    let (low, high) = (parse(low)?, parse(high)?);
                    let mut free = None;
                    for p in low..=high {
                        if firewall::port_is_free(proto, host_ip, p).map_err(StackError::network)? {
                            free = Some(p);
                            break;
                        }
                    }
                    free.ok_or_else(|| invalid(service, format!("no free port in range {}", port.published)))?
                }
                None => port.published.parse().map_err(|_| invalid(service, format!("invalid published port {:?}", port.published)))?,
            };
            for (host_ip, container_ip) in families {
                bindings.push(PortBinding { protocol: protocol.clone(), host_ip, host_port, container_port, container_ip, bridge: bridge.clone() });
            }
        }
        // Recorded first: whatever happens next, removing the container unpublishes them.
        let mut recorded = self.of(container_id)?;
        recorded.extend(bindings.iter().cloned());
        self.save(container_id, &recorded)?;
        // One firewall change for all of them.
        let mappings: Vec<_> = bindings.iter().filter(|b| !b.proxied()).map(PortBinding::mapping).collect();
        if !mappings.is_empty() {
            firewall::publish(&mappings).map_err(|e| invalid(service, e.to_string()))?;
        }
        for binding in &bindings {
            if let Some(host) = rootless_forwarded(binding) {
                xcompose_rootless::ports::forward(&binding.protocol, host, SocketAddr::new(binding.container_ip, binding.container_port)).map_err(|e| invalid(service, e))?;
            }
        }
        if bindings.iter().any(PortBinding::proxied) {
            self.proxies.start(container_id, recorded.iter().filter(|b| b.proxied()).map(PortBinding::forward).collect()).map_err(|e| invalid(service, e.to_string()))?;
        }
        Ok(())
    }

    /// Stops the userland proxy of container `container_id`, if it has one.
    pub(crate) fn stop_proxy(&self, container_id: &str) -> Result<(), StackError> {
        self.proxies.stop(container_id)
    }

    /// Unpublishes every port of container `container_id`.
    pub(crate) fn unpublish_all(&self, container_id: &str) -> Result<(), StackError> {
        self.stop_proxy(container_id)?;
        let bindings = self.of(container_id)?;
        if bindings.is_empty() {
            return Ok(());
        }
        // One change for all of them; unpublishing is idempotent, so an interrupted call is
        // simply made again.
        let mappings: Vec<_> = bindings.iter().filter(|b| !b.proxied()).map(PortBinding::mapping).collect();
        if !mappings.is_empty() {
            firewall::unpublish(&mappings).map_err(StackError::network)?;
        }
        for binding in &bindings {
            if let Some(host) = rootless_forwarded(binding) {
                xcompose_rootless::ports::unforward(&binding.protocol, host).map_err(StackError::network)?;
            }
        }
        self.save(container_id, &[])
    }
}

/// In rootless mode, the host address and port the port agent forwards `binding` from (to the
/// container's address: the user's namespace's rules and proxies answer there only); `None` as
/// root.
fn rootless_forwarded(binding: &PortBinding) -> Option<SocketAddr> {
    xcompose_rootless::active().then(|| SocketAddr::new(binding.host_address(), binding.host_port))
}

/// What a port with host address `host_ip` binds: (host address, container address) pairs, the
/// first deciding the host port. No address: IPv4 (on `default_host_ip` if set) and, for a
/// container with IPv6, IPv6 too;
/// `0.0.0.0` IPv4 only, `::` IPv6 only. An IPv6 address needs a container with IPv6: Docker
/// reaches an IPv4-only container from IPv6 through its userland proxy, which xcompose does not
/// run (as Docker with `userland-proxy: false`). IPv6 loopback has no `route_localnet` to NAT
/// its traffic into a bridge: as Docker, a userland proxy forwards `::1` to the container's
/// IPv6 address, or its IPv4 one if it has none.
pub(crate) fn families(service: &str, host_ip: &str, default_host_ip: Option<Ipv4Addr>, container_ip: Ipv4Addr, container_ip6: Option<Ipv6Addr>) -> Result<Vec<(Option<IpAddr>, IpAddr)>, StackError> {
    let v4 = (default_host_ip.map(IpAddr::V4), IpAddr::V4(container_ip));
    let parsed = match host_ip.trim_matches(['[', ']']) {
        "" => return Ok([Some(v4), container_ip6.map(|ip6| (None, IpAddr::V6(ip6)))].into_iter().flatten().collect()),
        ip => ip.parse::<IpAddr>().map_err(|_| invalid(service, format!("invalid host_ip {ip:?}: an IPv4 or IPv6 address is expected")))?,
    };
    let host = (!parsed.is_unspecified()).then_some(parsed);
    match parsed {
        IpAddr::V4(_) => Ok(vec![(host, IpAddr::V4(container_ip))]),
        IpAddr::V6(ip) if ip.is_loopback() => Ok(vec![(host, container_ip6.map_or(IpAddr::V4(container_ip), IpAddr::V6))]),
        IpAddr::V6(ip) => match container_ip6 {
            Some(ip6) => Ok(vec![(host, IpAddr::V6(ip6))]),
            None => Err(invalid(service, format!("a port published on [{ip}] needs the service's first network to have IPv6: set enable_ipv6: true on it, or publish on an IPv4 address"))),
        },
    }
}
