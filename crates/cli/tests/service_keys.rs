//! Compose keys end to end, as crates/stack/keys/honoured.toml and refused.toml account for them:
//! the settings of a service seen from inside its container (and its cgroups, records and
//! resources), the keys compose itself ignores without swarm, and the refusal of the keys
//! xcompose does not honour, before anything is made.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use serde_json::Value;
use xcompose_testkit::Sandbox;

mod common;
use common::{project, sandbox_with_busybox, xcompose, XCOMPOSE};

/// The full id of the one container of `service` (`ps -a`).
fn container_id(sb: &Sandbox, dir: &Path, service: &str) -> Result<String> {
    for line in xcompose(sb, dir, &["ps", "-a", "--format", "json"])?.lines() {
        let c: Value = serde_json::from_str(line)?;
        if c["Service"] == service {
            return Ok(c["ID"].as_str().context("ID")?.to_string());
        }
    }
    anyhow::bail!("no container of {service}")
}

/// The stored record of container `id` (`<root>/containers/<id>/container.json`).
fn record(sb: &Sandbox, id: &str) -> Result<Value> {
    Ok(serde_json::from_slice(&std::fs::read(sb.root().join("containers").join(id).join("container.json"))?)?)
}

/// `sh -c script` in the service's container, its output trimmed.
fn sh(sb: &Sandbox, dir: &Path, service: &str, script: &str) -> Result<String> {
    Ok(xcompose(sb, dir, &["exec", "-T", service, "sh", "-c", script])?.trim().to_string())
}

/// A Go duration as serde writes `std::time::Duration`: `{secs, nanos}`.
fn secs(v: &Value) -> Option<u64> {
    v["secs"].as_u64()
}

const PROCESS_STACK: &str = r#"
services:
  app:
    image: busybox:latest
    init: true
    container_name: my-app
    hostname: box
    domainname: example.org
    user: "1000:1000"
    working_dir: /home/app
    entrypoint: ["sh", "-c"]
    command: ["sleep 1000"]
    environment: {FROM_MAP: one}
    env_file:
      - path: ./app.env
      - path: ./missing.env
        required: false
      - path: ./raw.env
        format: raw
    cap_add: [NET_ADMIN]
    cap_drop: [CHOWN]
    security_opt: ["no-new-privileges:true"]
    read_only: true
    tmpfs: ["/scratch:size=1m,mode=1770"]
    volumes:
      - {type: tmpfs, target: /mem, tmpfs: {size: 2097152, mode: 0700}}
      - {type: bind, source: ./made, target: /made, bind: {create_host_path: true}}
      - {type: volume, source: empty, target: /usr/sbin, volume: {nocopy: true}}
    sysctls: {net.ipv4.ip_forward: 1}
    shm_size: 8m
    ulimits: {nofile: {soft: 1024, hard: 2048}}
    extra_hosts: ["db.local:10.1.2.3"]
    stop_grace_period: 2s
    healthcheck: {test: [CMD, "true"], interval: 1h, timeout: 3s, retries: 7, start_period: 5s}
    deploy: {restart_policy: {condition: on-failure, max_attempts: 3}}
    tty: false
    stdin_open: false
    privileged: false
    attach: true
    networks:
      fixed: {ipv4_address: 10.97.0.50}
  scaled:
    image: busybox:latest
    init: true
    command: [sleep, "1000"]
    scale: 2
    networks: [fixed]
networks:
  fixed:
    name: fixed-net
    driver: bridge
    enable_ipv4: true
    enable_ipv6: false
    labels: {net.label: "yes"}
    ipam:
      driver: default
      config: [{subnet: 10.97.0.0/24, gateway: 10.97.0.254, ip_range: 10.97.0.128/25}]
volumes:
  empty:
    name: my-empty
    driver: local
    labels: {vol.label: "yes"}
"#;

