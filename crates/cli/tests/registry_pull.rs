//! `xcompose image pull` against a real registry (Debian's docker-registry in the sandbox), with
//! skopeo + umoci and dockerd pulling the same images as oracles: same image ID (config digest),
//! same diff_ids, same unpacked tree. Layer formats (gzip, zstd, uncompressed, whiteouts, hard
//! links), platforms, pinned digests, re-pulls, and the errors Docker gives, with nothing stored
//! when a pull fails.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use xcompose_testkit::{rootfs_listing, test_images, Dockerd, Registry, Sandbox, TREE_LISTING};

mod registry_common;
use registry_common::{inspect, xc, xc_err, xc_ok};

/// The image's diff_ids as `image inspect` shows them (Docker's `RootFS.Layers`).
fn diff_ids(inspected: &Value) -> Vec<String> {
    let rootfs = &inspected["RootFS"];
    let layers = if rootfs["Layers"].is_array() {
        &rootfs["Layers"]
    } else {
        &rootfs["diff_ids"]
    };
    layers
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect()
}

/// Every file in the image store (empty directories aside), to show a failed pull stored
/// nothing.
fn store_files(sb: &Sandbox) -> BTreeSet<PathBuf> {
    fn walk(dir: &Path, out: &mut BTreeSet<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk(&path, out);
            } else {
                out.insert(path);
            }
        }
    }
    let mut files = BTreeSet::new();
    walk(&sb.root().join("images"), &mut files);
    files.retain(|p| !p.ends_with("lock") && !p.to_string_lossy().ends_with(".lock"));
    files
}

/// The unpacked tree of `reference` as a container of it sees it (`run --rm`), by
/// [`TREE_LISTING`].
fn container_tree(sb: &Sandbox, reference: &str) -> String {
    let dir = sb
        .temp_dir()
        .join(format!("tree-{}", reference.replace(['/', ':', '@'], "_")));
    std::fs::create_dir_all(&dir).unwrap();
    let compose = dir.join("compose.yaml");
    std::fs::write(
        &compose,
        format!(
            "services:\n  t:\n    image: {reference}\n    pull_policy: never\n    entrypoint: []\n"
        ),
    )
    .unwrap();
    xc_ok(
        sb,
        &[
            "-f",
            compose.to_str().unwrap(),
            "run",
            "--rm",
            "-T",
            "t",
            "/bin/sh",
            "-c",
            TREE_LISTING,
        ],
    )
}

/// The unpacked tree of `name` on the registry as skopeo + umoci make it, and the config digest
/// of what skopeo pulled; `extra` goes to skopeo (`--override-arch`).
fn reference_tree(
    sb: &Sandbox,
    registry: &Registry,
    name: &str,
    extra: &[&str],
) -> (String, String) {
    let into = sb
        .temp_dir()
        .join(format!("skopeo-{}", name.replace(['/', ':', '@'], "_")));
    let layout = into.join("layout");
    registry
        .pull_oci(sb, name, &layout, "pulled", extra)
        .unwrap();
    let rootfs = into.join("rootfs");
    sb.run_ok(
        "umoci",
        &[
            "raw",
            "unpack",
            "--image",
            &format!("{}:pulled", layout.display()),
            rootfs.to_str().unwrap(),
        ],
    )
    .unwrap();
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest_path = layout
        .join("blobs/sha256")
        .join(manifest_digest.trim_start_matches("sha256:"));
    let manifest: Value = serde_json::from_slice(&std::fs::read(manifest_path).unwrap()).unwrap();
    (
        rootfs_listing(sb, &rootfs).unwrap(),
        manifest["config"]["digest"].as_str().unwrap().to_string(),
    )
}

/// Fails with the lines only one of the two listings has unless they are equal.
fn assert_same_tree(xcompose: &str, reference: &str, name: &str) {
    let ours: BTreeSet<&str> = xcompose.lines().collect();
    let theirs: BTreeSet<&str> = reference.lines().collect();
    let only_ours: Vec<&&str> = ours.difference(&theirs).collect();
    let only_theirs: Vec<&&str> = theirs.difference(&ours).collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "{name}: the unpacked trees differ\nonly in xcompose's container: {only_ours:#?}\nonly in umoci's unpacking: {only_theirs:#?}"
    );
}

