//! Compose networks on this machine: a record per network (`<root>/networks/<name>.json`), its
//! subnet from IPAM, its bridge; and each container's attachments, its endpoints
//! (`<root>/endpoints/<container id>.json`), so that removing the container releases exactly
//! what it held.

use std::collections::BTreeMap;
use std::fs;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use xcompose_loader::model::{IpamPool, Network};
use xcompose_network::ipam::{Ipam, Subnet, Subnet6, Subnet6Request, SubnetRequest};
use xcompose_network::firewall::{self, NetworkRules};
use xcompose_network::link::{self, Attachment, InterfaceSettings, Ipv6Attachment, Netns};

use crate::dns::Names;
use crate::network_options::{self, bridge_options, BridgeOptions};
use crate::StackError;

/// A network as created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkRecord {
    /// Its name (`<project>_<key>` unless `name:` says otherwise).
    pub name: String,
    /// 64 hex digits, from the name; names its bridge unless `bridge` does.
    pub id: String,
    /// Its bridge: `com.docker.network.bridge.name`, or `xc-<id>` ([`link::bridge_name`]);
    /// absent from records written before bridges could be named, whose bridge is `xc-<id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    /// Its labels (compose's included).
    pub labels: BTreeMap<String, String>,
    /// No route out (`internal: true`).
    pub internal: bool,
    /// Its addressing.
    pub subnet: Subnet,
    /// Its IPv6 addressing, with `enable_ipv6: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<Subnet6>,
    /// What its `driver_opts` set.
    #[serde(default)]
    pub options: BridgeOptions,
}

/// A network [`Networks::prepare`]d: bridge up, firewall rules and record to come.
#[derive(Debug)]
pub(crate) struct PendingNetwork {
    record: NetworkRecord,
    /// Made now (its record is to be written), not found existing.
    new: bool,
}

/// One container's attachment to one network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The network's name.
    pub network: String,
    /// The network's id.
    pub network_id: String,
    /// Names the veth pair.
    pub endpoint_id: String,
    /// The container's address on the network, once allocated.
    pub address: Option<Ipv4Net>,
    /// The container's IPv6 address on the network, once allocated (IPv6 networks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address6: Option<Ipv6Net>,
}

/// What a container asks of its endpoint on one network.
#[derive(Debug, Clone)]
pub(crate) struct EndpointRequest<'a> {
    /// `ipv4_address`.
    pub requested: Option<Ipv4Addr>,
    /// `ipv6_address`.
    pub requested6: Option<Ipv6Addr>,
    /// Its DNS names there.
    pub names: &'a [String],
    /// `mac_address`, `interface_name`, `link_local_ips`.
    pub settings: InterfaceSettings,
    /// Whether the network's gateway gives the container's IPv4 default route (`gw_priority`).
    pub default_route: bool,
    /// Whether the network's IPv6 gateway gives the container's IPv6 default route.
    pub default_route6: bool,
}

/// The networks and endpoints of one state root.
#[derive(Debug, Clone)]
pub(crate) struct Networks {
    dir: PathBuf,
    endpoints: PathBuf,
    ipam: Ipam,
    names: Names,
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl Networks {
    /// The networks of state root `root`.
    pub(crate) fn open(root: &Path) -> Result<Self, StackError> {
        let dir = root.join("networks");
        let endpoints = root.join("endpoints");
        for d in [&dir, &endpoints] {
            fs::create_dir_all(d).map_err(StackError::io(d))?;
            // What a command killed while writing a record left.
            xcompose_images::store::remove_stale_temporaries(d)?;
        }
        Ok(Self { names: Names::new(&dir), dir, endpoints, ipam: Ipam::open(root.join("ipam")).map_err(StackError::network)? })
    }

    fn record_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// The network named `name`, if it exists.
    pub(crate) fn get(&self, name: &str) -> Result<Option<NetworkRecord>, StackError> {
        let path = self.record_path(name);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| StackError::Corrupt { path, message: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StackError::io(&path)(e)),
        }
    }

