//! A connection to one registry endpoint: TLS roots from certs.d, credentials, the
//! `/v2/` handshake (bearer challenge or basic auth), HTTPS first and plain HTTP for an insecure
//! registry that does not speak TLS (as Docker does), retried with back-off while the registry
//! cannot be reached.

use std::future::Future;
use std::sync::Once;
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference as OciReference, RegistryOperation};

use crate::certs::HostTls;
use crate::conf::Endpoint;
use crate::error::{RegistryError, Subject};

/// Attempts at reaching a registry before giving up, and the first pause between them (doubled
/// each time).
const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// An authenticated connection to a repository on a registry.
pub(crate) struct Session {
    /// The client, holding the token for this repository.
    pub client: Client,
    /// The credentials used.
    pub auth: RegistryAuth,
    /// The endpoint.
    pub endpoint: Endpoint,
    /// `https` or `http`.
    pub scheme: &'static str,
    /// The repository as Docker names it in messages (`redis`, `127.0.0.1:5000/app`).
    pub name: String,
    /// The reference as Docker prints it (`redis:alpine`).
    pub familiar: String,
    /// The extra CA certificates and the client certificate (certs.d).
    tls: HostTls,
    /// The bearer token the handshake got, if the registry hands out tokens.
    token: Option<String>,
}

impl Session {
    /// Connects to `endpoint` for `operation`.
    pub async fn open(endpoint: &Endpoint, operation: RegistryOperation, name: &str, familiar: &str) -> Result<Self, RegistryError> {
        let auth = crate::credentials::for_host(&endpoint.host)?;
        Self::open_with(endpoint, operation, name, familiar, auth).await
    }

