//! NAT, published ports and isolation with iptables (iptables-nft and iptables-legacy both work).
//!
//! Each change reads the rules once (`iptables-save`) and applies what is missing or obsolete in
//! one atomic batch (`iptables-restore --noflush`): two commands per change instead of one or two
//! per rule (the `iptables` crate runs a command per rule and cannot batch), which keeps network
//! setup and teardown in the tens of milliseconds. Rules are written in the canonical form
//! `iptables-save` prints, so that what is there is recognised.
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
//! Networks with IPv6 get the same chains and rules in ip6tables for their IPv6 subnet, as Docker
//! makes them with `ip6tables: true` and no userland proxy; IPv6 has no `route_localnet`, so
//! nothing is published on `::1`.
//!
//! The chains are made on first use and removed with their jumps when the last network goes.
//! Sequences of commands are serialised by a lock file in /run, so concurrent xcompose
//! processes never interleave them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::process::{Command, Stdio};

use ipnet::{Ipv4Net, Ipv6Net};
use nix::fcntl::{Flock, FlockArg};

/// Why a firewall change failed.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// An iptables command failed.
    #[error("iptables: {0} (xcompose needs root and iptables-save/iptables-restore, package iptables)")]
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
    /// Its IPv6 subnet, with `enable_ipv6`.
    pub subnet6: Option<Ipv6Net>,
    /// No traffic in or out of the bridge (`internal: true`).
    pub internal: bool,
    /// Traffic out leaves with the host's address (Docker's default); off with the bridge
    /// option `com.docker.network.bridge.enable_ip_masquerade: "false"`.
    pub masquerade: bool,
    /// Containers of the network reach each other (Docker's default); off with the bridge
    /// option `com.docker.network.bridge.enable_icc: "false"`.
    pub icc: bool,
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
    /// The host address it is published on, of the container address's family; `None` for all
    /// of that family.
    pub host_ip: Option<IpAddr>,
    /// The host port.
    pub host_port: u16,
    /// The container's address (IPv4 or IPv6: the family of the rule).
    pub container_ip: IpAddr,
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

/// The two families of rules: iptables and ip6tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// IPv4, iptables.
    V4,
    /// IPv6, ip6tables.
    V6,
}

impl Family {
    fn of(ip: IpAddr) -> Family {
        if ip.is_ipv4() { Family::V4 } else { Family::V6 }
    }

    fn save(self) -> &'static str {
        match self {
            Family::V4 => "iptables-save",
            Family::V6 => "ip6tables-save",
        }
    }

    fn restore(self) -> &'static str {
        match self {
            Family::V4 => "iptables-restore",
            Family::V6 => "ip6tables-restore",
        }
    }

    /// A host address as a rule matches it.
    fn host(self, ip: IpAddr) -> String {
        match self {
            Family::V4 => format!("{ip}/32"),
            Family::V6 => format!("{ip}/128"),
        }
    }

    /// Every address of the family.
    fn unspecified(self) -> IpAddr {
        match self {
            Family::V4 => Ipv4Addr::UNSPECIFIED.into(),
            Family::V6 => Ipv6Addr::UNSPECIFIED.into(),
        }
    }
}

/// xcompose's chains, by table.
const CHAINS: [(&str, &str); 5] = [("nat", DNAT), ("nat", POSTROUTING), ("filter", FORWARD), ("filter", ISOLATION), ("raw", RAW)];

/// The jumps into xcompose's chains: (table, built-in chain, rule).
fn jumps() -> [(&'static str, &'static str, String); 5] {
    [
        ("nat", "PREROUTING", format!("-m addrtype --dst-type LOCAL -j {DNAT}")),
        ("nat", "OUTPUT", format!("-m addrtype --dst-type LOCAL -j {DNAT}")),
        ("nat", "POSTROUTING", format!("-j {POSTROUTING}")),
        ("filter", "FORWARD", format!("-j {FORWARD}")),
        ("raw", "PREROUTING", format!("-j {RAW}")),
    ]
}