    /// Creates network `name` as `network` describes it (or completes it if it exists): its
    /// subnet, its bridge, up.
    pub(crate) fn create(&self, name: &str, network: &Network, labels: BTreeMap<String, String>) -> Result<NetworkRecord, StackError> {
        let pending = self.prepare(name, network, labels)?;
        Ok(self.finish(vec![pending])?.remove(0))
    }

    /// The part of [`Networks::create`] each network needs alone: its subnet and its bridge (for
    /// an existing network, its bridge again if it went). Its firewall rules and its record
    /// come with [`Networks::finish`], together with those of the other networks made at once.
    pub(crate) fn prepare(&self, name: &str, network: &Network, labels: BTreeMap<String, String>) -> Result<PendingNetwork, StackError> {
        if let Some(existing) = self.get(name)? {
            self.ensure_links(&existing)?;
            return Ok(PendingNetwork { record: existing, new: false });
        }
        let id = sha256_hex(name);
        let options = bridge_options(name, network)?;
        let bridge = match network_options::bridge_name(name, network)? {
            Some(bridge) => bridge,
            None => link::bridge_name(&id).map_err(StackError::network)?,
        };
        self.refuse_bridge_conflict(name, &bridge)?;
        link::check_bridge(&id, &bridge).map_err(|e| StackError::Invalid(format!("network {name}: driver_opts com.docker.network.bridge.name: {e}")))?;
        let (v4_pool, v6_pool) = pools(name, network)?;
        let request = match v4_pool {
            Some(p) => SubnetRequest {
                subnet: parse_opt(name, "subnet", &p.subnet)?,
                gateway: parse_opt(name, "gateway", &p.gateway)?,
                ip_range: parse_opt(name, "ip_range", &p.ip_range)?,
                aux_addresses: aux_addresses(name, p)?,
            },
            None => SubnetRequest::default(),
        };
        let request6 = match v6_pool {
            Some(p) => Subnet6Request {
                subnet: parse_opt(name, "subnet", &p.subnet)?,
                gateway: parse_opt(name, "gateway", &p.gateway)?,
                ip_range: parse_opt(name, "ip_range", &p.ip_range)?,
                aux_addresses: aux_addresses(name, p)?,
            },
            None => Subnet6Request::default(),
        };
        let subnet = self.ipam.create_network(&id, &request).map_err(StackError::network)?;
        xcompose_fault::point("network.create.subnet");
        let subnet6 = match network.enable_ipv6 {
            Some(true) => match self.ipam.create_network6(&id, &request6) {
                Ok(subnet6) => Some(subnet6),
                Err(e) => {
                    // Nothing of the network is left: it holds no address yet.
                    let _ = self.ipam.remove_network(&id);
                    return Err(StackError::network(e));
                }
            },
            _ => None,
        };
        link::ensure_bridge(&id, &bridge, subnet.gateway_net(), options.mtu).map_err(StackError::network)?;
        xcompose_fault::point("network.create.bridge");
        if let Some(subnet6) = subnet6 {
            link::add_bridge_ipv6(&bridge, subnet6.gateway_net()).map_err(StackError::network)?;
        }
        let record = NetworkRecord { name: name.to_string(), id, bridge: Some(bridge), labels, internal: network.internal, subnet, subnet6, options };
        Ok(PendingNetwork { record, new: true })
    }

    /// Finishes networks [`Networks::prepare`]d: the firewall rules of all of them in one change
    /// (one `iptables-restore`), then the records of the new ones.
    pub(crate) fn finish(&self, pending: Vec<PendingNetwork>) -> Result<Vec<NetworkRecord>, StackError> {
        let rules = pending.iter().map(|p| firewall_rules(&p.record)).collect::<Result<Vec<_>, _>>()?;
        firewall::add_networks(&rules).map_err(StackError::network)?;
        xcompose_fault::point("network.create.rules");
        for p in pending.iter().filter(|p| p.new) {
            xcompose_images::store::atomic_write(&self.record_path(&p.record.name), &serde_json::to_vec_pretty(&p.record).expect("records serialise"))?;
        }
        Ok(pending.into_iter().map(|p| p.record).collect())
    }

