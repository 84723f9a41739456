//! `xcompose image` on a private state root with the busybox test image.

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
