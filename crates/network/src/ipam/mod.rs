//! IP address management for compose networks (IPv4, and IPv6 for `enable_ipv6` networks: see
//! [`Ipam::create_network6`]).
//!
//! [`Ipam`] picks a subnet for each network, either the one the compose file asks for
//! (`ipam.config`) or the first free one of Docker's default pool (172.17.0.0/16 … 172.31.0.0/16,
//! then 192.168.0.0/16 in /20 steps) that overlaps neither a route of the current network
//! namespace nor another network's subnet. It then hands out container addresses from the
//! network's `ip_range` (or the whole subnet), lowest free first, never the network, broadcast
//! or gateway address.
//!
//! State lives in one JSON file per network under a directory; every operation holds an
//! exclusive flock on that directory, so concurrent xcompose processes never hand out the same
//! subnet or address.

mod ipv6;
mod store;

pub use ipv6::{Subnet6, Subnet6Request};

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use ipnet::{IpNet, Ipv4Net};
use serde::{Deserialize, Serialize};

use crate::NetlinkError;
use store::NetworkState;

/// What a compose file asks for in a network's `ipam.config` entry; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubnetRequest {
    /// `subnet`: the network's prefix. Without it, one is picked from the default pool.
    pub subnet: Option<Ipv4Net>,
    /// `gateway`: the bridge's address. Defaults to the subnet's first host address.
    pub gateway: Option<Ipv4Addr>,
    /// `ip_range`: where container addresses are picked from. Defaults to the whole subnet.
    pub ip_range: Option<Ipv4Net>,
    /// `aux_addresses`: addresses of the subnet never handed out, by name.
    pub aux_addresses: Vec<(String, Ipv4Addr)>,
}

/// The owner IPAM records for an `aux_addresses` entry: such addresses are held for good.
fn aux_owner(name: &str) -> String {
    format!("{AUX_PREFIX}{name}")
}

const AUX_PREFIX: &str = "aux_addresses ";

/// Whether an address's owner is an `aux_addresses` entry rather than a container.
fn is_aux(owner: &str) -> bool {
    owner.starts_with(AUX_PREFIX)
}

/// The addressing of one network, as allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    /// The network's prefix (host bits zero).
    pub subnet: Ipv4Net,
    /// The gateway: the bridge's address, inside `subnet`.
    pub gateway: Ipv4Addr,
    /// Where container addresses come from, inside `subnet`; `None` means all of `subnet`.
    pub ip_range: Option<Ipv4Net>,
}

impl Subnet {
    /// The gateway with the subnet's prefix length, as it goes on the bridge.
    pub fn gateway_net(&self) -> Ipv4Net {
        Ipv4Net::new(self.gateway, self.subnet.prefix_len()).expect("prefix came from an Ipv4Net")
    }

    /// True for the addresses no container may have: network, broadcast and gateway.
    fn is_reserved(&self, address: Ipv4Addr) -> bool {
        address == self.subnet.network()
            || address == self.subnet.broadcast()
            || address == self.gateway
    }
}

