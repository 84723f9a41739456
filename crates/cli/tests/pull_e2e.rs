//! Pull and push end to end against a real registry (Debian's docker-registry in the sandbox):
//! `image push` is accepted by skopeo, the image removed locally comes back with `up -d` through
//! a registries.conf that maps docker.io to the local registry (so `image: redis:alpine` is
//! pulled from there) and runs; `pull` re-pulls it as up to date; zstd and two-platform images
//! pulled by `image pull` have the IDs and diff_ids the registry has; TLS roots from certs.d;
//! credentials from config.json, written by `login` (or given to a credential helper).

use std::path::Path;
use std::process::Output;

use anyhow::{ensure, Result};
use sha2::Digest as _;
use xcompose_testkit::{test_images, Layer, Registry, Sandbox, TestImage};

mod common;
use common::{project, sandbox_with_busybox, xcompose, XCOMPOSE};

/// Runs xcompose in the sandbox with `registries_conf` as its registries.conf.
fn run(sb: &Sandbox, registries_conf: &Path, args: &[&str]) -> Result<Output> {
    Ok(sb.command(XCOMPOSE).env("XCOMPOSE_REGISTRIES_CONF", registries_conf).arg("--root").arg(sb.root()).args(args).output()?)
}

/// As [`run`], failing unless it exits 0; its stdout and stderr.
fn run_ok(sb: &Sandbox, registries_conf: &Path, args: &[&str]) -> Result<(String, String)> {
    let out = run(sb, registries_conf, args)?;
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    ensure!(out.status.success(), "xcompose {args:?} failed ({}):\n{stdout}{stderr}", out.status);
    Ok((stdout, stderr))
}

/// A registries.conf sending docker.io to `registry`.
fn docker_io_to(sb: &Sandbox, registry: &Registry) -> Result<std::path::PathBuf> {
    let path = sb.temp_dir().join("registries.conf");
    std::fs::write(&path, format!("[[registry]]\nprefix = \"docker.io\"\nlocation = \"{}\"\n", registry.host()))?;
    Ok(path)
}