/// The settings of a service's process, mounts, names and networks, seen from inside its
/// container; what only the supervisor uses (stop grace, healthcheck timing, restart policy)
/// from the container's record.
#[test]
fn process_settings_take_effect_inside_the_container() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "keys", PROCESS_STACK)?;
    std::fs::write(dir.join("app.env"), "FROM_FILE=two\n")?;
    std::fs::write(dir.join("raw.env"), "RAW=${NOT_EXPANDED}\n")?;
    xcompose(&sb, &dir, &["up", "-d"])?;

    let ps = xcompose(&sb, &dir, &["ps", "--format", "{{.Name}}"])?;
    let mut names: Vec<&str> = ps.lines().collect();
    names.sort();
    ensure!(names == ["keys-scaled-1", "keys-scaled-2", "my-app"], "container_name and scale: {names:?}");

    ensure!(sh(&sb, &dir, "app", "id -u; id -g")? == "1000\n1000", "user");
    ensure!(sh(&sb, &dir, "app", "pwd")? == "/home/app", "working_dir");
    ensure!(sh(&sb, &dir, "app", "hostname; cat /proc/sys/kernel/domainname")? == "box\nexample.org", "hostname and domainname");
    ensure!(sh(&sb, &dir, "app", "cat /proc/1/comm")? != "sleep", "init: PID 1 is the init, not the command");
    ensure!(sh(&sb, &dir, "app", "cat /proc/*/comm | grep -c '^sleep$'")? == "1", "entrypoint + command run `sleep 1000`");
    let env = sh(&sb, &dir, "app", "echo \"$FROM_MAP $FROM_FILE $RAW\"")?;
    ensure!(env == "one two ${NOT_EXPANDED}", "environment, env_file (required: false, format: raw): {env:?}");

    let status = sh(&sb, &dir, "app", "grep -E '^(CapBnd|NoNewPrivs)' /proc/self/status")?;
    let bounding = status.lines().find_map(|l| l.strip_prefix("CapBnd:")).context("CapBnd")?.trim();
    let bounding = u64::from_str_radix(bounding, 16)?;
    ensure!(bounding & (1 << 12) != 0, "cap_add NET_ADMIN: {status}");
    ensure!(bounding & 1 == 0, "cap_drop CHOWN: {status}");
    ensure!(status.contains("NoNewPrivs:\t1"), "security_opt no-new-privileges: {status}");

    ensure!(sh(&sb, &dir, "app", "touch /x 2>/dev/null && echo writable || echo read-only")? == "read-only", "read_only");
    let mounts = sh(&sb, &dir, "app", "cat /proc/mounts")?;
    let mount = |target: &str| mounts.lines().find(|l| l.split(' ').nth(1) == Some(target)).unwrap_or_default().to_string();
    ensure!(mount("/scratch").contains("size=1024k") && mount("/scratch").contains("mode=1770"), "tmpfs: {}", mount("/scratch"));
    ensure!(mount("/mem").starts_with("tmpfs") && mount("/mem").contains("size=2048k") && mount("/mem").contains("mode=700"), "volumes tmpfs: {}", mount("/mem"));
    ensure!(mount("/dev/shm").contains("size=8192k"), "shm_size: {}", mount("/dev/shm"));
    ensure!(dir.join("made").is_dir(), "bind create_host_path made the source");
    ensure!(sh(&sb, &dir, "app", "ls -A /usr/sbin | wc -l")? == "0", "nocopy: the volume is not seeded from the image");
    ensure!(sh(&sb, &dir, "app", "cat /proc/sys/net/ipv4/ip_forward")? == "1", "sysctls");
    let limits = sh(&sb, &dir, "app", "for p in /proc/[0-9]*; do [ \"$(cat $p/comm)\" = sleep ] && grep 'open files' $p/limits; done; true")?;
    ensure!(limits.split_whitespace().collect::<Vec<_>>() == ["Max", "open", "files", "1024", "2048", "files"], "ulimits: {limits}");
    ensure!(sh(&sb, &dir, "app", "grep db.local /etc/hosts")?.split_whitespace().collect::<Vec<_>>() == ["10.1.2.3", "db.local"], "extra_hosts");

    ensure!(sh(&sb, &dir, "app", "hostname -i")? == "10.97.0.50", "ipv4_address");
    ensure!(sh(&sb, &dir, "app", "ip route | grep ^default")?.starts_with("default via 10.97.0.254"), "ipam gateway");
    let scaled = sh(&sb, &dir, "scaled", "hostname -i")?;
    let last: u8 = scaled.rsplit('.').next().context("address")?.parse()?;
    ensure!(scaled.starts_with("10.97.0.") && last >= 128, "ipam ip_range: {scaled}");

    let network: Value = serde_json::from_slice(&std::fs::read(sb.root().join("networks").join("fixed-net.json"))?)?;
    ensure!(network["labels"]["net.label"] == "yes", "network name and labels: {network}");
    let volume: Value = serde_json::from_str(&xcompose(&sb, &dir, &["volume", "inspect", "my-empty"])?)?;
    ensure!(volume[0]["Labels"]["vol.label"] == "yes" && volume[0]["Driver"] == "local", "volume name, driver and labels: {volume}");

    let app = record(&sb, &container_id(&sb, &dir, "app")?)?;
    ensure!(secs(&app["stop_grace"]) == Some(2), "stop_grace_period: {}", app["stop_grace"]);
    let health = &app["supervisor"]["healthcheck"][1];
    ensure!(secs(&health["timeout"]) == Some(3) && health["retries"] == 7 && secs(&health["start_period"]) == Some(5), "healthcheck: {health}");
    ensure!(app["supervisor"]["restart"] == serde_json::json!({"on-failure": {"max_retries": 3}}), "deploy.restart_policy: {}", app["supervisor"]["restart"]);
    xcompose(&sb, &dir, &["down", "-v"])?;
    Ok(())
}

