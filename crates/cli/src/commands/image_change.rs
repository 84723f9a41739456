//! `image import --change`: Dockerfile instructions applied to the imported image's run
//! configuration, as `docker import --change` applies them (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
//! ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR), into Docker's `Config` keys.

use anyhow::{anyhow, bail, Result};
use serde_json::{json, Map, Value};

/// The instructions `docker import --change` accepts.
const ALLOWED: [&str; 10] = ["CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"];

/// The run configuration `changes` make, each applied in turn.
pub fn config(changes: &[String]) -> Result<Map<String, Value>> {
    let mut config = Map::new();
    apply_all(&mut config, changes)?;
    Ok(config)
}

/// Applies `changes` in turn to the run configuration `config` (`commit --change` over the
/// container's image's configuration).
pub fn apply_all(config: &mut Map<String, Value>, changes: &[String]) -> Result<()> {
    for change in changes {
        apply(config, change)?;
    }
    Ok(())
}

/// Applies one instruction (`CMD ["nginx"]`, `ENV A=1 B=2`, `EXPOSE 80/tcp`, ...).
fn apply(config: &mut Map<String, Value>, change: &str) -> Result<()> {
    let change = change.trim();
    let (keyword, rest) = change.split_once(char::is_whitespace).unwrap_or((change, ""));
    let instruction = keyword.to_ascii_uppercase();
    if !ALLOWED.contains(&instruction.as_str()) {
        bail!("invalid --change {change:?}: {keyword} is not a valid change command (use one of {})", ALLOWED.join(", "));
    }
    let rest = rest.trim();
    if rest.is_empty() {
        bail!("invalid --change {change:?}: {instruction} requires at least one argument");
    }
    match instruction.as_str() {
        "CMD" => {
            config.insert("Cmd".into(), json!(command(rest)));
        }
        "ENTRYPOINT" => {
            config.insert("Entrypoint".into(), json!(command(rest)));
            // Docker: a new entrypoint drops the image's command.
            config.remove("Cmd");
        }
        "ENV" => {
            let mut env: Vec<String> = list(config, "Env");
            for (key, value) in pairs(change, rest)? {
                env.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
                env.push(format!("{key}={value}"));
            }
            config.insert("Env".into(), json!(env));
        }
        "LABEL" => {
            let labels = config.entry("Labels").or_insert_with(|| json!({}));
            for (key, value) in pairs(change, rest)? {
                labels[key] = json!(value);
            }
        }
        "EXPOSE" => {
            let ports = config.entry("ExposedPorts").or_insert_with(|| json!({}));
            for port in words(change, rest)? {
                for expanded in exposed(&port).ok_or_else(|| anyhow!("invalid --change {change:?}: invalid port {port:?}"))? {
                    ports[expanded] = json!({});
                }
            }
        }
        "VOLUME" => {
            let volumes = config.entry("Volumes").or_insert_with(|| json!({}));
            let paths = json_array(rest).unwrap_or(words(change, rest)?);
            for path in paths {
                volumes[path] = json!({});
            }
        }
        "WORKDIR" => {
            let dir = match config.get("WorkingDir").and_then(Value::as_str) {
                Some(before) if !rest.starts_with('/') => format!("{}/{rest}", before.trim_end_matches('/')),
                _ if !rest.starts_with('/') => format!("/{rest}"),
                _ => rest.to_string(),
            };
            config.insert("WorkingDir".into(), json!(dir));
        }
        "USER" => {
            config.insert("User".into(), json!(rest));
        }
        "STOPSIGNAL" => {
            config.insert("StopSignal".into(), json!(rest));
        }
        "ONBUILD" => {
            let trigger = rest.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
            if matches!(trigger.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                bail!("invalid --change {change:?}: {trigger} isn't allowed as an ONBUILD trigger");
            }
            let mut triggers = list(config, "OnBuild");
            triggers.push(rest.to_string());
            config.insert("OnBuild".into(), json!(triggers));
        }
        _ => unreachable!("checked against ALLOWED above"),
    }
    Ok(())
}

/// A list of strings already in the config.
fn list(config: &Map<String, Value>, key: &str) -> Vec<String> {
    config.get(key).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default()
}

/// The exec form (`["a", "b"]`) as written, or the shell form run by `/bin/sh -c`.
fn command(rest: &str) -> Vec<String> {
    json_array(rest).unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into(), rest.into()])
}

