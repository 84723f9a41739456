//! Registry credentials as Docker and podman keep them: `~/.docker/config.json` (`auths`,
//! `credsStore`, `credHelpers`; `DOCKER_CONFIG` names another directory), then podman's
//! `auth.json` (`REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`). Docker Hub's
//! credentials are under `https://index.docker.io/v1/`, others under `host[:port]`.

use docker_credential::{CredentialRetrievalError, DockerCredential};
use oci_client::secrets::RegistryAuth;

use crate::error::RegistryError;

/// The key config.json stores `host`'s credentials under.
pub fn server_key(host: &str) -> String {
    if matches!(host, "docker.io" | "index.docker.io" | "registry-1.docker.io") {
        "https://index.docker.io/v1/".to_string()
    } else {
        host.to_string()
    }
}

/// The credentials for `host`, anonymous when none are configured.
pub fn for_host(host: &str) -> Result<RegistryAuth, RegistryError> {
    let key = server_key(host);
    for lookup in [docker_credential::get_credential, docker_credential::get_podman_credential] {
        match lookup(&key) {
            Ok(DockerCredential::UsernamePassword(user, password)) => return Ok(RegistryAuth::Basic(user, password)),
            Ok(DockerCredential::IdentityToken(token)) => return Ok(RegistryAuth::Bearer(token)),
            Err(CredentialRetrievalError::NoCredentialConfigured | CredentialRetrievalError::ConfigNotFound | CredentialRetrievalError::ConfigReadError) => {}
            // A helper that has nothing for this registry says so on stdout.
            Err(CredentialRetrievalError::HelperFailure { stdout, .. }) if stdout.contains("credentials not found") => {}
            Err(e) => return Err(RegistryError::Credentials { host: host.to_string(), message: e.to_string().trim().replace('\n', " ") }),
        }
    }
    Ok(RegistryAuth::Anonymous)
}
