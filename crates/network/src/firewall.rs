//! NAT, published ports and isolation with iptables (through the `iptables` crate, which runs
//! the `iptables` command: iptables-nft and iptables-legacy both work).
//!
//! Every rule lives in xcompose's own chains, each entered by one jump from a built-in chain:
//!
//! ```text
//! nat    PREROUTING, OUTPUT (dst-type LOCAL) -> XCOMPOSE-DNAT   DNAT of published ports
//! nat    POSTROUTING -> XCOMPOSE-POSTROUTING   masquerade out of non-internal networks, of
//!                                               127.0.0.0/8 sources (ports published on
//!                                               localhost) and of hairpin traffic
//! filter FORWARD     -> XCOMPOSE-FORWARD       internal networks closed, other networks
//!                                               isolated from each other, the rest accepted
//! raw    PREROUTING  -> XCOMPOSE-RAW           packets for 127.0.0.0/8 that did not come from
//!                                               lo dropped (route_localnet is on for bridges)
//! ```
//!
//! The chains are made on first use and removed with their jumps when the last network goes.
//! Sequences of commands are serialised by a lock file in /run, so concurrent xcompose
//! processes never interleave them.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};

use ipnet::Ipv4Net;
use nix::fcntl::{Flock, FlockArg};

/// Why a firewall change failed.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// An iptables command failed.
    #[error("iptables: {0} (xcompose needs root and the iptables command, package iptables)")]
    Iptables(String),
    /// A host port is taken.
    #[error("Bind for {ip}:{port} failed: port is already allocated")]
    PortAllocated {
        /// The host address.
        ip: String,
        /// The port.
        port: u16,
    },
    /// No host port is free for a port published without one.
    #[error("no free host port for {0}: free one of 32768-60999 or give the port a host port")]
    NoFreePort(String),
    /// A kernel parameter could not be set.
    #[error("setting {path}: {source}")]
    Sysctl {
        /// The /proc/sys file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The lock could not be taken.
    #[error("locking {path}: {source}")]
    Lock {
        /// The lock file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, FirewallError>;

/// A compose network as the firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRules {
    /// Its bridge.
    pub bridge: String,
    /// Its subnet.
    pub subnet: Ipv4Net,
    /// No traffic in or out of the bridge (`internal: true`).
    pub internal: bool,
}

/// A transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// A container port published on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    /// Its protocol.
    pub protocol: Protocol,
    /// The host address it is published on; `None` for all.
    pub host_ip: Option<Ipv4Addr>,
    /// The host port.
    pub host_port: u16,
    /// The container's address.
    pub container_ip: Ipv4Addr,
    /// The container's port.
    pub container_port: u16,
    /// The bridge the container is on.
    pub bridge: String,
}

const DNAT: &str = "XCOMPOSE-DNAT";
const POSTROUTING: &str = "XCOMPOSE-POSTROUTING";
const FORWARD: &str = "XCOMPOSE-FORWARD";
const ISOLATION: &str = "XCOMPOSE-ISOLATION";
const RAW: &str = "XCOMPOSE-RAW";
/// Prefix of the bridges of compose networks (see [`crate::link::bridge_name`]).
const BRIDGES: &str = "xc-+";

/// (table, built-in chain, our chain, the jump's match).
const JUMPS: [(&str, &str, &str, &str); 5] = [
    ("nat", "PREROUTING", DNAT, "-m addrtype --dst-type LOCAL"),
    ("nat", "OUTPUT", DNAT, "-m addrtype --dst-type LOCAL"),
    ("nat", "POSTROUTING", POSTROUTING, ""),
    ("filter", "FORWARD", FORWARD, ""),
    ("raw", "PREROUTING", RAW, ""),
];

fn iptables() -> Result<iptables::IPTables> {
    iptables::new(false).map_err(|e| FirewallError::Iptables(e.to_string()))
}

fn fail(e: Box<dyn std::error::Error>) -> FirewallError {
    FirewallError::Iptables(e.to_string())
}

/// Holds the firewall lock while alive.
fn lock() -> Result<Flock<File>> {
    let path = "/run/xcompose-firewall.lock";
    let file = File::options().create(true).truncate(false).write(true).open(path).map_err(|source| FirewallError::Lock { path: path.into(), source })?;
    Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| FirewallError::Lock { path: path.into(), source: e.into() })
}

fn sysctl(path: &str, value: &str) -> Result<()> {
    std::fs::write(path, value).map_err(|source| FirewallError::Sysctl { path: path.into(), source })
}

