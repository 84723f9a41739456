//! `xcompose image` on a private state root with the busybox test image: import, ls, tag,
//! inspect, rm, save, load and prune, with their output and exit codes.

use std::process::{Command, Output};

fn xcompose(root: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xcompose")).arg("--root").arg(root).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn import_ls_tag_inspect_rm() {
    let root = tempfile::tempdir().unwrap();
    let tar = xcompose_testkit::busybox_image_tar().unwrap();
    let id = stdout(&xcompose(root.path(), &["image", "import", tar.to_str().unwrap(), "busybox:latest"])).trim().to_string();
    assert!(id.starts_with("sha256:"));
    stdout(&xcompose(root.path(), &["image", "tag", "busybox", "mybox:1"]));
    let ls = stdout(&xcompose(root.path(), &["image", "ls"]));
    assert!(ls.lines().next().unwrap().starts_with("REPOSITORY"));
    assert!(ls.lines().any(|l| l.starts_with("busybox ") && l.contains(&id[7..19])), "{ls}");
    assert!(ls.lines().any(|l| l.starts_with("mybox ") && l.contains(" 1 ")), "{ls}");
    let inspect: serde_json::Value = serde_json::from_str(&stdout(&xcompose(root.path(), &["image", "inspect", "mybox:1"]))).unwrap();
    assert_eq!(inspect[0]["Id"], id.as_str());
    assert_eq!(stdout(&xcompose(root.path(), &["image", "rm", "mybox:1"])), "Untagged: docker.io/library/mybox:1\n");
    assert_eq!(stdout(&xcompose(root.path(), &["image", "rm", "busybox"])), format!("Untagged: docker.io/library/busybox:latest\nDeleted: {id}\n"));
    let missing = xcompose(root.path(), &["image", "rm", "busybox"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("No such image: busybox"));
}

/// `image import --change` applies Dockerfile instructions to the image's configuration, as
/// `docker import --change`: they show in `image inspect`; a bad one is refused and imports
/// nothing.
#[test]
fn import_with_changes_sets_the_config() {
    let root = tempfile::tempdir().unwrap();
    let tar = xcompose_testkit::busybox_image_tar().unwrap();
    let tar = tar.to_str().unwrap();
    let changes = [
        "CMD [\"httpd\", \"-f\"]",
        "ENTRYPOINT [\"/bin/sh\", \"-c\"]",
        "CMD [\"sleep 1000\"]",
        "ENV PATH=/bin MODE=\"web server\"",
        "EXPOSE 80 53/udp",
        "LABEL tier=front",
        "STOPSIGNAL SIGINT",
        "USER nobody",
        "VOLUME /data",
        "WORKDIR /srv",
    ];
    let mut args = vec!["image", "import"];
    for change in &changes {
        args.extend(["--change", change]);
    }
    args.extend([tar, "changed:1"]);
    stdout(&xcompose(root.path(), &args));
    let inspect: serde_json::Value = serde_json::from_str(&stdout(&xcompose(root.path(), &["image", "inspect", "changed:1"]))).unwrap();
    let config = &inspect[0]["Config"];
    assert_eq!(config["Entrypoint"], serde_json::json!(["/bin/sh", "-c"]), "{config}");
    assert_eq!(config["Cmd"], serde_json::json!(["sleep 1000"]), "{config}");
    assert_eq!(config["Env"], serde_json::json!(["PATH=/bin", "MODE=web server"]), "{config}");
    assert_eq!(config["ExposedPorts"], serde_json::json!({"80/tcp": {}, "53/udp": {}}), "{config}");
    assert_eq!(config["Labels"], serde_json::json!({"tier": "front"}), "{config}");
    assert_eq!(config["StopSignal"], "SIGINT");
    assert_eq!(config["User"], "nobody");
    assert_eq!(config["Volumes"], serde_json::json!({"/data": {}}), "{config}");
    assert_eq!(config["WorkingDir"], "/srv");

    let bad = xcompose(root.path(), &["image", "import", "--change", "RUN make", tar, "bad:1"]);
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("RUN is not a valid change command") && stderr.lines().count() == 1, "{stderr}");
    assert!(!stdout(&xcompose(root.path(), &["image", "ls"])).contains("bad "), "nothing imported");
}

