//! `xcompose convert --format kubernetes` on the example stacks, on the fixtures of every mapped
//! key (tests/convert-fixtures), and on every project of
//! ../shared/corpus/compose/awesome: the manifests and the list of what did not map (and why)
//! must equal the golden files in tests/convert-golden/<set>/<project>/ (`manifests.yaml`,
//! `warnings.txt`; `XCOMPOSE_UPDATE_GOLDEN=1` rewrites them), and every manifest must validate
//! offline against the Kubernetes OpenAPI schemas of several versions with PyPI's
//! kubernetes-validate (pinned in tests/install-deps.sh; `XCOMPOSE_KUBE_VALIDATE` to use another).

use std::path::{Path, PathBuf};
use std::process::Command;

const XCOMPOSE: &str = env!("CARGO_BIN_EXE_xcompose");

/// Kubernetes versions every manifest must validate against (strictly: no unknown fields).
const KUBERNETES_VERSIONS: [&str; 3] = ["1.28.0", "1.31.0", "1.34.0"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[path = "common/awesome.rs"]
mod awesome;
use awesome::corpus;

fn compose_file(dir: &Path) -> PathBuf {
    ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"]
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("{} has no compose file", dir.display()))
}

/// The projects of a directory of projects, by name.
fn projects(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        // examples/ also holds things that are not projects (examples/systemd).
        .filter(|p| !p.ends_with("examples/systemd"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), compose_file(&p)))
        .collect();
    out.sort();
    out
}

/// Converts `file`: (manifests, the warning and rename lines of stderr).
fn convert(file: &Path, extra: &[&str]) -> (String, String) {
    let out = Command::new(XCOMPOSE)
        .arg("-f")
        .arg(file)
        .args(["convert", "--format", "kubernetes"])
        .args(extra)
        .env_remove("COMPOSE_PROJECT_NAME")
        .env_remove("COMPOSE_FILE")
        .env_remove("COMPOSE_PROFILES")
        .env("DB_PASSWORD_FOR_FIXTURE", "pa55")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "convert {} failed: {stderr}", file.display());
    // The loader's own warnings (`WARN[0000] ... version is obsolete`) are compose's, not the conversion's.
    // Paths in the project are written relative to it, so the golden files hold wherever the corpus is.
    // The loader resolves them from the canonical directory, so compare with that.
    let project_dir = format!("{}/", file.parent().unwrap().canonicalize().unwrap().display());
    let report: String = stderr
        .lines()
        .filter(|l| l.starts_with("WARN ") || l.starts_with("renamed "))
        .map(|l| format!("{}\n", l.replace(&project_dir, "./")))
        .collect();
    (String::from_utf8(out.stdout).unwrap(), report)
}

/// Compares `actual` with golden file `path` (or writes it with XCOMPOSE_UPDATE_GOLDEN=1).
fn golden(path: &Path, actual: &str, failures: &mut Vec<String>) {
    if std::env::var_os("XCOMPOSE_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected != actual {
        failures.push(format!("{} differs (XCOMPOSE_UPDATE_GOLDEN=1 to accept):\n--- expected\n{expected}\n--- actual\n{actual}", path.display()));
    }
}

/// Validates every file in `dir` for each of [`KUBERNETES_VERSIONS`].
fn validate(dir: &Path) {
    let validator = std::env::var_os("XCOMPOSE_KUBE_VALIDATE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/xcompose-kube-validate/bin/kubernetes-validate"));
    assert!(validator.exists(), "{} not found: run tests/install-deps.sh (or set XCOMPOSE_KUBE_VALIDATE)", validator.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for version in KUBERNETES_VERSIONS {
        let out = Command::new(&validator).args(["--strict", "--quiet", "-k", version]).args(&files).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && !text.contains("ERROR"), "manifests invalid for Kubernetes {version}:\n{text}");
    }
}