/// Appends `rule` to `table`/`chain` unless it is there.
fn ensure(ipt: &iptables::IPTables, table: &str, chain: &str, rule: &str) -> Result<()> {
    if !ipt.exists(table, chain, rule).map_err(fail)? {
        ipt.append(table, chain, rule).map_err(fail)?;
    }
    Ok(())
}

/// Deletes `rule` from `table`/`chain` if it is there.
fn remove(ipt: &iptables::IPTables, table: &str, chain: &str, rule: &str) -> Result<()> {
    if ipt.chain_exists(table, chain).map_err(fail)? && ipt.exists(table, chain, rule).map_err(fail)? {
        ipt.delete(table, chain, rule).map_err(fail)?;
    }
    Ok(())
}

/// Our chains and the jumps to them, made if missing; forwarding on.
fn ensure_chains(ipt: &iptables::IPTables) -> Result<()> {
    for (table, chain) in [("nat", DNAT), ("nat", POSTROUTING), ("filter", FORWARD), ("filter", ISOLATION), ("raw", RAW)] {
        if !ipt.chain_exists(table, chain).map_err(fail)? {
            ipt.new_chain(table, chain).map_err(fail)?;
        }
    }
    for (table, builtin, chain, matcher) in JUMPS {
        let rule = format!("{matcher} -j {chain}").trim().to_string();
        if !ipt.exists(table, builtin, &rule).map_err(fail)? {
            ipt.insert(table, builtin, &rule, 1).map_err(fail)?;
        }
    }
    // First in XCOMPOSE-FORWARD: traffic between two compose networks goes to the isolation chain.
    ensure(ipt, "filter", FORWARD, &format!("-i {BRIDGES} -o {BRIDGES} -j {ISOLATION}"))?;
    ensure(ipt, "raw", RAW, "! -i lo -d 127.0.0.0/8 -j DROP")?;
    sysctl("/proc/sys/net/ipv4/ip_forward", "1")
}

/// The rules of network `n`, by (table, chain).
fn network_rules(n: &NetworkRules) -> Vec<(&'static str, &'static str, String)> {
    let (br, subnet) = (&n.bridge, n.subnet);
    let mut rules = vec![
        // Ports published on localhost: the kernel routes 127.0.0.1 sources out of the bridge
        // (route_localnet); they leave with the gateway's address.
        ("nat", POSTROUTING, format!("-s 127.0.0.0/8 -o {br} -j MASQUERADE")),
        // Hairpin: a container reaching a published port of its own network gets its answer back
        // through the host.
        ("nat", POSTROUTING, format!("-s {subnet} -o {br} -m conntrack --ctstate DNAT -j MASQUERADE")),
        // Between two different compose bridges: dropped.
        ("filter", ISOLATION, format!("-i {br} ! -o {br} -j DROP")),
    ];
    if n.internal {
        rules.push(("filter", FORWARD, format!("-i {br} ! -o {br} -j DROP")));
        rules.push(("filter", FORWARD, format!("-o {br} ! -i {br} -j DROP")));
    } else {
        rules.push(("nat", POSTROUTING, format!("-s {subnet} ! -o {br} -j MASQUERADE")));
    }
    rules.push(("filter", FORWARD, format!("-i {br} -j ACCEPT")));
    rules.push(("filter", FORWARD, format!("-o {br} -j ACCEPT")));
    rules
}

/// Sets up NAT and filtering for network `n` (idempotent).
pub fn add_network(n: &NetworkRules) -> Result<()> {
    let _lock = lock()?;
    let ipt = iptables()?;
    ensure_chains(&ipt)?;
    for (table, chain, rule) in network_rules(n) {
        ensure(&ipt, table, chain, &rule)?;
    }
    sysctl(&format!("/proc/sys/net/ipv4/conf/{}/route_localnet", n.bridge), "1")
}

/// Removes the rules of network `n` (idempotent); with the last network, xcompose's chains and
/// jumps go too.
pub fn remove_network(n: &NetworkRules) -> Result<()> {
    let _lock = lock()?;
    let ipt = iptables()?;
    for (table, chain, rule) in network_rules(n) {
        remove(&ipt, table, chain, &rule)?;
    }
    let bridges_left = ipt.chain_exists("filter", ISOLATION).map_err(fail)? && !ipt.list("filter", ISOLATION).map_err(fail)?.iter().all(|r| r.starts_with("-N"));
    let ports_left = ipt.chain_exists("nat", DNAT).map_err(fail)? && !ipt.list("nat", DNAT).map_err(fail)?.iter().all(|r| r.starts_with("-N"));
    if !bridges_left && !ports_left {
        remove_chains(&ipt)?;
    }
    Ok(())
}