/// A cgroup file of container `id` under controller `controller` (v1 layout).
fn cgroup_file(controller: &str, id: &str, file: &str) -> Result<String> {
    let out = std::process::Command::new("find").args([&format!("/sys/fs/cgroup/{controller}"), "-type", "d", "-name", id]).output()?;
    let dir = String::from_utf8(out.stdout)?.lines().next().map(str::to_string).with_context(|| format!("no {controller} cgroup for {id}"))?;
    Ok(std::fs::read_to_string(Path::new(&dir).join(file))?.trim().to_string())
}

/// The resource keys reach the container's cgroups, with `deploy.resources.limits` as compose maps
/// them. This host runs cgroup v1 (hybrid); the v2 files are checked when that is what runs.
#[test]
fn resource_limits_reach_the_cgroups() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(
        &sb,
        "limits",
        r#"
services:
  own:
    image: busybox:latest
    init: true
    command: [sleep, "1000"]
    cpus: 0.5
    cpu_shares: 512
    cpuset: "0"
    mem_limit: 64m
    mem_reservation: 32m
    memswap_limit: 128m
    pids_limit: 50
  deployed:
    image: busybox:latest
    init: true
    command: [sleep, "1000"]
    deploy: {resources: {limits: {cpus: "0.25", memory: 48m, pids: 20}}}
"#,
    )?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let own = container_id(&sb, &dir, "own")?;
    let deployed = container_id(&sb, &dir, "deployed")?;
    if Path::new("/sys/fs/cgroup/memory").is_dir() {
        ensure!(cgroup_file("cpu", &own, "cpu.cfs_quota_us")? == "50000" && cgroup_file("cpu", &own, "cpu.cfs_period_us")? == "100000", "cpus");
        ensure!(cgroup_file("cpu", &own, "cpu.shares")? == "512", "cpu_shares");
        ensure!(cgroup_file("cpuset", &own, "cpuset.cpus")? == "0", "cpuset");
        ensure!(cgroup_file("memory", &own, "memory.limit_in_bytes")? == (64u64 << 20).to_string(), "mem_limit");
        ensure!(cgroup_file("memory", &own, "memory.soft_limit_in_bytes")? == (32u64 << 20).to_string(), "mem_reservation");
        if let Ok(swap) = cgroup_file("memory", &own, "memory.memsw.limit_in_bytes") {
            ensure!(swap == (128u64 << 20).to_string(), "memswap_limit: {swap}");
        }
        ensure!(cgroup_file("pids", &own, "pids.max")? == "50", "pids_limit");
        ensure!(cgroup_file("cpu", &deployed, "cpu.cfs_quota_us")? == "25000", "deploy cpus");
        ensure!(cgroup_file("memory", &deployed, "memory.limit_in_bytes")? == (48u64 << 20).to_string(), "deploy memory");
        ensure!(cgroup_file("pids", &deployed, "pids.max")? == "20", "deploy pids");
    } else {
        ensure!(cgroup_file("", &own, "cpu.max")? == "50000 100000", "cpus");
        ensure!(cgroup_file("", &own, "memory.max")? == (64u64 << 20).to_string(), "mem_limit");
        ensure!(cgroup_file("", &own, "pids.max")? == "50", "pids_limit");
        ensure!(cgroup_file("", &deployed, "memory.max")? == (48u64 << 20).to_string(), "deploy memory");
    }
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