/// Why an IPAM operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IpamError {
    /// The network id cannot be used as a file name.
    #[error("invalid network id {0:?}: use only ASCII letters, digits, '-' and '_'")]
    InvalidNetworkId(String),
    /// The state directory could not be read or written.
    #[error(
        "{action} {path}: {source}; check that the state directory exists and is writable by root"
    )]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// A state file is not valid JSON of the expected shape.
    #[error("IPAM state file {path} is corrupt: {source}; remove it (and the network's containers) to start that network afresh")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The routes of the current namespace could not be read.
    #[error("reading the routes to find a free subnet: {0}; or give the network an explicit ipam subnet")]
    Routes(#[source] NetlinkError),
    /// The subnet is too small for a network, a gateway and one container.
    #[error("subnet {0} is too small: use a prefix of /30 (IPv6: /126) or shorter")]
    SubnetTooSmall(IpNet),
    /// `gateway` or `ip_range` was given without `subnet`.
    #[error("ipam config sets gateway or ip_range without subnet: add the subnet they belong to")]
    MissingSubnet,
    /// The gateway is not a usable host address of the subnet.
    #[error("gateway {gateway} is not a host address of subnet {subnet}: pick an address inside it, other than the network and broadcast addresses")]
    GatewayOutsideSubnet {
        /// The requested gateway.
        gateway: IpAddr,
        /// The subnet.
        subnet: IpNet,
    },
    /// `ip_range` is not inside the subnet.
    #[error("ip_range {ip_range} is not inside subnet {subnet}: pick a range within the subnet")]
    RangeOutsideSubnet {
        /// The requested range.
        ip_range: IpNet,
        /// The subnet.
        subnet: IpNet,
    },
    /// The requested subnet overlaps one already allocated to another network.
    #[error("subnet {subnet} overlaps subnet {other} of network {network}: pick another subnet or remove that network")]
    SubnetOverlap {
        /// The requested subnet.
        subnet: IpNet,
        /// The overlapping one.
        other: IpNet,
        /// The network that has it.
        network: String,
    },
    /// The network exists with a different subnet than requested.
    #[error("network {network} already has subnet {existing}, not {requested}: remove the network first to change its subnet")]
    SubnetChanged {
        /// The network.
        network: String,
        /// Its subnet.
        existing: IpNet,
        /// The one now asked for.
        requested: IpNet,
    },
    /// Every subnet of the default pool is taken by a route or a network.
    #[error("no free subnet left in the default pool (172.17-31.0.0/16, 192.168.0.0/16 in /20s): every one overlaps a route or another network; remove unused networks or give this one an explicit ipam subnet")]
    PoolExhausted,
    /// The network has no IPAM state.
    #[error("network {0} has no address allocation: create it first")]
    UnknownNetwork(String),
    /// An IPv6 address was asked of a network without IPv6.
    #[error("network {0} has no IPv6 subnet: set enable_ipv6: true on it (and an IPv6 ipam subnet if you want a fixed one), or drop the ipv6_address")]
    NoIpv6(String),
    /// The network still has addresses handed out.
    #[error("network {network} still has {count} container address(es) allocated: remove its containers first")]
    NetworkInUse {
        /// The network.
        network: String,
        /// How many addresses are in use.
        count: usize,
    },
    /// Every address of the range is in use.
    #[error("no free address left in {range} of network {network}: remove unused containers or give the network a larger subnet or ip_range")]
    AddressesExhausted {
        /// The network.
        network: String,
        /// The range addresses come from.
        range: IpNet,
    },
    /// A static address is outside the network's subnet.
    #[error("address {address} is outside subnet {subnet} of network {network}: pick an ipv4_address/ipv6_address inside it")]
    AddressOutsideSubnet {
        /// The requested address.
        address: IpAddr,
        /// The subnet.
        subnet: IpNet,
        /// The network.
        network: String,
    },
    /// A static address is the network, broadcast or gateway address.
    #[error("address {address} is reserved in subnet {subnet} (network, broadcast, gateway or aux address): pick another ipv4_address/ipv6_address")]
    AddressReserved {
        /// The requested address.
        address: IpAddr,
        /// The subnet.
        subnet: IpNet,
    },
    /// A static address is already held.
    #[error("address {address} on network {network} is already used by {owner}: pick another ipv4_address/ipv6_address or remove {owner}")]
    AddressInUse {
        /// The requested address.
        address: IpAddr,
        /// The network.
        network: String,
        /// Who holds it.
        owner: String,
    },
}

/// Subnet and address allocation, with its state in a directory.
#[derive(Debug, Clone)]
pub struct Ipam {
    dir: PathBuf,
}