#[test]
fn a_pulled_image_is_the_one_skopeo_and_dockerd_pull() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::plain(&sb).unwrap();
    let cases = [
        ("xtk/multi:1", test_images::multi_layer().unwrap()),
        ("xtk/whiteouts:1", test_images::whiteouts().unwrap()),
        ("xtk/links:1", test_images::hard_links().unwrap()),
    ];
    let dockerd = Dockerd::start(&sb).unwrap();
    for (name, image) in cases {
        let written = registry.push_image(&sb, &image, name).unwrap();
        let reference = registry.reference(name);
        let out = xc_ok(&sb, &["image", "pull", &reference]);
        assert!(
            out.contains(&format!("Digest: {}", written.manifest_digest)),
            "{out}"
        );
        assert!(
            out.contains(&format!("Status: Downloaded newer image for {reference}")),
            "{out}"
        );
        assert_eq!(
            out.lines().last(),
            Some(reference.as_str()),
            "docker pull ends with the reference:\n{out}"
        );

        let inspected = inspect(&sb, &reference);
        assert_eq!(inspected["Id"], written.config_digest.as_str(), "{name}");
        assert_eq!(diff_ids(&inspected), written.diff_ids, "{name}");
        let repo = reference.rsplit_once(':').unwrap().0;
        assert!(
            inspected["RepoDigests"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d == &format!("{repo}@{}", written.manifest_digest)),
            "{inspected}"
        );

        let (expected_tree, skopeo_config) = reference_tree(&sb, &registry, name, &[]);
        assert_eq!(skopeo_config, written.config_digest);
        assert_same_tree(&container_tree(&sb, &reference), &expected_tree, name);

        dockerd.run_ok(&sb, &["pull", "-q", &reference]).unwrap();
        assert_eq!(
            dockerd.image_id(&sb, &reference).unwrap(),
            written.config_digest,
            "{name}"
        );
        assert_eq!(
            dockerd.diff_ids(&sb, &reference).unwrap(),
            written.diff_ids,
            "{name}"
        );
    }
}

#[test]
fn whiteouts_hard_links_and_symlinks_unpack_as_docker_does() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::plain(&sb).unwrap();
    registry
        .push_image(&sb, &test_images::whiteouts().unwrap(), "xtk/whiteouts:1")
        .unwrap();
    registry
        .push_image(&sb, &test_images::hard_links().unwrap(), "xtk/links:1")
        .unwrap();
    let whiteouts = registry.reference("xtk/whiteouts:1");
    let links = registry.reference("xtk/links:1");
    xc_ok(&sb, &["image", "pull", &whiteouts]);
    xc_ok(&sb, &["image", "pull", &links]);
    let tree = container_tree(&sb, &whiteouts);
    assert!(tree.contains("./data/keep "), "{tree}");
    assert!(!tree.contains("./data/gone"), "{tree}");
    assert!(!tree.contains("./etc/gone.conf"), "{tree}");
    assert!(
        !tree.contains(".wh."),
        "whiteout files must not show: {tree}"
    );
    let cache: Vec<&str> = tree.lines().filter(|l| l.starts_with("./cache/")).collect();
    assert_eq!(cache.len(), 1, "{cache:?}");
    assert!(cache[0].starts_with("./cache/fresh "), "{cache:?}");

    let tree = container_tree(&sb, &links);
    for name in ["original", "second", "third"] {
        let line = tree
            .lines()
            .find(|l| l.starts_with(&format!("./srv/links/{name} ")))
            .unwrap();
        assert!(
            line.contains(" regular file 3 "),
            "link count 3 expected: {line}"
        );
    }
}

#[test]
fn zstd_and_uncompressed_layers_unpack() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::plain(&sb).unwrap();
    let written = registry
        .push_image(&sb, &test_images::zstd().unwrap(), "xtk/zstd:1")
        .unwrap();
    assert_eq!(
        written.layers[1].media_type,
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    let reference = registry.reference("xtk/zstd:1");
    xc_ok(&sb, &["image", "pull", &reference]);
    let inspected = inspect(&sb, &reference);
    assert_eq!(inspected["Id"], written.config_digest.as_str());
    assert_eq!(diff_ids(&inspected), written.diff_ids);
    let compose = sb.temp_dir().join("zstd.yaml");
    std::fs::write(
        &compose,
        format!("services:\n  t:\n    image: {reference}\n"),
    )
    .unwrap();
    let out = xc_ok(
        &sb,
        &[
            "-f",
            compose.to_str().unwrap(),
            "run",
            "--rm",
            "-T",
            "t",
            "cat",
            "/etc/xtk-zstd",
        ],
    );
    assert_eq!(out, test_images::ZSTD_MARK);

    // The multi-layer image's top layer is an uncompressed tar.
    let written = registry
        .push_image(&sb, &test_images::multi_layer().unwrap(), "xtk/multi:1")
        .unwrap();
    assert_eq!(
        written.layers[2].media_type,
        "application/vnd.oci.image.layer.v1.tar"
    );
    let reference = registry.reference("xtk/multi:1");
    xc_ok(&sb, &["image", "pull", &reference]);
    assert_eq!(diff_ids(&inspect(&sb, &reference)), written.diff_ids);
}

