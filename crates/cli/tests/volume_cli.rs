//! `xcompose volume` on a private state root: each subcommand's output and exit codes, as
//! Docker's, and volumes a container uses being kept.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use xcompose_container::{ContainerSpec, Mount, MountKind, NetworkNamespace, RootFs};
use xcompose_runtime::{CreateRequest, Runtime};

fn xcompose(root: &Path, args: &[&str]) -> Output {
    xcompose_with_input(root, args, "")
}

fn xcompose_with_input(root: &Path, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xcompose"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts a failure with exit code 1 and exactly `stderr`; its standard output.
fn failure(o: &Output, stderr: &str) -> String {
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stderr), stderr);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn create_ls_and_inspect() {
    let root = tempfile::tempdir().unwrap();
    let host = tempfile::tempdir().unwrap();
    let r = root.path();
    assert_eq!(stdout(&xcompose(r, &["volume", "create", "--label", "tier=db", "--label", "flag", "vol10"])), "vol10\n");
    assert_eq!(stdout(&xcompose(r, &["volume", "create", "vol10"])), "vol10\n", "creating an existing volume succeeds");
    let device = host.path().to_str().unwrap();
    let bind = ["volume", "create", "-d", "local", "-o", "type=none", "-o", "o=bind", "-o", &format!("device={device}"), "vol2"];
    assert_eq!(stdout(&xcompose(r, &bind)), "vol2\n");
    let random = stdout(&xcompose(r, &["volume", "create"])).trim().to_string();
    assert_eq!(random.len(), 64, "{random}");
    assert!(random.chars().all(|c| c.is_ascii_hexdigit()));

    let ls = stdout(&xcompose(r, &["volume", "ls"]));
    assert_eq!(ls, format!("DRIVER    VOLUME NAME\nlocal     {random}\nlocal     vol2\nlocal     vol10\n"));
    assert_eq!(stdout(&xcompose(r, &["volume", "list", "-q"])), format!("{random}\nvol2\nvol10\n"));
    let json = stdout(&xcompose(r, &["volume", "ls", "--format", "json"]));
    let lines: Vec<serde_json::Value> = json.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[2],
        serde_json::json!({
            "Availability": "N/A", "Driver": "local", "Group": "N/A", "Labels": "flag=,tier=db", "Links": "N/A",
            "Mountpoint": r.join("volumes/vol10/_data"), "Name": "vol10", "Scope": "local", "Size": "N/A", "Status": "N/A",
        })
    );

    let inspect = stdout(&xcompose(r, &["volume", "inspect", "vol10", "vol2"]));
    assert!(inspect.starts_with("[\n    {\n        \"CreatedAt\": "), "four-space indents, as Docker: {inspect}");
    let parsed: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    let created = parsed[0]["CreatedAt"].as_str().unwrap();
    let created = chrono::DateTime::parse_from_rfc3339(created).unwrap();
    assert!((chrono::Utc::now() - created.to_utc()).num_seconds().abs() < 120);
    assert_eq!(
        parsed[0],
        serde_json::json!({
            "CreatedAt": parsed[0]["CreatedAt"], "Driver": "local", "Labels": {"flag": "", "tier": "db"},
            "Mountpoint": r.join("volumes/vol10/_data"), "Name": "vol10", "Options": {}, "Scope": "local",
        })
    );
    assert_eq!(parsed[1]["Mountpoint"], host.path().canonicalize().unwrap().to_str().unwrap());
    assert_eq!(parsed[1]["Options"], serde_json::json!({"device": device, "o": "bind", "type": "none"}));

    let missing = xcompose(r, &["volume", "inspect", "vol2", "nope"]);
    let shown: serde_json::Value = serde_json::from_str(&failure(&missing, "Error response from daemon: get nope: no such volume\n")).unwrap();
    assert_eq!(shown.as_array().unwrap().len(), 1, "the volumes found are still shown");
    assert_eq!(failure(&xcompose(r, &["volume", "inspect", "nope"]), "Error response from daemon: get nope: no such volume\n"), "[]\n");
}

#[test]
fn create_refuses_what_docker_refuses() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let cases: [(&[&str], String); 5] = [
        (&["a/b"], "create a/b: \"a/b\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path".into()),
        (&["x"], "create x: volume name is too short, names should be at least two alphanumeric characters".into()),
        (&["-d", "nfs-plugin", "v1"], "create v1: error looking up volume plugin nfs-plugin: plugin \"nfs-plugin\" not found".into()),
        (&["-o", "foo=bar", "v1"], "create v1: invalid option: \"foo\"".into()),
        (&["-o", "type=none", "v1"], "create v1: missing required option: \"device\"".into()),
    ];
    for (args, message) in cases {
        let out = xcompose(r, &[&["volume", "create"], args].concat());
        assert_eq!(failure(&out, &format!("Error response from daemon: {message}\n")), "");
    }
    let bad_label = xcompose(r, &["volume", "create", "--label", "=x", "v1"]);
    assert_eq!(bad_label.status.code(), Some(2), "a malformed flag is a usage error");
    assert!(String::from_utf8_lossy(&bad_label.stderr).contains("invalid label '=x': empty name"));
    assert_eq!(stdout(&xcompose(r, &["volume", "ls", "-q"])), "", "nothing was created");
}

