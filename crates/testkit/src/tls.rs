//! A test certificate authority and the certificates it signs, made with `rcgen`.
//!
//! rustls (and Go) refuse a self-signed certificate used directly as a server's certificate when
//! it is also marked as a CA, so a TLS server gets a real chain: a CA certificate the client
//! trusts, and a leaf signed by it for `127.0.0.1` and `localhost`.

use std::path::Path;

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// Names every server leaf is valid for.
const SERVER_NAMES: [&str; 2] = ["127.0.0.1", "localhost"];

/// A certificate and its private key, both PEM.
pub struct PemPair {
    /// The certificate, PEM.
    pub cert: String,
    /// Its private key (PKCS#8), PEM.
    pub key: String,
}

impl PemPair {
    /// Writes the certificate to `cert` and the key to `key` (mode 0600).
    pub fn write(&self, cert: &Path, key: &Path) -> anyhow::Result<()> {
        std::fs::write(cert, &self.cert).with_context(|| format!("writing {}", cert.display()))?;
        write_private(key, &self.key)
    }
}

/// A test CA: a self-signed CA certificate and its key, able to sign leaves.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl TestCa {
    /// A new CA (ECDSA P-256) named `common_name`.
    pub fn new(common_name: &str) -> anyhow::Result<TestCa> {
        let key = KeyPair::generate().context("generating the test CA's key")?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params
            .self_signed(&key)
            .context("self-signing the test CA")?;
        Ok(TestCa { cert, key })
    }

    /// The CA certificate, PEM (what clients trust: `ca.crt`).
    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// The CA certificate and key, PEM: a self-signed certificate fit for signing tokens (the
    /// registry's `rootcertbundle` holds it, the token's `x5c` header carries it).
    pub fn pem_pair(&self) -> PemPair {
        PemPair {
            cert: self.cert.pem(),
            key: self.key.serialize_pem(),
        }
    }

    /// The DER form of the CA certificate.
    pub fn cert_der(&self) -> &[u8] {
        self.cert.der()
    }

    /// A server leaf for `127.0.0.1`, `localhost` and `extra_names` (addresses or host names),
    /// signed by this CA.
    pub fn server_leaf(&self, extra_names: &[&str]) -> anyhow::Result<PemPair> {
        let names: Vec<&str> = SERVER_NAMES.iter().chain(extra_names).copied().collect();
        self.leaf(
            &names,
            ExtendedKeyUsagePurpose::ServerAuth,
            "xcompose test server",
        )
    }

    /// A client certificate (`client.cert` / `client.key` in Docker's certs.d), signed by this CA.
    pub fn client_leaf(&self) -> anyhow::Result<PemPair> {
        self.leaf(
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
            "xcompose test client",
        )
    }

    fn leaf(
        &self,
        names: &[&str],
        usage: ExtendedKeyUsagePurpose,
        common_name: &str,
    ) -> anyhow::Result<PemPair> {
        let key = KeyPair::generate().context("generating a leaf key")?;
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut params = CertificateParams::new(names)?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .with_context(|| format!("signing the {common_name} certificate"))?;
        Ok(PemPair {
            cert: cert.pem(),
            key: key.serialize_pem(),
        })
    }
}

/// Writes a private key readable by its owner only.
fn write_private(path: &Path, pem: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(pem.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
