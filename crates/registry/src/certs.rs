//! Docker's per-registry TLS files: `/etc/docker/certs.d/HOST[:PORT]/`, read as Docker reads
//! them: `*.crt` CA certificates added to the system roots, and `NAME.cert` + `NAME.key` a client
//! certificate presented to a registry that asks for one (mutual TLS). `XCOMPOSE_CERTS_D` names
//! another directory (tests use it).

use std::path::{Path, PathBuf};

use oci_client::client::{Certificate, CertificateEncoding};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::RegistryError;

/// What certs.d says about one registry.
#[derive(Clone, Debug, Default)]
pub struct HostTls {
    /// The extra CA certificates (`*.crt`).
    pub roots: Vec<Certificate>,
    /// The client certificate and key to present (`NAME.cert` + `NAME.key`).
    pub identity: Option<reqwest::Identity>,
}

/// The certs.d directory.
pub fn certs_dir() -> PathBuf {
    std::env::var_os("XCOMPOSE_CERTS_D").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/etc/docker/certs.d"))
}

/// The directory holding `host`'s files (`certs.d/127.0.0.1:5443`).
pub fn host_dir(host: &str) -> PathBuf {
    certs_dir().join(host)
}

/// The TLS files for `host`, from its certs.d directory (none when it has no directory).
pub fn for_host(host: &str) -> Result<HostTls, RegistryError> {
    read_host_dir(&host_dir(host))
}

fn read_host_dir(dir: &Path) -> Result<HostTls, RegistryError> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(HostTls::default()) };
    let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    let mut tls = HostTls::default();
    for path in &names {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.ends_with(".crt") {
            tls.roots.push(Certificate { encoding: CertificateEncoding::Pem, data: read(path)? });
        } else if let Some(stem) = name.strip_suffix(".cert") {
            // Docker's words (registry.ReadCertsDirectory) for a certificate without its key.
            let key = dir.join(format!("{stem}.key"));
            if !key.exists() {
                return Err(RegistryError::Config(format!(
                    "missing key {} for client certificate {}. CA certificates must use the extension .crt",
                    key.display(),
                    path.display()
                )));
            }
            // Go's TLS client presents the first of several pairs when the server does not
            // narrow the choice; rustls holds one: the first by name.
            if tls.identity.is_none() {
                tls.identity = Some(client_identity(path, &key)?);
            }
        } else if let Some(stem) = name.strip_suffix(".key") {
            let cert = dir.join(format!("{stem}.cert"));
            if !cert.exists() {
                return Err(RegistryError::Config(format!("missing client certificate {} for key {}", cert.display(), path.display())));
            }
        }
    }
    Ok(tls)
}

fn read(path: &Path) -> Result<Vec<u8>, RegistryError> {
    std::fs::read(path).map_err(|e| RegistryError::Config(format!("reading {}: {e}", path.display())))
}

/// The client certificate in `cert` with its private key in `key`, checked to belong together
/// (Go's `tls.LoadX509KeyPair`, which Docker uses, refuses a key that is not the certificate's).
fn client_identity(cert: &Path, key: &Path) -> Result<reqwest::Identity, RegistryError> {
    let (cert_pem, key_pem) = (read(cert)?, read(key)?);
    let pair = || format!("client certificate {} with key {}", cert.display(), key.display());
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| RegistryError::Config(format!("{}: not a PEM certificate: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(RegistryError::Config(format!("{}: no PEM certificate in it", cert.display())));
    }
    let private_key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| RegistryError::Config(format!("{}: not a PEM private key: {e}", key.display())))?;
    rustls::sign::CertifiedKey::from_der(chain, private_key, &rustls::crypto::ring::default_provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => RegistryError::Config(format!("{}: tls: private key does not match public key", pair())),
        other => RegistryError::Config(format!("{}: {other}", pair())),
    })?;
    let mut identity_pem = cert_pem;
    identity_pem.push(b'\n');
    identity_pem.extend_from_slice(&key_pem);
    reqwest::Identity::from_pem(&identity_pem).map_err(|e| RegistryError::Config(format!("{}: {e}", pair())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate and its key, PEM.
    fn pair() -> (String, String) {
        let certified = rcgen::generate_simple_self_signed(vec!["client".to_string()]).unwrap();
        (certified.cert.pem(), certified.key_pair.serialize_pem())
    }

    #[test]
    fn ca_files_are_roots_and_a_cert_key_pair_is_the_client_identity() {
        let dir = tempfile::tempdir().unwrap();
        let tls = read_host_dir(&dir.path().join("absent")).unwrap();
        assert!(tls.roots.is_empty() && tls.identity.is_none());
        std::fs::write(dir.path().join("ca.crt"), b"-----BEGIN CERTIFICATE-----\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"ignored").unwrap();
        let tls = read_host_dir(dir.path()).unwrap();
        assert_eq!(tls.roots.len(), 1);
        assert!(tls.identity.is_none());
        let (cert, key) = pair();
        std::fs::write(dir.path().join("client.cert"), cert).unwrap();
        std::fs::write(dir.path().join("client.key"), key).unwrap();
        let tls = read_host_dir(dir.path()).unwrap();
        assert_eq!(tls.roots.len(), 1);
        assert!(tls.identity.is_some());
    }

    #[test]
    fn a_certificate_or_key_without_its_other_half_is_refused_as_docker_does() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair();
        std::fs::write(dir.path().join("client.cert"), &cert).unwrap();
        let err = read_host_dir(dir.path()).unwrap_err().to_string();
        let key_path = dir.path().join("client.key").display().to_string();
        assert!(err.starts_with(&format!("missing key {key_path} for client certificate")) && err.contains(".crt"), "{err}");
        std::fs::remove_file(dir.path().join("client.cert")).unwrap();
        std::fs::write(dir.path().join("client.key"), &key).unwrap();
        let err = read_host_dir(dir.path()).unwrap_err().to_string();
        assert!(err.starts_with(&format!("missing client certificate {}", dir.path().join("client.cert").display())), "{err}");
    }

    #[test]
    fn a_key_that_is_not_the_certificate_s_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ((cert, _), (_, other_key)) = (pair(), pair());
        std::fs::write(dir.path().join("client.cert"), cert).unwrap();
        std::fs::write(dir.path().join("client.key"), other_key).unwrap();
        let err = read_host_dir(dir.path()).unwrap_err().to_string();
        assert!(err.ends_with("tls: private key does not match public key") && err.contains("client.key"), "{err}");
        std::fs::write(dir.path().join("client.key"), "not a key").unwrap();
        let err = read_host_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("client.key: not a PEM private key"), "{err}");
    }
}
