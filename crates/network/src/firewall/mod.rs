//! NAT, published ports and isolation with iptables (iptables-nft and iptables-legacy both work).
//!
//! Each change applies what is missing or obsolete in one atomic batch (`iptables-restore
//! --noflush`): one command per change instead of one or two per rule (the `iptables` crate runs
//! a command per rule and cannot batch). What is there is known from a record of xcompose's own
//! rules kept in /run ([`ruleset`]), not read back with `iptables-save` each time (a spawn of
//! ~10 ms saved per change); the rules are read only when there is no record (first change since
//! boot) or when a batch planned from the record fails. Rules are written in the canonical form
//! `iptables-save` prints, so that what is read back is recognised.
//!
//! Why not nftables natively over netlink: Docker users inspect the rules with `iptables -t nat
//! -S`, which shows only tables made through iptables' compat layer; one `iptables-restore` per
//! change keeps them visible on both the nft and the legacy back ends.
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

mod ruleset;

use ruleset::{Op, Ruleset};

/// Why a firewall change failed.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// An iptables command failed.
    #[error("iptables: {0} (xcompose needs root and iptables-save/iptables-restore, package iptables)")]
    Iptables(String),
    /// The record of the rules could not be written.
    #[error("recording the firewall rules in {path}: {source}")]
    Record {
        /// The record file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
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
/// The rule that sent traffic between two compose bridges to the isolation chain before bridges
/// had a group, by their names' prefix: it missed bridges named by
/// `com.docker.network.bridge.name`. Deleted where a record or the kernel still has it.
const OLD_ISOLATION_JUMP: &str = "-i xc-+ -o xc-+ -j XCOMPOSE-ISOLATION";

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
    // Traffic between two compose networks goes through the isolation chain: between two
    // bridges of xcompose's interface group, whatever their names (xt_devgroup).
    let group = crate::link::BRIDGE_GROUP;
    let mut rules = vec![("filter", FORWARD, format!("-m devgroup --src-group {group:#x} --dst-group {group:#x} -j {ISOLATION}"))];
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

/// Changes for `iptables-restore --noflush`, by table, applied at once.
#[derive(Default)]
struct Batch {
    tables: BTreeMap<&'static str, Vec<Op>>,
}

impl Batch {
    fn push(&mut self, table: &'static str, op: Op) {
        self.tables.entry(table).or_default().push(op);
    }

    /// Puts the changes of `first` before those of this batch.
    fn prepend(&mut self, first: Batch) {
        for (table, mut ops) in first.tables {
            let rest = self.tables.remove(table).unwrap_or_default();
            ops.extend(rest);
            self.tables.insert(table, ops);
        }
    }

    /// The batch as `iptables-restore` reads it.
    fn script(&self) -> String {
        let mut script = String::new();
        for (table, ops) in &self.tables {
            script.push_str(&format!("*{table}\n"));
            for op in ops {
                script.push_str(&op.line());
                script.push('\n');
            }
            script.push_str("COMMIT\n");
        }
        script
    }

    /// Applies the batch to the kernel's rules (one `iptables-restore`, nothing if empty), then
    /// to `ruleset`.
    fn apply(self, family: Family, ruleset: &mut Ruleset) -> Result<()> {
        if self.tables.is_empty() {
            return Ok(());
        }
        let script = self.script();
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
        for (table, ops) in &self.tables {
            for op in ops {
                ruleset.apply(table, op);
            }
        }
        Ok(())
    }
}

/// Makes one change of `family`'s rules: `plan` adds to a batch what to change given the rules
/// there are, and the batch is applied in one `iptables-restore`. The rules there are come from
/// the record of the last change; if the batch fails with them (the record disagrees with the
/// kernel: rules changed behind xcompose's back), they are read with `iptables-save`, and the
/// change is planned and applied again. Holds the firewall lock throughout.
fn change(family: Family, plan: impl Fn(&Ruleset, &mut Batch) -> Result<()>) -> Result<()> {
    let _lock = lock()?;
    let (mut ruleset, read) = match Ruleset::recorded(family) {
        Some(recorded) => (recorded, false),
        None => (Ruleset::read(family)?, true),
    };
    let mut batch = Batch::default();
    plan(&ruleset, &mut batch)?;
    let changed = !batch.tables.is_empty();
    match batch.apply(family, &mut ruleset) {
        Ok(()) if changed || read => ruleset.record(family),
        Ok(()) => Ok(()),
        Err(e) if read => {
            Ruleset::forget(family);
            Err(e)
        }
        Err(_) => {
            let mut ruleset = Ruleset::read(family)?;
            let mut batch = Batch::default();
            plan(&ruleset, &mut batch)?;
            if let Err(e) = batch.apply(family, &mut ruleset) {
                Ruleset::forget(family);
                return Err(e);
            }
            ruleset.record(family)
        }
    }
}

/// The rules of `family` as recorded, or as the kernel has them if there is no record; for
/// queries that change nothing.
fn current(family: Family) -> Result<Ruleset> {
    match Ruleset::recorded(family) {
        Some(recorded) => Ok(recorded),
        None => Ruleset::read(family),
    }
}

/// Adds to `batch` what is missing of xcompose's chains, the jumps to them and the common rules.
fn ensure_chains(family: Family, ruleset: &Ruleset, batch: &mut Batch) {
    for (table, chain) in CHAINS {
        if !ruleset.has_chain(table, chain) {
            batch.push(table, Op::NewChain(chain.into()));
        }
    }
    for (table, builtin, rule) in jumps() {
        if !ruleset.has(table, builtin, &rule) {
            batch.push(table, Op::Insert(builtin.into(), rule));
        }
    }
    for (table, chain, rule) in common_rules(family) {
        if !ruleset.has(table, chain, &rule) {
            batch.push(table, Op::Append(chain.into(), rule));
        }
    }
    if ruleset.has("filter", FORWARD, OLD_ISOLATION_JUMP) {
        batch.push("filter", Op::Delete(FORWARD.into(), OLD_ISOLATION_JUMP.into()));
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
    add_networks(std::slice::from_ref(n))
}

/// [`add_network`] for several networks at once: one change (one `iptables-restore`) per
/// family for all of them, as `up` makes a project's networks together.
pub fn add_networks(networks: &[NetworkRules]) -> Result<()> {
    if networks.iter().any(|n| !n.icc) {
        bridged_traffic_filtered()?;
    }
    change(Family::V4, |ruleset, batch| {
        plan_add_networks(Family::V4, networks, ruleset, batch);
        Ok(())
    })?;
    sysctl("/proc/sys/net/ipv4/ip_forward", "1")?;
    for n in networks {
        sysctl(&format!("/proc/sys/net/ipv4/conf/{}/route_localnet", n.bridge), "1")?;
    }
    if networks.iter().any(|n| n.subnet6.is_some()) {
        change(Family::V6, |ruleset, batch| {
            plan_add_networks(Family::V6, networks, ruleset, batch);
            Ok(())
        })?;
        sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1")?;
    }
    Ok(())
}

fn plan_add_networks(family: Family, networks: &[NetworkRules], ruleset: &Ruleset, batch: &mut Batch) {
    ensure_chains(family, ruleset, batch);
    // The rules as they will be: two networks' rules never go in twice.
    let mut planned = ruleset.clone();
    for n in networks {
        for (table, chain, rule) in network_rules(family, n) {
            if !planned.has(table, chain, &rule) {
                let op = Op::Append(chain.into(), rule);
                planned.apply(table, &op);
                batch.push(table, op);
            }
        }
    }
}

/// Removes the rules of network `n` (idempotent); with the last network, xcompose's chains and
/// jumps go too.
pub fn remove_network(n: &NetworkRules) -> Result<()> {
    remove_networks(std::slice::from_ref(n))
}

/// Removes the rules of `networks` (idempotent) in one change per family (one
/// `iptables-restore` for all of them, as `down` wants); with the last network, xcompose's
/// chains and jumps go too.
pub fn remove_networks(networks: &[NetworkRules]) -> Result<()> {
    let plan = |family| {
        move |ruleset: &Ruleset, batch: &mut Batch| {
            plan_remove_networks(family, networks, ruleset, batch);
            Ok(())
        }
    };
    change(Family::V4, plan(Family::V4))?;
    if networks.iter().any(|n| n.subnet6.is_some()) {
        change(Family::V6, plan(Family::V6))?;
    }
    Ok(())
}

fn plan_remove_networks(family: Family, networks: &[NetworkRules], ruleset: &Ruleset, batch: &mut Batch) {
    let mut removed = BTreeSet::new();
    for (table, chain, rule) in networks.iter().flat_map(|n| network_rules(family, n)) {
        if ruleset.has(table, chain, &rule) && removed.insert((table.to_string(), chain.to_string(), rule.clone())) {
            batch.push(table, Op::Delete(chain.into(), rule));
        }
    }
    let left = |table: &str, chain: &str| ruleset.rules_of(table, chain).any(|r| !removed.contains(&(table.to_string(), chain.to_string(), r.to_string())));
    if !left("filter", ISOLATION) && !left("nat", DNAT) {
        remove_chains(ruleset, batch);
    }
}

/// Adds to `batch` the removal of the jumps and of xcompose's chains.
fn remove_chains(ruleset: &Ruleset, batch: &mut Batch) {
    for (table, builtin, rule) in jumps() {
        if ruleset.has(table, builtin, &rule) {
            batch.push(table, Op::Delete(builtin.into(), rule));
        }
    }
    for (table, chain) in CHAINS {
        if ruleset.has_chain(table, chain) {
            batch.push(table, Op::Flush(chain.into()));
        }
    }
    for (table, chain) in CHAINS {
        if ruleset.has_chain(table, chain) {
            batch.push(table, Op::DeleteChain(chain.into()));
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
    let ruleset = current(family)?;
    Ok(!published(family, &ruleset, protocol, host_ip, port) && bindable(family, protocol, host_ip, port))
}

fn published(family: Family, ruleset: &Ruleset, protocol: Protocol, host_ip: Option<IpAddr>, port: u16) -> bool {
    let needle = format!("-p {} -m {} --dport {port} ", protocol.name(), protocol.name());
    ruleset.rules_of("nat", DNAT).any(|rule| {
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
    let ruleset = current(family)?;
    let start = std::process::id() as u16 % 28232;
    (0..28232u16)
        .map(|offset| 32768 + (start + offset) % 28232)
        .find(|port| !published(family, &ruleset, protocol, host_ip, *port) && bindable(family, protocol, host_ip, *port))
        .ok_or_else(|| FirewallError::NoFreePort(protocol.name().into()))
}

/// Publishes `mappings` in one change; fails, publishing none of them, if a host port is already
/// published (also by an earlier one of `mappings`) or in use on the host.
pub fn publish(mappings: &[PortMapping]) -> Result<()> {
    for family in [Family::V4, Family::V6] {
        let of_family: Vec<&PortMapping> = mappings.iter().filter(|m| Family::of(m.container_ip) == family).collect();
        if !of_family.is_empty() {
            change(family, |ruleset, batch| plan_publish(family, &of_family, ruleset, batch))?;
        }
    }
    Ok(())
}

fn plan_publish(family: Family, mappings: &[&PortMapping], ruleset: &Ruleset, batch: &mut Batch) -> Result<()> {
    // The rules as they will be once the batch is applied: a later mapping sees earlier ones.
    let mut planned = ruleset.clone();
    for m in mappings {
        let rule = dnat_rule(m);
        if planned.has("nat", DNAT, &rule) {
            continue;
        }
        if published(family, &planned, m.protocol, m.host_ip, m.host_port) || !bindable(family, m.protocol, m.host_ip, m.host_port) {
            let ip = match m.host_ip.unwrap_or(family.unspecified()) {
                IpAddr::V6(v6) => format!("[{v6}]"),
                v4 => v4.to_string(),
            };
            return Err(FirewallError::PortAllocated { ip, port: m.host_port });
        }
        let op = Op::Append(DNAT.into(), rule);
        planned.apply("nat", &op);
        batch.push("nat", op);
    }
    if !batch.tables.is_empty() {
        let mut chains = Batch::default();
        ensure_chains(family, ruleset, &mut chains);
        batch.prepend(chains);
    }
    Ok(())
}

/// Unpublishes `mappings` (idempotent), in one change per family.
pub fn unpublish(mappings: &[PortMapping]) -> Result<()> {
    for family in [Family::V4, Family::V6] {
        let rules: Vec<String> = mappings.iter().filter(|m| Family::of(m.container_ip) == family).map(dnat_rule).collect();
        if !rules.is_empty() {
            change(family, |ruleset, batch| {
                for rule in &rules {
                    if ruleset.has("nat", DNAT, rule) {
                        batch.push("nat", Op::Delete(DNAT.into(), rule.clone()));
                    }
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}
