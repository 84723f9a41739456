//! Docker's per-registry TLS files: `/etc/docker/certs.d/HOST[:PORT]/`, `*.crt` CA certificates
//! added to the system roots. `XCOMPOSE_CERTS_D` names another directory (tests use it).
//!
//! Client certificates (`client.cert`, `client.key`) cannot be presented through the HTTP client
//! this crate uses; rather than connect without them, a registry that has them is refused with an
//! error naming the file.

use std::path::{Path, PathBuf};

use oci_client::client::{Certificate, CertificateEncoding};

use crate::error::RegistryError;

/// The certs.d directory.
pub fn certs_dir() -> PathBuf {
    std::env::var_os("XCOMPOSE_CERTS_D").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/etc/docker/certs.d"))
}

/// The directory holding `host`'s files (`certs.d/127.0.0.1:5443`).
pub fn host_dir(host: &str) -> PathBuf {
    certs_dir().join(host)
}

/// The extra CA certificates for `host`, from its certs.d directory.
pub fn extra_roots(host: &str) -> Result<Vec<Certificate>, RegistryError> {
    read_roots(&host_dir(host))
}

fn read_roots(dir: &Path) -> Result<Vec<Certificate>, RegistryError> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(Vec::new()) };
    let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    let mut roots = Vec::new();
    for path in names {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.ends_with(".cert") || name.ends_with(".key") {
            return Err(RegistryError::ClientCertificate(path));
        }
        if name.ends_with(".crt") {
            let data = std::fs::read(&path).map_err(|e| RegistryError::Config(format!("reading {}: {e}", path.display())))?;
            roots.push(Certificate { encoding: CertificateEncoding::Pem, data });
        }
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_files_are_read_and_client_certificates_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_roots(&dir.path().join("absent")).unwrap().is_empty());
        std::fs::write(dir.path().join("ca.crt"), b"-----BEGIN CERTIFICATE-----\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"ignored").unwrap();
        assert_eq!(read_roots(dir.path()).unwrap().len(), 1);
        std::fs::write(dir.path().join("client.cert"), b"x").unwrap();
        let err = read_roots(dir.path()).unwrap_err().to_string();
        assert!(err.contains(&dir.path().join("client.cert").display().to_string()) && err.contains("not supported"), "{err}");
    }
}
