//! The IPv6 side of a network (`enable_ipv6: true`): its subnet, the IPv6 `ipam.config` entry or
//! a ULA /64 of its own, and container addresses from it, lowest free first.

use std::net::Ipv6Addr;

use ipnet::Ipv6Net;
use serde::{Deserialize, Serialize};

use super::{aux_owner, check_network_id, load_known, store, Ipam, IpamError};

/// What a compose file asks for in a network's IPv6 `ipam.config` entry; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subnet6Request {
    /// `subnet`: the network's IPv6 prefix. Without it, a ULA /64 is derived from the network id.
    pub subnet: Option<Ipv6Net>,
    /// `gateway`: the bridge's IPv6 address. Defaults to the subnet's `::1`.
    pub gateway: Option<Ipv6Addr>,
    /// `ip_range`: where container addresses are picked from. Defaults to the whole subnet.
    pub ip_range: Option<Ipv6Net>,
    /// `aux_addresses`: addresses of the subnet never handed out, by name.
    pub aux_addresses: Vec<(String, Ipv6Addr)>,
}

/// The IPv6 addressing of one network, as allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet6 {
    /// The network's prefix (host bits zero).
    pub subnet: Ipv6Net,
    /// The gateway: the bridge's IPv6 address, inside `subnet`.
    pub gateway: Ipv6Addr,
    /// Where container addresses come from, inside `subnet`; `None` means all of `subnet`.
    pub ip_range: Option<Ipv6Net>,
}

impl Subnet6 {
    /// The gateway with the subnet's prefix length, as it goes on the bridge.
    pub fn gateway_net(&self) -> Ipv6Net {
        Ipv6Net::new(self.gateway, self.subnet.prefix_len()).expect("prefix came from an Ipv6Net")
    }

    /// True for the addresses no container may have: the subnet-router anycast address (the
    /// subnet's `::`) and the gateway.
    fn is_reserved(&self, address: Ipv6Addr) -> bool {
        address == self.subnet.network() || address == self.gateway
    }
}

/// The subnet of a network that asks for none: Docker (27+) hands out /64s of a ULA prefix;
/// here the /64 is `fd` followed by the network id's first 56 bits, so each network has its own
/// and keeps it.
fn ula_subnet(network: &str) -> Ipv6Net {
    let mut octets = [0u8; 16];
    octets[0] = 0xfd;
    for (i, octet) in octets[1..8].iter_mut().enumerate() {
        *octet = network.get(2 * i..2 * i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()).unwrap_or(0);
    }
    Ipv6Net::new(Ipv6Addr::from(octets), 64).expect("64 is a valid prefix")
}

