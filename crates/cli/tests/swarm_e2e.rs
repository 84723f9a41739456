//! `xcompose deploy --swarm` against a real single-node swarm: Debian's dockerd started in a
//! sandbox with its own data root, `docker swarm init --advertise-addr 127.0.0.1`, the busybox
//! test image loaded with `docker import` (no registry). The stack (two services on an overlay
//! network, a published port, a secret, a config, a named volume) is deployed, reached on
//! 127.0.0.1 and service to service by name, listed by `ps --swarm`, removed with nothing left;
//! then the same file deployed by `docker stack deploy` must give the same services, compared
//! field by field in `docker service inspect` (ids, versions and timestamps aside).
//!
//! Why `endpoint_mode: dnsrr` and `mode: host` ports: this machine's kernel has no IPVS (no
//! /proc/sys/net/ipv4/vs, no modules to load), which Swarm's virtual IPs and its ingress routing
//! mesh are made of; dockerd logs "Could not get ipvs family information from the kernel" and a
//! VIP answers "No route to host". DNS round robin and host-mode publishing need no IPVS, and
//! the overlay network (VXLAN) itself works in the sandbox.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use xcompose_testkit::{Dockerd, Sandbox};

const XCOMPOSE: &str = env!("CARGO_BIN_EXE_xcompose");

const STACK: &str = r#"services:
  web:
    image: busybox:latest
    command: ["httpd", "-f", "-p", "80", "-h", "/www"]
    ports:
      - {target: 80, published: 8080, mode: host}
    networks: [front]
    dns: [127.0.0.11]
    dns_search: [example.test]
    read_only: true
    environment:
      B: "2"
      A: "1"
    labels:
      com.example.role: web
    restart: always
    configs:
      - source: page
        target: /www/index.html
    secrets: [token]
    deploy:
      endpoint_mode: dnsrr
      replicas: 1
      labels:
        com.example.tier: front
  client:
    image: busybox:latest
    entrypoint: ["sleep"]
    command: ["1000000"]
    init: true
    working_dir: /tmp
    user: "0:0"
    hostname: client-host
    extra_hosts: ["gateway.test:10.9.9.9"]
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    sysctls: {net.core.somaxconn: "1024"}
    ulimits: {nofile: {soft: 1024, hard: 2048}}
    stop_grace_period: 5s
    stop_signal: SIGINT
    logging: {driver: json-file, options: {max-size: 1m}}
    networks: [front]
    volumes:
      - data:/data
      - type: tmpfs
        target: /scratch
        tmpfs: {size: 1048576}
    healthcheck:
      test: ["CMD", "true"]
      interval: 5s
      retries: 2
    deploy:
      endpoint_mode: dnsrr
      resources:
        limits: {cpus: "0.5", memory: 64M}
      restart_policy:
        condition: on-failure
        max_attempts: 3
        delay: 2s
      update_config: {parallelism: 2, order: start-first, delay: 3s, failure_action: rollback}
      rollback_config: {parallelism: 1}
      placement:
        constraints: ["node.role==manager"]
networks:
  front:
    driver: overlay
volumes:
  data:
secrets:
  token:
    file: ./token.txt
configs:
  page:
    file: ./page.html
"#;

/// `docker ARGS` in the sandbox; stdout, or a panic with the output.
fn docker(sb: &Sandbox, dockerd: &Dockerd, args: &[&str]) -> String {
    dockerd.run_ok(sb, args).unwrap_or_else(|e| panic!("docker {args:?}: {e:#}\n{}", dockerd.log().lines().rev().take(20).collect::<Vec<_>>().join("\n")))
}

