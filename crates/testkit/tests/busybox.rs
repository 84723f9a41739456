//! tests/images/build-busybox-rootfs.sh: a deterministic rootfs tar whose /bin/sh runs.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

fn extract(tar: &Path, into: &Path) {
    let status = Command::new("tar")
        .args([
            "--extract",
            "--numeric-owner",
            "--same-permissions",
            "--file",
        ])
        .arg(tar)
        .arg("--directory")
        .arg(into)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn the_rootfs_runs_sh_in_a_chroot() {
    xcompose_testkit::require_root().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("out/busybox.tar");
    xcompose_testkit::build_busybox_rootfs(&tar).unwrap();
    let root = dir.path().join("rootfs");
    std::fs::create_dir(&root).unwrap();
    extract(&tar, &root);

    let output = Command::new("chroot")
        .arg(&root)
        .args(["/bin/sh", "-c", "echo ok"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "ok\n");

    assert_eq!(
        std::fs::read_link(root.join("bin/sh")).unwrap(),
        Path::new("/bin/busybox")
    );
    assert!(root
        .join("bin/busybox")
        .symlink_metadata()
        .unwrap()
        .is_file());
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(
        passwd.lines().any(|l| l.starts_with("root:x:0:0:")),
        "{passwd}"
    );
    assert!(
        passwd
            .lines()
            .any(|l| l.starts_with("nobody:x:65534:65534:")),
        "{passwd}"
    );
    assert!(
        passwd.lines().any(|l| l.starts_with("app:x:1000:1000:")),
        "{passwd}"
    );
    let group = std::fs::read_to_string(root.join("etc/group")).unwrap();
    for entry in ["root:x:0:", "nogroup:x:65534:", "app:x:1000:"] {
        assert!(
            group.lines().any(|l| l == entry),
            "{entry} missing from {group}"
        );
    }
    let tmp = std::fs::metadata(root.join("tmp")).unwrap();
    assert_eq!(tmp.permissions().mode() & 0o7777, 0o1777);
    assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
    assert!(root.join("root").is_dir());
    let home = std::fs::metadata(root.join("home/app")).unwrap();
    assert_eq!((home.uid(), home.gid()), (1000, 1000));
    // The user database works inside: `id app` resolves through /etc/passwd and /etc/group.
    let id = Command::new("chroot")
        .arg(&root)
        .args(["/bin/sh", "-c", "id app"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&id.stdout),
        "uid=1000(app) gid=1000(app) groups=1000(app)\n"
    );
}

#[test]
fn the_tar_is_deterministic_with_numeric_owners_and_no_dot_prefix() {
    xcompose_testkit::require_root().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("a.tar");
    let second = dir.path().join("b.tar");
    xcompose_testkit::build_busybox_rootfs(&first).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100)); // a different second for mtimes
    xcompose_testkit::build_busybox_rootfs(&second).unwrap();
    xcompose_testkit::build_busybox_rootfs(&second).unwrap(); // idempotent: overwrites in place
    assert!(
        std::fs::read(&first).unwrap() == std::fs::read(&second).unwrap(),
        "two builds differ"
    );

    let listing = Command::new("tar")
        .args(["--list", "--verbose", "--numeric-owner", "--file"])
        .arg(&first)
        .output()
        .unwrap();
    let listing = String::from_utf8(listing.stdout).unwrap();
    let names = Command::new("tar")
        .args(["--list", "--file"])
        .arg(&first)
        .output()
        .unwrap();
    let names = String::from_utf8(names.stdout).unwrap();
    let names: Vec<&str> = names.lines().collect();
    assert!(
        names.contains(&"bin/sh") && names.contains(&"etc/passwd"),
        "{names:?}"
    );
    assert!(
        listing.lines().all(|l| l.contains(" 2000-01-01 00:00 ")),
        "{listing}"
    );
    assert!(
        names
            .iter()
            .all(|n| !n.starts_with("./") && !n.starts_with('/')),
        "{names:?}"
    );
    assert!(
        listing
            .lines()
            .any(|l| l.contains(" 1000/1000 ") && l.ends_with(" home/app/")),
        "{listing}"
    );
    // No temporary files left next to the output.
    let mut entries: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    entries.sort();
    assert_eq!(entries, ["a.tar", "b.tar"]);
}

#[test]
fn a_missing_busybox_names_the_package_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new("bash")
        .arg(xcompose_testkit::busybox_rootfs_script())
        .arg(dir.path().join("out.tar"))
        .env("BUSYBOX", dir.path().join("no-busybox"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("apt-get install busybox-static"),
        "{stderr}"
    );
    assert!(!dir.path().join("out.tar").exists());
}

#[test]
fn the_cached_image_tar_is_built_once() {
    xcompose_testkit::require_root().unwrap();
    let tar = xcompose_testkit::busybox_image_tar().unwrap();
    assert!(tar.is_file(), "{}", tar.display());
    assert!(tar.ends_with("xcompose-testkit/busybox.tar"));
    let modified = std::fs::metadata(&tar).unwrap().modified().unwrap();
    assert_eq!(xcompose_testkit::busybox_image_tar().unwrap(), tar);
    assert_eq!(
        std::fs::metadata(&tar).unwrap().modified().unwrap(),
        modified
    );
}