impl Ipam {
    /// IPAM with its state in `dir`, created if missing.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Ipam, IpamError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|source| IpamError::Io {
            action: "creating",
            path: dir.clone(),
            source,
        })?;
        Ok(Ipam { dir })
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Allocates the subnet of network `network`, or returns the one it already has.
    ///
    /// With `request.subnet`, that subnet is used (checked against the other networks'); without
    /// it, the first subnet of the default pool that overlaps neither a route of the calling
    /// thread's network namespace nor another network. The gateway defaults to the subnet's first
    /// host address.
    pub fn create_network(
        &self,
        network: &str,
        request: &SubnetRequest,
    ) -> Result<Subnet, IpamError> {
        check_network_id(network)?;
        let locked = store::lock(&self.dir)?;
        let others = locked.load_all()?;
        if let Some((_, state)) = others.iter().find(|(id, _)| id == network) {
            return match request.subnet.map(|s| s.trunc()) {
                Some(requested) if requested != state.subnet.subnet => {
                    Err(IpamError::SubnetChanged {
                        network: network.to_string(),
                        existing: state.subnet.subnet.into(),
                        requested: requested.into(),
                    })
                }
                _ => Ok(state.subnet),
            };
        }
        let subnet = match request.subnet {
            Some(subnet) => explicit_subnet(subnet.trunc(), request, &others)?,
            None if request.gateway.is_some() || request.ip_range.is_some() => {
                return Err(IpamError::MissingSubnet)
            }
            None => {
                let routes = crate::routes::ipv4_destinations().map_err(IpamError::Routes)?;
                pool_subnet(&routes, &others)?
            }
        };
        let mut addresses = std::collections::BTreeMap::new();
        for (name, address) in &request.aux_addresses {
            if !subnet.subnet.contains(address) {
                return Err(IpamError::AddressOutsideSubnet { address: (*address).into(), subnet: subnet.subnet.into(), network: network.to_string() });
            }
            if subnet.is_reserved(*address) {
                return Err(IpamError::AddressReserved { address: (*address).into(), subnet: subnet.subnet.into() });
            }
            addresses.insert(*address, aux_owner(name));
        }
        let state = NetworkState {
            subnet,
            addresses,
            ipv6: None,
            addresses6: Default::default(),
        };
        locked.save(network, &state)?;
        Ok(subnet)
    }

    /// The addressing of network `network`.
    pub fn subnet(&self, network: &str) -> Result<Subnet, IpamError> {
        check_network_id(network)?;
        let locked = store::lock(&self.dir)?;
        Ok(load_known(&locked, network)?.subnet)
    }

    /// Forgets network `network`, freeing its subnet. Fails while it still has container
    /// addresses; nothing to do if it has no state.
    pub fn remove_network(&self, network: &str) -> Result<(), IpamError> {
        check_network_id(network)?;
        let locked = store::lock(&self.dir)?;
        if let Some(state) = locked.load(network)? {
            let count = state.addresses.values().chain(state.addresses6.values()).filter(|o| !is_aux(o)).count();
            if count > 0 {
                return Err(IpamError::NetworkInUse {
                    network: network.to_string(),
                    count,
                });
            }
        }
        locked.remove(network)
    }

    /// Hands out an address of network `network` to `owner` (a container or endpoint name, kept
    /// for error messages): `requested` (a static `ipv4_address`) if given, else the lowest free
    /// address of the network's range. Returns it with the subnet's prefix length.
    pub fn allocate(
        &self,
        network: &str,
        owner: &str,
        requested: Option<Ipv4Addr>,
    ) -> Result<Ipv4Net, IpamError> {
        check_network_id(network)?;
        let locked = store::lock(&self.dir)?;
        let mut state = load_known(&locked, network)?;
        let subnet = state.subnet;
        let address = match requested {
            Some(address) => {
                if !subnet.subnet.contains(&address) {
                    return Err(IpamError::AddressOutsideSubnet {
                        address: address.into(),
                        subnet: subnet.subnet.into(),
                        network: network.to_string(),
                    });
                }
                if subnet.is_reserved(address) {
                    return Err(IpamError::AddressReserved {
                        address: address.into(),
                        subnet: subnet.subnet.into(),
                    });
                }
                if let Some(owner) = state.addresses.get(&address) {
                    return Err(IpamError::AddressInUse {
                        address: address.into(),
                        network: network.to_string(),
                        owner: owner.clone(),
                    });
                }
                address
            }
            None => {
                let range = subnet.ip_range.unwrap_or(subnet.subnet);
                (u32::from(range.network())..=u32::from(range.broadcast()))
                    .map(Ipv4Addr::from)
                    .find(|a| !subnet.is_reserved(*a) && !state.addresses.contains_key(a))
                    .ok_or_else(|| IpamError::AddressesExhausted {
                        network: network.to_string(),
                        range: range.into(),
                    })?
            }
        };
        state.addresses.insert(address, owner.to_string());
        locked.save(network, &state)?;
        Ok(Ipv4Net::new(address, subnet.subnet.prefix_len()).expect("prefix came from an Ipv4Net"))
    }

    /// Gives `address` of network `network` back; nothing to do if it was not handed out (or the
    /// network has no state any more).
    pub fn release(&self, network: &str, address: Ipv4Addr) -> Result<(), IpamError> {
        check_network_id(network)?;
        let locked = store::lock(&self.dir)?;
        let Some(mut state) = locked.load(network)? else {
            return Ok(());
        };
        if state.addresses.remove(&address).is_some() {
            locked.save(network, &state)?;
        }
        Ok(())
    }

    /// Gives back every address of network `network` handed out to `owner`: what a container
    /// held there, even if the process that allocated it died before recording the address.
    pub fn release_owner(&self, network: &str, owner: &str) -> Result<(), IpamError> {
        check_network_id(network)?;
        let locked = store::lock(&self.dir)?;
        let Some(mut state) = locked.load(network)? else {
            return Ok(());
        };
        let before = state.addresses.len() + state.addresses6.len();
        state.addresses.retain(|_, o| o != owner);
        state.addresses6.retain(|_, o| o != owner);
        if state.addresses.len() + state.addresses6.len() != before {
            locked.save(network, &state)?;
        }
        Ok(())
    }
}

/// Network ids become file names: only `[A-Za-z0-9_-]`, not empty.
fn check_network_id(network: &str) -> Result<(), IpamError> {
    let valid = !network.is_empty()
        && network
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(IpamError::InvalidNetworkId(network.to_string()))
    }
}