/// Converts each project, compares with the golden files of `set`, and validates all manifests.
fn check(set: &str, projects: &[(String, PathBuf)], extra: &[&str]) {
    assert!(!projects.is_empty(), "no projects in {set}");
    let out = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (name, file) in projects {
        let (manifests, warnings) = convert(file, extra);
        assert!(manifests.starts_with("---\n"), "{name}: no manifests");
        let dir = repo().join("tests/convert-golden").join(set).join(name);
        golden(&dir.join("manifests.yaml"), &manifests, &mut failures);
        golden(&dir.join("warnings.txt"), &warnings, &mut failures);
        std::fs::write(out.path().join(format!("{name}.yaml")), manifests).unwrap();
    }
    validate(out.path());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn examples_match_their_golden_manifests_and_validate() {
    check("examples", &projects(&repo().join("examples")), &[]);
}

#[test]
fn examples_with_published_services_and_statefulsets_validate() {
    check("examples-loadbalancer-statefulset", &projects(&repo().join("examples")), &["--service-type", "loadbalancer", "--statefulset"]);
}

#[test]
fn fixtures_of_every_mapped_key_match_and_validate() {
    check("fixtures", &projects(&repo().join("tests/convert-fixtures")), &[]);
}

#[test]
fn fixtures_with_published_services_and_statefulsets_validate() {
    check("fixtures-loadbalancer-statefulset", &projects(&repo().join("tests/convert-fixtures")), &["--service-type", "loadbalancer", "--statefulset"]);
}

#[test]
fn every_awesome_compose_project_converts_and_validates() {
    check("awesome", &projects(&corpus()), &[]);
}

#[test]
fn kustomize_layout_has_a_base_and_an_overlay() {
    let out = tempfile::tempdir().unwrap();
    let file = repo().join("examples/web-stack/compose.yaml");
    let status = Command::new(XCOMPOSE)
        .arg("-f")
        .arg(&file)
        .args(["convert", "--format", "kubernetes", "--kustomize", "-o"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let base = std::fs::read_to_string(out.path().join("base/kustomization.yaml")).unwrap();
    for file in ["web-deployment.yaml", "db-deployment.yaml", "data-persistentvolumeclaim.yaml", "backend-network-networkpolicy.yaml"] {
        assert!(base.contains(&format!("  - {file}\n")), "base/kustomization.yaml misses {file}:\n{base}");
        assert!(out.path().join("base").join(file).exists(), "base/{file} not written");
    }
    let overlay = std::fs::read_to_string(out.path().join("overlays/web-stack/kustomization.yaml")).unwrap();
    assert!(overlay.contains("namespace: web-stack\n") && overlay.contains("  - \"../../base\"\n"), "{overlay}");
    let namespace = std::fs::read_to_string(out.path().join("overlays/web-stack/namespace.yaml")).unwrap();
    assert!(namespace.contains("kind: Namespace") && namespace.contains("name: web-stack"), "{namespace}");
}

#[test]
fn kustomize_without_a_directory_is_refused() {
    let file = repo().join("examples/web-stack/compose.yaml");
    let out = Command::new(XCOMPOSE).arg("-f").arg(&file).args(["convert", "--format", "kubernetes", "--kustomize"]).output().unwrap();
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "--kustomize writes a directory: give it with -o DIR\n");
}

#[test]
fn convert_without_kubernetes_is_composes_alias_of_config() {
    let file = repo().join("examples/web-stack/compose.yaml");
    let run = |args: &[&str]| Command::new(XCOMPOSE).arg("-f").arg(&file).args(args).output().unwrap();
    for (convert, config) in [(vec!["convert"], vec!["config"]), (vec!["convert", "--format", "json"], vec!["config", "--format", "json"])] {
        let (a, b) = (run(&convert), run(&config));
        assert!(a.status.success() && b.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
        assert!(!a.stdout.is_empty());
        assert_eq!(a.stdout, b.stdout, "{convert:?} differs from {config:?}");
    }
    let out = run(&["convert", "--statefulset"]);
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "--kustomize and --statefulset are options of --format kubernetes\n");
}

#[test]
fn deploy_needs_a_target_and_a_unix_socket() {
    let file = repo().join("examples/web-stack/compose.yaml");
    let out = Command::new(XCOMPOSE).arg("-f").arg(&file).arg("deploy").output().unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "deploy needs a target: --swarm (to Kubernetes, write manifests with `xcompose convert --format kubernetes` and apply them)\n"
    );
    let out = Command::new(XCOMPOSE).arg("-f").arg(&file).args(["deploy", "--swarm", "--host", "tcp://127.0.0.1:2375"]).output().unwrap();
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "--host tcp://127.0.0.1:2375: only unix sockets are supported (unix:///var/run/docker.sock)\n");
}
