//! Real-world stacks behave as under Docker Engine and Docker Compose: a dependency that
//! crash-loops fails `up` at once; the image's config (STOPSIGNAL, HEALTHCHECK, LABEL, VOLUME)
//! counts as the Docker Engine merges it with the service's; a restarted container is reachable
//! at once; layers keep their device nodes and fifos. The last test runs real redis and nginx
//! from testkit's Debian images (see tests/images/build-debian-images.sh).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use xcompose_testkit::Sandbox;

mod common;
use common::{project, sandbox_with_busybox, xcompose, XCOMPOSE};

/// Loads `reference` into the sandbox's store as a `docker save` archive: the busybox test
/// image's files as its one layer, under the run `config` given (Docker's `config` object).
fn load_image(sb: &Sandbox, reference: &str, config: serde_json::Value) -> Result<()> {
    let dir = sb.temp_dir().join(format!("archive-{}", reference.replace([':', '/'], "-")));
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(xcompose_testkit::busybox_image_tar()?, dir.join("layer.tar"))?;
    let sum = Command::new("sha256sum").arg(dir.join("layer.tar")).output()?;
    let digest = String::from_utf8(sum.stdout)?.split_whitespace().next().context("sha256sum printed nothing")?.to_string();
    let image = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{digest}")]},
    });
    std::fs::write(dir.join("config.json"), serde_json::to_vec(&image)?)?;
    let manifest = serde_json::json!([{"Config": "config.json", "RepoTags": [reference], "Layers": ["layer.tar"]}]);
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&manifest)?)?;
    let archive = dir.with_extension("tar");
    let tar = Command::new("tar").arg("-cf").arg(&archive).arg("-C").arg(&dir).args(["manifest.json", "config.json", "layer.tar"]).status()?;
    ensure!(tar.success(), "tar failed");
    sb.run_ok(XCOMPOSE, &["--root", sb.root().to_str().unwrap(), "image", "load", "-i", archive.to_str().unwrap()])?;
    Ok(())
}

/// `ps -a --format json`, by service.
fn ps(sb: &Sandbox, dir: &Path) -> Result<BTreeMap<String, serde_json::Value>> {
    xcompose(sb, dir, &["ps", "-a", "--format", "json"])?
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)?;
            Ok((v["Service"].as_str().unwrap_or_default().to_string(), v))
        })
        .collect()
}

/// `db` exits at once; `web` waits for it under `condition`.
fn crash_looping_dependency(restart: &str, condition: &str) -> String {
    format!(
        r#"
services:
  db:
    image: busybox:latest
    command: ["sh", "-c", "exit 1"]
    restart: "{restart}"
    healthcheck:
      test: ["CMD", "true"]
      interval: 30s
  web:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    depends_on:
      db: {{condition: {condition}}}
"#
    )
}

/// As compose: `up -d` fails with exit code 1 and compose's message as soon as the dependency
/// exits, instead of waiting for probes (or forever for a crash loop).
#[test]
fn a_crash_looping_dependency_fails_up_at_once() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let cases = [
        ("always", "service_healthy", "dependency failed to start: container deps1-db-1 is unhealthy"),
        ("no", "service_healthy", "dependency failed to start: container deps2-db-1 exited (1)"),
        ("always", "service_completed_successfully", "service \"db\" didn't complete successfully: exit 1"),
    ];
    for (n, (restart, condition, message)) in cases.iter().enumerate() {
        let dir = project(&sb, &format!("deps{}", n + 1), &crash_looping_dependency(restart, condition))?;
        let started = Instant::now();
        let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["up", "-d"]).output()?;
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(out.status.code() == Some(1), "{restart}/{condition}: up exited {:?}: {stderr}", out.status.code());
        ensure!(stderr.lines().any(|l| l == *message), "{restart}/{condition}: no line {message:?} in:\n{stderr}");
        // db starts and exits at once: the 30 s probe interval must not matter.
        ensure!(took < Duration::from_secs(5), "{restart}/{condition}: up took {took:?}");
        xcompose(&sb, &dir, &["down", "-t", "0"])?;
    }
    Ok(())
}

