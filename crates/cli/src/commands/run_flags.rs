//! `run`'s flags that change the one-off copy of the service, parsed as compose parses them:
//! `-p` and `-v` in the compose file's short syntax, `-l KEY=VALUE`, `--env-from-file` files
//! under the `-e` variables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indexmap::IndexMap;
use xcompose_loader::model::{Port, ServiceVolume};

/// The ports of `-p` specs (`[IP:][HOST:]CONTAINER[/PROTO]`).
pub fn ports(specs: &[String]) -> Result<Vec<Port>> {
    let mut ports = Vec::new();
    for spec in specs {
        let entries = xcompose_loader::short_syntax::parse_port_spec(spec).map_err(|e| anyhow::anyhow!("--publish {spec:?}: {e}"))?;
        for entry in entries {
            ports.push(serde_json::from_value(entry).with_context(|| format!("--publish {spec:?}"))?);
        }
    }
    Ok(ports)
}

/// The mounts of `-v` specs (`[SOURCE:]TARGET[:OPTIONS]`); a relative bind source is taken from
/// `working_dir`, the project directory.
pub fn volumes(specs: &[String], working_dir: &Path) -> Result<Vec<ServiceVolume>> {
    let env: IndexMap<String, String> = std::env::vars().collect();
    specs
        .iter()
        .map(|spec| {
            let value = xcompose_loader::short_syntax::parse_volume_spec(spec).map_err(|e| anyhow::anyhow!("--volume {spec:?}: {e}"))?;
            let mut volume: ServiceVolume = serde_json::from_value(value).with_context(|| format!("--volume {spec:?}"))?;
            if volume.kind == "bind" {
                // Docker refuses a relative bind source; compose resolves the compose file's
                // against the project directory, and xcompose does the same for `-v ./dir:/x`.
                volume.source = xcompose_loader::resolve::absolutize(&volume.source, working_dir, &env);
            }
            Ok(volume)
        })
        .collect()
}

/// The labels of `-l KEY=VALUE` flags.
pub fn labels(flags: &[String]) -> Result<BTreeMap<String, String>> {
    flags
        .iter()
        .map(|flag| {
            let (key, value) = flag.split_once('=').with_context(|| format!("--label {flag:?}: label must be set as KEY=VALUE"))?;
            Ok((key.to_string(), value.to_string()))
        })
        .collect()
}

/// The `-e` assignments, then the variables of the `--env-from-file` files that `-e` does not
/// set, as compose's getEnvironment: `-e` wins, and a file's `${VAR}` sees the `-e` values.
pub fn environment(assignments: &[String], files: &[PathBuf]) -> Result<Vec<String>> {
    let mut environment = assignments.to_vec();
    let given: BTreeMap<String, Option<String>> = assignments
        .iter()
        .map(|a| match a.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (a.clone(), std::env::var(a).ok()),
        })
        .collect();
    for file in files {
        let lookup = |name: &str| given.get(name).cloned().flatten();
        let vars = xcompose_env::dotenv::read_file(file, &lookup).with_context(|| format!("--env-from-file {}", file.display()))?;
        for (key, value) in vars {
            if !given.contains_key(&key) && !environment.iter().any(|a| a.split_once('=').is_some_and(|(k, _)| k == key)) {
                environment.push(format!("{key}={value}"));
            }
        }
    }
    Ok(environment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_volumes_in_the_short_syntax() {
        let ports = ports(&["127.0.0.1:8080:80/udp".into()]).unwrap();
        assert_eq!((ports[0].host_ip.as_str(), ports[0].published.as_str(), ports[0].target, ports[0].protocol.as_str()), ("127.0.0.1", "8080", 80, "udp"));
        assert!(super::ports(&["80/xyz".into()]).unwrap_err().to_string().contains("--publish \"80/xyz\""));
        let volumes = volumes(&["./data:/data:ro".into(), "named:/n".into()], Path::new("/proj")).unwrap();
        assert_eq!((volumes[0].kind.as_str(), volumes[0].source.as_str(), volumes[0].target.as_str(), volumes[0].read_only), ("bind", "/proj/data", "/data", true));
        assert_eq!((volumes[1].kind.as_str(), volumes[1].source.as_str()), ("volume", "named"));
    }

    #[test]
    fn labels_need_a_value() {
        assert_eq!(labels(&["a=b=c".into()]).unwrap()["a"], "b=c");
        assert_eq!(labels(&["a".into()]).unwrap_err().to_string(), "--label \"a\": label must be set as KEY=VALUE");
    }

    #[test]
    fn env_files_come_under_the_e_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("vars");
        std::fs::write(&file, "A=from-file\nB=${A}-b\nC=c\n").unwrap();
        let env = environment(&["A=flag".into()], &[file]).unwrap();
        assert_eq!(env, ["A=flag", "B=flag-b", "C=c"]);
        let missing = environment(&[], &[dir.path().join("none")]).unwrap_err();
        assert!(format!("{missing:#}").starts_with(&format!("--env-from-file {}", dir.path().join("none").display())), "{missing:#}");
    }
}