/// Runs xcompose with `stdin` as its standard input.
fn xcompose_with_input(root: &std::path::Path, args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_xcompose"))
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn import_busybox(root: &std::path::Path, reference: &str) -> String {
    let tar = xcompose_testkit::busybox_image_tar().unwrap();
    stdout(&xcompose(root, &["image", "import", tar.to_str().unwrap(), reference])).trim().to_string()
}

#[test]
fn save_rm_load_gives_back_the_same_image() {
    let root = tempfile::tempdir().unwrap();
    let id = import_busybox(root.path(), "busybox:latest");
    let file = root.path().join("busybox.tar");
    assert_eq!(stdout(&xcompose(root.path(), &["image", "save", "-o", file.to_str().unwrap(), "busybox"])), "");
    let streamed = xcompose(root.path(), &["image", "save", "busybox"]);
    assert!(streamed.status.success());
    assert!(streamed.stdout == std::fs::read(&file).unwrap(), "stdout gets the same archive");
    stdout(&xcompose(root.path(), &["image", "rm", "busybox"]));
    assert_eq!(stdout(&xcompose(root.path(), &["image", "load", "-i", file.to_str().unwrap()])), "Loaded image: busybox:latest\n");
    let inspect: serde_json::Value = serde_json::from_str(&stdout(&xcompose(root.path(), &["image", "inspect", "busybox"]))).unwrap();
    assert_eq!(inspect[0]["Id"], id.as_str(), "the same image ID");
    // From stdin, quietly, and again: the same line, nothing changes.
    let again = xcompose_with_input(root.path(), &["image", "load", "-q"], &std::fs::read(&file).unwrap());
    assert_eq!(stdout(&again), "Loaded image: busybox:latest\n");
    assert_eq!(stdout(&xcompose(root.path(), &["image", "ls", "-q"])), format!("{}\n", &id[7..19]));

    let missing = xcompose(root.path(), &["image", "save", "-o", "/nonexistent/dir/x.tar", "busybox"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/dir"), "{}", String::from_utf8_lossy(&missing.stderr));
    let unknown = xcompose(root.path(), &["image", "save", "-o", file.to_str().unwrap(), "nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("No such image: nope"));
    assert!(std::fs::metadata(&file).unwrap().len() > 0, "a failed save leaves the earlier archive alone");
}

#[test]
fn a_tampered_archive_is_refused_and_loads_nothing() {
    let root = tempfile::tempdir().unwrap();
    import_busybox(root.path(), "busybox:latest");
    let file = root.path().join("busybox.tar");
    stdout(&xcompose(root.path(), &["image", "save", "-o", file.to_str().unwrap(), "busybox"]));
    // Flip one byte of the layer blob (uncompressed: its digest is its diff_id), in a ustar
    // archive whose 512-byte header starts with the entry's name.
    let inspect: serde_json::Value = serde_json::from_str(&stdout(&xcompose(root.path(), &["image", "inspect", "busybox"]))).unwrap();
    let layer = format!("blobs/sha256/{}", inspect[0]["RootFS"]["diff_ids"][0].as_str().unwrap().trim_start_matches("sha256:"));
    let mut bytes = std::fs::read(&file).unwrap();
    let header = bytes.windows(layer.len()).position(|w| w == layer.as_bytes()).unwrap();
    assert_eq!(header % 512, 0);
    bytes[header + 512 + 4096] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();

    let other = tempfile::tempdir().unwrap();
    let out = xcompose(other.path(), &["image", "load", "-i", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid image archive") && stderr.contains("tampered"), "{stderr}");
    assert_eq!(stdout(&xcompose(other.path(), &["image", "ls", "-q"])), "");
    let missing = xcompose(other.path(), &["image", "load", "-i", "/nonexistent.tar"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("open /nonexistent.tar"));
}

/// Creates a container of `image` (without starting it or making namespaces).
fn create_container(root: &std::path::Path, image: &str) -> String {
    use xcompose_container::{ContainerSpec, NetworkNamespace, RootFs};
    let runtime = xcompose_runtime::Runtime::open(root, std::path::Path::new(env!("CARGO_BIN_EXE_xcompose"))).unwrap();
    let process = ContainerSpec::new(RootFs::Directory("/".into()), vec!["/bin/true".into()]).process;
    runtime
        .create(xcompose_runtime::CreateRequest {
            network: NetworkNamespace::Join("/proc/self/ns/net".into()),
            stop_grace: std::time::Duration::from_secs(1),
            ..xcompose_runtime::CreateRequest::new("user", image, process)
        })
        .unwrap()
}

#[test]
fn prune_asks_removes_dangling_images_and_with_all_what_no_container_uses() {
    let root = tempfile::tempdir().unwrap();
    let old = import_busybox(root.path(), "app");
    let new = import_busybox(root.path(), "app");
    let ls = stdout(&xcompose(root.path(), &["image", "ls"]));
    assert!(ls.lines().any(|l| l.starts_with("<none> ") && l.contains(" <none> ") && l.contains(&old[7..19])), "{ls}");

    let declined = xcompose_with_input(root.path(), &["image", "prune"], b"n\n");
    assert_eq!(stdout(&declined), "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ");
    assert_eq!(stdout(&xcompose(root.path(), &["image", "ls", "-q"])).lines().count(), 2, "nothing removed");

    let accepted = stdout(&xcompose_with_input(root.path(), &["image", "prune"], b"y\n"));
    let expected = format!("Are you sure you want to continue? [y/N] Deleted Images:\ndeleted: {old}\n\nTotal reclaimed space: ");
    assert!(accepted.contains(&expected) && accepted.ends_with("B\n"), "{accepted}");
    assert_eq!(stdout(&xcompose(root.path(), &["image", "prune", "-f"])), "Total reclaimed space: 0B\n");

    let container = create_container(root.path(), "app");
    let other = import_busybox(root.path(), "other:1");
    let all = stdout(&xcompose(root.path(), &["image", "prune", "-a", "-f"]));
    assert!(all.starts_with(&format!("Deleted Images:\nuntagged: other:1\ndeleted: {other}\n\nTotal reclaimed space: ")), "{all}");
    assert_eq!(stdout(&xcompose(root.path(), &["image", "ls", "-q"])), format!("{}\n", &new[7..19]), "the image in use stays");
    let rm = xcompose(root.path(), &["image", "rm", "app"]);
    assert_eq!(rm.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&rm.stderr);
    assert!(stderr.contains(&format!("container {} is using its referenced image {}", &container[..12], &new[7..19])), "{stderr}");
}