/// Waits (up to 5 s) until `service`'s container listens on TCP port 80, seen from inside it:
/// the requests that follow measure the network, not the server's start.
fn wait_listening_on_80(sb: &Sandbox, dir: &Path, service: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    // A listening socket on port 80 (0x0050), IPv4 or IPv6, in the kernel's tables.
    let probe = ["exec", "-T", service, "grep", "-qs", ":0050 0*:0000 0A", "/proc/net/tcp", "/proc/net/tcp6"];
    while !sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(probe).output()?.status.success() {
        ensure!(Instant::now() < deadline, "{service} never listened on port 80");
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// A process that only a SIGINT ends (with 0), ready once it runs: a postgres-like image.
const INT_ONLY: &str = "trap 'exit 0' INT; trap '' TERM; touch /tmp/ready; while true; do sleep 0.1; done";

const IMAGE_CONFIG_STACK: &str = r#"
services:
  db:
    image: sig:latest
    labels: {tier: db}
    ports: ["15432:5432"]
  app:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
    depends_on:
      db: {condition: service_healthy}
  unchecked:
    image: sig:latest
    healthcheck: {disable: true}
  term:
    image: sig:latest
    expose: ["7000-7001/udp"]
    stop_signal: SIGTERM
    stop_grace_period: 1s
    healthcheck: {interval: 30s, start_interval: 30s}
"#;

/// The image's STOPSIGNAL stops the container (the service's `stop_signal` wins), its
/// HEALTHCHECK gates dependents (`disable: true` turns it off; the service's fields go over
/// the image's), its labels go under the service's, and its EXPOSE adds to `expose:`.
#[test]
fn the_images_stop_signal_healthcheck_and_labels_count() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    load_image(
        &sb,
        "sig:latest",
        serde_json::json!({
            "Cmd": ["sh", "-c", INT_ONLY],
            "StopSignal": "SIGINT",
            "Healthcheck": {"Test": ["CMD-SHELL", "test -f /tmp/ready"], "Interval": 100_000_000u64, "StartPeriod": 10_000_000_000u64, "StartInterval": 100_000_000u64},
            "Labels": {"org.example.from": "image", "tier": "image"},
            "ExposedPorts": {"5432/tcp": {}},
            "OnBuild": ["RUN exit 1"],
        }),
    )?;
    let dir = project(&sb, "sig", IMAGE_CONFIG_STACK)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let before = ps(&sb, &dir)?;
    ensure!(before["db"]["Health"] == "healthy", "the image's healthcheck made db healthy: {}", before["db"]);
    let labels = before["db"]["Labels"].as_str().unwrap_or_default();
    ensure!(labels.split(',').any(|l| l == "org.example.from=image") && labels.split(',').any(|l| l == "tier=db"), "labels: {labels}");
    ensure!(before["unchecked"]["Health"] == "", "disable: true: {}", before["unchecked"]);
    ensure!(before["term"]["Health"] == "starting", "the service's interval over the image's test: {}", before["term"]);
    // The image's EXPOSE and the service's `expose:` show in ps when not published.
    ensure!(before["unchecked"]["Ports"] == "5432/tcp", "{}", before["unchecked"]);
    ensure!(before["term"]["Ports"] == "5432/tcp, 7000-7001/udp", "{}", before["term"]);
    ensure!(before["db"]["Ports"] == "0.0.0.0:15432->5432/tcp", "{}", before["db"]);

    let started = Instant::now();
    xcompose(&sb, &dir, &["stop", "db"])?;
    let took = started.elapsed();
    let after = ps(&sb, &dir)?;
    ensure!(after["db"]["State"] == "exited" && after["db"]["ExitCode"] == 0, "SIGINT ended db with 0: {}", after["db"]);
    ensure!(took < Duration::from_secs(1), "stop took {took:?}: the 10 s grace ran out");
    xcompose(&sb, &dir, &["stop", "term"])?;
    let term = &ps(&sb, &dir)?["term"];
    ensure!(term["ExitCode"] == 137, "stop_signal SIGTERM (ignored) over the image's SIGINT: killed after the grace: {term}");
    xcompose(&sb, &dir, &["down", "-t", "0"])?;
    Ok(())
}

const RESTART_STACK: &str = r#"
services:
  web:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "mkdir -p /www && echo served > /www/index.html && exec httpd -f -p 80 -h /www"]
  client:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
