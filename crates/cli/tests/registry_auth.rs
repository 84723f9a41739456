//! Reaching registries as Docker does: `login` / `logout` writing `~/.docker/config.json`,
//! credentials from a `docker-credential-NAME` helper or podman's `auth.json`, basic auth
//! (htpasswd), the bearer-token flow of Docker Hub (a token server in the sandbox), TLS with
//! Docker's `/etc/docker/certs.d/HOST:PORT/ca.crt`, client certificates (`client.cert` and
//! `client.key` there) for a registry that wants them; and refusals as Docker words them (dockerd
//! says the same for the same pull).

use serde_json::Value;
use xcompose_testkit::{test_images, Dockerd, Registry, Sandbox, TestCa};

mod registry_common;
use registry_common::{err, home, inspect, ok, xc, xc_err, xc_ok, xc_with};

/// `~/.docker/config.json` as xcompose left it.
fn docker_config(sb: &Sandbox) -> Value {
    let path = home(sb).join(".docker/config.json");
    serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// `xcompose login HOST -u USER --password-stdin` with `password` on stdin.
fn login(sb: &Sandbox, host: &str, user: &str, password: &str) -> std::process::Output {
    xc_with(
        sb,
        &[],
        &format!("{password}\n"),
        &["login", host, "-u", user, "--password-stdin"],
    )
}

/// What `docker pull REF` says on failure, without dockerd's "Error response from daemon: ".
fn docker_pull_error(sb: &Sandbox, dockerd: &Dockerd, reference: &str) -> String {
    let out = dockerd
        .docker(sb)
        .args(["pull", reference])
        .output()
        .unwrap();
    assert!(!out.status.success(), "docker pull {reference} succeeded");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    stderr
        .trim()
        .trim_start_matches("Error response from daemon: ")
        .to_string()
}

#[test]
fn htpasswd_login_pull_and_logout() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::builder()
        .htpasswd("alice", "s3cret")
        .start(&sb)
        .unwrap();
    let written = registry
        .push_image(&sb, &test_images::zstd().unwrap(), "xtk/private:1")
        .unwrap();
    let reference = registry.reference("xtk/private:1");
    let host = registry.host();
    let dockerd = Dockerd::start(&sb).unwrap();

    // No credentials: Docker's "no basic auth credentials".
    let anonymous = xc_err(&sb, &["image", "pull", &reference]);
    assert!(
        anonymous.contains("no basic auth credentials"),
        "{anonymous}"
    );
    assert!(docker_pull_error(&sb, &dockerd, &reference).contains("no basic auth credentials"));

    // Wrong password: refused, nothing written.
    let wrong = err(login(&sb, &host, "alice", "wrong"), &["login"]);
    assert!(
        wrong.contains(&format!(
            "login attempt to http://{host}/v2/ failed with status: 401 Unauthorized"
        )),
        "docker login's words: {wrong}"
    );
    assert!(
        !home(&sb).join(".docker/config.json").exists()
            || docker_config(&sb)["auths"].get(&host).is_none()
    );

    let out = ok(login(&sb, &host, "alice", "s3cret"), &["login"]);
    assert!(out.contains("Login Succeeded"), "{out}");
    // base64 of "alice:s3cret", as `docker login` stored it in the same situation.
    assert_eq!(
        docker_config(&sb)["auths"][&host]["auth"],
        "YWxpY2U6czNjcmV0",
        "stored as docker does"
    );
    xc_ok(&sb, &["image", "pull", &reference]);
    assert_eq!(
        inspect(&sb, &reference)["Id"],
        written.config_digest.as_str()
    );

    let out = xc_ok(&sb, &["logout", &host]);
    assert!(
        out.contains(&format!("Removing login credentials for {host}")),
        "{out}"
    );
    assert!(docker_config(&sb)["auths"].get(&host).is_none());
    let again = xc_err(
        &sb,
        &["image", "pull", &registry.reference("xtk/private:2")],
    );
    assert!(again.contains("no basic auth credentials"), "{again}");
}