/// `xcompose -p st -f DIR/compose.yaml ARGS --host DOCKERD`: (status ok, stdout, stderr).
fn xcompose(sb: &Sandbox, dockerd: &Dockerd, dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = sb
        .command(XCOMPOSE)
        .args(["-p", "st", "-f"])
        .arg(dir.join("compose.yaml"))
        .args(args)
        .arg("--host")
        .arg(dockerd.host())
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Waits (at most a minute) until `done` holds.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Waits until both services run their replica.
fn wait_for_replicas(sb: &Sandbox, dockerd: &Dockerd) {
    wait_for("both services' replicas", || {
        let out = docker(sb, dockerd, &["service", "ls", "--format", "{{.Name}} {{.Replicas}}"]);
        let lines: Vec<&str> = out.lines().collect();
        lines.len() == 2 && lines.iter().all(|l| l.ends_with(" 1/1"))
    });
}

/// The stack's objects still there: services, networks, secrets, configs, task containers.
fn leftovers(sb: &Sandbox, dockerd: &Dockerd) -> String {
    let label = "label=com.docker.stack.namespace=st";
    let mut out = String::new();
    for kind in ["service", "network", "secret", "config"] {
        out += &docker(sb, dockerd, &[kind, "ls", "-q", "--filter", label]);
    }
    out + &docker(sb, dockerd, &["ps", "-aq", "--filter", label])
}

/// `docker service inspect` of both services, without what differs between any two deployments
/// (ids, versions, timestamps, the endpoint's run-time state) and with network ids as names.
fn inspect(sb: &Sandbox, dockerd: &Dockerd) -> Value {
    let networks: BTreeMap<String, String> = docker(sb, dockerd, &["network", "ls", "--no-trunc", "--format", "{{.ID}} {{.Name}}"])
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(id, name)| (id.to_string(), name.to_string())))
        .collect();
    let mut services: Value = serde_json::from_str(&docker(sb, dockerd, &["service", "inspect", "st_client", "st_web"])).unwrap();
    for service in services.as_array_mut().unwrap() {
        let object = service.as_object_mut().unwrap();
        for volatile in ["ID", "Version", "CreatedAt", "UpdatedAt", "Endpoint", "UpdateStatus", "PreviousSpec"] {
            object.remove(volatile);
        }
        let task = &mut service["Spec"]["TaskTemplate"];
        for (list, id) in [("Secrets", "SecretID"), ("Configs", "ConfigID")] {
            for reference in task["ContainerSpec"][list].as_array_mut().into_iter().flatten() {
                reference.as_object_mut().unwrap().remove(id);
            }
        }
        for attachment in task["Networks"].as_array_mut().into_iter().flatten() {
            let id = attachment["Target"].as_str().unwrap().to_string();
            attachment["Target"] = Value::String(networks.get(&id).cloned().unwrap_or(id));
        }
    }
    services
}

/// Differences between two JSON values, one line per path.
fn differences(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                differences(&format!("{path}.{key}"), x.get(key).unwrap_or(&Value::Null), y.get(key).unwrap_or(&Value::Null), out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                differences(&format!("{path}[{i}]"), p, q, out);
            }
        }
        _ if a != b => out.push(format!("{path}: xcompose {a} / docker {b}")),
        _ => {}
    }
}