"#;

/// How many requests each side makes right after the restart.
const REQUESTS: usize = 10;

/// After `restart web`, web answers every request at once, from the host side (the sandbox)
/// and from a peer: its MAC is Docker's 02:42 and its address, the same after the restart, so
/// no neighbour holds a stale entry.
#[test]
fn a_restarted_container_is_reachable_at_once() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "rs", RESTART_STACK)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let ip = xcompose(&sb, &dir, &["exec", "-T", "web", "hostname", "-i"])?.trim().to_string();
    let url = format!("http://{ip}/index.html");
    let mac = || -> Result<String> { Ok(xcompose(&sb, &dir, &["exec", "-T", "web", "cat", "/sys/class/net/eth0/address"])?.trim().to_string()) };
    let octets: Vec<String> = ip.split('.').map(|o| format!("{:02x}", o.parse::<u8>().unwrap_or(0))).collect();
    let expected = format!("02:42:{}", octets.join(":"));
    ensure!(mac()? == expected, "web's MAC {} for {ip}", mac()?);
    let from_host = || sb.command("timeout").args(["3", "busybox", "wget", "-q", "-O", "-", &url]).output();
    let from_peer = || sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["exec", "-T", "client", "timeout", "3", "wget", "-q", "-O", "-", &url]).output();
    // Both sides learn web's MAC before the restart.
    for fetch in [&from_host as &dyn Fn() -> std::io::Result<std::process::Output>, &from_peer] {
        let out = fetch()?;
        ensure!(out.status.success() && out.stdout == b"served\n", "before the restart: {out:?}");
    }
    xcompose(&sb, &dir, &["restart", "web"])?;
    wait_listening_on_80(&sb, &dir, "web")?;
    let mut failed = Vec::new();
    for n in 0..REQUESTS {
        for (side, fetch) in [("host", &from_host as &dyn Fn() -> std::io::Result<std::process::Output>), ("peer", &from_peer)] {
            let out = fetch()?;
            if !(out.status.success() && out.stdout == b"served\n") {
                failed.push(format!("{side} request {n}: {}", String::from_utf8_lossy(&out.stderr).trim()));
            }
        }
    }
    ensure!(failed.is_empty(), "requests failed right after the restart:\n{}", failed.join("\n"));
    ensure!(mac()? == expected, "web's MAC after the restart: {}", mac()?);
    xcompose(&sb, &dir, &["down", "-t", "0"])?;
    Ok(())
}

const VOLUME_STACK: &str = r#"
services:
  store:
    image: vol:latest
    init: true
    volumes: [/cache]
"#;

/// The anonymous volumes (64-hex names, labelled anonymous) in the sandbox's store.
fn anonymous_volumes(sb: &Sandbox) -> Result<Vec<String>> {
    let out = sb.run_ok(XCOMPOSE, &["--root", sb.root().to_str().unwrap(), "volume", "ls", "--format", "json"])?;
    let mut names = Vec::new();
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let name = v["Name"].as_str().unwrap_or_default().to_string();
        let labels = v["Labels"].as_str().unwrap_or_default();
        if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) && labels.split(',').any(|l| l == "com.docker.volume.anonymous=") {
            names.push(name);
        }
    }
    Ok(names)
}