/// Keys only swarm reads (placement, update and rollback configs, endpoint mode, secret and
/// config labels...), port names and app protocols, bind consistency and `pull_refresh_after`: Docker Compose accepts and
/// ignores them without swarm; so does xcompose, and the service runs.
#[test]
fn keys_compose_ignores_without_swarm_are_accepted_and_ignored() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(
        &sb,
        "swarmish",
        r#"
services:
  web:
    image: busybox:latest
    init: true
    command: [sleep, "1000"]
    pull_refresh_after: 1h
    ports: [{target: 80, published: "18099", name: web, app_protocol: http}]
    volumes: [{type: bind, source: ., target: /src, consistency: cached}]
    deploy:
      mode: replicated
      endpoint_mode: vip
      labels: {swarm.only: "yes"}
      placement: {constraints: [node.role==manager], max_replicas_per_node: 1, preferences: [{spread: node.id}]}
      update_config: {parallelism: 2, delay: 1s, failure_action: pause, monitor: 1s, max_failure_ratio: 0.1, order: start-first}
      rollback_config: {parallelism: 1, delay: 1s, failure_action: pause, monitor: 1s, max_failure_ratio: 0.1, order: stop-first}
    secrets: [token]
    configs: [motd]
networks:
  default:
    attachable: true
secrets:
  token: {file: ./token, labels: {swarm.only: "yes"}}
configs:
  motd: {content: hi, labels: [swarm.only=yes]}
"#,
    )?;
    std::fs::write(dir.join("token"), "t")?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let states = xcompose(&sb, &dir, &["ps", "--format", "{{.Name}} {{.State}}"])?;
    ensure!(states.trim() == "swarmish-web-1 running", "{states}");
    let labels = record(&sb, &container_id(&sb, &dir, "web")?)?["labels"].clone();
    ensure!(labels.get("swarm.only").is_none(), "deploy.labels are swarm service labels, not container labels: {labels}");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

/// Secrets and configs are read-only files in the container, as compose gives them without swarm:
/// a file's own content, mode and owner (its uid/gid/mode ignored with compose's warning); an
/// environment variable's or inline content's in a file of mode `mode` (default 0444) owned by
/// `uid`:`gid`. External ones and unset variables fail `up` before anything is made.
#[test]
fn secrets_and_configs_are_read_only_files_in_the_container() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let text = r#"
services:
  app:
    image: busybox:latest
    init: true
    command: [sleep, "1000"]
    secrets:
      - token
      - source: cert
        target: server.pem
        mode: 0400
      - source: token
        target: /etc/token
        uid: "1000"
        gid: "1001"
        mode: 0440
    configs:
      - motd
      - source: app
        target: etc/app.conf
secrets:
  token:
    environment: TOKEN
  cert:
    file: ./cert.pem
configs:
  motd:
    content: "hello ${WHO}"
  app:
    file: ./app.conf
"#;
    let dir = project(&sb, "files", text)?;
    std::fs::write(dir.join(".env"), "TOKEN=s3cret\nWHO=alice\n")?;
    std::fs::write(dir.join("cert.pem"), "PEM\n")?;
    std::fs::set_permissions(dir.join("cert.pem"), std::os::unix::fs::PermissionsExt::from_mode(0o640))?;
    std::fs::write(dir.join("app.conf"), "key=value\n")?;
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["up", "-d"]).output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success(), "up: {stderr}");
    ensure!(stderr.contains("WARN[0000] secrets `uid`, `gid` and `mode` are not supported, they will be ignored"), "compose's warning for a file's mode: {stderr}");
    let files = sh(
        &sb,
        &dir,
        "app",
        "for f in /run/secrets/token /run/secrets/server.pem /etc/token /motd /etc/app.conf; do echo \"$f $(stat -c '%a %u:%g' $f) $(cat $f)\"; done",
    )?;
    let expected = "/run/secrets/token 444 0:0 s3cret\n/run/secrets/server.pem 640 0:0 PEM\n/etc/token 440 1000:1001 s3cret\n/motd 444 0:0 hello alice\n/etc/app.conf 644 0:0 key=value";
    ensure!(files == expected, "secrets and configs:\n{files}\nwanted:\n{expected}");
    ensure!(sh(&sb, &dir, "app", "echo x > /run/secrets/token 2>/dev/null && echo written || echo read-only")? == "read-only", "read-only");
    xcompose(&sb, &dir, &["down"])?;

    for (n, (text, message)) in [
        ("secrets:\n  token:\n    external: true\n", "compose.yaml:11: secrets.token.external \"true\" is not supported: external secrets live in a swarm"),
        ("secrets:\n  token:\n    environment: UNSET_TOKEN\n", "service \"app\": secret \"token\": environment variable \"UNSET_TOKEN\" is not set"),
    ]
    .iter()
    .enumerate()
    {
        let text = format!("services:\n  app:\n    image: busybox:latest\n    command: [sleep, \"1000\"]\n    secrets: [token]\n    networks: [back]\nnetworks:\n  back:\n{text}");
        let dir = project(&sb, &format!("bad{n}"), &text)?;
        let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["up", "-d"]).output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(out.status.code() == Some(1) && stderr.lines().count() == 1 && stderr.contains(message), "wanted {message:?}:\n{stderr}");
        ensure!(!sb.root().join("networks").join(format!("bad{n}_back.json")).exists(), "the network was made");
    }
    Ok(())
}

