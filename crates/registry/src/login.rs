//! `docker login` / `docker logout`: credentials checked against the registry, then kept as
//! Docker keeps them: through the credential helper config.json names for the registry
//! (`credHelpers`, else `credsStore`), or base64 in its `auths`. config.json is
//! `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`; its other settings are kept.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use oci_client::RegistryOperation;
use serde_json::{json, Map, Value};
use xcompose_images::Reference;

use crate::conf::Registries;
use crate::credentials::server_key;
use crate::error::RegistryError;
use crate::session::Session;

/// Docker Hub, the registry `login` and `logout` mean without a server.
pub const DEFAULT_SERVER: &str = "docker.io";

/// Checks `user`/`password` with `server` (Docker Hub when `None`) and stores them. Returns what
/// Docker prints: a warning when the password is stored unencrypted, and `Login Succeeded`.
pub fn login(server: Option<&str>, user: &str, password: &str) -> Result<Vec<String>, RegistryError> {
    let host = host_of(server.unwrap_or(DEFAULT_SERVER));
    let probe = Reference::parse(&format!("{host}/library/login")).map_err(RegistryError::Reference)?;
    let endpoint = Registries::load()?.endpoints(&probe)?.pop().ok_or_else(|| RegistryError::Registry(format!("no registry for {host}")))?;
    crate::runtime()?.block_on(async {
        let auth = RegistryAuth::Basic(user.to_string(), password.to_string());
        let session = Session::open_with(&endpoint, RegistryOperation::Pull, &host, &host, auth).await?;
        session.check_login(user, password).await
    })?;
    let key = server_key(&host);
    let path = config_path()?;
    let mut config = read_config(&path)?;
    let mut lines = Vec::new();
    match helper_for(&config, &key) {
        Some(helper) => run_helper(&helper, "store", &json!({ "ServerURL": key, "Username": user, "Secret": password }).to_string(), &host)?,
        None => {
            let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            object(&mut config, "auths").insert(key, json!({ "auth": auth }));
            write_config(&path, &config)?;
            lines.push(format!("WARNING! Your password will be stored unencrypted in {}.", path.display()));
        }
    }
    lines.push("Login Succeeded".into());
    Ok(lines)
}

/// Forgets the credentials for `server` (Docker Hub when `None`). Returns Docker's line.
pub fn logout(server: Option<&str>) -> Result<String, RegistryError> {
    let host = host_of(server.unwrap_or(DEFAULT_SERVER));
    let key = server_key(&host);
    let shown = if key.starts_with("https://") { key.clone() } else { host.clone() };
    let path = config_path()?;
    let mut config = read_config(&path)?;
    let stored = config.get("auths").and_then(|a| a.get(&key)).is_some();
    if let Some(helper) = helper_for(&config, &key) {
        run_helper(&helper, "erase", &key, &host)?;
    } else if !stored {
        return Ok(format!("Not logged in to {shown}"));
    }
    if stored {
        object(&mut config, "auths").remove(&key);
        write_config(&path, &config)?;
    }
    Ok(format!("Removing login credentials for {shown}"))
}

/// `https://host/` as users type it, to `host`.
fn host_of(server: &str) -> String {
    let host = server.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/');
    let host = host.strip_suffix("/v1").or_else(|| host.strip_suffix("/v2")).unwrap_or(host);
    if host == "index.docker.io" || host == "registry-1.docker.io" {
        DEFAULT_SERVER.to_string()
    } else {
        host.to_string()
    }
}

/// Where Docker keeps its client configuration.
fn config_path() -> Result<PathBuf, RegistryError> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Ok(PathBuf::from(dir).join("config.json"));
    }
    let home = std::env::var_os("HOME").ok_or_else(|| RegistryError::Config("neither DOCKER_CONFIG nor HOME is set: no place for config.json".into()))?;
    Ok(PathBuf::from(home).join(".docker/config.json"))
}

fn read_config(path: &PathBuf) -> Result<Value, RegistryError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let value: Value = serde_json::from_slice(&bytes).map_err(|e| RegistryError::Config(format!("{}: {e}", path.display())))?;
            if !value.is_object() {
                return Err(RegistryError::Config(format!("{}: not a JSON object", path.display())));
            }
            Ok(value)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(json!({})),
        Err(e) => Err(RegistryError::Config(format!("reading {}: {e}", path.display()))),
    }
}

/// Writes config.json atomically, readable by its owner only (it holds secrets).
fn write_config(path: &PathBuf, config: &Value) -> Result<(), RegistryError> {
    use std::os::unix::fs::PermissionsExt;
    let failed = |e: std::io::Error| RegistryError::Config(format!("writing {}: {e}", path.display()));
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).map_err(failed)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(failed)?;
    tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(failed)?;
    let text = serde_json::to_string_pretty(config).map_err(|e| RegistryError::Config(e.to_string()))?;
    tmp.write_all(text.as_bytes()).map_err(failed)?;
    tmp.as_file().sync_all().map_err(failed)?;
    tmp.persist(path).map_err(|e| failed(e.error))?;
    Ok(())
}

/// The object under `key`, made if absent.
fn object<'a>(config: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    let map = config.as_object_mut().expect("config.json is checked to be an object");
    let entry = map.entry(key.to_string()).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    entry.as_object_mut().expect("just made an object")
}

/// The credential helper for `key`: `credHelpers[key]`, else `credsStore`.
fn helper_for(config: &Value, key: &str) -> Option<String> {
    let named = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    config.get("credHelpers").and_then(|h| h.get(key)).and_then(named).or_else(|| config.get("credsStore").and_then(named))
}

/// Runs `docker-credential-HELPER ACTION` with `input` on its stdin.
fn run_helper(helper: &str, action: &str, input: &str, host: &str) -> Result<(), RegistryError> {
    let program = format!("docker-credential-{helper}");
    let failed = |message: String| RegistryError::Credentials { host: host.to_string(), message };
    let mut child = Command::new(&program)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| RegistryError::Config(format!("running {program}: {e}")))?;
    child.stdin.take().map(|mut stdin| stdin.write_all(input.as_bytes())).transpose().map_err(|e| failed(e.to_string()))?;
    let out = child.wait_with_output().map_err(|e| failed(e.to_string()))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(if out.stdout.is_empty() { &out.stderr } else { &out.stdout }).trim().to_string();
        return Err(failed(format!("{program} {action}: {said}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_named_as_docker_stores_them() {
        assert_eq!(server_key(&host_of("docker.io")), "https://index.docker.io/v1/");
        assert_eq!(server_key(&host_of("https://index.docker.io/v1/")), "https://index.docker.io/v1/");
        assert_eq!(server_key(&host_of("https://127.0.0.1:5000/")), "127.0.0.1:5000");
        assert_eq!(server_key(&host_of("registry.test")), "registry.test");
    }

    #[test]
    fn the_helper_for_a_registry_comes_first_then_the_store() {
        let config = json!({ "credsStore": "pass", "credHelpers": { "registry.test": "ecr-login", "empty.test": "" } });
        assert_eq!(helper_for(&config, "registry.test").as_deref(), Some("ecr-login"));
        assert_eq!(helper_for(&config, "empty.test").as_deref(), Some("pass"));
        assert_eq!(helper_for(&json!({}), "registry.test"), None);
    }
}
