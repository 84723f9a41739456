//! The `Registry` fixture in each mode: plain HTTP, TLS, client certificates, htpasswd and token
//! auth, each checked with curl inside the sandbox the way a client would talk to it.

use std::process::Command;

use xcompose_testkit::{Registry, Sandbox};

/// The HTTP status and headers curl got for `args` (`-sS -D - -o /dev/null`).
fn status_and_headers(mut curl: Command, args: &[&str]) -> (String, String) {
    let out = curl
        .args(["-sS", "-D", "-", "-o", "/dev/null", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (headers, code) = text.rsplit_once('\n').unwrap();
    (code.to_string(), headers.to_string())
}

#[test]
fn plain_registry_answers_v2_and_dies_with_its_fixture() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::plain(&sb).unwrap();
    assert!(registry.url().starts_with("http://127.0.0.1:"));
    let (code, headers) =
        status_and_headers(registry.curl(&sb), &[&format!("{}/v2/", registry.url())]);
    assert_eq!(code, "200", "{headers}");
    assert!(
        headers.contains("Docker-Distribution-Api-Version: registry/2.0"),
        "{headers}"
    );
    let url = format!("{}/v2/", registry.url());
    drop(registry);
    let after = sb.run("curl", &["-sS", "-o", "/dev/null", &url]).unwrap();
    assert!(
        !after.status.success(),
        "the registry still answers after drop"
    );
}

#[test]
fn tls_registry_is_trusted_only_through_its_ca() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::builder().tls().start(&sb).unwrap();
    let url = format!("{}/v2/", registry.url());
    assert!(url.starts_with("https://127.0.0.1:"));
    let (code, _) = status_and_headers(registry.curl(&sb), &[&url]);
    assert_eq!(code, "200");
    let localhost = url.replace("127.0.0.1", "localhost");
    let (code, _) = status_and_headers(registry.curl(&sb), &[&localhost]);
    assert_eq!(code, "200", "the leaf is valid for localhost too");
    let untrusted = sb.run("curl", &["-sS", "-o", "/dev/null", &url]).unwrap();
    assert!(!untrusted.status.success());
    let stderr = String::from_utf8_lossy(&untrusted.stderr);
    assert!(stderr.contains("certificate"), "{stderr}");
    let certs_d = sb.temp_dir().join("certs.d");
    let installed = registry.install_certs_d(&certs_d).unwrap();
    assert_eq!(installed, certs_d.join(registry.host()));
    assert!(installed.join("ca.crt").is_file());
}

#[test]
fn client_cert_registry_refuses_clients_without_one() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::builder().client_certs().start(&sb).unwrap();
    let url = format!("{}/v2/", registry.url());
    let (code, _) = status_and_headers(registry.curl(&sb), &[&url]);
    assert_eq!(code, "200");
    let without = sb
        .run(
            "curl",
            &[
                "-sS",
                "-o",
                "/dev/null",
                "--cacert",
                registry.ca_cert().to_str().unwrap(),
                &url,
            ],
        )
        .unwrap();
    assert!(
        !without.status.success(),
        "a client without a certificate got in"
    );
    let certs_d = sb.temp_dir().join("certs.d");
    let installed = registry.install_certs_d(&certs_d).unwrap();
    for file in ["ca.crt", "client.cert", "client.key"] {
        assert!(installed.join(file).is_file(), "{file}");
    }
}

#[test]
fn htpasswd_registry_wants_basic_credentials() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::builder()
        .htpasswd("alice", "s3cret")
        .start(&sb)
        .unwrap();
    let url = format!("{}/v2/", registry.url());
    let (code, headers) = status_and_headers(registry.curl(&sb), &[&url]);
    assert_eq!(code, "401");
    assert!(
        headers.contains("Www-Authenticate: Basic realm=\"xcompose-test-registry\""),
        "{headers}"
    );
    let (code, _) = status_and_headers(registry.curl(&sb), &["-u", "alice:wrong", &url]);
    assert_eq!(code, "401");
    let (code, _) = status_and_headers(registry.curl(&sb), &["-u", "alice:s3cret", &url]);
    assert_eq!(code, "200");
    assert_eq!(registry.credentials(), Some(("alice", "s3cret")));
}

/// The token from the token server for `scope`, with `user` (None: anonymously).
fn token(
    sb: &Sandbox,
    realm: &str,
    scope: &str,
    user: Option<&str>,
) -> (String, serde_json::Value) {
    let url = format!(
        "{realm}?service={}&scope={scope}",
        xcompose_testkit::TOKEN_SERVICE
    );
    let mut args = vec!["-sS", "-w", "\n%{http_code}"];
    if let Some(user) = user {
        args.extend(["-u", user]);
    }
    args.push(&url);
    let out = sb.run("curl", &args).unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.to_string(), serde_json::from_str(body).unwrap())
}