#[test]
fn a_repull_fetches_nothing_and_shared_layers_are_not_downloaded_again() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::plain(&sb).unwrap();
    let multi = registry
        .push_image(&sb, &test_images::multi_layer().unwrap(), "xtk/multi:1")
        .unwrap();
    let reference = registry.reference("xtk/multi:1");
    xc_ok(&sb, &["image", "pull", &reference]);
    // Without its layer blobs the registry can only answer for the manifest and config: a re-pull
    // that downloaded any layer would fail.
    for layer in &multi.layers {
        std::fs::remove_file(registry.blob_path(&layer.digest).unwrap()).unwrap();
    }
    let before = store_files(&sb);
    let out = xc_ok(&sb, &["image", "pull", &reference]);
    assert!(
        out.contains(&format!("Status: Image is up to date for {reference}")),
        "{out}"
    );
    assert!(
        out.contains(&format!("Digest: {}", multi.manifest_digest)),
        "{out}"
    );
    assert_eq!(store_files(&sb), before, "a re-pull changed the store");

    // Another image on the same busybox layer: that layer "Already exists".
    let zstd = registry
        .push_image(&sb, &test_images::zstd().unwrap(), "xtk/zstd:1")
        .unwrap();
    assert_eq!(zstd.layers[0].digest, multi.layers[0].digest);
    std::fs::remove_file(registry.blob_path(&zstd.layers[0].digest).unwrap()).unwrap();
    let out = xc_ok(&sb, &["image", "pull", &registry.reference("xtk/zstd:1")]);
    let short = &zstd.layers[0].digest["sha256:".len().."sha256:".len() + 12];
    assert!(out.contains(&format!("{short}: Already exists")), "{out}");
}

#[test]
fn the_platform_comes_from_the_host_or_is_asked_for() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::plain(&sb).unwrap();
    let index = registry
        .push_index(
            &sb,
            &test_images::two_platforms().unwrap(),
            "xtk/multiarch:1",
        )
        .unwrap();
    let reference = registry.reference("xtk/multiarch:1");
    let out = xc_ok(&sb, &["image", "pull", &reference]);
    assert!(
        out.contains(&format!("Digest: {}", index.digest)),
        "Docker shows the index's digest:\n{out}"
    );
    assert_eq!(
        inspect(&sb, &reference)["Id"],
        index.images[0].config_digest.as_str(),
        "amd64 is this host's"
    );

    // Asked for another platform, the tag moves to that platform's image, as with Docker.
    let out = xc_ok(
        &sb,
        &["image", "pull", "--platform", "linux/arm64", &reference],
    );
    assert_eq!(
        inspect(&sb, &reference)["Id"],
        index.images[1].config_digest.as_str(),
        "the tag moves to arm64:\n{out}"
    );

    // With the platform asked for, into a store without the image.
    let fresh = Sandbox::new().unwrap();
    let fresh_registry = Registry::plain(&fresh).unwrap();
    let index = fresh_registry
        .push_index(
            &fresh,
            &test_images::two_platforms().unwrap(),
            "xtk/multiarch:1",
        )
        .unwrap();
    let arm_reference = fresh_registry.reference("xtk/multiarch:1");
    xc_ok(
        &fresh,
        &["image", "pull", "--platform", "linux/arm64", &arm_reference],
    );
    assert_eq!(
        inspect(&fresh, &arm_reference)["Id"],
        index.images[1].config_digest.as_str()
    );
    let (_, skopeo_config) = reference_tree(
        &fresh,
        &fresh_registry,
        "xtk/multiarch:1",
        &["--override-arch", "arm64"],
    );
    assert_eq!(skopeo_config, index.images[1].config_digest);

    // An index without this host's platform.
    let arm_only = test_images::two_platforms().unwrap().remove(1);
    registry
        .push_index(&sb, &[arm_only], "xtk/armonly:1")
        .unwrap();
    let before = store_files(&sb);
    let err = xc_err(
        &sb,
        &["image", "pull", &registry.reference("xtk/armonly:1")],
    );
    assert!(
        err.contains("no matching manifest for linux/amd64"),
        "{err}"
    );
    assert!(
        err.contains("linux/arm64/v8"),
        "the available platforms are listed: {err}"
    );
    assert_eq!(store_files(&sb), before);
    let err = xc_err(
        &sb,
        &["image", "pull", "--platform", "linux/s390x", &reference],
    );
    assert!(
        err.contains("no matching manifest for linux/s390x"),
        "{err}"
    );
    assert!(
        err.contains("linux/amd64") && err.contains("linux/arm64/v8"),
        "{err}"
    );
}

