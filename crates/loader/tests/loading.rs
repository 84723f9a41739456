//! Loading rules end to end: file discovery, overrides, profiles, extends, include, env files,
//! project names. Each test writes a small project to a temporary directory.

use std::path::Path;

use xcompose_loader::{load, LoadError, Project, ProjectOptions};

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn options(dir: &Path) -> ProjectOptions {
    ProjectOptions {
        cwd: dir.to_path_buf(),
        os_env: [("HOME".to_string(), "/home/u".to_string())].into_iter().collect(),
        interpolate: true,
        resolve_env_files: true,
        ..Default::default()
    }
}

fn load_in(dir: &Path, files: &[(&str, &str)]) -> Result<Project, LoadError> {
    write(dir, files);
    load(&options(dir))
}

#[test]
fn override_file_is_merged_and_default_network_added() {
    let dir = tempfile::tempdir().unwrap();
    let p = load_in(
        dir.path(),
        &[
            ("compose.yaml", "services:\n  web:\n    image: a\n    ports: ['80:80']\n"),
            ("compose.override.yaml", "services:\n  web:\n    image: b\n    ports: ['81:81']\n"),
        ],
    )
    .unwrap();
    let web = &p.services["web"];
    assert_eq!(web.image, "b");
    assert_eq!(web.ports.len(), 2);
    assert!(web.networks.contains_key("default"));
    let dirname = dir.path().file_name().unwrap().to_string_lossy().to_lowercase();
    assert_eq!(p.networks["default"].name, format!("{}_default", xcompose_loader::options::normalize_project_name(&dirname)));
}

#[test]
fn project_name_precedence() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &[("compose.yaml", "name: From_File\nservices:\n  a:\n    image: x\n")]);
    let mut opts = options(dir.path());
    assert_eq!(load(&opts).unwrap().name, "from_file");
    opts.os_env.insert("COMPOSE_PROJECT_NAME".into(), "fromenv".into());
    assert_eq!(load(&opts).unwrap().name, "fromenv");
    opts.project_name = Some("flag".into());
    assert_eq!(load(&opts).unwrap().name, "flag");
    opts.project_name = Some("Bad Name".into());
    assert!(load(&opts).unwrap_err().to_string().contains("invalid project name"));
}

#[test]
fn profiles_enable_services_and_named_services_enable_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let text = "services:\n  app:\n    image: x\n  dbg:\n    image: x\n    profiles: [debug]\n  all:\n    image: x\n    profiles: [debug, ops]\n";
    write(dir.path(), &[("compose.yaml", text)]);
    let mut opts = options(dir.path());
    assert_eq!(load(&opts).unwrap().services.keys().collect::<Vec<_>>(), vec!["app"]);
    opts.profiles = vec!["ops".into()];
    assert_eq!(load(&opts).unwrap().services.keys().collect::<Vec<_>>(), vec!["all", "app"]);
    opts.profiles.clear();
    opts.os_env.insert("COMPOSE_PROFILES".into(), "debug".into());
    assert_eq!(load(&opts).unwrap().services.len(), 3);
    opts.os_env.shift_remove("COMPOSE_PROFILES");
    opts.services = vec!["dbg".into()];
    assert!(load(&opts).unwrap().services.contains_key("dbg"));
}

#[test]
fn a_required_dependency_on_a_disabled_service_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_in(
        dir.path(),
        &[("compose.yaml", "services:\n  app:\n    image: x\n    depends_on: [db]\n  db:\n    image: x\n    profiles: [db]\n")],
    )
    .unwrap_err();
    assert!(err.to_string().contains("is required by \"app\" but is disabled"), "{err}");
}