/// A JSON array of strings, if `rest` is one.
fn json_array(rest: &str) -> Option<Vec<String>> {
    rest.starts_with('[').then(|| serde_json::from_str(rest).ok()).flatten()
}

/// Words with shell quoting (`"a b"`, `'c'`, `d\ e`).
fn words(change: &str, rest: &str) -> Result<Vec<String>> {
    shlex::split(rest).ok_or_else(|| anyhow!("invalid --change {change:?}: unbalanced quotes"))
}

/// `KEY=VALUE` pairs, or the old one-pair form `KEY VALUE...`.
fn pairs(change: &str, rest: &str) -> Result<Vec<(String, String)>> {
    let first = rest.split_whitespace().next().unwrap_or_default();
    if !first.contains('=') {
        let value = rest[first.len()..].trim();
        return Ok(vec![(first.to_string(), shlex::split(value).map(|w| w.join(" ")).unwrap_or_else(|| value.to_string()))]);
    }
    words(change, rest)?
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(anyhow!("invalid --change {change:?}: {w:?} is not KEY=VALUE")),
        })
        .collect()
}

/// `80`, `80/udp` or `8000-8002/tcp` as Docker's `port/proto` keys.
fn exposed(port: &str) -> Option<Vec<String>> {
    let (ports, protocol) = port.split_once('/').unwrap_or((port, "tcp"));
    let protocol = protocol.to_ascii_lowercase();
    if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return None;
    }
    let (start, end) = ports.split_once('-').unwrap_or((ports, ports));
    let (start, end): (u16, u16) = (start.parse().ok()?, end.parse().ok()?);
    (start <= end).then(|| (start..=end).map(|p| format!("{p}/{protocol}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(changes: &[&str]) -> Value {
        Value::Object(config(&changes.iter().map(|c| c.to_string()).collect::<Vec<_>>()).unwrap())
    }

    #[test]
    fn instructions_land_in_dockers_config_keys() {
        let c = changed(&[
            "CMD [\"nginx\", \"-g\", \"daemon off;\"]",
            "ENV A=1 B=\"two words\"",
            "env C 3 4",
            "ENV A=again",
            "EXPOSE 80 53/udp 8000-8001",
            "LABEL maintainer=\"me\" tier=front",
            "STOPSIGNAL SIGQUIT",
            "USER www-data:www-data",
            "VOLUME [\"/data\", \"/logs\"]",
            "VOLUME /cache",
            "WORKDIR /srv",
            "WORKDIR app",
            "ONBUILD RUN make",
        ]);
        assert_eq!(c["Cmd"], json!(["nginx", "-g", "daemon off;"]));
        assert_eq!(c["Env"], json!(["B=two words", "C=3 4", "A=again"]));
        assert_eq!(c["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}}));
        assert_eq!(c["Labels"], json!({"maintainer": "me", "tier": "front"}));
        assert_eq!(c["StopSignal"], "SIGQUIT");
        assert_eq!(c["User"], "www-data:www-data");
        assert_eq!(c["Volumes"], json!({"/data": {}, "/logs": {}, "/cache": {}}));
        assert_eq!(c["WorkingDir"], "/srv/app");
        assert_eq!(c["OnBuild"], json!(["RUN make"]));
    }

    #[test]
    fn shell_forms_and_entrypoint() {
        let c = changed(&["CMD echo hi", "ENTRYPOINT /entry.sh"]);
        assert_eq!(c["Entrypoint"], json!(["/bin/sh", "-c", "/entry.sh"]));
        assert!(c.get("Cmd").is_none(), "a new entrypoint drops the command");
        assert_eq!(changed(&["CMD echo hi"])["Cmd"], json!(["/bin/sh", "-c", "echo hi"]));
    }

    #[test]
    fn bad_changes_are_refused_naming_them() {
        let err = |c: &str| config(&[c.to_string()]).unwrap_err().to_string();
        assert!(err("RUN make").contains("RUN is not a valid change command"));
        assert!(err("EXPOSE 80/http").contains("invalid port \"80/http\""));
        assert!(err("ENV A=1 =2").contains("\"=2\" is not KEY=VALUE"));
        assert!(err("CMD").contains("CMD requires at least one argument"));
        assert!(err("ONBUILD FROM x").contains("FROM isn't allowed as an ONBUILD trigger"));
    }
}