#[test]
fn pinned_digests_are_pulled_and_verified() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::plain(&sb).unwrap();
    let written = registry
        .push_image(&sb, &test_images::multi_layer().unwrap(), "xtk/multi:1")
        .unwrap();
    let by_digest = registry.reference(&format!("xtk/multi@{}", written.manifest_digest));
    xc_ok(&sb, &["image", "pull", &by_digest]);
    assert_eq!(
        inspect(&sb, &by_digest)["Id"],
        written.config_digest.as_str()
    );
    let tag_and_digest = registry.reference(&format!("xtk/multi:1@{}", written.manifest_digest));
    xc_ok(&sb, &["image", "pull", &tag_and_digest]);

    // A digest the registry does not have: Docker's "manifest unknown".
    let absent = format!("sha256:{}", "0".repeat(64));
    let before = store_files(&sb);
    let err = xc_err(
        &sb,
        &[
            "image",
            "pull",
            &registry.reference(&format!("xtk/multi@{absent}")),
        ],
    );
    assert!(err.contains("not found: manifest unknown"), "{err}");
    assert_eq!(store_files(&sb), before);
}

#[test]
fn content_that_does_not_match_its_digest_stores_nothing() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::plain(&sb).unwrap();
    // A layer blob whose bytes the registry serves changed on disk (same size).
    let written = registry
        .push_image(&sb, &test_images::multi_layer().unwrap(), "xtk/bad-blob:1")
        .unwrap();
    let blob = registry.blob_path(&written.layers[1].digest).unwrap();
    let mut bytes = std::fs::read(&blob).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();
    let before = store_files(&sb);
    // Docker: "filesystem layer verification failed for digest sha256:...".
    let err = xc_err(
        &sb,
        &["image", "pull", &registry.reference("xtk/bad-blob:1")],
    );
    assert!(err.to_lowercase().contains("digest"), "{err}");
    assert_eq!(
        store_files(&sb),
        before,
        "a corrupt layer left something in the store"
    );
    assert!(!xc(
        &sb,
        &["image", "inspect", &registry.reference("xtk/bad-blob:1")]
    )
    .status
    .success());

    // A manifest pinned by digest whose served bytes differ.
    let written = registry
        .push_image(&sb, &test_images::zstd().unwrap(), "xtk/bad-manifest:1")
        .unwrap();
    let manifest = registry.blob_path(&written.manifest_digest).unwrap();
    let text = std::fs::read_to_string(&manifest).unwrap().replacen(
        "\"schemaVersion\":2",
        "\"schemaVersion\":2 ",
        1,
    );
    std::fs::write(&manifest, text).unwrap();
    let err = xc_err(
        &sb,
        &[
            "image",
            "pull",
            &registry.reference(&format!("xtk/bad-manifest@{}", written.manifest_digest)),
        ],
    );
    assert!(err.to_lowercase().contains("digest"), "{err}");
    assert_eq!(store_files(&sb), before);

    // A config whose diff_ids do not match the layers.
    registry
        .push_image(
            &sb,
            &test_images::zstd().unwrap().wrong_diff_id(1),
            "xtk/bad-diff-id:1",
        )
        .unwrap();
    let err = xc_err(
        &sb,
        &["image", "pull", &registry.reference("xtk/bad-diff-id:1")],
    );
    assert!(err.to_lowercase().contains("diff"), "{err}");
    assert_eq!(store_files(&sb), before);
}