#[test]
fn the_bearer_token_flow_as_with_docker_hub() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::builder()
        .token("bob", "hunter2", false)
        .start(&sb)
        .unwrap();
    let written = registry
        .push_image(&sb, &test_images::multi_layer().unwrap(), "xtk/private:1")
        .unwrap();
    let reference = registry.reference("xtk/private:1");
    let host = registry.host();
    let tokens = registry.token_server().unwrap();

    // Anonymous: the token grants nothing, so Docker's "pull access denied".
    let denied = xc_err(&sb, &["image", "pull", &reference]);
    let name = format!("{host}/xtk/private");
    assert!(
        denied.contains(&format!(
            "pull access denied for {name}, repository does not exist or may require login"
        )),
        "{denied}"
    );
    let asked = tokens.requests();
    assert!(
        asked.iter().any(
            |r| r.user.is_none() && r.scopes.iter().any(|s| s == "repository:xtk/private:pull")
        ),
        "the client asked for the pull scope anonymously: {asked:?}"
    );

    let wrong = err(login(&sb, &host, "bob", "nope"), &["login"]);
    assert!(
        wrong.contains("401") || wrong.to_lowercase().contains("unauthorized"),
        "{wrong}"
    );

    // Docker logs in to a token registry by fetching a token with the credentials.
    let right = login(&sb, &host, "bob", "hunter2");
    assert!(
        right.status.success(),
        "{}\ntoken requests: {:?}",
        String::from_utf8_lossy(&right.stderr),
        tokens.requests()
    );
    xc_ok(&sb, &["image", "pull", &reference]);
    assert_eq!(
        inspect(&sb, &reference)["Id"],
        written.config_digest.as_str()
    );
    assert!(
        tokens
            .requests()
            .iter()
            .any(|r| r.user.as_deref() == Some("bob")
                && r.status == 200
                && r.scopes
                    .iter()
                    .any(|s| s.starts_with("repository:xtk/private:"))),
        "{:?}",
        tokens.requests()
    );

    // Credentials that went bad after login: 401 in Docker's words, one line.
    let config_path = home(&sb).join(".docker/config.json");
    let mut config = docker_config(&sb);
    config["auths"][&host]["auth"] = Value::from("Ym9iOnN0YWxl"); // base64 of "bob:stale"
    std::fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();
    let stale = xc_err(
        &sb,
        &["image", "pull", &registry.reference("xtk/private:2")],
    );
    assert!(
        stale.to_lowercase().contains("unauthorized") || stale.contains("401"),
        "{stale}"
    );
}

#[test]
fn public_repositories_pull_anonymously_through_a_token() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::builder()
        .token("bob", "hunter2", true)
        .start(&sb)
        .unwrap();
    let written = registry
        .push_image(&sb, &test_images::zstd().unwrap(), "library/public:1")
        .unwrap();
    let reference = registry.reference("library/public:1");
    let pushed = registry.token_server().unwrap().requests().len();
    xc_ok(&sb, &["image", "pull", &reference]);
    assert_eq!(
        inspect(&sb, &reference)["Id"],
        written.config_digest.as_str()
    );
    let requests = registry
        .token_server()
        .unwrap()
        .requests()
        .split_off(pushed);
    assert!(
        !requests.is_empty(),
        "the registry's bearer challenge was followed"
    );
    assert!(
        requests.iter().all(|r| r.user.is_none() && r.status == 200),
        "{requests:?}"
    );
}

#[test]
fn tls_is_trusted_through_docker_s_certs_d() {
    let sb = Sandbox::new().unwrap();
    // Not on 127.0.0.1: Docker accepts any certificate from a registry on 127.0.0.0/8.
    let registry = Registry::builder().on_uplink().tls().start(&sb).unwrap();
    let written = registry
        .push_image(&sb, &test_images::zstd().unwrap(), "xtk/tls:1")
        .unwrap();
    let reference = registry.reference("xtk/tls:1");

    let untrusted = xc_err(&sb, &["image", "pull", &reference]);
    let ca = format!("/etc/docker/certs.d/{}/ca.crt", registry.host());
    assert!(
        untrusted.contains(&ca),
        "the error names where the CA goes: {untrusted}"
    );

    registry.install_docker_certs(&sb).unwrap();
    xc_ok(&sb, &["image", "pull", &reference]);
    assert_eq!(
        inspect(&sb, &reference)["Id"],
        written.config_digest.as_str()
    );
}