#[test]
fn a_pushed_image_comes_back_through_up_and_runs() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let registry = Registry::plain(&sb)?;
    let conf = docker_io_to(&sb, &registry)?;
    // Pushed under its docker.io name: registries.conf sends it to the local registry.
    run_ok(&sb, &conf, &["image", "tag", "busybox:latest", "redis:alpine"])?;
    let (pushed, _) = run_ok(&sb, &conf, &["image", "push", "redis:alpine"])?;
    ensure!(pushed.starts_with("The push refers to repository [redis]\n"), "{pushed}");
    let digest = pushed.lines().last().and_then(|l| l.strip_prefix("alpine: digest: ")).and_then(|l| l.split(' ').next()).unwrap_or_default().to_string();
    ensure!(digest.starts_with("sha256:"), "no digest line in {pushed}");
    let inspected = registry.skopeo_inspect(&sb, "library/redis:alpine", false)?;
    ensure!(inspected["Digest"] == digest.as_str(), "skopeo sees {inspected} after pushing {digest}");
    // A second push finds every blob there.
    let (again, _) = run_ok(&sb, &conf, &["image", "push", "redis:alpine"])?;
    ensure!(again.contains(": Layer already exists") && !again.contains(": Pushed"), "{again}");
    // Another repository of the same registry gets the layer mounted, not uploaded.
    run_ok(&sb, &conf, &["image", "tag", "busybox:latest", "nginx:latest"])?;
    let (mounted, _) = run_ok(&sb, &conf, &["image", "push", "nginx"])?;
    ensure!(mounted.contains(": Mounted from library/redis") && !mounted.contains(": Pushed"), "{mounted}");
    run_ok(&sb, &conf, &["image", "rm", "nginx"])?;

    run_ok(&sb, &conf, &["image", "rm", "redis:alpine", "busybox:latest"])?;
    let (listed, _) = run_ok(&sb, &conf, &["image", "ls", "-q"])?;
    ensure!(listed.trim().is_empty(), "the store still has {listed}");

    let dir = project(&sb, "app", "services:\n  cache:\n    image: redis:alpine\n    init: true\n    command: [\"sleep\", \"1000\"]\n")?;
    let file = dir.join("compose.yaml");
    let file = file.to_str().unwrap();
    let (_, progress) = run_ok(&sb, &conf, &["-f", file, "up", "-d", "--wait"])?;
    ensure!(progress.contains("cache  Pulling") && progress.contains("Pull complete") && progress.contains("cache  Pulled"), "{progress}");
    let ps = xcompose(&sb, &dir, &["ps"])?;
    ensure!(ps.contains("app-cache-1") && ps.contains("Up"), "{ps}");
    let (inspect, _) = run_ok(&sb, &conf, &["image", "inspect", "redis:alpine"])?;
    let inspect: serde_json::Value = serde_json::from_str(&inspect)?;
    ensure!(inspect[0]["RepoDigests"][0] == format!("docker.io/library/redis@{digest}").as_str(), "{inspect}");

    // `pull` pulls again (its default policy is always) and finds nothing new; `up` does not pull
    // what it has.
    let (_, pulled) = run_ok(&sb, &conf, &["-f", file, "pull"])?;
    ensure!(pulled.contains("cache  Pulled") && !pulled.contains("Pull complete"), "{pulled}");
    let (_, second_up) = run_ok(&sb, &conf, &["-f", file, "up", "-d"])?;
    ensure!(!second_up.contains("Pulling"), "{second_up}");
    let (_, forced) = run_ok(&sb, &conf, &["-f", file, "up", "-d", "--pull", "always"])?;
    ensure!(forced.contains("cache  Pulled"), "{forced}");
    let (_, skipped) = run_ok(&sb, &conf, &["-f", file, "pull", "--policy", "missing"])?;
    ensure!(skipped.contains("cache  Skipped - Image is already present locally"), "{skipped}");
    run_ok(&sb, &conf, &["-f", file, "down"])?;

    // A missing image fails `pull`, unless its failures are to be ignored.
    let other = project(&sb, "other", "services:\n  cache:\n    image: redis:alpine\n  gone:\n    image: nope:1\n")?;
    let other = other.join("compose.yaml");
    let failed = run(&sb, &conf, &["-f", other.to_str().unwrap(), "pull"])?;
    let err = String::from_utf8_lossy(&failed.stderr);
    ensure!(failed.status.code() == Some(1) && err.contains("gone  Error") && err.contains("manifest for nope:1 not found"), "{err}");
    let (_, ignored) = run_ok(&sb, &conf, &["-f", other.to_str().unwrap(), "pull", "--ignore-pull-failures"])?;
    ensure!(ignored.contains("gone  Error") && ignored.contains("cache  Pulled"), "{ignored}");
    Ok(())
}

