//! A token server for the registry's `auth: token` mode: the Docker Hub bearer flow, for real.
//!
//! The registry answers an unauthenticated request with `401` and
//! `WWW-Authenticate: Bearer realm="http://127.0.0.1:PORT/token",service="...",scope="..."`; the
//! client asks this server for a token (`GET /token?service=...&scope=...`, with basic
//! credentials or anonymously) and retries with `Authorization: Bearer TOKEN`.
//!
//! Like Docker Hub's `auth.docker.io`: wrong credentials get `401` and
//! `{"details":"incorrect username or password"}`; otherwise the token grants, per requested
//! `repository:NAME:ACTIONS` scope, what the caller may do: the user every action asked for,
//! an anonymous caller `pull` when [`TokenPolicy::anonymous_pull`] is set and nothing otherwise
//! (the registry then answers `401`, which clients report as "pull access denied ... may require
//! login"). Tokens are ES256 JWTs whose `x5c` header carries the signing certificate, which the
//! registry's `rootcertbundle` trusts (distribution 2.8 checks the chain, the issuer, the
//! audience = service, and the times).

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use base64::Engine as _;
use serde::Serialize;

use crate::tls::TestCa;
use crate::Sandbox;

/// The `service` the registry names in its challenges and tokens are issued for.
pub const TOKEN_SERVICE: &str = "xcompose-test-registry";
/// The `iss` of the tokens, which the registry is configured to trust.
pub const TOKEN_ISSUER: &str = "xcompose-test-token-server";
/// How long a token is valid, in seconds.
const TOKEN_LIFETIME: u64 = 600;

/// Who may do what: the one user's credentials, and whether anonymous callers may pull.
#[derive(Clone, Debug)]
pub struct TokenPolicy {
    /// The user name the server accepts.
    pub user: String,
    /// That user's password.
    pub password: String,
    /// Whether an anonymous caller gets `pull` (Docker Hub's public repositories).
    pub anonymous_pull: bool,
}

/// One request the token server answered, for tests to check what clients asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    /// The user of the basic credentials, `None` when the caller sent none.
    pub user: Option<String>,
    /// The `scope` parameters, as sent (`repository:library/redis:pull`).
    pub scopes: Vec<String>,
    /// The `service` parameter.
    pub service: Option<String>,
    /// The HTTP status the server answered with.
    pub status: u16,
}

/// The running token server: a thread serving a listener in a sandbox's network namespace.
/// Stopped on drop.
pub struct TokenServer {
    server: Arc<tiny_http::Server>,
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<TokenRequest>>>,
    thread: Option<JoinHandle<()>>,
}

impl TokenServer {
    /// Starts a token server on 127.0.0.1 inside `sb`, signing with `signer`'s key (its
    /// self-signed certificate goes in the registry's `rootcertbundle`).
    pub fn start(
        sb: &Sandbox,
        policy: TokenPolicy,
        signer: &TestCa,
    ) -> anyhow::Result<TokenServer> {
        let listener = sb
            .in_net(|| TcpListener::bind("127.0.0.1:0"))?
            .context("binding the token server's port in the sandbox")?;
        let addr = listener.local_addr()?;
        let server = Arc::new(
            tiny_http::Server::from_listener(listener, None)
                .map_err(|e| anyhow::anyhow!("starting the token server: {e}"))?,
        );
        let issuer = Issuer::new(policy, signer)?;
        let requests = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let server = Arc::clone(&server);
            let requests = Arc::clone(&requests);
            std::thread::Builder::new()
                .name("xtk-token-server".into())
                .spawn(move || serve(&server, &issuer, &requests))?
        };
        Ok(TokenServer {
            server,
            addr,
            requests,
            thread: Some(thread),
        })
    }

    /// The realm URL the registry sends clients to: `http://127.0.0.1:PORT/token`.
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// Every request answered so far, oldest first.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.requests.lock().expect("token request log").clone()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(server: &tiny_http::Server, issuer: &Issuer, log: &Mutex<Vec<TokenRequest>>) {
    for request in server.incoming_requests() {
        let (status, body, logged) = issuer.answer(&request);
        if let Some(entry) = logged {
            log.lock().expect("token request log").push(entry);
        }
        let json = tiny_http::Header::from_bytes("Content-Type", "application/json")
            .expect("a valid header");
        let response = tiny_http::Response::from_string(body)
            .with_status_code(status)
            .with_header(json);
        // A client that went away is not the server's problem.
        let _ = request.respond(response);
    }
}

