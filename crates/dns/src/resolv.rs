//! resolv.conf files: the upstream resolvers a host's names (its `nameserver` lines), and the one
//! a container on project networks gets, naming the resolver in its own namespace.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use crate::{Error, RESOLVER_ADDRESS};

/// The resolvers named by the resolv.conf text `text`, on port 53, in order: every
/// `nameserver ADDRESS` line whose address is IPv4 or IPv6. Addresses with a zone (`fe80::1%eth0`)
/// are left out, as are comments (`#`, `;`) and every other option.
pub fn parse_upstreams(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let line = line.split(['#', ';']).next().unwrap_or_default();
            let mut words = line.split_whitespace();
            match (words.next(), words.next()) {
                (Some("nameserver"), Some(address)) => address.parse::<IpAddr>().ok(),
                _ => None,
            }
        })
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// The resolvers named by the resolv.conf file at `path` (see [`parse_upstreams`]); none if the
/// file does not exist, as on a host without DNS.
pub fn read_upstreams(path: &Path) -> Result<Vec<SocketAddr>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(parse_upstreams(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(Error::Read { path: path.to_path_buf(), source }),
    }
}

/// The /etc/resolv.conf of a container on project networks, as Docker Engine writes it for
/// user-defined networks: the resolver in the container's namespace as the only nameserver; the
/// search domains of `dns_search` (`.` stands for none) or else the host's; the options of
/// `dns_opt` or else the host's, with `ndots:0` added unless a valid `ndots` is there already
/// (Docker's internal resolver requires it; an invalid one is dropped). `host` is the text of the
/// host's resolv.conf.
pub fn container_resolv_conf(host: &str, dns_search: &[String], dns_opt: &[String]) -> String {
    let mut search: Vec<String> = Vec::new();
    let mut options: Vec<String> = Vec::new();
    for line in host.lines() {
        let mut words = line.split(['#', ';']).next().unwrap_or_default().split_whitespace();
        match words.next() {
            // glibc: the last `search` or `domain` line wins.
            Some("search" | "domain") => search = words.map(str::to_string).collect(),
            Some("options") => options.extend(words.map(str::to_string)),
            _ => {}
        }
    }
    if !dns_search.is_empty() {
        search = dns_search.iter().filter(|s| *s != ".").cloned().collect();
    }
    if !dns_opt.is_empty() {
        options = dns_opt.to_vec();
    }
    let valid_ndots = |o: &String| o.strip_prefix("ndots:").is_some_and(|n| n.parse::<u32>().is_ok());
    options.retain(|o| !o.starts_with("ndots:") || valid_ndots(o));
    if !options.iter().any(valid_ndots) {
        options.push("ndots:0".to_string());
    }
    let mut text = format!("nameserver {}\n", RESOLVER_ADDRESS.ip());
    if !search.is_empty() {
        text.push_str(&format!("search {}\n", search.join(" ")));
    }
    text.push_str(&format!("options {}\n", options.join(" ")));
    text
}

/// The /etc/resolv.conf of a container without the project's resolver (`network_mode: host` or
/// `none`), as Docker Engine writes it: the host's, with its nameservers replaced by `dns`, its
/// search domains by `dns_search` (`.` stands for none) and its options by `dns_opt` where given.
pub fn standalone_resolv_conf(host: &str, dns: &[String], dns_search: &[String], dns_opt: &[String]) -> String {
    let mut nameservers: Vec<String> = Vec::new();
    let mut search: Vec<String> = Vec::new();
    let mut options: Vec<String> = Vec::new();
    for line in host.lines() {
        let mut words = line.split(['#', ';']).next().unwrap_or_default().split_whitespace();
        match words.next() {
            Some("nameserver") => nameservers.extend(words.next().map(str::to_string)),
            Some("search" | "domain") => search = words.map(str::to_string).collect(),
            Some("options") => options.extend(words.map(str::to_string)),
            _ => {}
        }
    }
    if !dns.is_empty() {
        nameservers = dns.to_vec();
    }
    if !dns_search.is_empty() {
        search = dns_search.iter().filter(|s| *s != ".").cloned().collect();
    }
    if !dns_opt.is_empty() {
        options = dns_opt.to_vec();
    }
    let mut text: String = nameservers.iter().map(|n| format!("nameserver {n}\n")).collect();
    if !search.is_empty() {
        text.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !options.is_empty() {
        text.push_str(&format!("options {}\n", options.join(" ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standalone_keeps_the_host_s_settings_unless_the_service_gives_its_own() {
        let host = "nameserver 10.0.0.1\nsearch corp.example\noptions edns0\n";
        assert_eq!(standalone_resolv_conf(host, &[], &[], &[]), host);
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            standalone_resolv_conf(host, &own(&["10.9.9.9"]), &own(&["svc.example"]), &own(&["timeout:2"])),
            "nameserver 10.9.9.9\nsearch svc.example\noptions timeout:2\n"
        );
        assert_eq!(standalone_resolv_conf(host, &[], &own(&["."]), &[]), "nameserver 10.0.0.1\noptions edns0\n");
    }

    #[test]
    fn nameserver_lines_in_order_ipv4_and_ipv6() {
        let text = "# generated\nsearch example.test\nnameserver 127.0.0.53\n  nameserver\t2001:db8::1 # v6\n\
                    nameserver fe80::1%eth0\nnameserver not-an-ip\n;nameserver 10.0.0.1\noptions edns0\nnameserver 10.0.0.2";
        let expected: Vec<SocketAddr> =
            ["127.0.0.53:53", "[2001:db8::1]:53", "10.0.0.2:53"].iter().map(|s| s.parse().unwrap()).collect();
        assert_eq!(parse_upstreams(text), expected);
    }

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn a_container_asks_the_resolver_in_its_namespace_with_the_hosts_search_and_options() {
        let host = "nameserver 127.0.0.53\nsearch corp.example\noptions edns0 trust-ad\n";
        assert_eq!(
            container_resolv_conf(host, &[], &[]),
            "nameserver 127.0.0.11\nsearch corp.example\noptions edns0 trust-ad ndots:0\n"
        );
        assert_eq!(container_resolv_conf("nameserver 10.0.0.1\n", &[], &[]), "nameserver 127.0.0.11\noptions ndots:0\n");
        assert_eq!(container_resolv_conf("domain a.example\nsearch b.example c.example\n", &[], &[]).lines().nth(1), Some("search b.example c.example"));
    }

    #[test]
    fn dns_search_and_dns_opt_replace_the_hosts_and_a_valid_ndots_is_kept() {
        let host = "search corp.example\noptions ndots:5\n";
        assert_eq!(container_resolv_conf(host, &[], &[]), "nameserver 127.0.0.11\nsearch corp.example\noptions ndots:5\n");
        assert_eq!(
            container_resolv_conf(host, &strings(&["svc.example"]), &strings(&["timeout:2", "ndots:x"])),
            "nameserver 127.0.0.11\nsearch svc.example\noptions timeout:2 ndots:0\n"
        );
        assert_eq!(container_resolv_conf(host, &strings(&["."]), &strings(&["ndots:2"])), "nameserver 127.0.0.11\noptions ndots:2\n");
    }

    #[test]
    fn a_missing_file_names_no_resolver() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_upstreams(&dir.path().join("resolv.conf")).unwrap(), Vec::new());
    }
}
