//! `xcompose config` as a user meets it: its YAML output loads back to the same project, and bad
//! input gives exit code 1 with one line naming the file and what is wrong.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn xcompose(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xcompose"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("HOME", "/root")
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap()
}

fn corpus_projects() -> Vec<PathBuf> {
    let corpus = std::env::var_os("XCOMPOSE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"));
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(corpus.join("compose/awesome")).unwrap().flatten().map(|e| e.path()).collect();
    dirs.sort();
    dirs
}

#[test]
fn yaml_output_loads_back_to_the_same_project() {
    let out_dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for dir in corpus_projects() {
        let json = xcompose(&dir, &["config", "--format", "json"]);
        assert!(json.status.success(), "{}: {}", dir.display(), String::from_utf8_lossy(&json.stderr));
        let yaml = xcompose(&dir, &["config"]);
        assert!(yaml.status.success());
        let file = out_dir.path().join("printed.yaml");
        std::fs::write(&file, &yaml.stdout).unwrap();
        let again = xcompose(&dir, &["-f", file.to_str().unwrap(), "--project-directory", dir.to_str().unwrap(), "config", "--format", "json"]);
        assert!(again.status.success(), "{}: {}", dir.display(), String::from_utf8_lossy(&again.stderr));
        let a: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        let b: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
        assert_eq!(a, b, "{}: the printed YAML loads to a different project", dir.display());
        checked += 1;
    }
    assert!(checked >= 39);
}

fn assert_one_line_error(out: &Output, expected: &[&str]) {
    assert_eq!(out.status.code(), Some(1), "exit code");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("WARN")).collect();
    assert_eq!(lines.len(), 1, "one line expected: {stderr:?}");
    for part in expected {
        assert!(lines[0].contains(part), "{:?} should contain {part:?}", lines[0]);
    }
}

#[test]
fn bad_input_exits_1_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |text: &str| std::fs::write(d.join("compose.yaml"), text).unwrap();

    write("services:\n  web:\n    image: x\n    imagee: y\n");
    assert_one_line_error(&xcompose(d, &["config"]), &["compose.yaml", "services.web additional properties 'imagee' not allowed", "line 4, column 5"]);

    write("services:\n  web:\n    image: x\n\n #c\n db:\n   image: y\n");
    assert_one_line_error(&xcompose(d, &["config"]), &["compose.yaml:6:4", "did not find expected key"]);

    write("services:\n  web:\n    image: x\n    ports: 80\n");
    assert_one_line_error(&xcompose(d, &["config"]), &["services.web.ports must be a array", "line 4"]);

    write("services:\n  web:\n    image: ${IMG:?set IMG}\n");
    assert_one_line_error(&xcompose(d, &["config"]), &["services.web.image", "required variable IMG is missing a value: set IMG"]);

    write("services:\n  web:\n    image: x\n    networks: [nope]\n");
    assert_one_line_error(&xcompose(d, &["config"]), &["refers to undefined network nope"]);

    assert_one_line_error(&xcompose(d, &["-f", "missing.yaml", "config"]), &["missing.yaml", "no such file or directory"]);

    let empty = tempfile::tempdir().unwrap();
    assert_one_line_error(&xcompose(empty.path(), &["config"]), &["no configuration file provided"]);
}

#[test]
fn quiet_prints_nothing_and_lists_print_names() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  web:\n    image: nginx\n    depends_on: [db]\n    volumes: [data:/d]\n  db:\n    image: postgres\n    profiles: [db]\nvolumes:\n  data:\n",
    )
    .unwrap();
    let q = xcompose(dir.path(), &["--profile", "db", "config", "-q"]);
    assert!(q.status.success() && q.stdout.is_empty());
    let services = xcompose(dir.path(), &["--profile", "db", "config", "--services"]);
    assert_eq!(String::from_utf8_lossy(&services.stdout), "db\nweb\n");
    let volumes = xcompose(dir.path(), &["--profile", "db", "config", "--volumes"]);
    assert_eq!(String::from_utf8_lossy(&volumes.stdout), "data\n");
    let networks = xcompose(dir.path(), &["config", "--networks", "web"]);
    assert_eq!(String::from_utf8_lossy(&networks.stdout), "default\n");
    let profiles = xcompose(dir.path(), &["config", "--profiles"]);
    assert_eq!(String::from_utf8_lossy(&profiles.stdout), "db\n");
    let images = xcompose(dir.path(), &["--profile", "db", "config", "--images"]);
    assert_eq!(String::from_utf8_lossy(&images.stdout), "postgres\nnginx\n");
}