#[test]
fn image_pull_keeps_the_registry_ids_takes_zstd_and_picks_the_platform() -> Result<()> {
    let sb = Sandbox::new()?;
    let registry = Registry::plain(&sb)?;
    let conf = sb.temp_dir().join("none.conf");
    std::fs::write(&conf, "")?;
    let zstd = registry.push_image(&sb, &test_images::zstd()?, "zstd:1")?;
    let multi = registry.push_image(&sb, &test_images::multi_layer()?, "multi:1")?;
    let index = registry.push_index(&sb, &test_images::two_platforms()?, "both:1")?;
    let reference = registry.reference("zstd:1");
    let (out, _) = run_ok(&sb, &conf, &["image", "pull", &reference])?;
    ensure!(out.ends_with(&format!("Status: Downloaded newer image for {reference}\n{reference}\n")), "{out}");
    ensure!(out.matches(": Pull complete").count() == zstd.layers.len(), "{out}");
    let (inspect, _) = run_ok(&sb, &conf, &["image", "inspect", &reference])?;
    let inspect: serde_json::Value = serde_json::from_str(&inspect)?;
    ensure!(inspect[0]["Id"] == zstd.config_digest.as_str(), "{inspect}");
    ensure!(inspect[0]["RootFS"]["diff_ids"] == serde_json::json!(zstd.diff_ids), "{inspect}");
    ensure!(inspect[0]["RepoDigests"][0] == format!("{}@{}", registry.reference("zstd"), zstd.manifest_digest).as_str(), "{inspect}");
    // Several layers, with what the busybox one shares already there.
    let (out, _) = run_ok(&sb, &conf, &["image", "pull", &registry.reference("multi:1")])?;
    ensure!(out.contains(": Already exists") && out.matches(": Pull complete").count() == multi.layers.len() - 1, "{out}");
    let (inspect, _) = run_ok(&sb, &conf, &["image", "inspect", &registry.reference("multi:1")])?;
    let inspect: serde_json::Value = serde_json::from_str(&inspect)?;
    ensure!(inspect[0]["Id"] == multi.config_digest.as_str() && inspect[0]["RootFS"]["diff_ids"] == serde_json::json!(multi.diff_ids), "{inspect}");
    // By digest (verified), with or without a tag.
    let pinned = registry.reference(&format!("zstd@{}", zstd.manifest_digest));
    let (out, _) = run_ok(&sb, &conf, &["image", "pull", &pinned])?;
    ensure!(out.ends_with(&format!("{pinned}\n")) && out.contains(&format!("Digest: {}", zstd.manifest_digest)), "{out}");
    run_ok(&sb, &conf, &["image", "pull", "-q", &registry.reference(&format!("zstd:1@{}", zstd.manifest_digest))])?;
    // A second pull of the same image fetches nothing.
    let (again, _) = run_ok(&sb, &conf, &["image", "pull", &registry.reference("zstd:1")])?;
    ensure!(again.contains("Status: Image is up to date for") && !again.contains("Pulling fs layer"), "{again}");

    let both = registry.reference("both:1");
    let (out, _) = run_ok(&sb, &conf, &["image", "pull", &both])?;
    ensure!(out.contains(&format!("Digest: {}", index.digest)), "the RepoDigest is the index's: {out}");
    ensure!(out.contains(": Already exists"), "the busybox layer the zstd image brought is not fetched again: {out}");
    let (inspect, _) = run_ok(&sb, &conf, &["image", "inspect", &both])?;
    let inspect: serde_json::Value = serde_json::from_str(&inspect)?;
    let amd64 = index.images.iter().find(|i| i.platform["architecture"] == "amd64").expect("an amd64 image");
    ensure!(inspect[0]["Id"] == amd64.config_digest.as_str(), "the host's platform was not chosen: {inspect}");

    let out = run(&sb, &conf, &["image", "pull", "--platform", "linux/s390x", &both])?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(!out.status.success() && err.contains("no matching manifest for linux/s390x in the manifest list entries (available: "), "{err}");

    let untagged = run(&sb, &conf, &["image", "pull", &registry.reference("zstd")])?;
    ensure!(String::from_utf8_lossy(&untagged.stdout) == "Using default tag: latest\n", "{untagged:?}");
    ensure!(String::from_utf8_lossy(&untagged.stderr).contains(&format!("manifest for {}:latest not found", registry.reference("zstd"))), "{untagged:?}");
    let unknown = run(&sb, &conf, &["image", "pull", &registry.reference("zstd:nope")])?;
    let err = String::from_utf8_lossy(&unknown.stderr);
    ensure!(
        unknown.status.code() == Some(1) && err.trim() == format!("Error response from daemon: manifest for {}:nope not found: manifest unknown: manifest unknown", registry.reference("zstd")),
        "{err}"
    );
    Ok(())
}

/// A registries.conf that makes `registry` (on loopback, insecure by Docker's default) verify
/// its certificate.
fn verified(sb: &Sandbox, registry: &Registry) -> Result<std::path::PathBuf> {
    let path = sb.temp_dir().join("verified.conf");
    std::fs::write(&path, format!("[[registry]]\nlocation = \"{}\"\ninsecure = false\n", registry.host()))?;
    Ok(path)
}