/// Each VOLUME of the image gets an anonymous volume seeded from the image; the data written
/// there (and in the service's own anonymous volume) survives `up --force-recreate` (not with
/// `-V`), `down` keeps those volumes and `down -v` removes them, as compose.
#[test]
fn the_images_volumes_are_anonymous_volumes_kept_across_recreation() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    load_image(&sb, "vol:latest", serde_json::json!({"Cmd": ["sleep", "1000"], "Volumes": {"/data": {}, "/home/": {}}}))?;
    let dir = project(&sb, "vols", VOLUME_STACK)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    ensure!(anonymous_volumes(&sb)?.len() == 3, "/data, /home and /cache: {:?}", anonymous_volumes(&sb)?);
    let home = xcompose(&sb, &dir, &["exec", "-T", "store", "ls", "/home"])?;
    ensure!(home.trim() == "app", "the /home volume is seeded from the image: {home:?}");
    let mounts = xcompose(&sb, &dir, &["exec", "-T", "store", "cat", "/proc/mounts"])?;
    ensure!([" /data ", " /home ", " /cache "].iter().all(|m| mounts.contains(m)), "volumes mounted: {mounts}");
    xcompose(&sb, &dir, &["exec", "-T", "store", "sh", "-c", "echo kept > /data/file && echo cached > /cache/file"])?;
    let before = ps(&sb, &dir)?["store"]["ID"].clone();

    xcompose(&sb, &dir, &["up", "-d", "--force-recreate"])?;
    ensure!(ps(&sb, &dir)?["store"]["ID"] != before, "the container was recreated");
    let data = xcompose(&sb, &dir, &["exec", "-T", "store", "cat", "/data/file", "/cache/file"])?;
    ensure!(data == "kept\ncached\n", "data after --force-recreate: {data:?}");
    ensure!(anonymous_volumes(&sb)?.len() == 3, "no new volume: {:?}", anonymous_volumes(&sb)?);
    xcompose(&sb, &dir, &["up", "-d", "--force-recreate", "-V"])?;
    let renewed = xcompose(&sb, &dir, &["exec", "-T", "store", "ls", "/data", "/cache", "/home"])?;
    ensure!(renewed == "/cache:\n\n/data:\n\n/home:\napp\n", "-V gives new volumes, seeded again: {renewed:?}");
    ensure!(anonymous_volumes(&sb)?.len() == 6, "-V leaves the old ones: {:?}", anonymous_volumes(&sb)?);

    xcompose(&sb, &dir, &["down", "-t", "0"])?;
    ensure!(anonymous_volumes(&sb)?.len() == 6, "down keeps them: {:?}", anonymous_volumes(&sb)?);
    xcompose(&sb, &dir, &["up", "-d"])?;
    xcompose(&sb, &dir, &["down", "-v", "-t", "0"])?;
    ensure!(anonymous_volumes(&sb)?.is_empty(), "down -v removes them: {:?}", anonymous_volumes(&sb)?);

    let out = xcompose(&sb, &dir, &["run", "--rm", "store", "ls", "/home"])?;
    ensure!(out.trim() == "app", "run: {out:?}");
    ensure!(anonymous_volumes(&sb)?.is_empty(), "run --rm removes its anonymous volumes: {:?}", anonymous_volumes(&sb)?);
    xcompose(&sb, &dir, &["down", "-v", "-t", "0"])?;
    Ok(())
}