/// `platform:` is honoured as Docker Engine does: an image of that platform runs, one of another
/// platform is refused before anything is made, in Docker's words.
#[test]
fn platform_must_match_the_image() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let host = match std::env::consts::ARCH {
        "x86_64" => "linux/amd64",
        "aarch64" => "linux/arm64",
        other => anyhow::bail!("no Docker platform name known for {other}"),
    };
    let stack = |platform: &str| format!("services:\n  app:\n    image: busybox:latest\n    init: true\n    command: [sleep, \"1000\"]\n    platform: {platform}\n");
    let dir = project(&sb, "same", &stack(host))?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    ensure!(xcompose(&sb, &dir, &["ps", "--format", "{{.State}}"])?.trim() == "running", "the host's platform runs");
    xcompose(&sb, &dir, &["down"])?;
    let dir = project(&sb, "other", &stack("linux/s390x"))?;
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["up", "-d"]).output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let message = format!("service \"app\": image with reference busybox:latest was found but does not match the specified platform: wanted linux/s390x, actual: {host}");
    ensure!(out.status.code() == Some(1) && stderr.lines().count() == 1 && stderr.contains(&message), "wanted {message:?}:\n{stderr}");
    ensure!(xcompose(&sb, &dir, &["ps", "-a", "-q"])?.is_empty(), "a container was made");
    Ok(())
}

/// `develop.watch.initial_sync`: when watching starts, the files of a sync rule modified since the
/// image was made are copied in at once (ignored ones and those `include` leaves out not), before
/// any change.
#[test]
fn watch_initial_sync_copies_what_changed_since_the_image() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(
        &sb,
        "initial",
        "services:\n  app:\n    image: busybox:latest\n    init: true\n    command: [sleep, \"1000\"]\n    develop:\n      watch:\n        - {path: ./src, action: sync, target: /app, initial_sync: true, ignore: [\"*.tmp\"], include: [\"*.txt\", sub]}\n",
    )?;
    std::fs::create_dir_all(dir.join("src/sub"))?;
    std::fs::write(dir.join("src/sub/a.txt"), "edited\n")?;
    std::fs::write(dir.join("src/skip.tmp"), "no\n")?;
    std::fs::write(dir.join("src/notes.md"), "not included\n")?;
    let mut watch = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).arg("watch").stderr(std::process::Stdio::piped()).spawn()?;
    let stderr = watch.stderr.take().context("stderr")?;
    let result = (|| -> Result<()> {
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
        let mut seen = Vec::new();
        loop {
            let line = lines.next().with_context(|| format!("watch ended before it was enabled: {seen:?}"))??;
            if line.contains("Watch enabled") {
                break;
            }
            seen.push(line);
        }
        ensure!(sh(&sb, &dir, "app", "cat /app/sub/a.txt")? == "edited", "the edited file is synced at once");
        ensure!(sh(&sb, &dir, "app", "ls /app")? == "sub", "ignored files and those not included stay out");
        Ok(())
    })();
    let _ = watch.kill();
    let _ = watch.wait();
    result?;
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

