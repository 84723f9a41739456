//! What xcompose knows of the rules: its chains and the rules in them and jumping to them, kept
//! in a record beside the firewall lock so that a change needs no `iptables-save`.
//!
//! The record lives in /run (not in a state root): the rules belong to the host's network
//! namespace, not to one state root, and /run is emptied at boot exactly when the kernel forgets
//! the rules. It names the network namespace it describes, so a record of another namespace (a
//! /run shared with a different one) is never trusted. A record that disagrees with the kernel
//! anyway (rules flushed by hand or by a firewall manager) makes the batch fail; the caller then
//! reads the rules with `iptables-save` and plans again (see [`super::change`]).

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

use super::{Family, FirewallError, Result};

/// Directory of the records, beside the lock file.
const RECORD_DIR: &str = "/run/xcompose-firewall";
/// Prefix of xcompose's chains: only they and the jumps to them are recorded.
const OWN_PREFIX: &str = "XCOMPOSE-";

/// The chains and rules of a family's tables that concern xcompose.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Ruleset {
    /// (table, chain) of every chain of xcompose.
    chains: BTreeSet<(String, String)>,
    /// (table, chain, rule) of every rule in xcompose's chains or jumping to one.
    rules: BTreeSet<(String, String, String)>,
}

/// A change to the rules, one line of an `iptables-restore --noflush` batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Op {
    /// Creates a chain (`-N CHAIN`: it fails on a chain that exists, so a record that missed a
    /// change is caught; `:CHAIN - [0:0]` would empty that chain and succeed, and the jumps
    /// planned with it would go in twice).
    NewChain(String),
    /// Inserts a rule first in a chain (`-I CHAIN 1 RULE`).
    Insert(String, String),
    /// Appends a rule (`-A CHAIN RULE`).
    Append(String, String),
    /// Deletes a rule (`-D CHAIN RULE`).
    Delete(String, String),
    /// Empties a chain (`-F CHAIN`).
    Flush(String),
    /// Deletes an empty chain (`-X CHAIN`).
    DeleteChain(String),
}

impl Op {
    /// The line of the batch.
    pub(super) fn line(&self) -> String {
        match self {
            Op::NewChain(chain) => format!("-N {chain}"),
            Op::Insert(chain, rule) => format!("-I {chain} 1 {rule}"),
            Op::Append(chain, rule) => format!("-A {chain} {rule}"),
            Op::Delete(chain, rule) => format!("-D {chain} {rule}"),
            Op::Flush(chain) => format!("-F {chain}"),
            Op::DeleteChain(chain) => format!("-X {chain}"),
        }
    }
}

