//! Pulling for a compose project: `xcompose pull` (services, `--include-deps`,
//! `--ignore-pull-failures`, `-q`, `--policy`), `up --pull always|missing|never`, and the
//! services' `pull_policy`, against a real registry.

use std::path::PathBuf;

use xcompose_testkit::{test_images, Registry, Sandbox, TestImage};

mod registry_common;
use registry_common::{inspect, xc, xc_err, xc_ok};

/// A project whose services `a` (depends on nothing) and `b` (depends on `a`) use images on
/// `registry`; `extra` is appended under `services:`. Returns the compose file's path.
fn project(sb: &Sandbox, registry: &Registry, extra: &str) -> PathBuf {
    let dir = sb.temp_dir().join("project");
    std::fs::create_dir_all(&dir).unwrap();
    let compose = dir.join("compose.yaml");
    let text = format!(
        "services:\n  a:\n    image: {}\n    init: true\n    command: [sleep, '1000']\n  b:\n    image: {}\n    init: true\n    command: [sleep, '1000']\n    depends_on: [a]\n{extra}",
        registry.reference("xtk/a:1"),
        registry.reference("xtk/b:1"),
    );
    std::fs::write(&compose, text).unwrap();
    compose
}

/// Whether `reference` is in the store.
fn present(sb: &Sandbox, reference: &str) -> bool {
    xc(sb, &["image", "inspect", reference]).status.success()
}

/// busybox plus a layer whose `/etc/xtk-version` says `version`.
fn versioned(version: &str) -> TestImage {
    TestImage::busybox()
        .unwrap()
        .layer(xcompose_testkit::Layer::gzip().file(
            "etc/xtk-version",
            format!("{version}\n"),
            0o644,
        ))
}

#[test]
fn pull_takes_services_their_dependencies_and_ignores_failures_when_asked() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::plain(&sb).unwrap();
    registry
        .push_image(&sb, &test_images::zstd().unwrap(), "xtk/a:1")
        .unwrap();
    registry
        .push_image(&sb, &test_images::hard_links().unwrap(), "xtk/b:1")
        .unwrap();
    let missing = registry.reference("xtk/missing:1");
    let compose = project(&sb, &registry, &format!("  c:\n    image: {missing}\n"));
    let f = compose.to_str().unwrap();
    let (a, b) = (registry.reference("xtk/a:1"), registry.reference("xtk/b:1"));

    xc_ok(&sb, &["-f", f, "pull", "b"]);
    assert!(present(&sb, &b) && !present(&sb, &a), "only b");
    xc_ok(&sb, &["-f", f, "pull", "--include-deps", "b"]);
    assert!(present(&sb, &a), "--include-deps pulls a too");

    // Compose shows each service's progress, then the error as its last line.
    let failed = xc(&sb, &["-f", f, "pull"]);
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    let last = stderr.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.contains(&missing) && last.contains("not found"),
        "{stderr}"
    );
    let out = xc(&sb, &["-f", f, "pull", "--ignore-pull-failures"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let quiet = xc(&sb, &["-f", f, "pull", "-q", "a", "b"]);
    assert!(quiet.status.success());
    assert!(
        quiet.stdout.is_empty() && quiet.stderr.is_empty(),
        "-q: {quiet:?}"
    );
}

#[test]
fn pull_policy_missing_skips_what_is_there() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::plain(&sb).unwrap();
    let first = registry
        .push_image(&sb, &versioned("1"), "xtk/a:1")
        .unwrap();
    registry
        .push_image(&sb, &versioned("1"), "xtk/b:1")
        .unwrap();
    let compose = project(&sb, &registry, "");
    let f = compose.to_str().unwrap();
    let a = registry.reference("xtk/a:1");
    xc_ok(&sb, &["-f", f, "pull"]);
    let second = registry
        .push_image(&sb, &versioned("2"), "xtk/a:1")
        .unwrap();
    assert_ne!(first.config_digest, second.config_digest);
    xc_ok(&sb, &["-f", f, "pull", "--policy", "missing"]);
    assert_eq!(
        inspect(&sb, &a)["Id"],
        first.config_digest.as_str(),
        "present: not pulled again"
    );
    xc_ok(&sb, &["-f", f, "pull", "--policy", "always"]);
    assert_eq!(inspect(&sb, &a)["Id"], second.config_digest.as_str());
}