fn load_known(locked: &store::Locked<'_>, network: &str) -> Result<NetworkState, IpamError> {
    locked
        .load(network)?
        .ok_or_else(|| IpamError::UnknownNetwork(network.to_string()))
}

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Validates an `ipam.config` with a subnet and fills in the gateway.
fn explicit_subnet(
    subnet: Ipv4Net,
    request: &SubnetRequest,
    others: &[(String, NetworkState)],
) -> Result<Subnet, IpamError> {
    if subnet.prefix_len() > 30 {
        return Err(IpamError::SubnetTooSmall(subnet.into()));
    }
    let gateway = request.gateway.unwrap_or_else(|| first_host(subnet));
    if !subnet.contains(&gateway) || gateway == subnet.network() || gateway == subnet.broadcast() {
        return Err(IpamError::GatewayOutsideSubnet { gateway: gateway.into(), subnet: subnet.into() });
    }
    let ip_range = request.ip_range.map(|r| r.trunc());
    if let Some(ip_range) = ip_range {
        if !subnet.contains(&ip_range) {
            return Err(IpamError::RangeOutsideSubnet { ip_range: ip_range.into(), subnet: subnet.into() });
        }
    }
    if let Some((network, other)) = others
        .iter()
        .find(|(_, s)| overlaps(&subnet, &s.subnet.subnet))
    {
        return Err(IpamError::SubnetOverlap {
            subnet: subnet.into(),
            other: other.subnet.subnet.into(),
            network: network.clone(),
        });
    }
    Ok(Subnet {
        subnet,
        gateway,
        ip_range,
    })
}

/// Docker's default pool: 172.17.0.0/16 … 172.31.0.0/16, then 192.168.0.0/16 in /20 steps.
fn default_pool() -> impl Iterator<Item = Ipv4Net> {
    let big = (17..=31).map(|b| Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16));
    let small = (0..16).map(|i| Ipv4Net::new(Ipv4Addr::new(192, 168, i * 16, 0), 20));
    big.chain(small)
        .map(|net| net.expect("valid prefix lengths"))
}

/// The first subnet of the default pool overlapping neither `routes` nor another network.
fn pool_subnet(routes: &[Ipv4Net], others: &[(String, NetworkState)]) -> Result<Subnet, IpamError> {
    default_pool()
        .find(|candidate| {
            !routes.iter().any(|route| overlaps(candidate, route))
                && !others
                    .iter()
                    .any(|(_, s)| overlaps(candidate, &s.subnet.subnet))
        })
        .map(|subnet| Subnet {
            subnet,
            gateway: first_host(subnet),
            ip_range: None,
        })
        .ok_or(IpamError::PoolExhausted)
}

fn first_host(subnet: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(subnet.network()) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn default_pool_is_dockers() {
        let pool: Vec<Ipv4Net> = default_pool().collect();
        assert_eq!(pool.len(), 31);
        assert_eq!(pool[0], net("172.17.0.0/16"));
        assert_eq!(pool[14], net("172.31.0.0/16"));
        assert_eq!(pool[15], net("192.168.0.0/20"));
        assert_eq!(pool[30], net("192.168.240.0/20"));
    }

    #[test]
    fn pool_skips_routes_and_ignores_unrelated_ones() {
        let routes = [
            net("172.17.0.0/16"),
            net("172.18.5.0/24"),
            net("10.0.0.0/8"),
            net("198.51.100.1/32"),
        ];
        let subnet = pool_subnet(&routes, &[]).unwrap();
        assert_eq!(subnet.subnet, net("172.19.0.0/16"));
        assert_eq!(subnet.gateway, Ipv4Addr::new(172, 19, 0, 1));
        // A route covering all of 172.16.0.0/12 sends us to 192.168.
        let subnet = pool_subnet(&[net("172.16.0.0/12")], &[]).unwrap();
        assert_eq!(subnet.subnet, net("192.168.0.0/20"));
        let everything = [net("172.16.0.0/12"), net("192.168.0.0/16")];
        assert!(matches!(
            pool_subnet(&everything, &[]),
            Err(IpamError::PoolExhausted)
        ));
    }

    #[test]
    fn state_round_trips_through_json() {
        let state = NetworkState {
            subnet: Subnet {
                subnet: net("10.1.0.0/24"),
                gateway: Ipv4Addr::new(10, 1, 0, 1),
                ip_range: Some(net("10.1.0.128/25")),
            },
            addresses: [(Ipv4Addr::new(10, 1, 0, 130), "web-1".to_string())].into(),
            ipv6: None,
            addresses6: Default::default(),
        };
        let json = serde_json::to_string(&state).unwrap();
        assert!(json.contains("\"10.1.0.130\":\"web-1\""), "{json}");
        assert_eq!(serde_json::from_str::<NetworkState>(&json).unwrap(), state);
    }
}