impl Ruleset {
    /// Reads the rules from the kernel with `iptables-save` (or `ip6tables-save`).
    pub(super) fn read(family: Family) -> Result<Ruleset> {
        let save = family.save();
        let out = Command::new(save).stderr(Stdio::piped()).output().map_err(|e| FirewallError::Iptables(format!("running {save}: {e}")))?;
        if !out.status.success() {
            return Err(FirewallError::Iptables(format!("{save}: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        Ok(Ruleset::parse(&String::from_utf8_lossy(&out.stdout)))
    }

    /// The rules of xcompose in `save`, the output of `iptables-save`.
    pub(super) fn parse(save: &str) -> Ruleset {
        let mut ruleset = Ruleset::default();
        let mut table = String::new();
        for line in save.lines() {
            if let Some(t) = line.strip_prefix('*') {
                table = t.to_string();
            } else if let Some(decl) = line.strip_prefix(':') {
                let chain = decl.split_whitespace().next().unwrap_or_default();
                if chain.starts_with(OWN_PREFIX) {
                    ruleset.chains.insert((table.clone(), chain.to_string()));
                }
            } else if let Some(rule) = line.strip_prefix("-A ") {
                if let Some((chain, rest)) = rule.split_once(' ') {
                    if chain.starts_with(OWN_PREFIX) || rest.contains(&format!("-j {OWN_PREFIX}")) {
                        ruleset.rules.insert((table.clone(), chain.to_string(), rest.to_string()));
                    }
                }
            }
        }
        ruleset
    }

    /// The recorded rules of `family`, or `None` if there is no record of this network namespace
    /// (first use since boot, or a record left by another namespace).
    pub(super) fn recorded(family: Family) -> Option<Ruleset> {
        let text = std::fs::read_to_string(record_path(family)).ok()?;
        let (header, body) = text.split_once('\n')?;
        (header == namespace_header()?).then(|| Ruleset::parse(body))
    }

    /// Records these rules for `family`; a record that cannot be written is removed, so the next
    /// change reads the kernel's rules instead of trusting an old record.
    pub(super) fn record(&self, family: Family) -> Result<()> {
        let path = record_path(family);
        let written = namespace_header().ok_or_else(|| std::io::Error::other("no network namespace in /proc/self/ns/net")).and_then(|header| {
            std::fs::create_dir_all(RECORD_DIR)?;
            let tmp = format!("{path}.tmp");
            std::fs::write(&tmp, format!("{header}\n{}", self.to_save()))?;
            std::fs::rename(&tmp, &path)
        });
        written.map_err(|source| {
            Ruleset::forget(family);
            FirewallError::Record { path, source }
        })
    }

    /// Removes the record of `family` (after a failed change, when the kernel's rules are unknown).
    pub(super) fn forget(family: Family) {
        let _ = std::fs::remove_file(record_path(family));
    }

    /// These rules in the format of `iptables-save`, which [`Ruleset::parse`] reads back.
    fn to_save(&self) -> String {
        let tables: BTreeSet<&str> = self.chains.iter().map(|(t, _)| t.as_str()).chain(self.rules.iter().map(|(t, _, _)| t.as_str())).collect();
        let mut out = String::new();
        for table in tables {
            out.push_str(&format!("*{table}\n"));
            for (_, chain) in self.chains.iter().filter(|(t, _)| t == table) {
                out.push_str(&format!(":{chain} - [0:0]\n"));
            }
            for (_, chain, rule) in self.rules.iter().filter(|(t, _, _)| t == table) {
                out.push_str(&format!("-A {chain} {rule}\n"));
            }
            out.push_str("COMMIT\n");
        }
        out
    }

    /// Whether chain `chain` of `table` exists.
    pub(super) fn has_chain(&self, table: &str, chain: &str) -> bool {
        self.chains.contains(&(table.to_string(), chain.to_string()))
    }

    /// Whether `rule` is in `table`/`chain`.
    pub(super) fn has(&self, table: &str, chain: &str, rule: &str) -> bool {
        self.rules.contains(&(table.to_string(), chain.to_string(), rule.to_string()))
    }

    /// The rules of `table`/`chain`.
    pub(super) fn rules_of<'a>(&'a self, table: &'a str, chain: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.rules.iter().filter(move |(t, c, _)| t == table && c == chain).map(|(_, _, r)| r.as_str())
    }

    /// Changes these rules as `op` on `table` changed the kernel's.
    pub(super) fn apply(&mut self, table: &str, op: &Op) {
        match op {
            Op::NewChain(chain) => {
                self.chains.insert((table.to_string(), chain.clone()));
            }
            Op::Insert(chain, rule) | Op::Append(chain, rule) => {
                self.rules.insert((table.to_string(), chain.clone(), rule.clone()));
            }
            Op::Delete(chain, rule) => {
                self.rules.remove(&(table.to_string(), chain.clone(), rule.clone()));
            }
            Op::Flush(chain) => self.rules.retain(|(t, c, _)| !(t == table && c == chain)),
            Op::DeleteChain(chain) => {
                self.chains.remove(&(table.to_string(), chain.clone()));
            }
        }
    }
}

fn record_path(family: Family) -> String {
    let name = match family {
        Family::V4 => "iptables",
        Family::V6 => "ip6tables",
    };
    format!("{RECORD_DIR}/{name}.rules")
}

/// The first line of a record: the identity (device and inode) of this process's network namespace.
fn namespace_header() -> Option<String> {
    let ns = std::fs::metadata("/proc/self/ns/net").ok()?;
    Some(format!("# netns {}:{}", ns.dev(), ns.ino()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAVE: &str = "*nat\n:PREROUTING ACCEPT [0:0]\n:XCOMPOSE-DNAT - [0:0]\n-A PREROUTING -m addrtype --dst-type LOCAL -j XCOMPOSE-DNAT\n-A PREROUTING -j DOCKER\n-A XCOMPOSE-DNAT -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.0.0.2:80\nCOMMIT\n*filter\n:FORWARD ACCEPT [0:0]\n:DOCKER - [0:0]\n-A FORWARD -j DOCKER\nCOMMIT\n";

    #[test]
    fn parse_keeps_only_xcomposes_chains_and_jumps() {
        let r = Ruleset::parse(SAVE);
        assert!(r.has_chain("nat", "XCOMPOSE-DNAT"));
        assert!(!r.has_chain("nat", "PREROUTING"));
        assert!(!r.has_chain("filter", "DOCKER"));
        assert!(r.has("nat", "PREROUTING", "-m addrtype --dst-type LOCAL -j XCOMPOSE-DNAT"));
        assert!(!r.has("nat", "PREROUTING", "-j DOCKER"));
        assert!(!r.has("filter", "FORWARD", "-j DOCKER"));
        assert_eq!(r.rules_of("nat", "XCOMPOSE-DNAT").count(), 1);
    }

    #[test]
    fn the_record_format_reads_back_as_the_same_ruleset() {
        let r = Ruleset::parse(SAVE);
        assert_eq!(Ruleset::parse(&r.to_save()), r);
    }

    #[test]
    fn ops_change_the_ruleset_as_they_change_the_kernels_rules() {
        let mut r = Ruleset::default();
        r.apply("nat", &Op::NewChain("XCOMPOSE-DNAT".into()));
        r.apply("nat", &Op::Append("XCOMPOSE-DNAT".into(), "-j ACCEPT".into()));
        r.apply("nat", &Op::Insert("OUTPUT".into(), "-j XCOMPOSE-DNAT".into()));
        assert!(r.has_chain("nat", "XCOMPOSE-DNAT") && r.has("nat", "XCOMPOSE-DNAT", "-j ACCEPT") && r.has("nat", "OUTPUT", "-j XCOMPOSE-DNAT"));
        r.apply("nat", &Op::Delete("OUTPUT".into(), "-j XCOMPOSE-DNAT".into()));
        assert!(!r.has("nat", "OUTPUT", "-j XCOMPOSE-DNAT"));
        r.apply("nat", &Op::Flush("XCOMPOSE-DNAT".into()));
        assert_eq!(r.rules_of("nat", "XCOMPOSE-DNAT").count(), 0);
        r.apply("nat", &Op::DeleteChain("XCOMPOSE-DNAT".into()));
        assert_eq!(r, Ruleset::default());
    }
}