/// `image import` of a root filesystem with a character device and a fifo (as a debootstrap
/// tree has): accepted, and a container of the image sees both.
#[test]
fn imported_layers_keep_device_nodes_and_fifos() -> Result<()> {
    let sb = Sandbox::new()?;
    let extra = sb.temp_dir().join("extra");
    std::fs::create_dir_all(extra.join("opt"))?;
    for (program, args) in [("mknod", vec!["opt/full", "c", "1", "7"]), ("mkfifo", vec!["opt/pipe"])] {
        ensure!(Command::new(program).current_dir(&extra).args(&args).status()?.success(), "{program} failed");
    }
    let rootfs = sb.temp_dir().join("rootfs.tar");
    std::fs::copy(xcompose_testkit::busybox_image_tar()?, &rootfs)?;
    ensure!(Command::new("tar").arg("-rf").arg(&rootfs).arg("-C").arg(&extra).arg("opt").status()?.success(), "tar -r failed");
    sb.run_ok(XCOMPOSE, &["--root", sb.root().to_str().unwrap(), "image", "import", rootfs.to_str().unwrap(), "devices:latest"])?;
    let dir = project(&sb, "devs", "services:\n  probe:\n    image: devices:latest\n    command: [\"ls\", \"-l\", \"/opt\"]\n")?;
    let listing = xcompose(&sb, &dir, &["run", "--rm", "probe"])?;
    let line = |name: &str| listing.lines().find(|l| l.ends_with(&format!(" {name}"))).unwrap_or_default().to_string();
    ensure!(line("full").starts_with('c') && line("full").contains("1,   7"), "the character device: {listing}");
    ensure!(line("pipe").starts_with('p'), "the fifo: {listing}");
    Ok(())
}

/// `run -P` (`--service-ports`) publishes the service's ports, which `run` leaves out otherwise.
#[test]
fn run_service_ports_publishes_the_services_ports() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let stack = "services:\n  web:\n    image: busybox:latest\n    init: true\n    command: [\"sh\", \"-c\", \"echo run > /tmp/index.html; exec httpd -f -p 80 -h /tmp\"]\n    ports: [\"18090:80\"]\n";
    let dir = project(&sb, "runports", stack)?;
    let fetch = || sb.command("timeout").args(["3", "busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:18090/index.html"]).output();
    xcompose(&sb, &dir, &["run", "-d", "web"])?;
    ensure!(!fetch()?.status.success(), "run without -P published the port");
    xcompose(&sb, &dir, &["run", "-d", "-P", "web"])?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut out = fetch()?;
    while !out.status.success() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        out = fetch()?;
    }
    ensure!(out.stdout == b"run\n", "run -P: {out:?}");
    xcompose(&sb, &dir, &["down", "-t", "0"])?;
    Ok(())
}

/// testkit's Debian images of redis and nginx (`redis:debian-test`, `nginx:debian-test`, with
/// their official images' configs: redis VOLUME /data, nginx STOPSIGNAL SIGQUIT).
fn load_debian_daemons(sb: &Sandbox) -> Result<()> {
    let archive = xcompose_testkit::debian_images_tar()?;
    sb.run_ok(XCOMPOSE, &["--root", sb.root().to_str().unwrap(), "image", "load", "-i", archive.to_str().unwrap()])?;
    Ok(())
}

const DAEMONS_STACK: &str = r#"
services:
  cache:
    image: redis:debian-test
    # The official redis image has no HEALTHCHECK; this is the one derived images add.
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 200ms
      start_period: 20s
      start_interval: 100ms
  web:
    image: nginx:debian-test
    depends_on:
      cache: {condition: service_healthy}
  client:
    image: busybox:latest
    init: true
    command: ["sleep", "1000"]
"#;

const BROKEN_CACHE_STACK: &str = r#"
services:
  cache:
    image: redis:debian-test
    command: ["redis-server", "--no-such-option", "1"]
    restart: always
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 200ms
  web:
    image: nginx:debian-test
    depends_on:
      cache: {condition: service_healthy}
"#;

