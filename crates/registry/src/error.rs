//! Why a pull or push failed, in Docker's words where Docker has words.

use std::error::Error as _;

use oci_client::errors::{OciDistributionError, OciErrorCode};

/// A registry operation's failure.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// registries.conf or certs.d could not be read.
    #[error("{0}")]
    Config(String),
    /// The reference is malformed.
    #[error("{0}")]
    Reference(String),
    /// registries.conf blocks the registry.
    #[error("registry {0} is blocked in registries.conf")]
    Blocked(String),
    /// The registry wants a client certificate it trusts and was not given one (mutual TLS).
    #[error("Get \"{url}\": remote error: tls: {alert}; this registry wants a client certificate signed by a CA it trusts: put it in {dir}/client.cert and its key in {dir}/client.key", dir = crate::certs::host_dir(.host).display())]
    ClientCertificateRefused {
        /// The registry.
        host: String,
        /// The request.
        url: String,
        /// The TLS alert it sent, in Go's words (`certificate required`, `bad certificate`).
        alert: &'static str,
    },
    /// The credential store failed.
    #[error("error getting credentials for {host}: {message}")]
    Credentials {
        /// The registry.
        host: String,
        /// What went wrong.
        message: String,
    },
    /// Unknown repository, or access denied (Docker's words).
    #[error("pull access denied for {0}, repository does not exist or may require login")]
    PullAccessDenied(String),
    /// Unknown tag or digest (Docker's words).
    #[error("manifest for {0} not found: manifest unknown: manifest unknown")]
    ManifestUnknown(String),
    /// The registry refused the credentials given (or wants some).
    #[error("{url}: unauthorized: authentication required")]
    Unauthorized {
        /// The request.
        url: String,
    },
    /// The registry wants basic auth and no credentials are stored for it (Docker's words).
    #[error("{url}: no basic auth credentials")]
    NoBasicAuthCredentials {
        /// The request.
        url: String,
    },
    /// Pushing was refused.
    #[error("denied: requested access to the resource is denied")]
    PushDenied,
    /// The registry's TLS certificate is not trusted.
    #[error("Get \"{url}\": tls: failed to verify certificate: {message}; to trust this registry, put its CA certificate in {}", ca_path(.host))]
    Tls {
        /// The registry.
        host: String,
        /// The request.
        url: String,
        /// The TLS error.
        message: String,
    },
    /// The registry could not be reached, even after retries.
    #[error("Get \"{url}\": {message}")]
    Connect {
        /// The request.
        url: String,
        /// Why (connection refused, timeout...).
        message: String,
    },
    /// No image in an index is for the platform wanted.
    #[error("no matching manifest for {wanted} in the manifest list entries (available: {})", .available.join(", "))]
    NoMatchingPlatform {
        /// The platform wanted.
        wanted: String,
        /// The platforms there are.
        available: Vec<String>,
    },
    /// A schema 1 manifest (Docker's words).
    #[error("[DEPRECATION NOTICE] Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. Suggest the author of {0} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2")]
    Schema1(String),
    /// A manifest, config or layer of a kind this client does not handle.
    #[error("unsupported media type {media_type} in {what}")]
    UnsupportedMediaType {
        /// The media type.
        media_type: String,
        /// Where it was found.
        what: String,
    },
    /// A manifest or config is not what its digest says (Docker's words).
    #[error("manifest verification failed for digest {0}")]
    ManifestVerification(String),
    /// A manifest or config could not be read.
    #[error("invalid {what}: {message}")]
    Invalid {
        /// Which document.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// The image store refused the image or failed.
    #[error(transparent)]
    Store(#[from] xcompose_images::StoreError),
    /// Any other answer from the registry.
    #[error("{0}")]
    Registry(String),
}

fn ca_path(host: &str) -> String {
    crate::certs::host_dir(host).join("ca.crt").display().to_string()
}

/// What an error is about, to word it as Docker does.
pub(crate) struct Subject<'a> {
    /// The repository as Docker shows it (`redis`, `127.0.0.1:5000/app`).
    pub name: &'a str,
    /// The reference as Docker shows it (`redis:alpine`).
    pub familiar: &'a str,
    /// The registry host.
    pub host: &'a str,
    /// The URL that was asked.
    pub url: &'a str,
    /// Whether credentials were given.
    pub authenticated: bool,
}

impl RegistryError {
    /// Words an oci-client error about `subject`.
    pub(crate) fn from_oci(error: OciDistributionError, subject: &Subject<'_>) -> Self {
        match error {
            OciDistributionError::RegistryError { envelope, url } => {
                let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
                if codes.contains(&&OciErrorCode::ManifestUnknown) {
                    Self::ManifestUnknown(subject.familiar.to_string())
                } else if codes.iter().any(|c| matches!(c, OciErrorCode::NameUnknown | OciErrorCode::Denied | OciErrorCode::NotFound)) {
                    Self::PullAccessDenied(subject.name.to_string())
                } else if codes.contains(&&OciErrorCode::Unauthorized) {
                    Self::unauthorized(subject, url)
                } else {
                    let messages: Vec<String> = envelope.errors.iter().map(|e| format!("{:?}: {}", e.code, e.message).to_lowercase()).collect();
                    Self::Registry(format!("{url}: {}", messages.join("; ")))
                }
            }
            OciDistributionError::UnauthorizedError { url } => Self::unauthorized(subject, url),
            OciDistributionError::AuthenticationFailure(message) if subject.authenticated => {
                Self::Registry(format!("{}: unauthorized: {message}", subject.url))
            }
            OciDistributionError::AuthenticationFailure(_) => Self::PullAccessDenied(subject.name.to_string()),
            OciDistributionError::ImageManifestNotFoundError(_) => Self::ManifestUnknown(subject.familiar.to_string()),
            OciDistributionError::ServerError { code: 404, .. } => Self::PullAccessDenied(subject.name.to_string()),
            OciDistributionError::ServerError { code: 401 | 403, url, .. } => Self::unauthorized(subject, url),
            OciDistributionError::DigestError(e) => Self::from_digest_error(e),
            // A refusal oci-client passes on as a transport error (a blob's HEAD, say).
            OciDistributionError::RequestError(e) if matches!(e.status().map(|s| s.as_u16()), Some(401 | 403)) => {
                Self::unauthorized(subject, e.url().map(|u| u.to_string()).unwrap_or_else(|| subject.url.to_string()))
            }
            OciDistributionError::RequestError(e) => Self::from_request(&e, subject),
            OciDistributionError::UnsupportedMediaTypeError(media_type) => Self::UnsupportedMediaType { media_type, what: subject.familiar.to_string() },
            other => Self::Registry(format!("{}: {other}", subject.url)),
        }
    }