#[test]
fn unknown_names_and_unreachable_registries_fail_as_docker_says() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::plain(&sb).unwrap();
    registry
        .push_image(&sb, &test_images::zstd().unwrap(), "xtk/present:1")
        .unwrap();
    let dockerd = Dockerd::start(&sb).unwrap();
    let docker_error = |reference: &str| -> String {
        let out = dockerd
            .docker(&sb)
            .args(["pull", reference])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        stderr
            .trim()
            .trim_start_matches("Error response from daemon: ")
            .to_string()
    };
    let before = store_files(&sb);
    for name in ["xtk/present:2", "xtk/absent:1"] {
        let reference = registry.reference(name);
        let err = xc_err(&sb, &["image", "pull", &reference]);
        assert!(err.contains(&docker_error(&reference)), "xcompose: {err}");
    }
    // Nothing listens there: Docker's words after the retries.
    let closed = format!("127.0.0.1:{}", registry.port() + 1);
    let err = xc_err(&sb, &["image", "pull", &format!("{closed}/xtk/present:1")]);
    assert!(
        err.contains(&format!("dial tcp {closed}: connect: connection refused")),
        "{err}"
    );
    assert_eq!(store_files(&sb), before);
}

#[test]
fn schema1_manifests_are_refused_with_docker_s_notice() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::builder().schema1().start(&sb).unwrap();
    let layout_dir = sb.temp_dir().join("v2s1");
    let layout = xcompose_testkit::OciLayout::create(&layout_dir).unwrap();
    layout
        .add_image(&test_images::multi_layer().unwrap(), "v1")
        .unwrap();
    registry
        .push_oci_schema1(&sb, &layout_dir, "v1", "xtk/old:1")
        .unwrap();
    let raw = registry.skopeo_inspect(&sb, "xtk/old:1", true).unwrap();
    assert_eq!(
        raw["schemaVersion"], 1,
        "the registry serves schema 1: {raw}"
    );
    let before = store_files(&sb);
    let err = xc_err(&sb, &["image", "pull", &registry.reference("xtk/old:1")]);
    assert!(
        err.contains("schema 1"),
        "Docker's deprecation notice: {err}"
    );
    assert_eq!(store_files(&sb), before);
}

#[test]
fn a_full_disk_mid_pull_fails_in_one_line_and_leaves_nothing() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::plain(&sb).unwrap();
    // 16 MB of incompressible data into a state root that holds 8 MB.
    registry
        .push_image(&sb, &test_images::big(1, 16 << 20).unwrap(), "xtk/big:1")
        .unwrap();
    let root = sb.root().to_str().unwrap();
    sb.run_ok("mount", &["-t", "tmpfs", "-o", "size=8m", "tmpfs", root])
        .unwrap();
    let err = xc_err(&sb, &["image", "pull", &registry.reference("xtk/big:1")]);
    assert!(
        err.to_lowercase().contains("no space left on device"),
        "{err}"
    );
    // Seen from inside the sandbox, where the small file system is mounted.
    let files = sb.run_ok("find", &[root, "-type", "f"]).unwrap();
    let left: Vec<&str> = files
        .lines()
        .filter(|f| !f.ends_with("lock") && !f.ends_with(".lock"))
        .collect();
    assert!(left.is_empty(), "a failed pull left files: {left:?}");
    let used = sb.run_ok("df", &["--output=used", "-k", root]).unwrap();
    let used_kb: u64 = used.lines().last().unwrap().trim().parse().unwrap();
    assert!(
        used_kb < 512,
        "{used_kb} kB still used after the failed pull"
    );
}

#[test]
fn a_layer_of_an_unknown_media_type_is_refused() {
    let sb = Sandbox::new().unwrap();
    let registry = Registry::plain(&sb).unwrap();
    let unknown = "application/vnd.xtk.unknown.layer.v1+tar";
    let image = test_images::zstd().unwrap().layer_media_type(1, unknown);
    registry.push_image(&sb, &image, "xtk/unknown:1").unwrap();
    let raw = registry.skopeo_inspect(&sb, "xtk/unknown:1", true).unwrap();
    assert_eq!(raw["layers"][1]["mediaType"], unknown);
    let before = store_files(&sb);
    let err = xc_err(
        &sb,
        &["image", "pull", &registry.reference("xtk/unknown:1")],
    );
    assert!(
        err.contains(unknown),
        "the error names the media type: {err}"
    );
    assert_eq!(store_files(&sb), before);
}