#[test]
fn rm_prints_each_removed_volume_and_fails_on_unknown_ones() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for name in ["v1", "v2", "v3"] {
        stdout(&xcompose(r, &["volume", "create", name]));
    }
    assert_eq!(stdout(&xcompose(r, &["volume", "rm", "v1"])), "v1\n");
    assert!(!r.join("volumes/v1").exists());
    let out = xcompose(r, &["volume", "rm", "v2", "nope", "v1"]);
    let stderr = "Error response from daemon: get nope: no such volume\nError response from daemon: get v1: no such volume\n";
    assert_eq!(failure(&out, stderr), "v2\n", "the others are still removed");
    assert_eq!(stdout(&xcompose(r, &["volume", "remove", "-f", "nope", "v3"])), "nope\nv3\n", "-f: unknown volumes are no error");
    assert_eq!(stdout(&xcompose(r, &["volume", "ls", "-q"])), "");
}

#[test]
fn prune_asks_first_then_removes_anonymous_or_all_volumes() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    stdout(&xcompose(r, &["volume", "create", "--label", "com.docker.volume.anonymous=", "anon"]));
    stdout(&xcompose(r, &["volume", "create", "named"]));
    std::fs::write(r.join("volumes/anon/_data/f"), vec![0u8; 1234]).unwrap();
    std::fs::write(r.join("volumes/named/_data/f"), vec![0u8; 2_000_000]).unwrap();

    let warning = "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ";
    assert_eq!(stdout(&xcompose_with_input(r, &["volume", "prune"], "n\n")), warning);
    assert_eq!(stdout(&xcompose_with_input(r, &["volume", "prune"], "")), warning, "no answer is no");
    assert_eq!(stdout(&xcompose(r, &["volume", "ls", "-q"])), "anon\nnamed\n");
    assert_eq!(stdout(&xcompose_with_input(r, &["volume", "prune"], "y\n")), format!("{warning}Deleted Volumes:\nanon\n\nTotal reclaimed space: 1.234kB\n"));
    assert_eq!(stdout(&xcompose(r, &["volume", "prune", "-f"])), "Total reclaimed space: 0B\n");
    assert_eq!(stdout(&xcompose(r, &["volume", "prune", "-f", "-a"])), "Deleted Volumes:\nnamed\n\nTotal reclaimed space: 2MB\n");
    assert_eq!(stdout(&xcompose(r, &["volume", "ls", "-q"])), "");
}

/// A container record whose mounts include `source` (created, never started: no namespace or
/// mount is made).
fn container_mounting(root: &Path, name: &str, source: &Path) -> String {
    let tar = xcompose_testkit::busybox_image_tar().unwrap();
    stdout(&xcompose(root, &["image", "import", tar.to_str().unwrap(), "busybox:latest"]));
    let runtime = Runtime::open(root, Path::new(env!("CARGO_BIN_EXE_xcompose"))).unwrap();
    let process = ContainerSpec::new(RootFs::Directory("/".into()), vec!["/bin/true".into()]).process;
    runtime
        .create(CreateRequest {
            network: NetworkNamespace::Join("/proc/self/ns/net".into()),
            mounts: vec![Mount { target: "/data".into(), kind: MountKind::Bind { source: source.to_path_buf(), recursive: Default::default(), propagation: Default::default() }, read_only: false }],
            stop_grace: Duration::from_secs(1),
            ..CreateRequest::new(name, "busybox", process)
        })
        .unwrap()
}

#[test]
fn volumes_a_container_uses_are_neither_removed_nor_pruned() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for name in ["used", "free"] {
        stdout(&xcompose(r, &["volume", "create", "--label", "com.docker.volume.anonymous=", name]));
    }
    let id = container_mounting(r, "app", &r.join("volumes/used/_data"));
    let out = xcompose(r, &["volume", "rm", "-f", "used"]);
    assert_eq!(failure(&out, &format!("Error response from daemon: remove used: volume is in use - [{id}]\n")), "");
    assert_eq!(stdout(&xcompose(r, &["volume", "prune", "-f", "-a"])), "Deleted Volumes:\nfree\n\nTotal reclaimed space: 0B\n");
    assert_eq!(stdout(&xcompose(r, &["volume", "ls", "-q"])), "used\n");
}

#[test]
fn concurrent_creates_from_several_processes_make_one_volume() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let children: Vec<_> = (0..6)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_xcompose"))
                .arg("--root")
                .arg(r)
                .args(["volume", "create", "--label", &format!("by={i}"), "shared"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        assert_eq!(stdout(&child.wait_with_output().unwrap()), "shared\n");
    }
    let parsed: serde_json::Value = serde_json::from_str(&stdout(&xcompose(r, &["volume", "inspect", "shared"]))).unwrap();
    let labels = parsed[0]["Labels"].as_object().unwrap();
    assert_eq!(labels.len(), 1, "one creator's record, whole: {labels:?}");
    assert_eq!(stdout(&xcompose(r, &["volume", "ls", "-q"])), "shared\n");
    let mut entries: Vec<String> = std::fs::read_dir(r.join("volumes")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    entries.sort();
    assert_eq!(entries, [".lock", "shared"]);
}
