//! Parsers for the one-string forms of ports (`127.0.0.1:8080-8081:80-81/udp`) and volumes
//! (`./src:/app:ro,z`), producing the long forms as JSON maps.

use std::net::IpAddr;

use serde_json::{json, Map, Value};

/// Expands one short port spec into its long-form entries, sorted like Docker's port keys.
pub fn parse_port_spec(spec: &str) -> Result<Vec<Value>, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let n = parts.len();
    let (raw_ip, host_port, container) = match n {
        1 => (String::new(), "", parts[0]),
        2 => (String::new(), parts[0], parts[1]),
        3 => (parts[0].to_string(), parts[1], parts[2]),
        _ => (parts[..n - 2].join(":"), parts[n - 2], parts[n - 1]),
    };
    let (container, proto) = match container.split_once('/') {
        Some((port, proto)) => (port, proto.to_ascii_lowercase()),
        None => (container, "tcp".to_string()),
    };
    let ip = raw_ip.trim_start_matches('[').trim_end_matches(']').to_string();
    if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
        return Err(format!("invalid IP address: {ip}"));
    }
    if container.is_empty() {
        return Err(format!("no port specified: {spec}<empty>"));
    }
    let (start, end) = parse_range(container).ok_or_else(|| format!("invalid containerPort: {container}"))?;
    let (host_start, host_end) = if host_port.is_empty() {
        (0, 0)
    } else {
        parse_range(host_port).ok_or_else(|| format!("invalid hostPort: {host_port}"))?
    };
    if !host_port.is_empty() && (end - start) != (host_end - host_start) && end != start {
        return Err(format!("invalid ranges specified for container and host Ports: {container} and {host_port}"));
    }
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let mut entries: Vec<(String, Value)> = Vec::new();
    for i in 0..=(end - start) {
        let target = start + i;
        let mut published = if host_port.is_empty() { String::new() } else { (host_start + i).to_string() };
        if start == end && host_start != host_end {
            published = format!("{published}-{host_end}");
        }
        let mut m = Map::new();
        m.insert("mode".into(), json!("ingress"));
        if !ip.is_empty() {
            m.insert("host_ip".into(), json!(ip));
        }
        m.insert("target".into(), json!(target));
        if !published.is_empty() {
            m.insert("published".into(), json!(published));
        }
        m.insert("protocol".into(), json!(proto));
        entries.push((format!("{target}/{proto}"), Value::Object(m)));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries.into_iter().map(|(_, v)| v).collect())
}

fn parse_range(text: &str) -> Option<(u64, u64)> {
    let (a, b) = match text.split_once('-') {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => {
            let p = text.parse().ok()?;
            (p, p)
        }
    };
    (b >= a && b <= 65535).then_some((a, b))
}

const PROPAGATIONS: [&str; 6] = ["rprivate", "private", "rshared", "shared", "rslave", "slave"];