#[test]
fn up_pulls_what_is_missing_and_follows_pull_options() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::plain(&sb).unwrap();
    let first = registry
        .push_image(&sb, &versioned("1"), "xtk/a:1")
        .unwrap();
    registry
        .push_image(&sb, &versioned("1"), "xtk/b:1")
        .unwrap();
    let compose = project(&sb, &registry, "");
    let f = compose.to_str().unwrap();
    let a = registry.reference("xtk/a:1");

    let never = xc_err(&sb, &["-f", f, "up", "-d", "--pull", "never"]);
    assert!(
        never.contains(&a) || never.contains(&registry.reference("xtk/b:1")),
        "{never}"
    );
    assert!(!present(&sb, &a));

    xc_ok(&sb, &["-f", f, "up", "-d", "--wait"]);
    assert_eq!(
        inspect(&sb, &a)["Id"],
        first.config_digest.as_str(),
        "up pulled the missing image"
    );

    let second = registry
        .push_image(&sb, &versioned("2"), "xtk/a:1")
        .unwrap();
    xc_ok(&sb, &["-f", f, "up", "-d", "--wait"]);
    assert_eq!(
        inspect(&sb, &a)["Id"],
        first.config_digest.as_str(),
        "missing is the default: no pull"
    );
    xc_ok(
        &sb,
        &[
            "-f",
            f,
            "up",
            "-d",
            "--wait",
            "--pull",
            "always",
            "--quiet-pull",
        ],
    );
    assert_eq!(inspect(&sb, &a)["Id"], second.config_digest.as_str());
    let out = xc_ok(
        &sb,
        &["-f", f, "exec", "-T", "a", "cat", "/etc/xtk-version"],
    );
    assert_eq!(out, "2\n", "the container was recreated on the new image");
    xc_ok(&sb, &["-f", f, "down"]);
}

#[test]
fn a_service_s_pull_policy_is_followed() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::plain(&sb).unwrap();
    registry
        .push_image(&sb, &versioned("1"), "xtk/a:1")
        .unwrap();
    registry
        .push_image(&sb, &versioned("1"), "xtk/b:1")
        .unwrap();
    let always = project(&sb, &registry, "");
    let text = std::fs::read_to_string(&always).unwrap().replacen(
        "    init: true\n",
        "    init: true\n    pull_policy: always\n",
        1,
    );
    std::fs::write(&always, text).unwrap();
    let f = always.to_str().unwrap();
    xc_ok(&sb, &["-f", f, "up", "-d", "--wait"]);
    let second = registry
        .push_image(&sb, &versioned("2"), "xtk/a:1")
        .unwrap();
    xc_ok(&sb, &["-f", f, "up", "-d", "--wait"]);
    assert_eq!(
        inspect(&sb, &registry.reference("xtk/a:1"))["Id"],
        second.config_digest.as_str(),
        "pull_policy: always"
    );
    xc_ok(&sb, &["-f", f, "down"]);

    let never = always.with_file_name("never.yaml");
    std::fs::write(
        &never,
        format!(
            "services:\n  n:\n    image: {}\n    pull_policy: never\n",
            registry.reference("xtk/absent:1")
        ),
    )
    .unwrap();
    let err = xc_err(&sb, &["-f", never.to_str().unwrap(), "up", "-d"]);
    assert!(err.contains(&registry.reference("xtk/absent:1")), "{err}");
}

#[test]
fn build_pull_takes_a_newer_base_image() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::plain(&sb).unwrap();
    let base = registry.reference("xtk/a:1");
    registry.push_image(&sb, &versioned("1"), "xtk/a:1").unwrap();
    let dir = sb.temp_dir().join("pulled");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), format!("FROM {base}\nRUN cp /etc/xtk-version /built-on\n")).unwrap();
    let compose = dir.join("compose.yaml");
    let write_compose = |pull: bool| {
        std::fs::write(&compose, format!("services:\n  app:\n    build:\n      context: .\n      pull: {pull}\n    image: pulled-app\n")).unwrap();
    };
    let f = compose.to_str().unwrap();
    let built_on = || xc_ok(&sb, &["-f", f, "run", "--rm", "app", "cat", "/built-on"]);

    write_compose(false);
    xc_ok(&sb, &["-f", f, "build"]);
    assert_eq!(built_on(), "1\n", "the missing base is pulled");
    let second = registry.push_image(&sb, &versioned("2"), "xtk/a:1").unwrap();
    xc_ok(&sb, &["-f", f, "build"]);
    assert_eq!(built_on(), "1\n", "without pull the local base is used");

    write_compose(true);
    xc_ok(&sb, &["-f", f, "build"]);
    assert_eq!(inspect(&sb, &base)["Id"], second.config_digest.as_str(), "build.pull: true pulled the newer base");
    assert_eq!(built_on(), "2\n", "and built on it");
}
