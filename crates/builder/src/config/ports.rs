//! EXPOSE's port words as moby's `nat.ParsePortSpecs` reads them: `80`, `80/udp`,
//! `8000-8010[/proto]`, each to `port/proto` keys.

/// The `port/proto` keys `word` exposes, or Docker's error words.
pub(crate) fn exposed(word: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = word.split_once('/').unwrap_or((word, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !["tcp", "udp", "sctp"].contains(&proto.as_str()) {
        return Err(format!("invalid proto: {proto}"));
    }
    let invalid = || format!("invalid containerPort: {ports}");
    let port = |p: &str| p.parse::<u16>().map_err(|_| invalid());
    let (start, end) = match ports.split_once('-') {
        Some((start, end)) => (port(start)?, port(end)?),
        None => (port(ports)?, port(ports)?),
    };
    if end < start {
        return Err(invalid());
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_ports_protocols_and_ranges() {
        assert_eq!(exposed("80").unwrap(), vec!["80/tcp"]);
        assert_eq!(exposed("53/UDP").unwrap(), vec!["53/udp"]);
        assert_eq!(exposed("8000-8002/tcp").unwrap(), vec!["8000/tcp", "8001/tcp", "8002/tcp"]);
    }

    #[test]
    fn refuses_with_dockers_words() {
        assert_eq!(exposed("http").unwrap_err(), "invalid containerPort: http");
        assert_eq!(exposed("80/xyz").unwrap_err(), "invalid proto: xyz");
        assert_eq!(exposed("90-80").unwrap_err(), "invalid containerPort: 90-80");
        assert_eq!(exposed("70000").unwrap_err(), "invalid containerPort: 70000");
    }
}
