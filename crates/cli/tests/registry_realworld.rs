//! Real-world compose files, unchanged, come up from a registry: every project of
//! ../shared/corpus/compose/awesome that uses only registry images (no `build:`) is brought up
//! with `up -d --wait` while a registries.conf (`XCOMPOSE_REGISTRIES_CONF`) sends docker.io to a
//! local registry holding busybox stand-ins tagged as their images (`library/redis:alpine`,
//! `gitea/gitea:latest`, ...; see `xcompose_testkit::standin`).
//!
//! The compose files are read where they are; the project directory (relative binds, `.env`) is a
//! directory of the sandbox with a copy of the project's `.env`, so nothing is written into the
//! corpus. Projects that cannot run here, and why:
//! - `pihole-cloudflared-DoH` binds the host's `/etc/pihole/` and `/etc/dnsmasq.d/`, which would
//!   be created on this machine's real file system (only /run is private to a sandbox);
//! - `plex` binds `/media/your/plex/path` from its `.env`, likewise created on the host;
//! - `wireguard` binds the host's `/usr/share/appdata/wireguard/config` (created on the host),
//!   `/usr/src` and `/lib/modules`, and wants `SYS_MODULE` to load kernel modules.

use std::path::{Path, PathBuf};

use serde_json::Value;
use xcompose_testkit::{Registry, Sandbox};

mod registry_common;
use registry_common::{home, inspect, ok, xc_err, xc_ok, xc_with};

/// Projects with registry images only that cannot run on this machine (see the module's doc).
const CANNOT_RUN: [&str; 3] = ["pihole-cloudflared-DoH", "plex", "wireguard"];

/// Ports a stand-in serves HTTP on, for images whose compose file checks health over HTTP.
const HTTP_PORTS: [(&str, u16); 1] = [("elasticsearch", 9200)];

#[path = "common/awesome.rs"]
mod awesome;
use awesome::corpus;

/// The compose file of a corpus project.
fn compose_file(project: &str) -> PathBuf {
    let dir = corpus().join(project);
    [
        "compose.yaml",
        "compose.yml",
        "docker-compose.yaml",
        "docker-compose.yml",
    ]
    .iter()
    .map(|name| dir.join(name))
    .find(|path| path.exists())
    .unwrap_or_else(|| panic!("{project} has no compose file"))
}

/// `redis:alpine` -> `library/redis:alpine`, `itzg/minecraft-server` -> `itzg/minecraft-server:latest`.
fn docker_io_path(image: &str) -> String {
    let (name, tag) = match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (image, "latest"),
    };
    let name = if name.contains('/') {
        name.to_string()
    } else {
        format!("library/{name}")
    };
    format!("{name}:{tag}")
}

/// The projects' own directories inside the sandbox, with their `.env`.
fn project_dir(sb: &Sandbox, project: &str) -> PathBuf {
    let dir = sb.temp_dir().join("projects").join(project);
    std::fs::create_dir_all(&dir).unwrap();
    let env = corpus().join(project).join(".env");
    if env.exists() {
        std::fs::copy(&env, dir.join(".env")).unwrap();
    }
    dir
}

/// `xcompose -f CORPUS_FILE --project-directory DIR ARGS...` with the registries.conf.
fn compose(sb: &Sandbox, conf: &Path, project: &str, args: &[&str]) -> std::process::Output {
    let file = compose_file(project);
    let dir = project_dir(sb, project);
    let mut all = vec![
        "-f",
        file.to_str().unwrap(),
        "--project-directory",
        dir.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    xc_with(
        sb,
        &[("XCOMPOSE_REGISTRIES_CONF", conf.to_str().unwrap())],
        "",
        &all,
    )
}

/// Pushes a stand-in for each of `project`'s images, brings it up with `up -d --wait`, checks
/// every service runs its stand-in, and takes it down.
fn comes_up(project: &str) {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::plain(&sb).unwrap();
    let conf = sb.temp_dir().join("registries.conf");
    std::fs::write(
        &conf,
        format!(
            "[[registry]]\nprefix = \"docker.io\"\nlocation = \"{}\"\ninsecure = true\n",
            registry.host()
        ),
    )
    .unwrap();

    let config: Value = serde_json::from_str(&ok(
        compose(&sb, &conf, project, &["config", "--format", "json"]),
        &["config"],
    ))
    .unwrap();
    let services = config["services"].as_object().unwrap();
    for service in services.values() {
        let image = service["image"].as_str().unwrap();
        let path = docker_io_path(image);
        let ports: Vec<u16> = HTTP_PORTS
            .iter()
            .filter(|(name, _)| image.starts_with(name))
            .map(|(_, port)| *port)
            .collect();
        registry
            .push_image(
                &sb,
                &xcompose_testkit::standin(image, &ports).unwrap(),
                &path,
            )
            .unwrap();
    }

    let up = compose(&sb, &conf, project, &["up", "-d", "--wait"]);
    ok(up, &["up", "-d", "--wait", project]);
    for (name, service) in services {
        let image = service["image"].as_str().unwrap();
        let out = ok(
            compose(
                &sb,
                &conf,
                project,
                &["exec", "-T", name, "cat", "/srv/standin/index.html"],
            ),
            &["exec", name],
        );
        assert_eq!(
            out,
            format!("stand-in for {image}\n"),
            "{project}: service {name}"
        );
        let label = &inspect(&sb, image)["Config"]["Labels"]["org.opencontainers.image.title"];
        assert_eq!(
            label, image,
            "{project}: {image} in the store is its stand-in"
        );
    }
    ok(
        compose(&sb, &conf, project, &["down", "-v"]),
        &["down", project],
    );
}

#[test]
fn the_user_s_registries_conf_redirects_docker_io_and_can_block_it() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::plain(&sb).unwrap();
    registry
        .push_image(
            &sb,
            &xcompose_testkit::standin("redis:alpine", &[]).unwrap(),
            "library/redis:alpine",
        )
        .unwrap();
    let conf_dir = home(&sb).join(".config/containers");
    std::fs::create_dir_all(&conf_dir).unwrap();
    let mirror = format!(
        "[[registry]]\nprefix = \"docker.io\"\nlocation = \"{}\"\ninsecure = true\n",
        registry.host()
    );
    std::fs::write(conf_dir.join("registries.conf"), &mirror).unwrap();
    xc_ok(&sb, &["image", "pull", "redis:alpine"]);
    assert_eq!(
        inspect(&sb, "redis:alpine")["Config"]["Labels"]["org.opencontainers.image.title"],
        "redis:alpine"
    );
    // Errors name the image as the user wrote it, not the mirror's location.
    let absent = xc_err(&sb, &["image", "pull", "redis:absent"]);
    assert!(
        absent.contains("manifest for redis:absent not found"),
        "{absent}"
    );

    std::fs::write(
        conf_dir.join("registries.conf"),
        format!("{mirror}blocked = true\n"),
    )
    .unwrap();
    let blocked = xc_err(&sb, &["image", "pull", "redis:alpine"]);
    assert!(blocked.contains("blocked"), "{blocked}");
}