    /// A manifest or config whose bytes are not its digest: Docker's words with the digest
    /// expected, and what arrived.
    pub(crate) fn from_digest_error(error: oci_client::errors::DigestError) -> Self {
        match error {
            oci_client::errors::DigestError::VerificationError { expected, actual } => Self::ManifestVerification(format!("{expected} (the content is {actual})")),
            other => Self::ManifestVerification(other.to_string()),
        }
    }

    /// Without credentials, Docker words an authorisation failure as an unknown repository.
    fn unauthorized(subject: &Subject<'_>, url: String) -> Self {
        if subject.authenticated {
            Self::Unauthorized { url }
        } else {
            Self::PullAccessDenied(subject.name.to_string())
        }
    }

    /// Words a transport error: TLS trouble names the certs.d file to use.
    pub(crate) fn from_request(error: &reqwest::Error, subject: &Subject<'_>) -> Self {
        let mut chain = Vec::new();
        let mut source: Option<&dyn std::error::Error> = error.source();
        while let Some(e) = source {
            chain.push(e.to_string());
            source = e.source();
        }
        let deepest = chain.last().cloned().unwrap_or_else(|| error.to_string());
        if let Some(alert) = chain.iter().find_map(|m| client_certificate_alert(m)) {
            return Self::ClientCertificateRefused { host: subject.host.to_string(), url: subject.url.to_string(), alert };
        }
        if chain.iter().any(|m| m.contains("certificate") || m.contains("InvalidCertificate") || m.contains("tls handshake")) {
            return Self::Tls { host: subject.host.to_string(), url: subject.url.to_string(), message: deepest };
        }
        let message = if error.is_timeout() { "net/http: request canceled (Client.Timeout exceeded)".to_string() } else { connect_words(&deepest, subject.host) };
        Self::Connect { url: subject.url.to_string(), message }
    }

    /// Whether trying again may help (the registry could not be reached or the connection broke).
    pub(crate) fn is_transient(&self) -> bool {
        matches!(self, Self::Connect { .. })
    }
}

/// The TLS alerts a server sends when it wants a client certificate it did not get (none, or
/// one not signed by a CA it trusts), as rustls names them, in Go's words (what Docker prints).
fn client_certificate_alert(message: &str) -> Option<&'static str> {
    const ALERTS: [(&str, &str); 3] =
        [("received fatal alert: CertificateRequired", "certificate required"), ("received fatal alert: BadCertificate", "bad certificate"), ("received fatal alert: UnknownCA", "unknown certificate authority")];
    ALERTS.iter().find(|(rustls, _)| message.contains(rustls)).map(|(_, go)| *go)
}

/// Go's words for a refused connection: `dial tcp HOST: connect: connection refused`.
fn connect_words(deepest: &str, host: &str) -> String {
    if deepest.to_lowercase().contains("connection refused") {
        format!("dial tcp {host}: connect: connection refused")
    } else {
        deepest.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(authenticated: bool) -> Subject<'static> {
        Subject { name: "127.0.0.1:5000/app", familiar: "127.0.0.1:5000/app:1", host: "127.0.0.1:5000", url: "http://127.0.0.1:5000/v2/", authenticated }
    }

    fn registry_error(code: &str) -> OciDistributionError {
        let envelope = serde_json::from_value(serde_json::json!({ "errors": [{ "code": code, "message": "m" }] })).unwrap();
        OciDistributionError::RegistryError { envelope, url: "http://127.0.0.1:5000/v2/app/manifests/1".into() }
    }

    #[test]
    fn registry_answers_are_worded_as_docker_words_them() {
        let words = |e: OciDistributionError, authenticated| RegistryError::from_oci(e, &subject(authenticated)).to_string();
        assert_eq!(words(registry_error("MANIFEST_UNKNOWN"), false), "manifest for 127.0.0.1:5000/app:1 not found: manifest unknown: manifest unknown");
        let denied = "pull access denied for 127.0.0.1:5000/app, repository does not exist or may require login";
        assert_eq!(words(registry_error("NAME_UNKNOWN"), false), denied);
        assert_eq!(words(registry_error("DENIED"), true), denied);
        assert_eq!(words(OciDistributionError::UnauthorizedError { url: "u".into() }, false), denied);
        assert_eq!(words(OciDistributionError::UnauthorizedError { url: "u".into() }, true), "u: unauthorized: authentication required");
        assert_eq!(words(OciDistributionError::ServerError { code: 403, url: "u".into(), message: String::new() }, true), "u: unauthorized: authentication required");
        let digest = oci_client::errors::DigestError::VerificationError { expected: "sha256:a".into(), actual: "sha256:b".into() };
        assert_eq!(words(OciDistributionError::DigestError(digest), false), "manifest verification failed for digest sha256:a (the content is sha256:b)");
    }
}
