//! Real daemons from real Debian-built images (testkit's `redis:debian-test` and
//! `nginx:debian-test`, configured like their official images) in a stack, each test in its own
//! sandbox: redis answers its peers by service name and nginx serves the host and its peers; a
//! restarted container is reachable at once (issue 10, item 1); a crash-looping redis fails the
//! `up` of the nginx waiting for it to be healthy (item 2); nginx stops on its image's
//! STOPSIGNAL (item 3); redis's data in its image's VOLUME survives a recreation (item 4).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use xcompose_testkit::{Sandbox, DEBIAN_NGINX_IMAGE, DEBIAN_REDIS_IMAGE};

#[path = "common/project.rs"]
mod common;
use common::{project, xcompose, XCOMPOSE};

/// redis and nginx from their images' configs alone (no command, no entrypoint), and a client to
/// probe them from inside the network (the Debian layer has redis-cli and busybox's wget).
const STACK: &str = r#"
services:
  redis:
    image: redis:debian-test
  web:
    image: nginx:debian-test
    ports: ["18080:80"]
    volumes:
      - ./nginx.conf:/etc/nginx/nginx.conf:ro
      - ./html:/srv/www:ro
  client:
    image: redis:debian-test
    init: true
    command: ["sleep", "infinity"]
"#;

/// nginx serving `./html`, logging notices (which name the signal that stopped it) to stderr.
const NGINX_CONF: &str = r#"
error_log stderr notice;
events {}
http {
    access_log /dev/stdout;
    server {
        listen 80;
        root /srv/www;
    }
}
"#;

/// The page nginx serves.
const PAGE: &str = "served by nginx from a Debian image\n";

/// How long a daemon may take to start answering, and a request to be answered.
const PATIENCE: Duration = Duration::from_secs(30);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// A fresh sandbox whose state root has the Debian images.
fn sandbox_with_debian_images() -> Result<Sandbox> {
    let sb = Sandbox::new()?;
    let images = xcompose_testkit::debian_images_tar()?;
    let loaded = sb.run_ok(XCOMPOSE, &["--root", sb.root().to_str().unwrap(), "image", "load", "-i", images.to_str().unwrap()])?;
    for image in [DEBIAN_REDIS_IMAGE, DEBIAN_NGINX_IMAGE] {
        ensure!(loaded.contains(&format!("Loaded image: {image}")), "image load did not load {image}:\n{loaded}");
    }
    Ok(sb)
}

/// A sandbox whose state root has the Debian images, with the stack up and both daemons
/// answering; and the project's directory.
fn stack_up() -> Result<(Sandbox, PathBuf)> {
    let sb = sandbox_with_debian_images()?;
    let dir = project(&sb, "realimages", STACK)?;
    std::fs::write(dir.join("nginx.conf"), NGINX_CONF)?;
    std::fs::create_dir(dir.join("html"))?;
    std::fs::write(dir.join("html/index.html"), PAGE)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let ready = wait_for_redis(&sb, &dir).and_then(|()| {
        wait_until("nginx serves its page inside its container", || {
            Ok(wget(&sb, &dir, "web", "http://127.0.0.1/").is_ok_and(|page| page == PAGE.trim_end()))
        })
    });
    if let Err(e) = ready {
        let ps = xcompose(&sb, &dir, &["ps", "-a"]).unwrap_or_else(|e| format!("{e:#}"));
        let logs = xcompose(&sb, &dir, &["logs"]).unwrap_or_else(|e| format!("{e:#}"));
        bail!("{e:#}\n{ps}{logs}");
    }
    Ok((sb, dir))
}

/// `exec -T SERVICE ARGS...`'s stdout, without the final newline.
fn exec(sb: &Sandbox, dir: &Path, service: &str, args: &[&str]) -> Result<String> {
    let mut all = vec!["exec", "-T", service];
    all.extend_from_slice(args);
    Ok(xcompose(sb, dir, &all)?.trim_end_matches('\n').to_string())
}