#[test]
fn a_stack_deploys_to_a_swarm_as_docker_stack_deploy_puts_it() {
    let sb = Sandbox::new().unwrap();
    let dockerd = Dockerd::start_networked(&sb).unwrap();
    let dir = sb.temp_dir().join("stack");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("compose.yaml"), STACK).unwrap();
    std::fs::write(dir.join("token.txt"), "s3cret\n").unwrap();
    std::fs::write(dir.join("page.html"), "hello from a swarm config\n").unwrap();
    let (ok, out, err) = xcompose(&sb, &dockerd, &dir, &["deploy", "--swarm"]);
    assert!(!ok && out.is_empty(), "deployed to a daemon that is no swarm manager: {out}");
    assert_eq!(err, "Ignoring unsupported options: restart\n\nthis node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again\n");
    docker(&sb, &dockerd, &["swarm", "init", "--advertise-addr", "127.0.0.1"]);
    let image = xcompose_testkit::busybox_image_tar().unwrap();
    docker(&sb, &dockerd, &["import", image.to_str().unwrap(), "busybox:latest"]);

    let (ok, out, err) = xcompose(&sb, &dockerd, &dir, &["deploy", "--swarm"]);
    assert!(ok, "deploy failed: {err}");
    assert_eq!(out, "Creating secret st_token\nCreating config st_page\nCreating network st_front\nCreating service st_client\nCreating service st_web\n");
    assert_eq!(err, "Ignoring unsupported options: restart\n\n");
    wait_for_replicas(&sb, &dockerd);

    let (ok, tasks, err) = xcompose(&sb, &dockerd, &dir, &["ps", "--swarm"]);
    assert!(ok, "ps --swarm failed: {err}");
    let lines: Vec<&str> = tasks.lines().collect();
    assert!(lines[0].starts_with("ID ") && lines[0].contains("DESIRED STATE   CURRENT STATE"), "{tasks}");
    let web = lines.iter().find(|l| l.contains(" st_web.1 ")).unwrap_or_else(|| panic!("no st_web.1 task:\n{tasks}"));
    assert!(web.contains("busybox:latest") && web.contains("Running") && web.ends_with("*:8080->80/tcp"), "{tasks}");
    assert!(lines.iter().any(|l| l.contains(" st_client.1 ") && l.contains("Running")), "{tasks}");

    // The published port on the node, and the config mounted where the stack said.
    let page = sb.run_ok("busybox", &["wget", "-qO-", "http://127.0.0.1:8080/"]).unwrap();
    assert_eq!(page, "hello from a swarm config\n");
    // Service to service by name, over the overlay network.
    let client = docker(&sb, &dockerd, &["ps", "-q", "--filter", "label=com.docker.swarm.service.name=st_client"]);
    let client = client.trim();
    assert_eq!(docker(&sb, &dockerd, &["exec", client, "wget", "-qO-", "http://web/"]), "hello from a swarm config\n");
    let lookup = docker(&sb, &dockerd, &["exec", client, "nslookup", "web"]);
    assert!(lookup.contains("Name:\tweb") || lookup.contains("Name:   web"), "{lookup}");
    // The secret, in the web task.
    let web_task = docker(&sb, &dockerd, &["ps", "-q", "--filter", "label=com.docker.swarm.service.name=st_web"]);
    assert_eq!(docker(&sb, &dockerd, &["exec", web_task.trim(), "cat", "/run/secrets/token"]), "s3cret\n");

    // Deploying again updates in place.
    let (ok, out, err) = xcompose(&sb, &dockerd, &dir, &["deploy", "--swarm"]);
    assert!(ok, "second deploy failed: {err}");
    assert!(out.starts_with("Updating secret st_token\nUpdating config st_page\nUpdating service st_client (id: "), "{out}");
    wait_for_replicas(&sb, &dockerd);
    let ours = inspect(&sb, &dockerd);

    let (ok, out, err) = xcompose(&sb, &dockerd, &dir, &["deploy", "--swarm", "--rm"]);
    assert!(ok, "deploy --rm failed: {err}");
    assert_eq!(out, "Removing service st_client\nRemoving service st_web\nRemoving secret st_token\nRemoving config st_page\nRemoving network st_front\n");
    wait_for("the stack to be gone", || leftovers(&sb, &dockerd).is_empty());
    let (ok, _, err) = xcompose(&sb, &dockerd, &dir, &["deploy", "--swarm", "--rm"]);
    assert!(!ok);
    assert_eq!(err, "Nothing found in stack: st\n");

    // The same file through docker stack deploy (no registry to resolve digests from).
    let file = dir.join("compose.yaml");
    let output = dockerd.docker(&sb).args(["stack", "deploy", "--resolve-image", "never", "-d", "-c", file.to_str().unwrap(), "st"]).output().unwrap();
    let docker_err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "docker stack deploy: {docker_err}");
    assert!(docker_err.contains("Ignoring unsupported options: restart\n\n"), "{docker_err}");
    wait_for_replicas(&sb, &dockerd);
    let theirs = inspect(&sb, &dockerd);
    // `ps --swarm` lists docker's stack as `docker stack ps` does (the state's age aside).
    let (ok, tasks, err) = xcompose(&sb, &dockerd, &dir, &["ps", "--swarm"]);
    assert!(ok, "ps --swarm failed: {err}");
    let ours_rows: Vec<String> = tasks
        .lines()
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.split("   ").map(str::trim).filter(|c| !c.is_empty()).collect();
            // ID, NAME, IMAGE, NODE, DESIRED STATE, CURRENT STATE, (no ERROR), PORTS.
            format!("{} {} {} {} {} {}", cells[0], cells[1], cells[2], cells[3], cells[4], cells.get(6).unwrap_or(&""))
        })
        .collect();
    let docker_rows: Vec<String> = docker(&sb, &dockerd, &["stack", "ps", "st", "--format", "{{.ID}} {{.Name}} {{.Image}} {{.Node}} {{.DesiredState}} {{.Ports}}"])
        .lines()
        .map(str::to_string)
        .collect();
    let sorted = |mut rows: Vec<String>| {
        rows.sort();
        rows
    };
    assert_eq!(sorted(ours_rows), sorted(docker_rows), "ps --swarm:\n{tasks}");
    let mut diffs = Vec::new();
    differences("", &ours, &theirs, &mut diffs);
    assert!(diffs.is_empty(), "docker service inspect differs:\n{}", diffs.join("\n"));
    docker(&sb, &dockerd, &["stack", "rm", "st"]);
    wait_for("docker's stack to be gone", || leftovers(&sb, &dockerd).is_empty());
}
