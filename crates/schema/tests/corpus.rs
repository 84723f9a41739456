//! Every real-world project of the shared corpus passes all checks, as it does with compose.

mod common;

use std::path::PathBuf;

/// The shared corpus: `$XCOMPOSE_CORPUS`, or `shared/corpus` beside the repository.
fn corpus() -> PathBuf {
    std::env::var_os("XCOMPOSE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"))
}

#[test]
fn every_awesome_compose_project_is_accepted() {
    let dir = corpus().join("compose/awesome");
    let mut projects: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .flatten()
        .map(|entry| entry.path())
        .collect();
    projects.sort();
    let mut checked = 0;
    for project in projects {
        for name in ["compose.yaml", "compose.yml"] {
            let file = project.join(name);
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let doc = common::yaml(&text);
            assert_eq!(
                common::first_violation(&doc).map(|(_, v)| v.message),
                None,
                "{}",
                file.display()
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 39,
        "only {checked} corpus files found in {}",
        dir.display()
    );
}