#[test]
fn mirrors_are_tried_first_and_the_longest_prefix_wins() {
    let sb = Sandbox::new().unwrap();
    let mirror = Registry::plain(&sb).unwrap();
    let redis_only = Registry::plain(&sb).unwrap();
    mirror
        .push_image(
            &sb,
            &xcompose_testkit::standin("nginx:latest", &[]).unwrap(),
            "library/nginx:latest",
        )
        .unwrap();
    redis_only
        .push_image(
            &sb,
            &xcompose_testkit::standin("redis:alpine", &[]).unwrap(),
            "library/redis:alpine",
        )
        .unwrap();
    // docker.io's own location is a closed port: only its mirror can answer.
    let closed = format!("127.0.0.1:{}", mirror.port().max(redis_only.port()) + 1);
    let conf_dir = home(&sb).join(".config/containers");
    std::fs::create_dir_all(&conf_dir).unwrap();
    std::fs::write(
        conf_dir.join("registries.conf"),
        format!(
            "[[registry]]\nprefix = \"docker.io\"\nlocation = \"{closed}\"\ninsecure = true\n\
             [[registry.mirror]]\nlocation = \"{}\"\ninsecure = true\n\n\
             [[registry]]\nprefix = \"docker.io/library/redis\"\nlocation = \"{}/library/redis\"\ninsecure = true\n",
            mirror.host(),
            redis_only.host()
        ),
    )
    .unwrap();
    xc_ok(&sb, &["image", "pull", "nginx"]);
    xc_ok(&sb, &["image", "pull", "redis:alpine"]);
    for image in ["nginx:latest", "redis:alpine"] {
        assert_eq!(
            inspect(&sb, image)["Config"]["Labels"]["org.opencontainers.image.title"],
            image
        );
    }
}

#[test]
fn the_corpus_projects_without_build_are_the_ones_tested_here() {
    let mut registry_only = Vec::new();
    for entry in std::fs::read_dir(corpus()).unwrap() {
        let project = entry.unwrap().file_name().into_string().unwrap();
        let text = std::fs::read_to_string(compose_file(&project)).unwrap();
        if !text
            .lines()
            .any(|line| line.trim_start().starts_with("build:"))
        {
            registry_only.push(project);
        }
    }
    registry_only.sort();
    let mut tested: Vec<&str> = TESTED.iter().chain(CANNOT_RUN.iter()).copied().collect();
    tested.sort();
    assert_eq!(
        registry_only, tested,
        "a corpus project is neither tested nor listed as unable to run"
    );
}

/// The projects brought up by the tests below.
const TESTED: [&str; 9] = [
    "elasticsearch-logstash-kibana",
    "gitea-postgres",
    "minecraft",
    "nextcloud-postgres",
    "nextcloud-redis-mariadb",
    "portainer",
    "postgresql-pgadmin",
    "prometheus-grafana",
    "wordpress-mysql",
];

#[test]
fn elasticsearch_logstash_kibana() {
    comes_up("elasticsearch-logstash-kibana");
}

#[test]
fn gitea_postgres() {
    comes_up("gitea-postgres");
}

#[test]
fn minecraft() {
    comes_up("minecraft");
}

#[test]
fn nextcloud_postgres() {
    comes_up("nextcloud-postgres");
}

#[test]
fn nextcloud_redis_mariadb() {
    comes_up("nextcloud-redis-mariadb");
}

#[test]
fn portainer() {
    comes_up("portainer");
}

#[test]
fn postgresql_pgadmin() {
    comes_up("postgresql-pgadmin");
}

#[test]
fn prometheus_grafana() {
    comes_up("prometheus-grafana");
}

#[test]
fn wordpress_mysql() {
    comes_up("wordpress-mysql");
}