#[test]
fn networks_lists_the_used_networks_whatever_services_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  web:\n    image: nginx\n    networks: [front, back]\n  db:\n    image: postgres\nnetworks:\n  front:\n  back:\n  unused:\n",
    )
    .unwrap();
    // docker compose v2.40.3 prints these three (in random order) for both.
    for args in [&["config", "--networks"][..], &["config", "--networks", "db"][..]] {
        let out = xcompose(dir.path(), args);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "back\ndefault\nfront\n", "{args:?}");
    }
}

#[test]
fn no_interpolate_keeps_the_templates() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  web:\n    image: app:${TAG:-1}\n    read_only: ${RO}\n    ports: [{target: '${PORT}'}]\n",
    )
    .unwrap();
    let out = xcompose(dir.path(), &["config", "--no-interpolate", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["services"]["web"]["image"], "app:${TAG:-1}");
    assert_eq!(v["services"]["web"]["read_only"], "${RO}");
    assert_eq!(v["services"]["web"]["ports"][0]["target"], "${PORT}");
}

#[test]
fn the_compose_file_can_come_from_stdin() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_xcompose"))
        .args(["-f", "-", "config", "--format", "json"])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"services:\n  web:\n    image: nginx\n    volumes: ['./html:/html']\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dir_name = dir.path().file_name().unwrap().to_string_lossy().to_lowercase();
    assert_eq!(v["name"], xcompose_loader::options::normalize_project_name(&dir_name));
    assert_eq!(v["services"]["web"]["volumes"][0]["source"], dir.path().join("html").display().to_string());
}

#[test]
fn no_consistency_prints_what_the_checks_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yaml"), "services:\n  a:\n    image: x\n    networks: [missing]\n").unwrap();
    assert_one_line_error(&xcompose(dir.path(), &["config"]), &["service \"a\" refers to undefined network missing"]);
    let out = xcompose(dir.path(), &["-p", "c", "config", "--no-consistency"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // docker compose v2.40.3's output, byte for byte.
    assert_eq!(String::from_utf8_lossy(&out.stdout), "name: c\nservices:\n  a:\n    image: x\n    networks:\n      missing: null\n");
}

#[test]
fn variables_and_environment_of_a_project() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yaml"), "services:\n  a:\n    image: \"x:${TAG:-latest}\"\n    ports: [\"${PORT}:80\"]\n    environment:\n      R: ${REQ:?need it}\n").unwrap();
    std::fs::write(dir.path().join(".env"), "FROM_DOT_ENV=1\n").unwrap();
    // docker compose v2.40.3's table (its rows in random order; xcompose's sorted).
    let out = xcompose(dir.path(), &["config", "--variables"]);
    let rows = [("NAME", "REQUIRED", "DEFAULT VALUE", "ALTERNATE VALUE"), ("PORT", "false", "", ""), ("REQ", "true", "", ""), ("TAG", "false", "latest", "")];
    let expected: String = rows.iter().map(|(a, b, c, d)| format!("{a:<20}{b:<20}{c:<20}{d}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "{}", String::from_utf8_lossy(&out.stderr));
    // The environment: the process's, the .env file's, the project name and the directory.
    std::fs::write(dir.path().join("compose.yaml"), "services:\n  a:\n    image: x\n").unwrap();
    let out = xcompose(dir.path(), &["-p", "envs", "config", "--environment"]);
    let path = std::env::var("PATH").unwrap_or_default();
    let expected = format!("COMPOSE_PROJECT_NAME=envs\nFROM_DOT_ENV=1\nHOME=/root\nPATH={path}\nPWD={}\n", dir.path().display());
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "{}", String::from_utf8_lossy(&out.stderr));
}