#[test]
fn extends_same_file_other_file_and_chains() {
    let dir = tempfile::tempdir().unwrap();
    let p = load_in(
        dir.path(),
        &[
            (
                "compose.yaml",
                "services:\n  base:\n    image: busybox\n    environment: [A=1]\n    command: [sleep, '1']\n  child:\n    extends: base\n    environment: [B=2]\n  grandchild:\n    extends: child\n    command: echo hi\n  remote:\n    extends: {file: lib/common.yaml, service: shared}\n",
            ),
            ("lib/common.yaml", "services:\n  shared:\n    image: nginx\n    volumes: ['./static:/static']\n"),
        ],
    )
    .unwrap();
    let child = &p.services["child"];
    assert_eq!(child.image, "busybox");
    assert_eq!(child.environment.get("A"), Some(&Some("1".into())));
    assert_eq!(child.environment.get("B"), Some(&Some("2".into())));
    assert_eq!(p.services["grandchild"].command, Some(vec!["echo".into(), "hi".into()]));
    assert_eq!(p.services["grandchild"].environment.len(), 2);
    let remote = &p.services["remote"];
    assert_eq!(remote.volumes[0].source, dir.path().join("lib/static").display().to_string());
}

#[test]
fn extends_cycle_and_missing_base_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_in(dir.path(), &[("compose.yaml", "services:\n  a:\n    image: x\n    extends: b\n  b:\n    image: x\n    extends: a\n")]).unwrap_err();
    assert!(err.to_string().contains("circular reference"), "{err}");
    let err = load_in(dir.path(), &[("compose.yaml", "services:\n  a:\n    image: x\n    extends: nope\n")]).unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
}

#[test]
fn include_loads_a_project_with_its_own_directory_and_env() {
    let dir = tempfile::tempdir().unwrap();
    let p = load_in(
        dir.path(),
        &[
            ("compose.yaml", "include: [lib/compose.yaml]\nservices:\n  web:\n    image: x\n    depends_on: [cache]\n"),
            ("lib/compose.yaml", "services:\n  cache:\n    image: redis:${TAG}\n    volumes: ['./conf:/conf']\n"),
            ("lib/.env", "TAG=7\n"),
        ],
    )
    .unwrap();
    assert_eq!(p.services["cache"].image, "redis:7");
    assert_eq!(p.services["cache"].volumes[0].source, dir.path().join("lib/conf").display().to_string());
}

#[test]
fn include_conflicts_and_cycles_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_in(
        dir.path(),
        &[
            ("compose.yaml", "include: [other.yaml]\nservices:\n  web:\n    image: x\n"),
            ("other.yaml", "services:\n  web:\n    image: y\n"),
        ],
    )
    .unwrap_err();
    assert!(err.to_string().contains("conflicts with imported resource"), "{err}");
    let err = load_in(
        dir.path(),
        &[("compose.yaml", "include: [other.yaml]\nservices:\n  web:\n    image: x\n"), ("other.yaml", "include: [compose.yaml]\n")],
    )
    .unwrap_err();
    assert!(err.to_string().contains("include cycle detected"), "{err}");
}

#[test]
fn env_files_feed_environment_and_service_values_win() {
    let dir = tempfile::tempdir().unwrap();
    let p = load_in(
        dir.path(),
        &[
            ("compose.yaml", "services:\n  a:\n    image: x\n    env_file: [a.env, {path: missing.env, required: false}]\n    environment: {B: own}\n"),
            ("a.env", "# comment\nA=1\nB=file\nC=${A}2\n"),
        ],
    )
    .unwrap();
    let env = &p.services["a"].environment;
    assert_eq!(env["A"], Some("1".into()));
    assert_eq!(env["B"], Some("own".into()));
    assert_eq!(env["C"], Some("12".into()));
    assert!(p.services["a"].env_file.is_empty());
    let err = load_in(dir.path(), &[("compose.yaml", "services:\n  a:\n    image: x\n    env_file: nope.env\n")]).unwrap_err();
    assert!(err.to_string().contains("nope.env not found"), "{err}");
}