    /// Connects to `endpoint` for `operation` with the credentials `auth`.
    pub async fn open_with(endpoint: &Endpoint, operation: RegistryOperation, name: &str, familiar: &str, auth: RegistryAuth) -> Result<Self, RegistryError> {
        static PROVIDER: Once = Once::new();
        PROVIDER.call_once(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let tls = crate::certs::for_host(&endpoint.host)?;
        let schemes: &[&'static str] = if endpoint.insecure { &["https", "http"] } else { &["https"] };
        let mut last = None;
        for &scheme in schemes {
            let config = ClientConfig {
                protocol: if scheme == "http" { ClientProtocol::Http } else { ClientProtocol::Https },
                accept_invalid_certificates: endpoint.insecure,
                extra_root_certificates: tls.roots.clone(),
                client_identity: tls.identity.clone(),
                platform_resolver: None,
                connect_timeout: Some(Duration::from_secs(15)),
                read_timeout: Some(Duration::from_secs(60)),
                user_agent: concat!("xcompose/", env!("CARGO_PKG_VERSION")),
                ..Default::default()
            };
            let session = Self {
                // Not Client::new: it falls back to a default client when the config is refused.
                client: Client::try_from(config).map_err(|e| RegistryError::Config(format!("the HTTP client for {}: {e}", endpoint.host)))?,
                auth: auth.clone(),
                endpoint: endpoint.clone(),
                scheme,
                name: name.to_string(),
                familiar: familiar.to_string(),
                tls: tls.clone(),
                token: None,
            };
            let probe = session.reference(None, None);
            let handshake = || async { session.client.auth(&probe, &session.auth, operation).await.map_err(|e| session.error(e)) };
            // HTTPS to an insecure registry is a probe: plain HTTP comes next, with the retries.
            let probing = scheme == "https" && endpoint.insecure;
            match if probing { handshake().await } else { retrying(handshake).await } {
                Ok(token) => {
                    let session = Self { token, ..session };
                    // Docker's basic-auth handler: a Basic challenge with nothing to answer it.
                    if session.token.is_none() && session.auth == RegistryAuth::Anonymous && session.wants_basic_credentials().await? {
                        return Err(RegistryError::NoBasicAuthCredentials { url: session.base_url() });
                    }
                    return Ok(session);
                }
                Err(e @ (RegistryError::Tls { .. } | RegistryError::Connect { .. })) if scheme == "https" && endpoint.insecure => last = Some(e),
                // Go's answer to plain HTTP on a TLS port: the HTTPS failure is the one to report
                // (a registry that wants a client certificate may reset the connection instead
                // of sending its alert).
                Err(e) if last.is_some() && e.to_string().contains("Client sent an HTTP request to an HTTPS server") => break,
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| RegistryError::Registry(format!("no way to reach {}", endpoint.host))))
    }

    /// Checks the credentials the session was opened with, as `docker login` does. A registry
    /// that handed out a token checked them then (Docker: a successful token fetch is the login);
    /// any other is asked `GET /v2/` with them, and a refusal is worded as Docker words it.
    pub async fn check_login(&self, user: &str, password: &str) -> Result<(), RegistryError> {
        if self.token.is_some() {
            return Ok(());
        }
        let url = self.base_url();
        let response = self.http()?.get(&url).basic_auth(user, Some(password)).send().await.map_err(|e| self.error(e.into()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(RegistryError::Registry(format!("login attempt to {url} failed with status: {status}")))
        }
    }

    /// Whether `GET /v2/` without credentials is refused with a Basic challenge.
    async fn wants_basic_credentials(&self) -> Result<bool, RegistryError> {
        let response = retrying(|| async { self.http()?.get(self.base_url()).send().await.map_err(|e| self.error(e.into())) }).await?;
        let basic = response
            .headers()
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .any(|challenge| challenge.to_str().is_ok_and(|c| c.trim_start().to_ascii_lowercase().starts_with("basic")));
        Ok(response.status() == reqwest::StatusCode::UNAUTHORIZED && basic)
    }

    /// The manifest `tag` names, as the registry sends it, unchecked (to tell what it is when
    /// its digest does not match the registry's: a signed schema 1 manifest).
    pub async fn raw_manifest(&self, tag: &str, accept: &[&str]) -> Result<Vec<u8>, RegistryError> {
        let url = format!("{}{}/manifests/{tag}", self.base_url(), self.endpoint.repository);
        let mut request = self.http()?.get(&url).header("Accept", accept.join(", "));
        request = match (&self.token, &self.auth) {
            (Some(token), _) => request.bearer_auth(token),
            (None, RegistryAuth::Basic(user, password)) => request.basic_auth(user, Some(password)),
            _ => request,
        };
        let response = request.send().await.map_err(|e| self.error(e.into()))?;
        Ok(response.bytes().await.map_err(|e| self.error(e.into()))?.to_vec())
    }

    /// A plain HTTP client trusting what the session's client trusts.
    fn http(&self) -> Result<reqwest::Client, RegistryError> {
        let mut builder = reqwest::Client::builder().danger_accept_invalid_certs(self.endpoint.insecure).connect_timeout(Duration::from_secs(15));
        if let Some(identity) = &self.tls.identity {
            builder = builder.identity(identity.clone());
        }
        for root in &self.tls.roots {
            let certificate = reqwest::Certificate::from_pem(&root.data).map_err(|e| RegistryError::Config(format!("a CA certificate for {}: {e}", self.endpoint.host)))?;
            builder = builder.add_root_certificate(certificate);
        }
        builder.build().map_err(|e| RegistryError::Registry(e.to_string()))
    }

    /// The repository on this endpoint, by tag or digest.
    pub fn reference(&self, tag: Option<&str>, digest: Option<&str>) -> OciReference {
        let (host, repository) = (self.endpoint.host.clone(), self.endpoint.repository.clone());
        match (tag, digest) {
            (_, Some(d)) => OciReference::with_digest(host, repository, d.to_string()),
            (Some(t), None) => OciReference::with_tag(host, repository, t.to_string()),
            (None, None) => OciReference::with_tag(host, repository, "latest".to_string()),
        }
    }

    /// The `/v2/` URL of this endpoint, as errors name it.
    pub fn base_url(&self) -> String {
        format!("{}://{}/v2/", self.scheme, self.endpoint.host)
    }

    /// Words an oci-client error for this session.
    pub fn error(&self, error: oci_client::errors::OciDistributionError) -> RegistryError {
        let url = self.base_url();
        let subject = Subject { name: &self.name, familiar: &self.familiar, host: &self.endpoint.host, url: &url, authenticated: self.auth != RegistryAuth::Anonymous };
        RegistryError::from_oci(error, &subject)
    }
}

/// Runs `attempt` until it succeeds, fails for good, or fails transiently [`ATTEMPTS`] times,
/// pausing longer after each failure.
pub(crate) async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T, RegistryError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RegistryError>>,
{
    let mut pause = FIRST_BACKOFF;
    for _ in 1..ATTEMPTS {
        match attempt().await {
            Err(e) if e.is_transient() => {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            done => return done,
        }
    }
    attempt().await
}