fn overlaps(a: &Ipv6Net, b: &Ipv6Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

impl Ipam {
    /// Gives network `network` (already made by [`Ipam::create_network`]) its IPv6 subnet, or
    /// returns the one it already has.
    pub fn create_network6(&self, network: &str, request: &Subnet6Request) -> Result<Subnet6, IpamError> {
        check_network_id(network)?;
        let locked = store::lock(self.dir())?;
        let mut state = load_known(&locked, network)?;
        let subnet = request.subnet.map(|s| s.trunc()).unwrap_or_else(|| ula_subnet(network));
        if let Some(existing) = state.ipv6 {
            if request.subnet.is_some() && subnet != existing.subnet {
                return Err(IpamError::SubnetChanged { network: network.to_string(), existing: existing.subnet.into(), requested: subnet.into() });
            }
            return Ok(existing);
        }
        if request.subnet.is_none() && (request.gateway.is_some() || request.ip_range.is_some()) {
            return Err(IpamError::MissingSubnet);
        }
        if subnet.prefix_len() > 126 {
            return Err(IpamError::SubnetTooSmall(subnet.into()));
        }
        let first_host = Ipv6Addr::from(u128::from(subnet.network()) + 1);
        let gateway = request.gateway.unwrap_or(first_host);
        if !subnet.contains(&gateway) || gateway == subnet.network() {
            return Err(IpamError::GatewayOutsideSubnet { gateway: gateway.into(), subnet: subnet.into() });
        }
        let ip_range = request.ip_range.map(|r| r.trunc());
        if let Some(ip_range) = ip_range.filter(|r| !subnet.contains(r)) {
            return Err(IpamError::RangeOutsideSubnet { ip_range: ip_range.into(), subnet: subnet.into() });
        }
        let others = locked.load_all()?;
        if let Some((other_network, other)) = others.iter().filter(|(id, _)| id != network).find_map(|(id, s)| s.ipv6.filter(|o| overlaps(&subnet, &o.subnet)).map(|o| (id, o))) {
            return Err(IpamError::SubnetOverlap { subnet: subnet.into(), other: other.subnet.into(), network: other_network.clone() });
        }
        let allocated = Subnet6 { subnet, gateway, ip_range };
        for (name, address) in &request.aux_addresses {
            if !subnet.contains(address) {
                return Err(IpamError::AddressOutsideSubnet { address: (*address).into(), subnet: subnet.into(), network: network.to_string() });
            }
            if allocated.is_reserved(*address) {
                return Err(IpamError::AddressReserved { address: (*address).into(), subnet: subnet.into() });
            }
            state.addresses6.insert(*address, aux_owner(name));
        }
        state.ipv6 = Some(allocated);
        locked.save(network, &state)?;
        Ok(allocated)
    }

    /// Hands out an IPv6 address of network `network` to `owner`: `requested` (a static
    /// `ipv6_address`) if given, else the lowest free address of the network's IPv6 range.
    /// Returns it with the subnet's prefix length.
    pub fn allocate6(&self, network: &str, owner: &str, requested: Option<Ipv6Addr>) -> Result<Ipv6Net, IpamError> {
        check_network_id(network)?;
        let locked = store::lock(self.dir())?;
        let mut state = load_known(&locked, network)?;
        let subnet = state.ipv6.ok_or_else(|| IpamError::NoIpv6(network.to_string()))?;
        let address = match requested {
            Some(address) => {
                if !subnet.subnet.contains(&address) {
                    return Err(IpamError::AddressOutsideSubnet { address: address.into(), subnet: subnet.subnet.into(), network: network.to_string() });
                }
                if subnet.is_reserved(address) {
                    return Err(IpamError::AddressReserved { address: address.into(), subnet: subnet.subnet.into() });
                }
                if let Some(owner) = state.addresses6.get(&address) {
                    return Err(IpamError::AddressInUse { address: address.into(), network: network.to_string(), owner: owner.clone() });
                }
                address
            }
            None => {
                let range = subnet.ip_range.unwrap_or(subnet.subnet);
                let (first, last) = (u128::from(range.network()), u128::from(range.broadcast()));
                // Lowest free first: at most one more step than addresses are taken.
                (first..=last)
                    .map(Ipv6Addr::from)
                    .find(|a| !subnet.is_reserved(*a) && !state.addresses6.contains_key(a))
                    .ok_or_else(|| IpamError::AddressesExhausted { network: network.to_string(), range: range.into() })?
            }
        };
        state.addresses6.insert(address, owner.to_string());
        locked.save(network, &state)?;
        Ok(Ipv6Net::new(address, subnet.subnet.prefix_len()).expect("prefix came from an Ipv6Net"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ula_subnet_follows_the_network_id() {
        assert_eq!(ula_subnet("0123456789abcdef00"), "fd01:2345:6789:abcd::/64".parse::<Ipv6Net>().unwrap());
    }

    #[test]
    fn v6_subnets_addresses_and_their_release() {
        let dir = tempfile::tempdir().unwrap();
        let ipam = Ipam::open(dir.path()).unwrap();
        let request = crate::ipam::SubnetRequest { subnet: Some("10.9.0.0/24".parse().unwrap()), ..Default::default() };
        ipam.create_network("n1", &request).unwrap();
        assert!(matches!(ipam.allocate6("n1", "c0", None), Err(IpamError::NoIpv6(_))));
        let wanted = Subnet6Request { subnet: Some("fd00:1::/64".parse().unwrap()), ..Default::default() };
        let subnet = ipam.create_network6("n1", &wanted).unwrap();
        assert_eq!(subnet.gateway, "fd00:1::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(ipam.create_network6("n1", &wanted).unwrap(), subnet);
        assert_eq!(ipam.allocate6("n1", "c1", None).unwrap().to_string(), "fd00:1::2/64");
        assert_eq!(ipam.allocate6("n1", "c2", Some("fd00:1::9".parse().unwrap())).unwrap().to_string(), "fd00:1::9/64");
        let taken = ipam.allocate6("n1", "c3", Some("fd00:1::9".parse().unwrap())).unwrap_err().to_string();
        assert!(taken.contains("already used by c2"), "{taken}");
        let outside = ipam.allocate6("n1", "c3", Some("fd00:2::9".parse().unwrap())).unwrap_err().to_string();
        assert!(outside.contains("outside subnet fd00:1::/64"), "{outside}");
        ipam.release_owner("n1", "c1").unwrap();
        assert_eq!(ipam.allocate6("n1", "c4", None).unwrap().to_string(), "fd00:1::2/64");
        assert!(matches!(ipam.remove_network("n1"), Err(IpamError::NetworkInUse { count: 2, .. })));
        // Another network may not take an overlapping IPv6 subnet.
        ipam.create_network("n2", &crate::ipam::SubnetRequest { subnet: Some("10.9.1.0/24".parse().unwrap()), ..Default::default() }).unwrap();
        let overlap = ipam.create_network6("n2", &Subnet6Request { subnet: Some("fd00:1::/48".parse().unwrap()), ..Default::default() }).unwrap_err();
        assert!(matches!(overlap, IpamError::SubnetOverlap { .. }), "{overlap}");
    }
}