/// The body of `url` fetched by busybox's wget in `service`'s container, without the final
/// newline; a request gets [`REQUEST_TIMEOUT`] (`timeout`: Debian's busybox crashes on `wget -T`).
fn wget(sb: &Sandbox, dir: &Path, service: &str, url: &str) -> Result<String> {
    let seconds = REQUEST_TIMEOUT.as_secs().to_string();
    exec(sb, dir, service, &["timeout", &seconds, "busybox", "wget", "-q", "-O-", url])
}

/// `redis-cli -h redis ARGS...` run by the client.
fn redis_cli(sb: &Sandbox, dir: &Path, args: &[&str]) -> Result<String> {
    let mut all = vec!["redis-cli", "-h", "redis"];
    all.extend_from_slice(args);
    exec(sb, dir, "client", &all)
}

fn wait_for_redis(sb: &Sandbox, dir: &Path) -> Result<()> {
    wait_until("redis answers PING from the client", || Ok(redis_cli(sb, dir, &["PING"]).is_ok_and(|r| r == "PONG")))
}

/// Polls `ready` until it holds; fails after [`PATIENCE`].
fn wait_until(what: &str, mut ready: impl FnMut() -> Result<bool>) -> Result<()> {
    let deadline = Instant::now() + PATIENCE;
    while !ready()? {
        if Instant::now() > deadline {
            bail!("{what}: not after {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// The body of `GET /` at `addr`, asked from the sandbox's host namespace.
fn http_get(sb: &Sandbox, addr: SocketAddr) -> Result<String> {
    sb.in_net(move || -> Result<String> {
        let mut stream = TcpStream::connect_timeout(&addr, REQUEST_TIMEOUT).with_context(|| format!("connecting to {addr}"))?;
        stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
        stream.write_all(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")?;
        let mut response = String::new();
        stream.read_to_string(&mut response).with_context(|| format!("reading the answer of {addr}"))?;
        let (head, body) = response.split_once("\r\n\r\n").with_context(|| format!("{addr} answered {response:?}"))?;
        ensure!(head.starts_with("HTTP/1.1 200 "), "{addr} answered {head:?}");
        Ok(body.to_string())
    })?
}

/// The service's container as `ps -a --format json` shows it.
fn container(sb: &Sandbox, dir: &Path, service: &str) -> Result<serde_json::Value> {
    for line in xcompose(sb, dir, &["ps", "-a", "--format", "json"])?.lines() {
        let c: serde_json::Value = serde_json::from_str(line)?;
        if c["Service"] == service {
            return Ok(c);
        }
    }
    bail!("ps -a shows no container of {service}")
}

#[test]
fn redis_answers_its_peers_and_nginx_serves_the_host_and_its_peers() -> Result<()> {
    let (sb, dir) = stack_up()?;
    assert_eq!(redis_cli(&sb, &dir, &["SET", "greeting", "hello"])?, "OK");
    assert_eq!(redis_cli(&sb, &dir, &["GET", "greeting"])?, "hello");
    // The image's WORKDIR is where redis keeps its data.
    assert_eq!(redis_cli(&sb, &dir, &["CONFIG", "GET", "dir"])?, "dir\n/data");

    assert_eq!(wget(&sb, &dir, "client", "http://web/")?, PAGE.trim_end());
    assert_eq!(http_get(&sb, "127.0.0.1:18080".parse()?)?, PAGE);
    // The images' EXPOSE shows as docker ps shows it: unpublished for redis, published for web.
    assert_eq!(container(&sb, &dir, "redis")?["Ports"], "6379/tcp");
    assert_eq!(container(&sb, &dir, "web")?["Ports"], "0.0.0.0:18080->80/tcp");
    let access_log = xcompose(&sb, &dir, &["logs", "web"])?;
    assert!(access_log.contains("\"GET / HTTP/1.0\" 200"), "nginx logged no request of the host:\n{access_log}");
    Ok(())
}

#[test]
fn a_restarted_container_answers_the_host_and_its_peers_at_once() -> Result<()> {
    let (sb, dir) = stack_up()?;
    let ip = exec(&sb, &dir, "web", &["hostname", "-i"])?;
    let addr: SocketAddr = format!("{ip}:80").parse().with_context(|| format!("web's address {ip:?}"))?;
    // Both neighbours learn web's link-layer address before the restart.
    assert_eq!(http_get(&sb, addr)?, PAGE);
    assert_eq!(wget(&sb, &dir, "client", "http://web/")?, PAGE.trim_end());

    xcompose(&sb, &dir, &["restart", "web"])?;
    wait_until("nginx serves its page inside its restarted container", || {
        Ok(wget(&sb, &dir, "web", "http://127.0.0.1/").is_ok_and(|page| page == PAGE.trim_end()))
    })?;
    assert_eq!(exec(&sb, &dir, "web", &["hostname", "-i"])?, ip, "web kept its address");
    let mut failures = Vec::new();
    for i in 0..5 {
        if let Err(e) = http_get(&sb, addr) {
            failures.push(format!("from the host, request {i}: {e:#}"));
        }
        if let Err(e) = wget(&sb, &dir, "client", "http://web/") {
            failures.push(format!("from the client, request {i}: {e:#}"));
        }
    }
    assert!(failures.is_empty(), "requests to the restarted web failed:\n{}", failures.join("\n"));
    Ok(())
}

/// redis exits at once, over and over: `--port` takes a number.
const CRASH_LOOP_STACK: &str = r#"
services:
  redis:
    image: redis:debian-test
    command: ["redis-server", "--port", "none"]
    restart: always
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 30s
  web:
    image: nginx:debian-test
    depends_on:
      redis: {condition: service_healthy}
"#;

/// How long `up` may run before the test calls it hung (compose fails in a second or two).
const HUNG: Duration = Duration::from_secs(60);

#[test]
fn a_crash_looping_redis_fails_the_up_of_the_nginx_waiting_for_it() -> Result<()> {
    let sb = sandbox_with_debian_images()?;
    let dir = project(&sb, "crashloop", CRASH_LOOP_STACK)?;
    let mut up = sb
        .command(XCOMPOSE)
        .arg("--root")
        .arg(sb.root())
        .arg("-f")
        .arg(dir.join("compose.yaml"))
        .args(["up", "-d"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let deadline = Instant::now() + HUNG;
    let status = loop {
        if let Some(status) = up.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            up.kill()?;
            up.wait()?;
            bail!("up -d still waits for the crash-looping redis after {HUNG:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    up.stderr.take().context("up's stderr")?.read_to_string(&mut stderr)?;
    assert_eq!(status.code(), Some(1), "up -d: {stderr}");
    let message = "dependency failed to start: container crashloop-redis-1 is unhealthy";
    assert!(stderr.lines().any(|l| l == message), "no line {message:?} in:\n{stderr}");
    let web = container(&sb, &dir, "web")?;
    assert_eq!(web["State"], "created", "web must not start: {web}");
    Ok(())
}

#[test]
fn nginx_stops_on_its_image_s_stopsignal_and_exits_cleanly() -> Result<()> {
    let (sb, dir) = stack_up()?;
    xcompose(&sb, &dir, &["stop", "web"])?;
    let web = container(&sb, &dir, "web")?;
    assert_eq!(web["State"], "exited", "{web}");
    assert_eq!(web["ExitCode"], 0, "{web}");
    // SIGQUIT is nginx's graceful shutdown; Docker sends the image's STOPSIGNAL, not SIGTERM.
    let logs = xcompose(&sb, &dir, &["logs", "web"])?;
    assert!(logs.contains("signal 3 (SIGQUIT) received"), "nginx was not stopped with SIGQUIT:\n{logs}");
    Ok(())
}

#[test]
fn redis_data_in_its_image_s_volume_survives_a_forced_recreation() -> Result<()> {
    let (sb, dir) = stack_up()?;
    assert_eq!(redis_cli(&sb, &dir, &["SET", "greeting", "hello"])?, "OK");
    assert_eq!(redis_cli(&sb, &dir, &["SAVE"])?, "OK");
    let before = container(&sb, &dir, "redis")?["ID"].clone();

    xcompose(&sb, &dir, &["up", "-d", "--force-recreate", "redis"])?;
    let after = container(&sb, &dir, "redis")?["ID"].clone();
    assert_ne!(before, after, "redis was not recreated");
    wait_for_redis(&sb, &dir)?;
    assert_eq!(redis_cli(&sb, &dir, &["GET", "greeting"])?, "hello", "redis lost the data in /data");
    Ok(())
}