/// xcompose's chains and the jumps to them, gone.
fn remove_chains(ipt: &iptables::IPTables) -> Result<()> {
    for (table, builtin, chain, matcher) in JUMPS {
        remove(ipt, table, builtin, format!("{matcher} -j {chain}").trim())?;
    }
    for (table, chain) in [("nat", DNAT), ("nat", POSTROUTING), ("filter", FORWARD), ("filter", ISOLATION), ("raw", RAW)] {
        if ipt.chain_exists(table, chain).map_err(fail)? {
            ipt.flush_chain(table, chain).map_err(fail)?;
            ipt.delete_chain(table, chain).map_err(fail)?;
        }
    }
    Ok(())
}

fn dnat_rule(m: &PortMapping) -> String {
    let dst = m.host_ip.map(|ip| format!("-d {ip}/32 ")).unwrap_or_default();
    format!("{dst}-p {proto} -m {proto} --dport {} -j DNAT --to-destination {}:{}", m.host_port, m.container_ip, m.container_port, proto = m.protocol.name())
}

/// Whether `protocol` port `port` of `host_ip` (all addresses if `None`) is free: published by
/// no xcompose rule, and bindable (no process listens on it).
pub fn port_is_free(protocol: Protocol, host_ip: Option<Ipv4Addr>, port: u16) -> Result<bool> {
    let ipt = iptables()?;
    Ok(!published(&ipt, protocol, host_ip, port)? && bindable(protocol, host_ip, port))
}

fn published(ipt: &iptables::IPTables, protocol: Protocol, host_ip: Option<Ipv4Addr>, port: u16) -> Result<bool> {
    if !ipt.chain_exists("nat", DNAT).map_err(fail)? {
        return Ok(false);
    }
    let needle = format!("-p {} -m {} --dport {port} ", protocol.name(), protocol.name());
    Ok(ipt.list("nat", DNAT).map_err(fail)?.iter().any(|rule| {
        let same_ip = match (host_ip, rule.split_once("-d ")) {
            (Some(ip), Some((_, rest))) => rest.starts_with(&format!("{ip}/32")),
            // One of them is on every address: they overlap.
            _ => true,
        };
        rule.contains(&needle) && same_ip
    }))
}

fn bindable(protocol: Protocol, host_ip: Option<Ipv4Addr>, port: u16) -> bool {
    let addr = SocketAddrV4::new(host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED), port);
    match protocol {
        Protocol::Tcp => TcpListener::bind(addr).is_ok(),
        Protocol::Udp => UdpSocket::bind(addr).is_ok(),
    }
}

/// A free host port (32768-60999) for `protocol` on `host_ip`.
pub fn random_host_port(protocol: Protocol, host_ip: Option<Ipv4Addr>) -> Result<u16> {
    let ipt = iptables()?;
    let start = 32768 + (std::process::id() as u16 % 28232);
    for offset in 0..28232u16 {
        let port = 32768 + (start - 32768 + offset) % 28232;
        if !published(&ipt, protocol, host_ip, port)? && bindable(protocol, host_ip, port) {
            return Ok(port);
        }
    }
    Err(FirewallError::NoFreePort(protocol.name().into()))
}

/// Publishes `m`; fails if its host port is already published or in use on the host.
pub fn publish(m: &PortMapping) -> Result<()> {
    let _lock = lock()?;
    let ipt = iptables()?;
    ensure_chains(&ipt)?;
    let rule = dnat_rule(m);
    if ipt.exists("nat", DNAT, &rule).map_err(fail)? {
        return Ok(());
    }
    if published(&ipt, m.protocol, m.host_ip, m.host_port)? || !bindable(m.protocol, m.host_ip, m.host_port) {
        let ip = m.host_ip.map_or("0.0.0.0".to_string(), |ip| ip.to_string());
        return Err(FirewallError::PortAllocated { ip, port: m.host_port });
    }
    ipt.append("nat", DNAT, &rule).map_err(fail)
}

/// Unpublishes `m` (idempotent).
pub fn unpublish(m: &PortMapping) -> Result<()> {
    let _lock = lock()?;
    let ipt = iptables()?;
    remove(&ipt, "nat", DNAT, &dnat_rule(m))
}