    /// Makes what an existing network needs that may have gone (after a reboot or a kill -9):
    /// its bridge and its firewall rules.
    pub(crate) fn ensure(&self, record: &NetworkRecord) -> Result<(), StackError> {
        self.ensure_links(record)?;
        firewall::add_network(&firewall_rules(record)?).map_err(StackError::network)
    }

    /// The bridge of existing network `record`, made again if it went.
    fn ensure_links(&self, record: &NetworkRecord) -> Result<(), StackError> {
        let bridge = bridge_of(record)?;
        link::ensure_bridge(&record.id, &bridge, record.subnet.gateway_net(), record.options.mtu).map_err(StackError::network)?;
        if let Some(subnet6) = record.subnet6 {
            link::add_bridge_ipv6(&bridge, subnet6.gateway_net()).map_err(StackError::network)?;
        }
        Ok(())
    }

    /// Removes networks `records`, each step for all of them at once: their names, their
    /// firewall rules (one change), their bridges (in parallel), their subnets, their records.
    pub(crate) fn remove_all(&self, records: &[NetworkRecord]) -> Result<(), StackError> {
        for record in records {
            self.names.remove(&record.name)?;
            xcompose_fault::point("network.remove.names");
        }
        let rules = records.iter().map(firewall_rules).collect::<Result<Vec<_>, _>>()?;
        firewall::remove_networks(&rules).map_err(StackError::network)?;
        xcompose_fault::point("network.remove.rules");
        let bridges = records.iter().map(bridge_of).collect::<Result<Vec<_>, _>>()?;
        std::thread::scope(|scope| {
            let deletions: Vec<_> = bridges.iter().map(|bridge| scope.spawn(move || link::delete_bridge(bridge))).collect();
            deletions.into_iter().map(|d| d.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect::<Result<Vec<()>, _>>()
        })
        .map_err(StackError::network)?;
        xcompose_fault::point("network.remove.bridge");
        for record in records {
            self.ipam.remove_network(&record.id).map_err(StackError::network)?;
            xcompose_fault::point("network.remove.subnet");
            let path = self.record_path(&record.name);
            fs::remove_file(&path).map_err(StackError::io(&path))?;
        }
        Ok(())
    }

    /// Fails if another network's record has bridge `bridge` (network `name` is to have it):
    /// Docker refuses two networks with one bridge name the same way.
    fn refuse_bridge_conflict(&self, name: &str, bridge: &str) -> Result<(), StackError> {
        for entry in fs::read_dir(&self.dir).map_err(StackError::io(&self.dir))? {
            let path = entry.map_err(StackError::io(&self.dir))?.path();
            let Some(other) = path.file_stem().and_then(|s| s.to_str()).filter(|_| path.extension().is_some_and(|e| e == "json")) else { continue };
            if other == name {
                continue;
            }
            if let Some(record) = self.get(other)? {
                if bridge_of(&record)? == bridge {
                    return Err(StackError::Invalid(format!("network {name} conflicts with network {other} ({}): networks have same bridge name {bridge}; give one of them another com.docker.network.bridge.name", record.id)));
                }
            }
        }
        Ok(())
    }

    /// The file the resolver reads the names of network `name` from.
    pub(crate) fn records_file(&self, name: &str) -> PathBuf {
        self.names.records_file(name)
    }

    fn endpoints_path(&self, container_id: &str) -> PathBuf {
        self.endpoints.join(format!("{container_id}.json"))
    }

    /// The endpoints of container `container_id`.
    pub(crate) fn endpoints(&self, container_id: &str) -> Result<Vec<Endpoint>, StackError> {
        let path = self.endpoints_path(container_id);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StackError::Corrupt { path, message: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(StackError::io(&path)(e)),
        }
    }

    /// Whether any container still has an endpoint on network `name` (Docker refuses to remove
    /// a network with active endpoints).
    pub(crate) fn in_use(&self, name: &str) -> Result<bool, StackError> {
        for entry in fs::read_dir(&self.endpoints).map_err(StackError::io(&self.endpoints))? {
            let path = entry.map_err(StackError::io(&self.endpoints))?.path();
            let Some(container_id) = path.file_stem().and_then(|s| s.to_str()).filter(|_| path.extension().is_some_and(|e| e == "json")) else { continue };
            if self.endpoints(container_id)?.iter().any(|e| e.network == name) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Attaches container `container_id` (network namespace `netns`) to `network` with static
    /// addresses if `requested` (IPv4) or `requested6` (IPv6, for a network with IPv6), under DNS
    /// `names`, with interface `settings`; with `default_route` (`default_route6`) the network's
    /// gateway gives the container's IPv4 (IPv6) default route. Returns the
    /// container's addresses there. The endpoint is recorded before anything is made for it, so
    /// that [`Networks::detach_all`] undoes an attach interrupted at any point.
    pub(crate) fn attach(&self, container_id: &str, netns: &Path, network: &NetworkRecord, request: EndpointRequest<'_>) -> Result<(Ipv4Net, Option<Ipv6Net>), StackError> {
        let EndpointRequest { requested, requested6, names, settings, default_route, default_route6 } = request;
        if let (Some(address), None) = (requested6, network.subnet6) {
            return Err(StackError::Network(format!("ipv6_address {address} on network {}: the network has no IPv6; set enable_ipv6: true on it", network.name)));
        }
        let mut endpoints = self.endpoints(container_id)?;
        let endpoint_id = sha256_hex(&format!("{container_id}/{}", network.id));
        endpoints.push(Endpoint { network: network.name.clone(), network_id: network.id.clone(), endpoint_id: endpoint_id.clone(), address: None, address6: None });
        self.save_endpoints(container_id, &endpoints)?;
        xcompose_fault::point("network.attach.recorded");
        let address = self.ipam.allocate(&network.id, container_id, requested).map_err(StackError::network)?;
        let address6 = match network.subnet6 {
            Some(_) => Some(self.ipam.allocate6(&network.id, container_id, requested6).map_err(StackError::network)?),
            None => None,
        };
        let endpoint = endpoints.last_mut().expect("just pushed");
        endpoint.address = Some(address);
        endpoint.address6 = address6;
        self.save_endpoints(container_id, &endpoints)?;
        xcompose_fault::point("network.attach.addressed");
        let attachment = Attachment {
            bridge: bridge_of(network)?,
            endpoint_id,
            netns: Netns::Path(netns.to_path_buf()),
            address,
            gateway: default_route.then_some(network.subnet.gateway),
            mtu: network.options.mtu,
            ipv6: address6.zip(network.subnet6).map(|(address, subnet6)| Ipv6Attachment { address, gateway: default_route6.then_some(subnet6.gateway) }),
            settings,
        };
        link::attach(&attachment).map_err(StackError::network)?;
        xcompose_fault::point("network.attach.linked");
        self.names.add(&network.name, names, address.addr().into())?;
        if let Some(address6) = address6 {
            self.names.add(&network.name, names, address6.addr().into())?;
        }
        Ok((address, address6))
    }

    fn save_endpoints(&self, container_id: &str, endpoints: &[Endpoint]) -> Result<(), StackError> {
        let path = self.endpoints_path(container_id);
        if endpoints.is_empty() {
            return match fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(StackError::io(&path)(e)),
            };
        }
        Ok(xcompose_images::store::atomic_write(&path, &serde_json::to_vec_pretty(endpoints).expect("endpoints serialise"))?)
    }

    /// Detaches container `container_id` from every network: veth pairs deleted, addresses
    /// released. Each endpoint is forgotten as soon as it is gone, so an interrupted detach
    /// resumes where it stopped.
    pub(crate) fn detach_all(&self, container_id: &str) -> Result<Vec<Endpoint>, StackError> {
        self.forget_endpoints(container_id, |endpoint| link::detach(&endpoint.endpoint_id).map_err(StackError::network))
    }

    /// As [`Networks::detach_all`] but leaving the veth pairs to the kernel, for a container
    /// whose network namespace is about to go: the namespace takes its veth pairs with it (see
    /// [`xcompose_network::link_watch`]). Returns the endpoints, whose host ends the caller
    /// waits for.
    pub(crate) fn release_all(&self, container_id: &str) -> Result<Vec<Endpoint>, StackError> {
        self.forget_endpoints(container_id, |_| Ok(()))
    }

    /// Forgets the endpoints of container `container_id` one by one: its names and addresses
    /// released, `unlink` done on each, then the endpoint dropped from its record.
    fn forget_endpoints(&self, container_id: &str, unlink: impl Fn(&Endpoint) -> Result<(), StackError>) -> Result<Vec<Endpoint>, StackError> {
        let mut endpoints = self.endpoints(container_id)?;
        let mut detached = Vec::new();
        while let Some(endpoint) = endpoints.pop() {
            if let Some(address) = endpoint.address {
                self.names.remove_address(&endpoint.network, address.addr().into())?;
            }
            if let Some(address6) = endpoint.address6 {
                self.names.remove_address(&endpoint.network, address6.addr().into())?;
            }
            unlink(&endpoint)?;
            xcompose_fault::point("network.detach.unlinked");
            self.ipam.release_owner(&endpoint.network_id, container_id).map_err(StackError::network)?;
            self.save_endpoints(container_id, &endpoints)?;
            detached.push(endpoint);
        }
        Ok(detached)
    }
}

/// What the firewall needs to know of a network.
fn firewall_rules(record: &NetworkRecord) -> Result<NetworkRules, StackError> {
    Ok(NetworkRules { bridge: bridge_of(record)?, subnet: record.subnet.subnet, subnet6: record.subnet6.map(|s| s.subnet), internal: record.internal, masquerade: record.options.masquerade, icc: record.options.icc })
}

/// The bridge of network `record`.
pub(crate) fn bridge_of(record: &NetworkRecord) -> Result<String, StackError> {
    match &record.bridge {
        Some(bridge) => Ok(bridge.clone()),
        None => link::bridge_name(&record.id).map_err(StackError::network),
    }
}

/// Fails, before anything is made, on networking settings of `project` that cannot work
/// together: several subnets of a family, an IPv6 subnet or `ipv6_address` on a network without
/// `enable_ipv6`, a port that cannot be published on IPv6.
pub(crate) fn check_project(project: &xcompose_loader::Project) -> Result<(), StackError> {
    for (key, network) in &project.networks {
        let (v4, v6) = pools(key, network)?;
        if let Some(pool) = v4 {
            aux_addresses::<Ipv4Addr>(key, pool)?;
        }
        if let Some(pool) = v6 {
            aux_addresses::<Ipv6Addr>(key, pool)?;
        }
        bridge_options(key, network)?;
        check_bridge_name(project, key, network)?;
    }
    for (service_name, service) in &project.services {
        let networks = xcompose_orchestrator::plan::service_networks(service);
        let has_ipv6 = |key: &str| project.networks.get(key).is_some_and(|n| n.enable_ipv6 == Some(true));
        for (i, (key, options)) in networks.iter().enumerate() {
            crate::network_options::interface_settings(service_name, service, key, *options, i == 0)?;
            let address6 = options.map(|o| o.ipv6_address.as_str()).unwrap_or_default();
            if !address6.is_empty() && !has_ipv6(key) {
                return Err(StackError::Service { service: service_name.clone(), message: format!("ipv6_address {address6} on network {key}: the network has no IPv6; set enable_ipv6: true on it") });
            }
        }
        let first6 = networks.first().filter(|(key, _)| has_ipv6(key)).map(|_| std::net::Ipv6Addr::UNSPECIFIED);
        for port in &service.ports {
            crate::ports::families(service_name, &port.host_ip, None, Ipv4Addr::UNSPECIFIED, first6)?;
        }
    }
    Ok(())
}

/// Fails if network `key`'s `com.docker.network.bridge.name` cannot be its bridge: another
/// network of `project` names the same bridge, or a link of that name exists that is not a
/// bridge xcompose made (see [`link::check_bridge`]). External networks are not made here.
fn check_bridge_name(project: &xcompose_loader::Project, key: &str, network: &Network) -> Result<(), StackError> {
    let Some(bridge) = network_options::bridge_name(key, network)?.filter(|_| !network.external) else { return Ok(()) };
    let same = project.networks.iter().find(|(other, n)| *other != key && !n.external && network_options::bridge_name(other, n).ok().flatten().as_deref() == Some(bridge.as_str()));
    if let Some((other, _)) = same {
        return Err(StackError::Invalid(format!("network {key} conflicts with network {other}: networks have same bridge name {bridge}; give one of them another com.docker.network.bridge.name")));
    }
    link::check_bridge(&sha256_hex(&network.name), &bridge).map_err(|e| StackError::Invalid(format!("network {key}: driver_opts com.docker.network.bridge.name: {e}")))
}

/// The IPv4 and the IPv6 `ipam.config` entry of `network` (`name`), told apart by their subnet
/// (or gateway or ip_range); an IPv6 one needs `enable_ipv6: true`, as with Docker.
fn pools<'a>(name: &str, network: &'a Network) -> Result<(Option<&'a IpamPool>, Option<&'a IpamPool>), StackError> {
    let is_v6 = |p: &IpamPool| [&p.subnet, &p.gateway, &p.ip_range].iter().any(|a| a.contains(':'));
    let (v6, v4): (Vec<&IpamPool>, Vec<&IpamPool>) = network.ipam.config.iter().partition(|p| is_v6(p));
    // Docker Engine refuses this too, for bridge networks (libnetwork's bridge driver, in
    // processIPAM: "bridge driver doesn't support multiple subnets"): only other drivers take
    // several pools of a family, and xcompose has no other driver.
    if v4.len() > 1 || v6.len() > 1 {
        return Err(StackError::Invalid(format!("network {name}: ipam.config has more than one IPv4 or IPv6 subnet: bridge driver doesn't support multiple subnets (Docker refuses it as well); keep one per family")));
    }
    if let (Some(pool), false) = (v6.first(), network.enable_ipv6 == Some(true)) {
        return Err(StackError::Invalid(format!("network {name}: ipam subnet {:?} is IPv6 but IPv6 is not enabled: add enable_ipv6: true to the network", pool.subnet)));
    }
    Ok((v4.first().copied(), v6.first().copied()))
}

/// The `aux_addresses` of ipam pool `pool` of network `network`, by name.
fn aux_addresses<T: std::str::FromStr>(network: &str, pool: &IpamPool) -> Result<Vec<(String, T)>, StackError> {
    pool.aux_addresses
        .iter()
        .map(|(name, address)| {
            let parsed = address.parse().map_err(|_| StackError::Invalid(format!("network {network}: ipam aux_addresses {name}: {address:?} is not an address of the subnet's family")))?;
            Ok((name.clone(), parsed))
        })
        .collect()
}

fn parse_opt<T: std::str::FromStr>(network: &str, key: &str, text: &str) -> Result<Option<T>, StackError> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| StackError::Invalid(format!("network {network}: invalid ipam {key} {text:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_without_a_bridge_has_its_ids_bridge_and_a_new_one_keeps_its_name() {
        let id = sha256_hex("p_default");
        let old = format!(r#"{{"name":"p_default","id":"{id}","labels":{{}},"internal":false,"subnet":{{"subnet":"172.30.1.0/24","gateway":"172.30.1.1","ip_range":null}}}}"#);
        let record: NetworkRecord = serde_json::from_str(&old).unwrap();
        assert_eq!(record.bridge, None);
        assert_eq!(bridge_of(&record).unwrap(), format!("xc-{}", &id[..12]));
        let named = NetworkRecord { bridge: Some("br-custom".into()), ..record };
        let read: NetworkRecord = serde_json::from_slice(&serde_json::to_vec(&named).unwrap()).unwrap();
        assert_eq!(bridge_of(&read).unwrap(), "br-custom");
        assert_eq!(firewall_rules(&read).unwrap().bridge, "br-custom");
    }
}