/// A Docker config directory whose config.json has `user:password` for `host`.
fn docker_config(sb: &Sandbox, name: &str, host: &str, user: &str, password: &str) -> Result<std::path::PathBuf> {
    let dir = sb.temp_dir().join(name);
    std::fs::create_dir_all(&dir)?;
    let out = std::process::Command::new("base64").arg("-w0").stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().and_then(|mut child| {
        use std::io::Write;
        child.stdin.take().expect("stdin").write_all(format!("{user}:{password}").as_bytes())?;
        child.wait_with_output()
    })?;
    let auth = String::from_utf8(out.stdout)?;
    std::fs::write(dir.join("config.json"), serde_json::json!({ "auths": { host: { "auth": auth } } }).to_string())?;
    Ok(dir)
}

#[test]
fn tls_roots_come_from_certs_d_and_credentials_from_the_docker_config() -> Result<()> {
    let sb = Sandbox::new()?;
    let registry = Registry::builder().tls().htpasswd("alice", "s3cret").start(&sb)?;
    registry.push_image(&sb, &test_images::zstd()?, "app:1")?;
    let conf = verified(&sb, &registry)?;
    let reference = registry.reference("app:1");
    let certs_d = sb.temp_dir().join("certs.d");
    std::fs::create_dir_all(&certs_d)?;
    let pull = |config: &Path| -> Result<Output> {
        Ok(sb
            .command(XCOMPOSE)
            .env("XCOMPOSE_REGISTRIES_CONF", &conf)
            .env("XCOMPOSE_CERTS_D", &certs_d)
            .env("DOCKER_CONFIG", config)
            .arg("--root")
            .arg(sb.root())
            .args(["image", "pull", &reference])
            .output()?)
    };
    let nobody = sb.temp_dir().join("no-docker-config");
    let untrusted = pull(&nobody)?;
    let err = String::from_utf8_lossy(&untrusted.stderr);
    let ca = certs_d.join(registry.host()).join("ca.crt");
    ensure!(!untrusted.status.success() && err.contains("tls: failed to verify certificate") && err.contains(&ca.display().to_string()), "{err}");

    registry.install_certs_d(&certs_d)?;
    let anonymous = pull(&nobody)?;
    let err = String::from_utf8_lossy(&anonymous.stderr);
    // A basic-auth registry and no credentials for it: Docker's "no basic auth credentials".
    ensure!(
        err.trim() == format!("Error response from daemon: https://{}/v2/: no basic auth credentials", registry.host()),
        "{err}"
    );
    let wrong = pull(&docker_config(&sb, "wrong", &registry.host(), "alice", "nope")?)?;
    let err = String::from_utf8_lossy(&wrong.stderr);
    ensure!(!wrong.status.success() && err.contains("unauthorized: authentication required"), "{err}");
    let right = pull(&docker_config(&sb, "right", &registry.host(), "alice", "s3cret")?)?;
    let out = String::from_utf8_lossy(&right.stdout);
    ensure!(right.status.success() && out.contains("Status: Downloaded newer image for"), "{out}{}", String::from_utf8_lossy(&right.stderr));
    let listed = sb.run_ok(XCOMPOSE, &["--root", sb.root().to_str().unwrap(), "image", "ls"])?;
    ensure!(listed.contains(&registry.reference("app")), "{listed}");
    Ok(())
}

/// Runs xcompose in the sandbox with `DOCKER_CONFIG` (and PATH) set, `stdin` on its input.
fn with_docker_config(sb: &Sandbox, config: &Path, path: &str, stdin: &str, args: &[&str]) -> Result<Output> {
    use std::io::Write;
    let mut child = sb
        .command(XCOMPOSE)
        .env("DOCKER_CONFIG", config)
        .env("PATH", path)
        .env("XCOMPOSE_REGISTRIES_CONF", "/dev/null")
        .arg("--root")
        .arg(sb.root())
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes())?;
    Ok(child.wait_with_output()?)
}