#[test]
fn dotenv_feeds_interpolation_and_the_os_wins() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &[("compose.yaml", "services:\n  a:\n    image: ${IMG}:${TAG}\n"), (".env", "IMG=file\nTAG=file\n")]);
    let mut opts = options(dir.path());
    opts.os_env.insert("TAG".into(), "os".into());
    assert_eq!(load(&opts).unwrap().services["a"].image, "file:os");
    write(dir.path(), &[("alt.env", "IMG=alt\n")]);
    opts.env_files = vec!["alt.env".into()];
    assert_eq!(load(&opts).unwrap().services["a"].image, "alt:os");
}

#[test]
fn no_compose_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = load(&options(dir.path())).unwrap_err();
    assert_eq!(err.to_string(), "no configuration file provided: not found");
}

#[test]
fn config_hash_ignores_scale_build_and_dependencies_but_not_environment() {
    let dir = tempfile::tempdir().unwrap();
    let hash = |text: &str| {
        let p = load_in(dir.path(), &[("compose.yaml", text)]).unwrap();
        xcompose_loader::service_hash(&p.services["a"])
    };
    let base = hash("services:\n  a:\n    image: x\n    environment: [A=1]\n  b:\n    image: x\n");
    assert_eq!(base, hash("services:\n  a:\n    image: x\n    environment: [A=1]\n    scale: 3\n    depends_on: [b]\n  b:\n    image: x\n"));
    assert_ne!(base, hash("services:\n  a:\n    image: x\n    environment: [A=2]\n  b:\n    image: x\n"));
}

#[test]
fn services_are_ordered_after_their_dependencies() {
    let dir = tempfile::tempdir().unwrap();
    let p = load_in(
        dir.path(),
        &[("compose.yaml", "services:\n  a:\n    image: x\n    depends_on: [c]\n  b:\n    image: x\n  c:\n    image: x\n  d:\n    image: x\n    depends_on: [a]\n")],
    )
    .unwrap();
    assert_eq!(p.services_in_dependency_order(), vec!["c", "a", "b", "d"]);
}

#[test]
fn a_validation_cache_skips_nothing_it_has_not_seen_valid() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("validated");
    let cached = |dir: &Path| ProjectOptions { validation_cache: Some(xcompose_loader::ValidationCache::new(cache_dir.clone())), ..options(dir) };
    let project = dir.path().join("p");
    // An invalid file fails with the same error as without the cache, and is not remembered.
    write(&project, &[("compose.yaml", "services:\n  web:\n    image: a\n    ports: 80\n")]);
    let plain = load(&options(&project)).unwrap_err().to_string();
    assert!(plain.contains("ports must be a array"), "{plain}");
    assert_eq!(load(&cached(&project)).unwrap_err().to_string(), plain);
    assert_eq!(load(&cached(&project)).unwrap_err().to_string(), plain);
    assert!(!cache_dir.exists() || std::fs::read_dir(&cache_dir).unwrap().next().is_none());
    // A valid one is remembered under its interpolated text: other variables, another key.
    write(&project, &[("compose.yaml", "services:\n  web:\n    image: ${IMAGE:-a}\n")]);
    assert!(load(&cached(&project)).is_ok());
    let markers = || -> Vec<Vec<u8>> { std::fs::read_dir(&cache_dir).unwrap().map(|e| std::fs::read(e.unwrap().path()).unwrap()).collect() };
    let first = markers();
    assert_eq!(first.len(), 1);
    assert!(load(&cached(&project)).is_ok());
    assert_eq!(markers(), first, "the same key for the same load");
    let mut other_image = cached(&project);
    other_image.os_env.insert("IMAGE".into(), "b".into());
    assert!(load(&other_image).is_ok());
    assert_eq!(markers().len(), 1);
    assert_ne!(markers(), first);
    // Made invalid again, it fails as without the cache.
    write(&project, &[("compose.yaml", "services:\n  web:\n    image: a\n    ports: 80\n")]);
    assert_eq!(load(&cached(&project)).unwrap_err().to_string(), plain);
}
