//! The upstream resolvers: the `nameserver` lines of a resolv.conf file.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use crate::Error;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameserver_lines_in_order_ipv4_and_ipv6() {
        let text = "# generated\nsearch example.test\nnameserver 127.0.0.53\n  nameserver\t2001:db8::1 # v6\n\
                    nameserver fe80::1%eth0\nnameserver not-an-ip\n;nameserver 10.0.0.1\noptions edns0\nnameserver 10.0.0.2";
        let expected: Vec<SocketAddr> =
            ["127.0.0.53:53", "[2001:db8::1]:53", "10.0.0.2:53"].iter().map(|s| s.parse().unwrap()).collect();
        assert_eq!(parse_upstreams(text), expected);
    }

    #[test]
    fn a_missing_file_names_no_resolver() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_upstreams(&dir.path().join("resolv.conf")).unwrap(), Vec::new());
    }
}