#[test]
fn login_checks_and_stores_credentials_as_docker_does() -> Result<()> {
    let sb = Sandbox::new()?;
    let registry = Registry::builder().htpasswd("alice", "s3cret").start(&sb)?;
    registry.push_image(&sb, &test_images::zstd()?, "app:1")?;
    let host = registry.host();
    let reference = registry.reference("app:1");
    let config = sb.temp_dir().join("docker-config");
    let path = std::env::var("PATH")?;

    let wrong = with_docker_config(&sb, &config, &path, "nope\n", &["login", &host, "-u", "alice", "--password-stdin"])?;
    let err = String::from_utf8_lossy(&wrong.stderr);
    // docker login's words for a basic-auth registry refusing the password.
    ensure!(!wrong.status.success() && err.contains(&format!("login attempt to http://{host}/v2/ failed with status: 401 Unauthorized")), "{err}");
    ensure!(!config.join("config.json").exists(), "a failed login wrote config.json");

    let right = with_docker_config(&sb, &config, &path, "s3cret\n", &["login", &host, "-u", "alice", "--password-stdin"])?;
    ensure!(right.status.success() && String::from_utf8_lossy(&right.stdout) == "Login Succeeded\n", "{right:?}");
    let stored: serde_json::Value = serde_json::from_slice(&std::fs::read(config.join("config.json"))?)?;
    ensure!(stored["auths"][&host]["auth"] == "YWxpY2U6czNjcmV0", "{stored}");
    let pulled = with_docker_config(&sb, &config, &path, "", &["image", "pull", "-q", &reference])?;
    ensure!(pulled.status.success() && String::from_utf8_lossy(&pulled.stdout).trim() == reference, "{pulled:?}");

    let out = with_docker_config(&sb, &config, &path, "", &["logout", &host])?;
    ensure!(String::from_utf8_lossy(&out.stdout) == format!("Removing login credentials for {host}\n"), "{out:?}");
    let out = with_docker_config(&sb, &config, &path, "", &["logout", &host])?;
    ensure!(String::from_utf8_lossy(&out.stdout) == format!("Not logged in to {host}\n"), "{out:?}");

    // With a credential store configured, the secret goes to the helper and comes back from it.
    let bin = sb.temp_dir().join("helper-bin");
    std::fs::create_dir_all(&bin)?;
    let kept = sb.temp_dir().join("helper-store.json");
    let helper = format!(
        "#!/bin/sh\ncase \"$1\" in\n  store) cat > {kept} ;;\n  get) sed 's/\"ServerURL\":\"[^\"]*\",//' {kept} ;;\n  erase) rm -f {kept} ;;\nesac\n",
        kept = kept.display()
    );
    let script = bin.join("docker-credential-xtest");
    std::fs::write(&script, helper)?;
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    std::fs::write(config.join("config.json"), r#"{"credsStore": "xtest"}"#)?;
    let path = format!("{}:{path}", bin.display());
    let login = with_docker_config(&sb, &config, &path, "s3cret\n", &["login", &host, "-u", "alice", "--password-stdin"])?;
    ensure!(login.status.success(), "{login:?}");
    let given: serde_json::Value = serde_json::from_slice(&std::fs::read(&kept)?)?;
    ensure!(given == serde_json::json!({ "ServerURL": host, "Username": "alice", "Secret": "s3cret" }), "{given}");
    let untouched: serde_json::Value = serde_json::from_slice(&std::fs::read(config.join("config.json"))?)?;
    ensure!(untouched == serde_json::json!({ "credsStore": "xtest" }), "the password went into config.json: {untouched}");
    with_docker_config(&sb, &config, &path, "", &["image", "rm", &reference])?;
    let pulled = with_docker_config(&sb, &config, &path, "", &["image", "pull", "-q", &reference])?;
    ensure!(pulled.status.success(), "pulling with the helper's credentials: {pulled:?}");
    with_docker_config(&sb, &config, &path, "", &["logout", &host])?;
    ensure!(!kept.exists(), "logout did not erase through the helper");
    Ok(())
}

/// A TCP proxy inside the sandbox in front of `upstream` (a port on 127.0.0.1) that breaks the
/// first connection whose responses pass `cut` bytes, and keeps the requests it relayed.
struct CuttingProxy {
    port: u16,
    requests: std::sync::Arc<std::sync::Mutex<String>>,
}

impl CuttingProxy {
    fn start(sb: &Sandbox, upstream: u16, cut: u64) -> Result<Self> {
        use std::io::{Read, Write};
        use std::net::{Shutdown, TcpListener, TcpStream};
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = sb.in_net(|| TcpListener::bind("127.0.0.1:0"))??;
        let port = listener.local_addr()?.port();
        let requests = Arc::new(Mutex::new(String::new()));
        let seen = requests.clone();
        let armed = Arc::new(AtomicBool::new(true));
        // Threads started from inside the sandbox's namespace stay in it.
        sb.in_net(move || {
            std::thread::spawn(move || {
                for client in listener.incoming().map_while(Result::ok) {
                    let (seen, armed) = (seen.clone(), armed.clone());
                    std::thread::spawn(move || -> std::io::Result<()> {
                        let server = TcpStream::connect(("127.0.0.1", upstream))?;
                        let (mut client_in, mut server_out) = (client.try_clone()?, server.try_clone()?);
                        std::thread::spawn(move || {
                            let mut buf = [0u8; 16384];
                            while let Ok(n @ 1..) = client_in.read(&mut buf) {
                                seen.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
                                if server_out.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                        });
                        let (mut server_in, mut client_out) = (server, client);
                        let mut buf = [0u8; 16384];
                        let mut relayed = 0u64;
                        while let Ok(n @ 1..) = server_in.read(&mut buf) {
                            client_out.write_all(&buf[..n])?;
                            relayed += n as u64;
                            if relayed > cut && armed.swap(false, Ordering::SeqCst) {
                                let _ = client_out.shutdown(Shutdown::Both);
                                let _ = server_in.shutdown(Shutdown::Both);
                                break;
                            }
                        }
                        Ok(())
                    });
                }
            });
        })?;
        Ok(Self { port, requests })
    }
}

#[test]
fn a_download_cut_off_midway_resumes_with_a_range_request() -> Result<()> {
    let sb = Sandbox::new()?;
    let registry = Registry::plain(&sb)?;
    // Incompressible content (a hash chain), so the blob is megabytes too.
    let mut content = Vec::with_capacity(3 << 20);
    let mut block = [7u8; 32];
    while content.len() < 3 << 20 {
        block = sha2::Sha256::digest(block).into();
        content.extend_from_slice(&block);
    }
    let image = TestImage::busybox()?.layer(Layer::gzip().file("data/big", content, 0o644));
    let big = registry.push_image(&sb, &image, "big:1")?;
    let proxy = CuttingProxy::start(&sb, registry.port(), 1_000_000)?;
    let conf = sb.temp_dir().join("none.conf");
    std::fs::write(&conf, "")?;
    let reference = format!("127.0.0.1:{}/big:1", proxy.port);
    let (out, _) = run_ok(&sb, &conf, &["image", "pull", &reference])?;
    ensure!(out.contains("Status: Downloaded newer image for"), "{out}");
    let requests = proxy.requests.lock().unwrap().to_lowercase();
    ensure!(requests.contains("\r\nrange: bytes="), "no Range request after the cut: {requests}");
    let (inspect, _) = run_ok(&sb, &conf, &["image", "inspect", &reference])?;
    let inspect: serde_json::Value = serde_json::from_str(&inspect)?;
    ensure!(inspect[0]["Id"] == big.config_digest.as_str() && inspect[0]["RootFS"]["diff_ids"] == serde_json::json!(big.diff_ids), "{inspect}");
    Ok(())
}

#[test]
fn content_that_is_not_what_the_manifest_says_is_refused_and_nothing_is_stored() -> Result<()> {
    let sb = Sandbox::new()?;
    let registry = Registry::builder().schema1().start(&sb)?;
    let conf = sb.temp_dir().join("none.conf");
    std::fs::write(&conf, "")?;
    let pull = |name: &str| -> Result<String> {
        let out = run(&sb, &conf, &["image", "pull", &registry.reference(name)])?;
        ensure!(out.status.code() == Some(1), "pulling {name} did not fail: {out:?}");
        Ok(String::from_utf8_lossy(&out.stderr).trim().to_string())
    };
    // A layer whose uncompressed content is not the config's diff_id.
    let wrong = registry.push_image(&sb, &TestImage::busybox()?.layer(Layer::gzip().file("etc/x", "x\n", 0o644)).wrong_diff_id(1), "wrong:1")?;
    let err = pull("wrong:1")?;
    ensure!(err.starts_with(&format!("Error response from daemon: filesystem layer verification failed for digest {}: its uncompressed digest (diff_id) is", wrong.layers[1].digest)), "{err}");
    // A blob the registry serves with other bytes than its digest.
    let corrupt = registry.push_image(&sb, &TestImage::busybox()?.layer(Layer::gzip().file("etc/y", "y\n", 0o644)), "corrupt:1")?;
    let blob = registry.blob_path(&corrupt.layers[1].digest)?;
    let mut bytes = std::fs::read(&blob)?;
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&blob, bytes)?;
    let err = pull("corrupt:1")?;
    ensure!(err.contains(&format!("filesystem layer verification failed for digest {}", corrupt.layers[1].digest)), "{err}");
    // A registry that is not there, after the retries, in Go's words.
    let closed = run(&sb, &conf, &["image", "pull", "127.0.0.1:1/app:1"])?;
    let err = String::from_utf8_lossy(&closed.stderr);
    ensure!(
        closed.status.code() == Some(1)
            && err.trim() == "Error response from daemon: Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused",
        "{err}"
    );
    // Schema 1 is refused in Docker's words.
    let layout = sb.temp_dir().join("schema1-layout");
    xcompose_testkit::OciLayout::create(&layout)?.add_image(&TestImage::busybox()?, "old")?;
    registry.push_oci_schema1(&sb, &layout, "old", "old:1")?;
    let err = pull("old:1")?;
    ensure!(err.contains("Docker Image manifest version 2, schema 1 support has been removed") && err.contains(&registry.reference("old:1")), "{err}");
    let (listed, _) = run_ok(&sb, &conf, &["image", "ls", "-q"])?;
    ensure!(listed.trim().is_empty(), "a refused pull left {listed}");
    let layers = std::fs::read_dir(sb.root().join("images/layers"))?.count();
    ensure!(layers == 0, "a refused pull left {layers} unpacked layers");
    Ok(())
}

#[test]
fn the_bearer_token_flow_pulls_anonymously_and_pushes_with_credentials() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let registry = Registry::builder().token("alice", "s3cret", true).start(&sb)?;
    registry.push_image(&sb, &test_images::zstd()?, "public:1")?;
    let conf = sb.temp_dir().join("none.conf");
    std::fs::write(&conf, "")?;
    let path = std::env::var("PATH")?;
    let nobody = sb.temp_dir().join("nobody");
    let pulled = with_docker_config(&sb, &nobody, &path, "", &["image", "pull", "-q", &registry.reference("public:1")])?;
    ensure!(pulled.status.success(), "an anonymous pull of a public repository: {pulled:?}");

    let target = registry.reference("mine:1");
    with_docker_config(&sb, &nobody, &path, "", &["image", "tag", "busybox:latest", &target])?;
    let refused = with_docker_config(&sb, &nobody, &path, "", &["image", "push", &target])?;
    let err = String::from_utf8_lossy(&refused.stderr);
    ensure!(!refused.status.success() && err.contains("denied: requested access to the resource is denied"), "{err}");
    let alice = docker_config(&sb, "alice", &registry.host(), "alice", "s3cret")?;
    let pushed = with_docker_config(&sb, &alice, &path, "", &["image", "push", &target])?;
    ensure!(pushed.status.success() && String::from_utf8_lossy(&pushed.stdout).contains("1: digest: sha256:"), "{pushed:?}");
    let inspected = registry.skopeo_inspect(&sb, "mine:1", false)?;
    ensure!(inspected["Layers"].as_array().is_some_and(|l| l.len() == 1), "{inspected}");
    Ok(())
}