/// The rules every network needs once: (table, chain, rule).
fn common_rules(family: Family) -> Vec<(&'static str, &'static str, String)> {
    // Traffic between two compose networks goes through the isolation chain.
    let mut rules = vec![("filter", FORWARD, format!("-i {BRIDGES} -o {BRIDGES} -j {ISOLATION}"))];
    if family == Family::V4 {
        // route_localnet is on for bridges: nothing but lo may send to 127.0.0.0/8.
        rules.push(("raw", RAW, "-d 127.0.0.0/8 ! -i lo -j DROP".to_string()));
    }
    rules
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

/// The current rules and chains, as `iptables-save` prints them.
struct Snapshot {
    /// (table, chain) of every chain.
    chains: BTreeSet<(String, String)>,
    /// (table, chain, rule) of every rule.
    rules: BTreeSet<(String, String, String)>,
}

impl Snapshot {
    fn take(family: Family) -> Result<Snapshot> {
        let save = family.save();
        let out = Command::new(save).stderr(Stdio::piped()).output().map_err(|e| FirewallError::Iptables(format!("running {save}: {e}")))?;
        if !out.status.success() {
            return Err(FirewallError::Iptables(format!("{save}: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        let mut snapshot = Snapshot { chains: BTreeSet::new(), rules: BTreeSet::new() };
        let mut table = String::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(t) = line.strip_prefix('*') {
                table = t.to_string();
            } else if let Some(decl) = line.strip_prefix(':') {
                let chain = decl.split_whitespace().next().unwrap_or_default();
                snapshot.chains.insert((table.clone(), chain.to_string()));
            } else if let Some(rule) = line.strip_prefix("-A ") {
                if let Some((chain, rest)) = rule.split_once(' ') {
                    snapshot.rules.insert((table.clone(), chain.to_string(), rest.to_string()));
                }
            }
        }
        Ok(snapshot)
    }

    fn has_chain(&self, table: &str, chain: &str) -> bool {
        self.chains.contains(&(table.to_string(), chain.to_string()))
    }

    fn has(&self, table: &str, chain: &str, rule: &str) -> bool {
        self.rules.contains(&(table.to_string(), chain.to_string(), rule.to_string()))
    }

    /// The rules of `table`/`chain`.
    fn rules_of<'a>(&'a self, table: &'a str, chain: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.rules.iter().filter(move |(t, c, _)| t == table && c == chain).map(|(_, _, r)| r.as_str())
    }
}

/// Commands for `iptables-restore --noflush`, by table, applied at once.
#[derive(Default)]
struct Batch {
    tables: BTreeMap<&'static str, Vec<String>>,
}

impl Batch {
    fn push(&mut self, table: &'static str, command: String) {
        self.tables.entry(table).or_default().push(command);
    }

    fn apply(self, family: Family) -> Result<()> {
        if self.tables.is_empty() {
            return Ok(());
        }
        let mut script = String::new();
        for (table, commands) in &self.tables {
            script.push_str(&format!("*{table}\n"));
            for c in commands {
                script.push_str(c);
                script.push('\n');
            }
            script.push_str("COMMIT\n");
        }
        let restore = family.restore();
        let mut child = Command::new(restore)
            .args(["--noflush", "--wait"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| FirewallError::Iptables(format!("running {restore}: {e}")))?;
        child.stdin.take().expect("stdin is piped").write_all(script.as_bytes()).map_err(|e| FirewallError::Iptables(format!("writing to {restore}: {e}")))?;
        let out = child.wait_with_output().map_err(|e| FirewallError::Iptables(format!("{restore}: {e}")))?;
        if !out.status.success() {
            return Err(FirewallError::Iptables(format!("{restore}: {} (rules: {script:?})", String::from_utf8_lossy(&out.stderr).trim())));
        }
        Ok(())
    }
}

/// Adds to `batch` what is missing of xcompose's chains, the jumps to them and the common rules.
fn ensure_chains(family: Family, snapshot: &Snapshot, batch: &mut Batch) {
    for (table, chain) in CHAINS {
        if !snapshot.has_chain(table, chain) {
            batch.push(table, format!(":{chain} - [0:0]"));
        }
    }
    for (table, builtin, rule) in jumps() {
        if !snapshot.has(table, builtin, &rule) {
            batch.push(table, format!("-I {builtin} 1 {rule}"));
        }
    }
    for (table, chain, rule) in common_rules(family) {
        if !snapshot.has(table, chain, &rule) {
            batch.push(table, format!("-A {chain} {rule}"));
        }
    }
}

/// The rules of network `n` for `family`: (table, chain, rule), in the order they go in; none
/// for IPv6 on a network without it.
fn network_rules(family: Family, n: &NetworkRules) -> Vec<(&'static str, &'static str, String)> {
    let br = &n.bridge;
    let (subnet, mut rules) = match (family, n.subnet6) {
        (Family::V4, _) => (n.subnet.to_string(), vec![
            // Ports published on localhost: the kernel routes 127.0.0.1 sources out of the
            // bridge (route_localnet); they leave with the gateway's address.
            ("nat", POSTROUTING, format!("-s 127.0.0.0/8 -o {br} -j MASQUERADE")),
        ]),
        (Family::V6, Some(subnet6)) => (subnet6.to_string(), Vec::new()),
        (Family::V6, None) => return Vec::new(),
    };
    rules.extend([
        // Hairpin: a container reaching a published port of its own network gets its answer back
        // through the host.
        ("nat", POSTROUTING, format!("-s {subnet} -o {br} -m conntrack --ctstate DNAT -j MASQUERADE")),
        // Between two different compose bridges: dropped.
        ("filter", ISOLATION, format!("-i {br} ! -o {br} -j DROP")),
    ]);
    if n.internal {
        rules.push(("filter", FORWARD, format!("-i {br} ! -o {br} -j DROP")));
        rules.push(("filter", FORWARD, format!("! -i {br} -o {br} -j DROP")));
    } else if n.masquerade {
        rules.push(("nat", POSTROUTING, format!("-s {subnet} ! -o {br} -j MASQUERADE")));
    }
    rules.extend(icc_rules(n));
    rules.push(("filter", FORWARD, format!("-i {br} -j ACCEPT")));
    rules.push(("filter", FORWARD, format!("-o {br} -j ACCEPT")));
    rules
}

/// Without inter-container communication (`enable_icc: "false"`), Docker's rule: traffic from
/// the bridge back into it is dropped; the gateway (the host) is still reached.
fn icc_rules(n: &NetworkRules) -> Vec<(&'static str, &'static str, String)> {
    let br = &n.bridge;
    if n.icc { Vec::new() } else { vec![("filter", FORWARD, format!("-i {br} -o {br} -j DROP"))] }
}

/// Bridged traffic between two ports of one bridge goes through iptables only with
/// `bridge-nf-call-iptables` (and ip6tables) on, which Docker sets for a network without
/// inter-container communication.
fn bridged_traffic_filtered() -> Result<()> {
    for family in ["iptables", "ip6tables"] {
        sysctl(&format!("/proc/sys/net/bridge/bridge-nf-call-{family}"), "1")?;
    }
    Ok(())
}

/// Sets up NAT and filtering for network `n` (idempotent), in ip6tables too for a network with
/// IPv6; forwarding on.
pub fn add_network(n: &NetworkRules) -> Result<()> {
    let _lock = lock()?;
    if !n.icc {
        bridged_traffic_filtered()?;
    }
    add_rules(Family::V4, n)?;
    sysctl("/proc/sys/net/ipv4/ip_forward", "1")?;
    sysctl(&format!("/proc/sys/net/ipv4/conf/{}/route_localnet", n.bridge), "1")?;
    if n.subnet6.is_some() {
        add_rules(Family::V6, n)?;
        sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1")?;
    }
    Ok(())
}

fn add_rules(family: Family, n: &NetworkRules) -> Result<()> {
    let snapshot = Snapshot::take(family)?;
    let mut batch = Batch::default();
    ensure_chains(family, &snapshot, &mut batch);
    for (table, chain, rule) in network_rules(family, n) {
        if !snapshot.has(table, chain, &rule) {
            batch.push(table, format!("-A {chain} {rule}"));
        }
    }
    batch.apply(family)
}

/// Removes the rules of network `n` (idempotent); with the last network, xcompose's chains and
/// jumps go too.
pub fn remove_network(n: &NetworkRules) -> Result<()> {
    let _lock = lock()?;
    remove_rules(Family::V4, n)?;
    if n.subnet6.is_some() {
        remove_rules(Family::V6, n)?;
    }
    Ok(())
}

fn remove_rules(family: Family, n: &NetworkRules) -> Result<()> {
    let snapshot = Snapshot::take(family)?;
    let mut batch = Batch::default();
    let mut removed = BTreeSet::new();
    for (table, chain, rule) in network_rules(family, n) {
        if snapshot.has(table, chain, &rule) {
            batch.push(table, format!("-D {chain} {rule}"));
            removed.insert((table.to_string(), chain.to_string(), rule));
        }
    }
    let left = |table: &str, chain: &str| snapshot.rules_of(table, chain).any(|r| !removed.contains(&(table.to_string(), chain.to_string(), r.to_string())));
    if !left("filter", ISOLATION) && !left("nat", DNAT) {
        remove_chains(&snapshot, &mut batch);
    }
    batch.apply(family)
}

/// Adds to `batch` the removal of the jumps and of xcompose's chains.
fn remove_chains(snapshot: &Snapshot, batch: &mut Batch) {
    for (table, builtin, rule) in jumps() {
        if snapshot.has(table, builtin, &rule) {
            batch.push(table, format!("-D {builtin} {rule}"));
        }
    }
    for (table, chain) in CHAINS {
        if snapshot.has_chain(table, chain) {
            batch.push(table, format!("-F {chain}"));
        }
    }
    for (table, chain) in CHAINS {
        if snapshot.has_chain(table, chain) {
            batch.push(table, format!("-X {chain}"));
        }
    }
}

fn dnat_rule(m: &PortMapping) -> String {
    let family = Family::of(m.container_ip);
    let dst = m.host_ip.map(|ip| format!("-d {} ", family.host(ip))).unwrap_or_default();
    let to = SocketAddr::new(m.container_ip, m.container_port);
    format!("{dst}-p {proto} -m {proto} --dport {} -j DNAT --to-destination {to}", m.host_port, proto = m.protocol.name())
}

/// Whether `protocol` port `port` of `host_ip` (all IPv4 addresses if `None`) is free: published
/// by no xcompose rule, and bindable (no process listens on it).
pub fn port_is_free(protocol: Protocol, host_ip: Option<IpAddr>, port: u16) -> Result<bool> {
    let family = host_ip.map_or(Family::V4, Family::of);
    let snapshot = Snapshot::take(family)?;
    Ok(!published(family, &snapshot, protocol, host_ip, port) && bindable(family, protocol, host_ip, port))
}

fn published(family: Family, snapshot: &Snapshot, protocol: Protocol, host_ip: Option<IpAddr>, port: u16) -> bool {
    let needle = format!("-p {} -m {} --dport {port} ", protocol.name(), protocol.name());
    snapshot.rules_of("nat", DNAT).any(|rule| {
        let same_ip = match (host_ip, rule.strip_prefix("-d ")) {
            (Some(ip), Some(rest)) => rest.starts_with(&format!("{} ", family.host(ip))),
            // One of them is on every address: they overlap.
            _ => true,
        };
        rule.contains(&needle) && same_ip
    })
}

fn bindable(family: Family, protocol: Protocol, host_ip: Option<IpAddr>, port: u16) -> bool {
    let addr = SocketAddr::new(host_ip.unwrap_or(family.unspecified()), port);
    match protocol {
        Protocol::Tcp => TcpListener::bind(addr).is_ok(),
        Protocol::Udp => UdpSocket::bind(addr).is_ok(),
    }
}

/// A free host port (32768-60999) for `protocol` on `host_ip` (all IPv4 addresses if `None`).
pub fn random_host_port(protocol: Protocol, host_ip: Option<IpAddr>) -> Result<u16> {
    let family = host_ip.map_or(Family::V4, Family::of);
    let snapshot = Snapshot::take(family)?;
    let start = std::process::id() as u16 % 28232;
    (0..28232u16)
        .map(|offset| 32768 + (start + offset) % 28232)
        .find(|port| !published(family, &snapshot, protocol, host_ip, *port) && bindable(family, protocol, host_ip, *port))
        .ok_or_else(|| FirewallError::NoFreePort(protocol.name().into()))
}

/// Publishes `m`; fails if its host port is already published or in use on the host.
pub fn publish(m: &PortMapping) -> Result<()> {
    let _lock = lock()?;
    let family = Family::of(m.container_ip);
    let snapshot = Snapshot::take(family)?;
    let rule = dnat_rule(m);
    if snapshot.has("nat", DNAT, &rule) {
        return Ok(());
    }
    if published(family, &snapshot, m.protocol, m.host_ip, m.host_port) || !bindable(family, m.protocol, m.host_ip, m.host_port) {
        let ip = match m.host_ip.unwrap_or(family.unspecified()) {
            IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        };
        return Err(FirewallError::PortAllocated { ip, port: m.host_port });
    }
    let mut batch = Batch::default();
    ensure_chains(family, &snapshot, &mut batch);
    batch.push("nat", format!("-A {DNAT} {rule}"));
    batch.apply(family)
}

/// Unpublishes `m` (idempotent).
pub fn unpublish(m: &PortMapping) -> Result<()> {
    let _lock = lock()?;
    let family = Family::of(m.container_ip);
    let snapshot = Snapshot::take(family)?;
    let rule = dnat_rule(m);
    if !snapshot.has("nat", DNAT, &rule) {
        return Ok(());
    }
    let mut batch = Batch::default();
    batch.push("nat", format!("-D {DNAT} {rule}"));
    batch.apply(family)
}
