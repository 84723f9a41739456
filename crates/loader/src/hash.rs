//! The config hash of a service: the digest compose stores in the `com.docker.compose.config-hash`
//! label and compares to decide whether a container must be recreated.

use sha2::{Digest, Sha256};

use crate::model::Service;

/// SHA-256 of the service's JSON form without the keys that do not change a container
/// (build, pull_policy, scale, deploy.replicas, depends_on, profiles), byte-identical to compose's.
pub fn service_hash(service: &Service) -> String {
    let mut s = service.clone();
    s.build = None;
    s.pull_policy.clear();
    s.scale = None;
    if let Some(d) = s.deploy.as_mut() {
        d.replicas = None;
    }
    s.depends_on.clear();
    s.profiles.clear();
    let json = serde_json::to_string(&s).expect("a service always serialises");
    hex::encode(Sha256::digest(go_html_escape(&json).as_bytes()))
}

/// Go's `json.Marshal` escapes `<`, `>`, `&`, U+2028 and U+2029 inside strings; these characters
/// can only appear inside strings in JSON text, so a plain replacement is exact.
fn go_html_escape(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}