/// Checks credentials and scopes and signs tokens.
struct Issuer {
    policy: TokenPolicy,
    key: jsonwebtoken::EncodingKey,
    /// The signing certificate, DER in standard base64, for the `x5c` header.
    x5c: String,
}

/// One entry of a token's `access` claim.
#[derive(Serialize)]
struct Access {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    actions: Vec<String>,
}

/// The claims distribution 2.8 reads (`registry/auth/token.ClaimSet`; `aud` is a string there).
#[derive(Serialize)]
struct Claims {
    iss: &'static str,
    sub: String,
    aud: String,
    exp: u64,
    nbf: u64,
    iat: u64,
    jti: String,
    access: Vec<Access>,
}

impl Issuer {
    fn new(policy: TokenPolicy, signer: &TestCa) -> anyhow::Result<Issuer> {
        let key = jsonwebtoken::EncodingKey::from_ec_pem(signer.pem_pair().key.as_bytes())
            .context("reading the token signing key")?;
        Ok(Issuer {
            policy,
            key,
            x5c: base64::engine::general_purpose::STANDARD.encode(signer.cert_der()),
        })
    }

    /// The status and body for `request`, and what to log of it (`None` for other paths).
    fn answer(&self, request: &tiny_http::Request) -> (u16, String, Option<TokenRequest>) {
        let url = request.url();
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        if path != "/token" || *request.method() != tiny_http::Method::Get {
            return (404, r#"{"details":"not found"}"#.into(), None);
        }
        let params: Vec<(String, String)> = query_pairs(query);
        let scopes: Vec<String> = params
            .iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.clone())
            .collect();
        let service = params
            .iter()
            .find(|(k, _)| k == "service")
            .map(|(_, v)| v.clone());
        let credentials = basic_credentials(request);
        let user = credentials.as_ref().map(|(user, _)| user.clone());
        let mut logged = TokenRequest {
            user,
            scopes: scopes.clone(),
            service: service.clone(),
            status: 200,
        };
        let authenticated = match &credentials {
            Some((user, password)) => {
                if *user != self.policy.user || *password != self.policy.password {
                    logged.status = 401;
                    return (
                        401,
                        r#"{"details":"incorrect username or password"}"#.into(),
                        Some(logged),
                    );
                }
                true
            }
            None => false,
        };
        if service.as_deref() != Some(TOKEN_SERVICE) {
            logged.status = 400;
            return (
                400,
                format!(r#"{{"details":"unknown service {service:?}"}}"#),
                Some(logged),
            );
        }
        let access = scopes
            .iter()
            .filter_map(|scope| self.grant(scope, authenticated))
            .collect();
        match self.sign(logged.user.clone().unwrap_or_default(), access) {
            Ok(token) => {
                let body = serde_json::json!({
                    "token": token,
                    "access_token": token,
                    "expires_in": TOKEN_LIFETIME,
                });
                (200, body.to_string(), Some(logged))
            }
            Err(e) => {
                logged.status = 500;
                (500, format!(r#"{{"details":"{e}"}}"#), Some(logged))
            }
        }
    }

    /// What one scope (`TYPE:NAME:ACTIONS`, NAME may hold colons) grants, if anything.
    fn grant(&self, scope: &str, authenticated: bool) -> Option<Access> {
        let (kind, rest) = scope.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        let asked: BTreeSet<&str> = actions.split(',').collect();
        let granted: Vec<String> = asked
            .into_iter()
            .filter(|action| authenticated || (self.policy.anonymous_pull && *action == "pull"))
            .map(str::to_string)
            .collect();
        Some(Access {
            kind: kind.to_string(),
            name: name.to_string(),
            actions: granted,
        })
    }

    fn sign(&self, subject: String, access: Vec<Access>) -> anyhow::Result<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let claims = Claims {
            iss: TOKEN_ISSUER,
            sub: subject,
            aud: TOKEN_SERVICE.to_string(),
            exp: now + TOKEN_LIFETIME,
            nbf: now.saturating_sub(60),
            iat: now,
            jti: format!("{now}-{}", std::process::id()),
            access,
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.x5c = Some(vec![self.x5c.clone()]);
        Ok(jsonwebtoken::encode(&header, &claims, &self.key)?)
    }
}

/// `user` and `password` of an `Authorization: Basic ...` header.
fn basic_credentials(request: &tiny_http::Request) -> Option<(String, String)> {
    let header = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))?;
    let encoded = header.value.as_str().strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// The decoded `key=value` pairs of a query string.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