#[test]
fn token_registry_runs_the_bearer_flow() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::builder()
        .token("bob", "hunter2", false)
        .start(&sb)
        .unwrap();
    let v2 = format!("{}/v2/", registry.url());
    let (code, headers) = status_and_headers(registry.curl(&sb), &[&v2]);
    assert_eq!(code, "401");
    let realm = registry.token_server().unwrap().realm();
    assert!(
        headers.contains(&format!(
            "Www-Authenticate: Bearer realm=\"{realm}\",service=\"{}\"",
            xcompose_testkit::TOKEN_SERVICE
        )),
        "{headers}"
    );

    let (code, body) = token(
        &sb,
        &realm,
        "repository:library/redis:pull",
        Some("bob:nope"),
    );
    assert_eq!(code, "401");
    assert_eq!(body["details"], "incorrect username or password");

    // The user gets what they ask for: the registry accepts the token for the catalog of tags.
    let tags = format!("{}/v2/library/redis/tags/list", registry.url());
    let (code, body) = token(
        &sb,
        &realm,
        "repository:library/redis:pull,push",
        Some("bob:hunter2"),
    );
    assert_eq!(code, "200", "{body}");
    let bearer = format!("Authorization: Bearer {}", body["token"].as_str().unwrap());
    let (code, _) = status_and_headers(registry.curl(&sb), &["-H", &bearer, &v2]);
    assert_eq!(code, "200", "registry log:\n{}", registry.log());
    // Authorized for the repository, which does not exist yet: 404 NAME_UNKNOWN, not 401.
    let (code, _) = status_and_headers(registry.curl(&sb), &["-H", &bearer, &tags]);
    assert_eq!(code, "404", "registry log:\n{}", registry.log());

    // An anonymous caller gets a token without access: the registry says 401 (and clients
    // "pull access denied ... may require login").
    let (code, body) = token(&sb, &realm, "repository:library/redis:pull", None);
    assert_eq!(code, "200");
    let anonymous = format!("Authorization: Bearer {}", body["token"].as_str().unwrap());
    let (code, headers) = status_and_headers(registry.curl(&sb), &["-H", &anonymous, &tags]);
    assert_eq!(code, "401", "{headers}");
    assert!(
        headers.contains("error=\"insufficient_scope\""),
        "{headers}"
    );

    let requests = registry.token_server().unwrap().requests();
    let summary: Vec<(Option<&str>, u16)> = requests
        .iter()
        .map(|r| (r.user.as_deref(), r.status))
        .collect();
    assert_eq!(
        summary,
        [(Some("bob"), 401), (Some("bob"), 200), (None, 200)]
    );
    assert_eq!(requests[1].scopes, ["repository:library/redis:pull,push"]);
}

#[test]
fn token_registry_lets_anonymous_callers_pull_when_public() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::builder()
        .token("bob", "hunter2", true)
        .start(&sb)
        .unwrap();
    let realm = registry.token_server().unwrap().realm();
    let (code, body) = token(&sb, &realm, "repository:library/redis:pull,push", None);
    assert_eq!(code, "200");
    let bearer = format!("Authorization: Bearer {}", body["token"].as_str().unwrap());
    let tags = format!("{}/v2/library/redis/tags/list", registry.url());
    let (code, _) = status_and_headers(registry.curl(&sb), &["-H", &bearer, &tags]);
    assert_eq!(
        code, "404",
        "pull is granted, so the unknown repository is reported as such"
    );
}

#[test]
fn a_registry_on_the_uplink_serves_tls_for_that_address() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::builder().on_uplink().tls().start(&sb).unwrap();
    assert_eq!(registry.host(), format!("198.51.100.1:{}", registry.port()));
    let (code, _) = status_and_headers(registry.curl(&sb), &[&format!("{}/v2/", registry.url())]);
    assert_eq!(code, "200");
    let from_peer = sb
        .run_in_peer(
            "curl",
            &[
                "-sS",
                "-o",
                "/dev/null",
                "--cacert",
                registry.ca_cert().to_str().unwrap(),
                &format!("{}/v2/", registry.url()),
            ],
        )
        .unwrap();
    assert!(
        from_peer.status.success(),
        "reachable over the uplink: {}",
        String::from_utf8_lossy(&from_peer.stderr)
    );
}
