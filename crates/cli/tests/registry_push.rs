//! `xcompose image push` and `xcompose push`: what they push is what skopeo reads back (same
//! config digest, the manifest digest xcompose printed) and what dockerd pulls and runs.

use xcompose_testkit::{Dockerd, Registry, Sandbox};

mod registry_common;
use registry_common::{inspect, xc, xc_err, xc_ok};

/// Imports the busybox test image as `busybox:latest` and tags it `reference`; its image ID.
fn local_image(sb: &Sandbox, reference: &str) -> String {
    let tar = xcompose_testkit::busybox_image_tar().unwrap();
    xc_ok(
        sb,
        &["image", "import", tar.to_str().unwrap(), "busybox:latest"],
    );
    xc_ok(sb, &["image", "tag", "busybox:latest", reference]);
    inspect(sb, reference)["Id"].as_str().unwrap().to_string()
}

/// The manifest digest in docker push's last line, `TAG: digest: sha256:... size: N`.
fn pushed_digest(out: &str, tag: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{tag}: digest: ")))
        .unwrap_or_else(|| panic!("no digest line:\n{out}"));
    line.split_whitespace().nth(2).unwrap().to_string()
}

#[test]
fn a_pushed_image_reads_back_with_skopeo_and_runs_in_dockerd() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::plain(&sb).unwrap();
    let reference = registry.reference("xtk/pushed:1");
    let id = local_image(&sb, &reference);
    let out = xc_ok(&sb, &["image", "push", &reference]);
    assert!(
        out.contains(&format!(
            "The push refers to repository [{}]",
            registry.reference("xtk/pushed")
        )),
        "{out}"
    );
    let digest = pushed_digest(&out, "1");

    let summary = registry.skopeo_inspect(&sb, "xtk/pushed:1", false).unwrap();
    assert_eq!(summary["Digest"], digest.as_str());
    let raw = registry.skopeo_inspect(&sb, "xtk/pushed:1", true).unwrap();
    assert_eq!(raw["config"]["digest"], id.as_str(), "the image ID is kept");
    // As with Docker, the pushed manifest's digest becomes one of the image's RepoDigests.
    let repo_digest = format!("{}@{digest}", registry.reference("xtk/pushed"));
    assert!(
        inspect(&sb, &reference)["RepoDigests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == &repo_digest),
        "{repo_digest}"
    );

    let dockerd = Dockerd::start(&sb).unwrap();
    dockerd.run_ok(&sb, &["pull", "-q", &reference]).unwrap();
    assert_eq!(dockerd.image_id(&sb, &reference).unwrap(), id);
    let said = dockerd
        .run_ok(
            &sb,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                &reference,
                "echo",
                "pushed by xcompose",
            ],
        )
        .unwrap();
    assert_eq!(said, "pushed by xcompose\n");

    // Pushing again uploads nothing new: every layer "Layer already exists".
    let again = xc_ok(&sb, &["image", "push", &reference]);
    assert!(again.contains("Layer already exists"), "{again}");
    assert_eq!(pushed_digest(&again, "1"), digest);
}

#[test]
fn pushing_needs_credentials_where_the_registry_wants_them() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::builder()
        .htpasswd("alice", "s3cret")
        .start(&sb)
        .unwrap();
    let reference = registry.reference("xtk/pushed:1");
    local_image(&sb, &reference);
    // Docker's words for a push without credentials to a registry that wants them.
    let refused = xc_err(&sb, &["image", "push", &reference]);
    assert!(refused.contains("no basic auth credentials"), "{refused}");
    assert!(
        registry.skopeo_inspect(&sb, "xtk/pushed:1", true).is_err(),
        "nothing was pushed"
    );

    let login = registry_common::xc_with(
        &sb,
        &[],
        "s3cret\n",
        &["login", &registry.host(), "-u", "alice", "--password-stdin"],
    );
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
    xc_ok(&sb, &["image", "push", &reference]);
    assert!(registry.skopeo_inspect(&sb, "xtk/pushed:1", true).is_ok());

    let missing = xc_err(
        &sb,
        &["image", "push", &registry.reference("xtk/never-tagged:1")],
    );
    assert!(
        missing.contains("An image does not exist locally with the tag"),
        "{missing}"
    );
}

#[test]
fn compose_push_pushes_the_images_of_services_that_build_theirs() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::plain(&sb).unwrap();
    let web = registry.reference("xtk/web:1");
    let worker = registry.reference("xtk/worker:2");
    let plain = registry.reference("xtk/plain:3");
    let id = local_image(&sb, &web);
    xc_ok(&sb, &["image", "tag", "busybox:latest", &worker]);
    xc_ok(&sb, &["image", "tag", "busybox:latest", &plain]);
    let dir = sb.temp_dir().join("push-project");
    std::fs::create_dir_all(&dir).unwrap();
    let compose = dir.join("compose.yaml");
    // As compose: only services with both `build` and `image` are pushed; `plain` is skipped.
    std::fs::write(
        &compose,
        format!(
            "services:\n  web:\n    build: .\n    image: {web}\n  worker:\n    build: .\n    image: {worker}\n  plain:\n    image: {plain}\n"
        ),
    )
    .unwrap();
    let out = xc(&sb, &["-f", compose.to_str().unwrap(), "push", "-q"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "-q prints nothing: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    for name in ["xtk/web:1", "xtk/worker:2"] {
        let raw = registry.skopeo_inspect(&sb, name, true).unwrap();
        assert_eq!(raw["config"]["digest"], id.as_str(), "{name}");
    }
    assert!(
        registry.skopeo_inspect(&sb, "xtk/plain:3", true).is_err(),
        "a service without build is not pushed"
    );
}
