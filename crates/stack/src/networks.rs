//! Compose networks on this machine: a record per network (`<root>/networks/<name>.json`), its
//! subnet from IPAM, its bridge; and each container's attachments, its endpoints
//! (`<root>/endpoints/<container id>.json`), so that removing the container releases exactly
//! what it held.

use std::collections::BTreeMap;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use xcompose_loader::model::Network;
use xcompose_network::ipam::{Ipam, Subnet, SubnetRequest};
use xcompose_network::firewall::{self, NetworkRules};
use xcompose_network::link::{self, Attachment, Netns};

use crate::dns::Names;
use crate::StackError;

/// A network as created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkRecord {
    /// Its name (`<project>_<key>` unless `name:` says otherwise).
    pub name: String,
    /// 64 hex digits, from the name; names its bridge.
    pub id: String,
    /// Its labels (compose's included).
    pub labels: BTreeMap<String, String>,
    /// No route out (`internal: true`).
    pub internal: bool,
    /// Its addressing.
    pub subnet: Subnet,
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
        if let Some(existing) = self.get(name)? {
            self.ensure(&existing)?;
            return Ok(existing);
        }
        let id = sha256_hex(name);
        let pool = network.ipam.config.first();
        let request = match pool {
            Some(p) => SubnetRequest {
                subnet: parse_opt(name, "subnet", &p.subnet)?,
                gateway: parse_opt(name, "gateway", &p.gateway)?,
                ip_range: parse_opt(name, "ip_range", &p.ip_range)?,
            },
            None => SubnetRequest::default(),
        };
        let subnet = self.ipam.create_network(&id, &request).map_err(StackError::network)?;
        xcompose_fault::point("network.create.subnet");
        let mtu = network.driver_opts.get("com.docker.network.driver.mtu").and_then(|m| m.parse().ok());
        link::ensure_bridge(&id, subnet.gateway_net(), mtu).map_err(StackError::network)?;
        xcompose_fault::point("network.create.bridge");
        let record = NetworkRecord { name: name.to_string(), id, labels, internal: network.internal, subnet };
        firewall::add_network(&firewall_rules(&record)?).map_err(StackError::network)?;
        xcompose_fault::point("network.create.rules");
        xcompose_images::store::atomic_write(&self.record_path(name), &serde_json::to_vec_pretty(&record).expect("records serialise"))?;
        Ok(record)
    }

    /// Makes what an existing network needs that may have gone (after a reboot or a kill -9):
    /// its bridge and its firewall rules.
    pub(crate) fn ensure(&self, record: &NetworkRecord) -> Result<(), StackError> {
        link::ensure_bridge(&record.id, record.subnet.gateway_net(), None).map_err(StackError::network)?;
        firewall::add_network(&firewall_rules(record)?).map_err(StackError::network)
    }

    /// Removes network `record`: its names, its bridge, its subnet, its record.
    pub(crate) fn remove(&self, record: &NetworkRecord) -> Result<(), StackError> {
        self.names.remove(&record.name)?;
        xcompose_fault::point("network.remove.names");
        firewall::remove_network(&firewall_rules(record)?).map_err(StackError::network)?;
        xcompose_fault::point("network.remove.rules");
        link::delete_bridge(&record.id).map_err(StackError::network)?;
        xcompose_fault::point("network.remove.bridge");
        self.ipam.remove_network(&record.id).map_err(StackError::network)?;
        xcompose_fault::point("network.remove.subnet");
        let path = self.record_path(&record.name);
        fs::remove_file(&path).map_err(StackError::io(&path))
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

    /// Attaches container `container_id` (network namespace `netns`) to `network` with a static
    /// address if `requested`, under DNS `names`; the first network attached gives the default
    /// route. The endpoint is recorded before anything is made for it, so that
    /// [`Networks::detach_all`] undoes an attach interrupted at any point.
    pub(crate) fn attach(&self, container_id: &str, netns: &Path, network: &NetworkRecord, requested: Option<Ipv4Addr>, names: &[String]) -> Result<Ipv4Net, StackError> {
        let mut endpoints = self.endpoints(container_id)?;
        let endpoint_id = sha256_hex(&format!("{container_id}/{}", network.id));
        endpoints.push(Endpoint { network: network.name.clone(), network_id: network.id.clone(), endpoint_id: endpoint_id.clone(), address: None });
        self.save_endpoints(container_id, &endpoints)?;
        xcompose_fault::point("network.attach.recorded");
        let address = self.ipam.allocate(&network.id, container_id, requested).map_err(StackError::network)?;
        endpoints.last_mut().expect("just pushed").address = Some(address);
        self.save_endpoints(container_id, &endpoints)?;
        xcompose_fault::point("network.attach.addressed");
        let attachment = Attachment {
            network_id: network.id.clone(),
            endpoint_id,
            netns: Netns::Path(netns.to_path_buf()),
            address,
            gateway: (!network.internal).then_some(network.subnet.gateway),
            mtu: None,
        };
        link::attach(&attachment).map_err(StackError::network)?;
        xcompose_fault::point("network.attach.linked");
        self.names.add(&network.name, names, address.addr())?;
        Ok(address)
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
        let mut endpoints = self.endpoints(container_id)?;
        let mut detached = Vec::new();
        while let Some(endpoint) = endpoints.pop() {
            if let Some(address) = endpoint.address {
                self.names.remove_address(&endpoint.network, address.addr())?;
            }
            link::detach(&endpoint.endpoint_id).map_err(StackError::network)?;
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
    Ok(NetworkRules { bridge: link::bridge_name(&record.id).map_err(StackError::network)?, subnet: record.subnet.subnet, internal: record.internal })
}

/// The bridge of network `record`.
pub(crate) fn bridge_of(record: &NetworkRecord) -> Result<String, StackError> {
    link::bridge_name(&record.id).map_err(StackError::network)
}

fn parse_opt<T: std::str::FromStr>(network: &str, key: &str, text: &str) -> Result<Option<T>, StackError> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| StackError::Invalid(format!("network {network}: invalid ipam {key} {text:?}")))
}
