//! The awesome-compose projects of ../shared/corpus that build an image (`build:`).
//!
//! The corpus holds their compose files (and some `.env` files) only: not one of their build
//! contexts, hence no Dockerfile, is there, so none of them can be built here, offline or not.
//! These tests record that (so whoever adds contexts to the corpus is told to build and bring
//! them up here, as issue 11 asks) and check that `xcompose build` refuses each with one line
//! naming what is missing, the context directory or (for `build: .`) the Dockerfile, as
//! `docker compose build` does ("unable to prepare context: path ... not found", "failed to read
//! dockerfile: open ...: no such file or directory").

use std::path::{Path, PathBuf};

use serde_json::Value;
use xcompose_testkit::Sandbox;

/// The binary under test.
const XCOMPOSE: &str = env!("CARGO_BIN_EXE_xcompose");

#[path = "common/awesome.rs"]
mod awesome;
use awesome::corpus;

/// A project's compose file, if it has one.
fn compose_file(project: &Path) -> Option<PathBuf> {
    [
        "compose.yaml",
        "compose.yml",
        "docker-compose.yaml",
        "docker-compose.yml",
    ]
    .iter()
    .map(|name| project.join(name))
    .find(|path| path.exists())
}

/// A project's name, its compose file, and its services that build with their Dockerfiles.
type BuildingProject = (String, PathBuf, Vec<(String, PathBuf)>);

/// Every project with a `build:` service: (project, compose file, [(service, Dockerfile)]), the
/// Dockerfile's path resolved against its context.
fn building_projects(sb: &Sandbox) -> Vec<BuildingProject> {
    let mut projects = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let Some(file) = compose_file(&dir) else {
            continue;
        };
        let out = sb
            .command(XCOMPOSE)
            .arg("--root")
            .arg(sb.root())
            .arg("-f")
            .arg(&file)
            .args(["config", "--format", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "config of {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let config: Value = serde_json::from_slice(&out.stdout).unwrap();
        let builds: Vec<(String, PathBuf)> = config["services"]
            .as_object()
            .unwrap()
            .iter()
            .filter_map(|(name, service)| {
                let build = &service["build"];
                let context = PathBuf::from(build["context"].as_str()?);
                let dockerfile = build["dockerfile"].as_str().unwrap_or("Dockerfile");
                Some((name.clone(), context.join(dockerfile)))
            })
            .collect();
        if !builds.is_empty() {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            projects.push((name, file, builds));
        }
    }
    projects
}

#[test]
fn no_corpus_project_that_builds_has_its_dockerfile() {
    let sb = Sandbox::new().unwrap();
    let projects = building_projects(&sb);
    assert!(
        projects.len() >= 20,
        "only {} projects with build: found",
        projects.len()
    );
    let present: Vec<String> = projects
        .iter()
        .flat_map(|(project, _, builds)| {
            builds
                .iter()
                .filter(|(_, dockerfile)| dockerfile.exists())
                .map(move |(service, dockerfile)| {
                    format!("{project}/{service}: {}", dockerfile.display())
                })
        })
        .collect();
    assert!(
        present.is_empty(),
        "these Dockerfiles are in the corpus now: build them and bring their projects up in a test \
         (base images through the testkit registry, as registry_realworld.rs does):\n{}",
        present.join("\n")
    );
}

#[test]
fn building_a_corpus_project_names_what_is_missing() {
    let sb = Sandbox::new().unwrap();
    for (project, file, builds) in building_projects(&sb) {
        let out = sb
            .command(XCOMPOSE)
            .arg("--root")
            .arg(sb.root())
            .arg("-f")
            .arg(&file)
            .arg("build")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{project}: build succeeded without a context:\n{stderr}"
        );
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(
            lines.len(),
            1,
            "{project}: expected one error line, got:\n{stderr}"
        );
        // The context if it is missing, else the Dockerfile in it.
        let missing: Vec<String> = builds
            .iter()
            .map(|(_, dockerfile)| {
                let context = dockerfile.parent().unwrap();
                let path = if context.exists() {
                    dockerfile.as_path()
                } else {
                    context
                };
                path.display().to_string()
            })
            .collect();
        assert!(
            missing.iter().any(|path| lines[0].contains(path.as_str())),
            "{project}: the error names none of {missing:?}:\n{stderr}"
        );
    }
}