#[test]
fn client_certificates_from_certs_d_for_pull_push_and_login() {
    let sb = Sandbox::new().unwrap();
    // distribution's http.tls.clientcas: only clients with a certificate of the test CA get in.
    let registry = Registry::builder()
        .client_certs()
        .htpasswd("alice", "s3cret")
        .start(&sb)
        .unwrap();
    let written = registry
        .push_image(&sb, &test_images::zstd().unwrap(), "xtk/mtls:1")
        .unwrap();
    let reference = registry.reference("xtk/mtls:1");
    let host_dir = registry.install_docker_certs(&sb).unwrap();
    let (cert, key) = (host_dir.join("client.cert"), host_dir.join("client.key"));
    let (cert_pem, key_pem) = (std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap());
    let in_sandbox = format!("/etc/docker/certs.d/{}", registry.host());

    // Without a client certificate: refused by the registry, and the error says where it goes.
    std::fs::remove_file(&cert).unwrap();
    std::fs::remove_file(&key).unwrap();
    let refused = xc_err(&sb, &["image", "pull", &reference]);
    assert!(
        refused.contains("remote error: tls: bad certificate")
            && refused.contains(&format!("{in_sandbox}/client.cert"))
            && refused.contains(&format!("{in_sandbox}/client.key")),
        "{refused}"
    );
    assert!(!xc(&sb, &["image", "inspect", &reference]).status.success());

    // A certificate with some other key: refused before anything is asked of the registry.
    std::fs::write(&cert, &cert_pem).unwrap();
    let other = TestCa::new("another CA").unwrap().client_leaf().unwrap();
    std::fs::write(&key, &other.key).unwrap();
    let mismatched = xc_err(&sb, &["image", "pull", &reference]);
    assert!(
        mismatched.ends_with(&format!(
            "client certificate {in_sandbox}/client.cert with key {in_sandbox}/client.key: tls: private key does not match public key"
        )),
        "{mismatched}"
    );

    // A certificate the registry's CA did not sign: refused by the registry.
    other.write(&cert, &key).unwrap();
    let untrusted = xc_err(&sb, &["image", "pull", &reference]);
    assert!(
        untrusted.contains("remote error: tls: ")
            && untrusted.contains(&format!("{in_sandbox}/client.cert")),
        "{untrusted}"
    );

    // With certs.d's client.cert and client.key: login, pull and push.
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, &key_pem).unwrap();
    let out = ok(login(&sb, &registry.host(), "alice", "s3cret"), &["login"]);
    assert!(out.contains("Login Succeeded"), "{out}");
    xc_ok(&sb, &["image", "pull", &reference]);
    assert_eq!(
        inspect(&sb, &reference)["Id"],
        written.config_digest.as_str()
    );
    let pushed = registry.reference("xtk/mtls-pushed:2");
    xc_ok(&sb, &["image", "tag", &reference, &pushed]);
    xc_ok(&sb, &["image", "push", &pushed]);
    let read_back = registry
        .skopeo_inspect(&sb, "xtk/mtls-pushed:2", true)
        .unwrap();
    assert_eq!(
        read_back["config"]["digest"],
        written.config_digest.as_str(),
        "{read_back}"
    );
}

#[test]
fn login_to_a_tls_registry_with_basic_auth() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::builder()
        .tls()
        .htpasswd("alice", "s3cret")
        .start(&sb)
        .unwrap();
    registry.install_docker_certs(&sb).unwrap();
    let written = registry
        .push_image(&sb, &test_images::zstd().unwrap(), "xtk/both:1")
        .unwrap();
    let out = ok(login(&sb, &registry.host(), "alice", "s3cret"), &["login"]);
    assert!(out.contains("Login Succeeded"), "{out}");
    let reference = registry.reference("xtk/both:1");
    xc_ok(&sb, &["image", "pull", &reference]);
    assert_eq!(
        inspect(&sb, &reference)["Id"],
        written.config_digest.as_str()
    );
}

#[test]
fn credentials_come_from_a_credential_helper_or_podman_s_auth_json() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::builder()
        .htpasswd("alice", "s3cret")
        .start(&sb)
        .unwrap();
    let host = registry.host();
    registry
        .push_image(&sb, &test_images::zstd().unwrap(), "xtk/helped:1")
        .unwrap();
    registry
        .push_image(&sb, &test_images::hard_links().unwrap(), "xtk/podman:1")
        .unwrap();

    // credHelpers: docker-credential-xtk answers `get` with the user and secret.
    let bin = sb.temp_dir().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-xtk");
    std::fs::write(
        &helper,
        "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread -r server\n\
         echo \"$server\" >>\"$(dirname \"$0\")/asked\"\n\
         echo '{\"ServerURL\":\"'\"$server\"'\",\"Username\":\"alice\",\"Secret\":\"s3cret\"}'\n",
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(home(&sb).join(".docker")).unwrap();
    std::fs::write(
        home(&sb).join(".docker/config.json"),
        format!(r#"{{"credHelpers": {{"{host}": "xtk"}}}}"#),
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let reference = registry.reference("xtk/helped:1");
    ok(
        xc_with(&sb, &[("PATH", &path)], "", &["image", "pull", &reference]),
        &["image", "pull", "(helper)"],
    );
    let asked = std::fs::read_to_string(bin.join("asked")).unwrap();
    assert!(
        asked.lines().any(|l| l == host),
        "the helper was asked for {host}: {asked:?}"
    );

    // podman's auth.json, named by REGISTRY_AUTH_FILE, with no docker config.
    std::fs::remove_file(home(&sb).join(".docker/config.json")).unwrap();
    let auth_file = sb.temp_dir().join("auth.json");
    std::fs::write(
        &auth_file,
        format!(r#"{{"auths": {{"{host}": {{"auth": "YWxpY2U6czNjcmV0"}}}}}}"#),
    )
    .unwrap();
    let reference = registry.reference("xtk/podman:1");
    ok(
        xc_with(
            &sb,
            &[("REGISTRY_AUTH_FILE", auth_file.to_str().unwrap())],
            "",
            &["image", "pull", &reference],
        ),
        &["image", "pull", "(auth.json)"],
    );
    assert!(inspect(&sb, &reference)["Id"].is_string());
}