/// Parses a short volume spec `[source:]target[:options]` into the long form.
pub fn parse_volume_spec(spec: &str) -> Result<Value, String> {
    let mut source = String::new();
    let mut target = String::new();
    let mut options: Option<String> = None;
    if spec.is_empty() {
        return Err("invalid empty volume spec".into());
    }
    if spec.chars().count() <= 2 {
        target = spec.to_string();
    } else {
        let mut sections: Vec<String> = Vec::new();
        let mut buffer = String::new();
        for c in spec.chars() {
            if c == ':' && !is_windows_drive(&buffer) {
                sections.push(std::mem::take(&mut buffer));
            } else {
                buffer.push(c);
            }
        }
        sections.push(buffer);
        let last = sections.len() - 1;
        for (i, section) in sections.into_iter().enumerate() {
            if section.is_empty() {
                return Err(format!("invalid spec: {spec}: empty section between colons"));
            }
            if source.is_empty() && i == last && target.is_empty() {
                target = section;
            } else if source.is_empty() {
                source = section;
            } else if target.is_empty() {
                target = section;
            } else if i != last {
                return Err(format!("invalid spec: {spec}: too many colons"));
            } else {
                options = Some(section);
            }
        }
    }
    let mut read_only = false;
    let mut nocopy = false;
    let mut bind = Map::new();
    for option in options.iter().flat_map(|o| o.split(',')) {
        match option {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "nocopy" => nocopy = true,
            "z" | "Z" => {
                bind.insert("selinux".into(), json!(option));
            }
            p if PROPAGATIONS.contains(&p) => {
                bind.insert("propagation".into(), json!(p));
            }
            _ => {}
        }
    }
    let is_path = source.starts_with(['.', '/', '~']) || source.starts_with("\\\\") || is_windows_drive(&source[..source.len().min(1)]) && source[1..].starts_with(':');
    let mut v = Map::new();
    v.insert("type".into(), json!(if is_path { "bind" } else { "volume" }));
    if !source.is_empty() {
        v.insert("source".into(), json!(source));
    }
    v.insert("target".into(), json!(target));
    if read_only {
        v.insert("read_only".into(), json!(true));
    }
    if is_path {
        bind.insert("create_host_path".into(), json!(true));
        v.insert("bind".into(), Value::Object(bind));
    } else {
        if !bind.is_empty() {
            v.insert("bind".into(), Value::Object(bind));
        }
        let volume = if nocopy { json!({"nocopy": true}) } else { json!({}) };
        v.insert("volume".into(), volume);
    }
    Ok(Value::Object(v))
}

/// A single ASCII letter so far, so the next `:` belongs to a Windows drive (`C:`).
fn is_windows_drive(buffer: &str) -> bool {
    buffer.len() == 1 && buffer.as_bytes()[0].is_ascii_alphabetic()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_forms() {
        assert_eq!(parse_port_spec("80").unwrap(), vec![json!({"mode":"ingress","target":80,"protocol":"tcp"})]);
        assert_eq!(
            parse_port_spec("127.0.0.1:9000-9001:90-91/udp").unwrap(),
            vec![
                json!({"mode":"ingress","host_ip":"127.0.0.1","target":90,"published":"9000","protocol":"udp"}),
                json!({"mode":"ingress","host_ip":"127.0.0.1","target":91,"published":"9001","protocol":"udp"}),
            ]
        );
        assert_eq!(
            parse_port_spec("8000-8010:80").unwrap(),
            vec![json!({"mode":"ingress","target":80,"published":"8000-8010","protocol":"tcp"})]
        );
        assert_eq!(
            parse_port_spec("[::1]:80:80").unwrap()[0]["host_ip"],
            json!("::1")
        );
        assert!(parse_port_spec("80-81:90-95").is_err());
        assert!(parse_port_spec("abc").is_err());
        assert!(parse_port_spec("80/xyz").is_err());
    }

    #[test]
    fn port_ranges_sort_like_docker_keys() {
        let got = parse_port_spec("99-100").unwrap();
        assert_eq!(got[0]["target"], 100);
        assert_eq!(got[1]["target"], 99);
    }

    #[test]
    fn volume_forms() {
        assert_eq!(parse_volume_spec("/anon").unwrap(), json!({"type":"volume","target":"/anon","volume":{}}));
        assert_eq!(
            parse_volume_spec("data:/data:ro,nocopy").unwrap(),
            json!({"type":"volume","source":"data","target":"/data","read_only":true,"volume":{"nocopy":true}})
        );
        assert_eq!(
            parse_volume_spec("./src:/src:z").unwrap(),
            json!({"type":"bind","source":"./src","target":"/src","bind":{"selinux":"z","create_host_path":true}})
        );
        assert_eq!(parse_volume_spec("C:\\data:/data").unwrap()["source"], json!("C:\\data"));
        assert!(parse_volume_spec("ab::/c").is_err());
        assert!(parse_volume_spec("ab:/b:cc:dd").is_err());
    }
}