/// A `sync+exec` watch rule syncs the change, then runs its `exec` command (given as a string)
/// in the service's container as its `user`, in its `working_dir`, with its `environment`.
#[test]
fn watch_sync_exec_runs_the_command_after_syncing() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(
        &sb,
        "execwatch",
        r#"
services:
  app:
    image: busybox:latest
    init: true
    command: [sleep, "1000"]
    develop:
      watch:
        - path: ./src
          action: sync+exec
          target: /app
          exec:
            command: sh -c 'echo "$$MARK $(id -u) $(pwd) $(cat /app/x.txt)" > /tmp/ran'
            user: "1000"
            working_dir: /home/app
            environment: {MARK: done}
"#,
    )?;
    std::fs::create_dir_all(dir.join("src"))?;
    let mut watch = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).arg("watch").stderr(std::process::Stdio::piped()).spawn()?;
    let stderr = watch.stderr.take().context("stderr")?;
    let result = (|| -> Result<()> {
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
        while !lines.next().context("watch ended before it was enabled")??.contains("Watch enabled") {}
        std::fs::write(dir.join("src/x.txt"), "synced\n")?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let ran = sh(&sb, &dir, "app", "cat /tmp/ran 2>/dev/null; true")?;
            if ran == "done 1000 /home/app synced" {
                return Ok(());
            }
            ensure!(std::time::Instant::now() < deadline, "the exec command did not run as asked: {ran:?}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    })();
    let _ = watch.kill();
    let _ = watch.wait();
    result?;
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

/// `depends_on` with `required: false`: a dependency that fails its condition is warned about and
/// the dependent starts anyway; a required one fails `up`.
#[test]
fn an_optional_dependency_that_fails_does_not_stop_its_dependent() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let stack = |required: bool| {
        format!(
            "services:\n  broken:\n    image: busybox:latest\n    command: [\"false\"]\n  app:\n    image: busybox:latest\n    init: true\n    command: [sleep, \"1000\"]\n    depends_on:\n      broken: {{condition: service_completed_successfully, required: {required}}}\n"
        )
    };
    let dir = project(&sb, "optional", &stack(false))?;
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["up", "-d"]).output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success() && stderr.contains("WARN[0000] optional dependency \"broken\" failed: "), "up with an optional dependency failing: {stderr}");
    ensure!(xcompose(&sb, &dir, &["ps", "--format", "{{.Service}} {{.State}}"])?.trim() == "app running", "the dependent runs");
    xcompose(&sb, &dir, &["down"])?;
    let dir = project(&sb, "required", &stack(true))?;
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(["up", "-d"]).output()?;
    ensure!(out.status.code() == Some(1), "a required dependency failing fails up: {}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}

/// Refused keys fail `up` (and `run`) with one line naming the file and line, the key and why,
/// exit 1, and leave nothing made: no container, network, volume or pulled image.
#[test]
fn refused_keys_fail_up_before_anything_is_created() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let cases = [
        ("logging:\n      driver: syslog\n", "compose.yaml:8: services.web.logging.driver \"syslog\" is not supported: xcompose keeps logs with the json-file, local and none drivers only"),
        ("cpu_count: 2\n", "compose.yaml:7: services.web.cpu_count is not supported: cpu_count is Windows-only in Docker"),
        ("build:\n      context: .\n      entitlements: [network.host]\n", "compose.yaml:9: services.web.build.entitlements is not supported: build entitlements are not granted by xcompose's builder"),
        ("models: [llm]\n", "compose.yaml:7: services.web.models.llm is not supported: models need a model runner; xcompose has none"),
    ];
    for (n, (key, message)) in cases.iter().enumerate() {
        let text = format!(
            "services:\n  web:\n    image: busybox:latest\n    volumes: [data:/data]\n    networks: [front]\n    command: [sleep, \"1000\"]\n    {key}networks:\n  front:\nvolumes:\n  data:\nmodels:\n  llm: {{model: ai/smollm2}}\n"
        );
        let dir = project(&sb, &format!("refused{n}"), &text)?;
        for args in [&["up", "-d"][..], &["run", "--rm", "web", "true"][..]] {
            let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(args).output()?;
            let stderr = String::from_utf8_lossy(&out.stderr);
            ensure!(out.status.code() == Some(1), "{key:?} {args:?}: exit {:?}: {stderr}", out.status.code());
            let lines: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("WARN")).collect();
            ensure!(lines.len() == 1 && lines[0].contains(message), "{key:?} {args:?}: wanted one line with {message:?}, got:\n{stderr}");
        }
        ensure!(xcompose(&sb, &dir, &["ps", "-a", "-q"])?.is_empty(), "{key:?}: a container was made");
    }
    for made in ["containers", "networks", "volumes"] {
        let dir = sb.root().join(made);
        let entries: Vec<_> = std::fs::read_dir(&dir).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
        ensure!(entries.iter().all(|e| e.to_string_lossy().starts_with('.')), "{made} made: {entries:?}");
    }
    Ok(())
}
