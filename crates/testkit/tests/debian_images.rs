//! tests/images/build-debian-images.sh: one `docker save` archive with redis and nginx images
//! that share a Debian layer, carry their official images' configs, and whose daemons run.

use std::os::unix::fs::FileTypeExt as _;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use xcompose_testkit::{debian_images_tar, DEBIAN_NGINX_IMAGE, DEBIAN_REDIS_IMAGE};

/// The file `name` of the tar `archive`.
fn member(archive: &Path, name: &str) -> Vec<u8> {
    let output = Command::new("tar")
        .arg("--extract")
        .arg("--to-stdout")
        .arg("--file")
        .arg(archive)
        .arg(name)
        .output()
        .unwrap();
    assert!(output.status.success(), "tar {name}: {output:?}");
    output.stdout
}

/// The archive's manifest entry for `tag` and the image config it names.
fn image(archive: &Path, tag: &str) -> (Value, Value) {
    let manifest: Vec<Value> = serde_json::from_slice(&member(archive, "manifest.json")).unwrap();
    let entry = manifest
        .into_iter()
        .find(|e| e["RepoTags"] == json!([tag]))
        .unwrap_or_else(|| panic!("no image tagged {tag} in manifest.json"));
    let config =
        serde_json::from_slice(&member(archive, entry["Config"].as_str().unwrap())).unwrap();
    (entry, config)
}

#[test]
fn redis_and_nginx_have_their_official_images_configs_over_one_debian_layer() {
    xcompose_testkit::require_root().unwrap();
    let archive = debian_images_tar().unwrap();
    let (redis_entry, redis) = image(&archive, DEBIAN_REDIS_IMAGE);
    let (nginx_entry, nginx) = image(&archive, DEBIAN_NGINX_IMAGE);

    assert_eq!(
        redis["config"]["Cmd"],
        json!(["redis-server", "--protected-mode", "no"])
    );
    assert_eq!(redis["config"]["Volumes"], json!({"/data": {}}));
    assert_eq!(redis["config"]["WorkingDir"], json!("/data"));
    assert_eq!(redis["config"]["ExposedPorts"], json!({"6379/tcp": {}}));
    assert_eq!(
        nginx["config"]["Cmd"],
        json!(["nginx", "-g", "daemon off;"])
    );
    assert_eq!(nginx["config"]["StopSignal"], json!("SIGQUIT"));
    assert_eq!(nginx["config"]["ExposedPorts"], json!({"80/tcp": {}}));

    let redis_layers = redis_entry["Layers"].as_array().unwrap();
    let nginx_layers = nginx_entry["Layers"].as_array().unwrap();
    assert_eq!(redis_layers.len(), 2, "{redis_entry}");
    assert_eq!(nginx_layers.len(), 2, "{nginx_entry}");
    assert_eq!(
        redis_layers[0], nginx_layers[0],
        "the Debian layer is shared"
    );
    assert_ne!(redis_layers[1], nginx_layers[1]);
    assert_eq!(
        redis["rootfs"]["diff_ids"][0],
        nginx["rootfs"]["diff_ids"][0]
    );
}

#[test]
fn the_daemons_and_the_probe_run_in_the_debian_layer() {
    xcompose_testkit::require_root().unwrap();
    let archive = debian_images_tar().unwrap();
    let (entry, _) = image(&archive, DEBIAN_REDIS_IMAGE);
    let dir = tempfile::tempdir().unwrap();
    let layer = dir.path().join("layer.tar");
    std::fs::write(
        &layer,
        member(&archive, entry["Layers"][0].as_str().unwrap()),
    )
    .unwrap();
    let root = dir.path().join("rootfs");
    std::fs::create_dir(&root).unwrap();
    let status = Command::new("tar")
        .args([
            "--extract",
            "--numeric-owner",
            "--same-permissions",
            "--file",
        ])
        .arg(&layer)
        .arg("--directory")
        .arg(&root)
        .status()
        .unwrap();
    assert!(status.success());

    for (program, says) in [
        (&["redis-server", "--version"][..], "Redis server v=7."),
        (&["redis-cli", "--version"][..], "redis-cli 7."),
        (&["nginx", "-v"][..], "nginx version: nginx/"),
        (&["busybox", "wget", "--help"][..], "Usage: wget"),
    ] {
        let output = Command::new("chroot")
            .arg(&root)
            .args(program)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(text.contains(says), "{program:?} printed {text:?}");
    }
    // debootstrap's device nodes are kept, as in any image made from a debootstrap tree.
    for device in ["dev/null", "dev/full", "dev/zero"] {
        let kind = std::fs::symlink_metadata(root.join(device))
            .unwrap()
            .file_type();
        assert!(kind.is_char_device(), "/{device} is {kind:?}");
    }
    // Nothing of the build host or of apt's downloads is left in the image.
    assert_eq!(std::fs::read(root.join("etc/resolv.conf")).unwrap(), b"");
    assert_eq!(
        std::fs::read_dir(root.join("var/lib/apt/lists"))
            .unwrap()
            .count(),
        0
    );
    assert!(!root
        .join("var/cache/apt/archives")
        .read_dir()
        .unwrap()
        .any(|e| { e.unwrap().file_name().to_string_lossy().ends_with(".deb") }));
}

#[test]
fn the_archive_is_cached_outside_the_target_directory_under_the_script_s_hash() {
    xcompose_testkit::require_root().unwrap();
    let tar = debian_images_tar().unwrap();
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    assert!(!tar.starts_with(&target), "{}", tar.display());
    let sum = Command::new("sha256sum")
        .arg(xcompose_testkit::debian_images_script())
        .output()
        .unwrap();
    let hash = String::from_utf8(sum.stdout).unwrap()[..16].to_string();
    assert_eq!(
        tar.file_name().unwrap().to_str().unwrap(),
        format!("debian-images-{hash}.tar")
    );
}