/// Real daemons from the Debian images: redis's healthcheck gates nginx; redis's data in its
/// image VOLUME survives `--force-recreate`; a restarted nginx answers the host and a peer at
/// once; nginx stops cleanly on its STOPSIGNAL; a crash-looping redis fails `up` at once.
#[test]
fn a_redis_and_nginx_stack_behaves_as_under_docker() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    load_debian_daemons(&sb)?;
    let dir = project(&sb, "daemons", DAEMONS_STACK)?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    ensure!(ps(&sb, &dir)?["cache"]["Health"] == "healthy", "{}", ps(&sb, &dir)?["cache"]);

    // Item 4: the data survives the recreation in the image's /data volume.
    let set = xcompose(&sb, &dir, &["exec", "-T", "cache", "sh", "-c", "redis-cli set greeting hello && redis-cli save"])?;
    ensure!(set == "OK\nOK\n", "{set:?}");
    xcompose(&sb, &dir, &["up", "-d", "--force-recreate", "cache"])?;
    let got = xcompose(&sb, &dir, &["exec", "-T", "cache", "redis-cli", "get", "greeting"])?;
    ensure!(got == "hello\n", "redis's data after --force-recreate: {got:?}");

    // Item 1: nginx restarted answers at once, from the host and from a peer.
    let ip = xcompose(&sb, &dir, &["exec", "-T", "client", "sh", "-c", "nslookup web | sed -n 's/^Address: *//p' | tail -n 1"])?.trim().to_string();
    ensure!(!ip.is_empty(), "no address for web");
    let url = format!("http://{ip}/");
    let from_host = || sb.command("timeout").args(["3", "busybox", "wget", "-q", "-O", "-", &url]).output();
    let from_peer = || sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["exec", "-T", "client", "timeout", "3", "wget", "-q", "-O", "-", &url]).output();
    let served = |out: &std::process::Output| out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Welcome to nginx");
    ensure!(served(&from_host()?) && served(&from_peer()?), "nginx serves before the restart");
    xcompose(&sb, &dir, &["restart", "web"])?;
    wait_listening_on_80(&sb, &dir, "web")?;
    let mut failed = 0;
    for _ in 0..REQUESTS {
        failed += usize::from(!served(&from_host()?)) + usize::from(!served(&from_peer()?));
    }
    ensure!(failed == 0, "{failed} requests failed right after nginx restarted");

    // Item 3: nginx stops gracefully on SIGQUIT.
    xcompose(&sb, &dir, &["stop", "web"])?;
    ensure!(ps(&sb, &dir)?["web"]["ExitCode"] == 0, "nginx's exit: {}", ps(&sb, &dir)?["web"]);
    xcompose(&sb, &dir, &["down", "-v", "-t", "0"])?;

    // Item 2: a crash-looping redis fails up at once.
    let broken = project(&sb, "broken", BROKEN_CACHE_STACK)?;
    let started = Instant::now();
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(broken.join("compose.yaml")).args(["up", "-d"]).output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.code() == Some(1) && stderr.contains("dependency failed to start: container broken-cache-1 is unhealthy"), "{stderr}");
    ensure!(started.elapsed() < Duration::from_secs(5), "up took {:?}", started.elapsed());
    xcompose(&sb, &broken, &["down", "-v", "-t", "0"])?;
    Ok(())
}

/// A real-time STOPSIGNAL, as systemd images have (`SIGRTMIN+3`), is sent as such.
#[test]
fn a_realtime_stop_signal_is_sent() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let signal = nix::libc::SIGRTMIN() + 3;
    let script = format!("trap 'exit 0' {signal}; trap '' TERM; while true; do sleep 0.1; done");
    load_image(&sb, "rt:latest", serde_json::json!({"Cmd": ["sh", "-c", script], "StopSignal": "SIGRTMIN+3"}))?;
    let dir = project(&sb, "rt", "services:\n  init:\n    image: rt:latest\n    stop_grace_period: 5s\n")?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    xcompose(&sb, &dir, &["stop", "init"])?;
    let state = &ps(&sb, &dir)?["init"];
    ensure!(state["ExitCode"] == 0, "SIGRTMIN+3 ended the container with 0: {state}");
    xcompose(&sb, &dir, &["down", "-t", "0"])?;
    Ok(())
}
