use super::*;
use std::os::unix::fs::{symlink, PermissionsExt};

fn context(files: &[(&str, &str)], ignore: Option<&str>) -> (tempfile::TempDir, Context) {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let full = dir.path().join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, content).unwrap();
    }
    if let Some(text) = ignore {
        fs::write(dir.path().join(".dockerignore"), text).unwrap();
    }
    let ctx = Context::open(dir.path(), &dir.path().join("Dockerfile")).unwrap();
    (dir, ctx)
}

fn select(ctx: &Context, sources: &[&str], options: &SelectOptions) -> Vec<(usize, String, String)> {
    let words: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
    ctx.select(&words, options).unwrap().into_iter().map(|p| (p.source, p.context_path, p.dest_path)).collect()
}

fn entry(source: usize, context_path: &str, dest_path: &str) -> (usize, String, String) {
    (source, context_path.to_string(), dest_path.to_string())
}

const FILES: &[(&str, &str)] = &[("app.py", "print()"), ("README.md", "r"), ("docs/a.md", "a"), ("src/main.go", "m"), ("src/util/u.go", "u"), ("src/notes.txt", "n")];

#[test]
fn files_globs_and_directory_contents() {
    let (_dir, ctx) = context(FILES, None);
    assert_eq!(select(&ctx, &["app.py"], &SelectOptions::default()), vec![entry(0, "app.py", "app.py")]);
    assert_eq!(select(&ctx, &["/src/*.go", "*.md"], &SelectOptions::default()), vec![entry(0, "src/main.go", "main.go"), entry(1, "README.md", "README.md")]);
    assert_eq!(
        select(&ctx, &["src"], &SelectOptions::default()),
        vec![entry(0, "src", ""), entry(0, "src/main.go", "main.go"), entry(0, "src/notes.txt", "notes.txt"), entry(0, "src/util", "util"), entry(0, "src/util/u.go", "util/u.go")]
    );
}

#[test]
fn dockerignore_hides_paths_with_exceptions() {
    let (_dir, ctx) = context(FILES, Some("*.md\n!README.md\nsrc/util\n"));
    assert!(ctx.is_ignored("src/util/u.go"));
    assert!(!ctx.is_ignored("docs/a.md"), "`*.md` matches at the root only, as in Docker");
    assert!(!ctx.is_ignored("README.md") && !ctx.is_ignored("src/main.go"));
    assert_eq!(select(&ctx, &["*.md"], &SelectOptions::default()), vec![entry(0, "README.md", "README.md")]);
    assert_eq!(select(&ctx, &["src"], &SelectOptions::default()).len(), 3);
    let err = ctx.select(&["src/util/u.go".into()], &SelectOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), "failed to compute cache key: failed to calculate checksum of ref context: \"/src/util/u.go\": not found");
}

#[test]
fn the_dockerfiles_own_ignore_file_wins() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.txt"), "a").unwrap();
    fs::write(dir.path().join("b.txt"), "b").unwrap();
    fs::write(dir.path().join(".dockerignore"), "a.txt\n").unwrap();
    fs::create_dir(dir.path().join("build")).unwrap();
    fs::write(dir.path().join("build/app.Dockerfile.dockerignore"), "b.txt\n").unwrap();
    let ctx = Context::open(dir.path(), &dir.path().join("build/app.Dockerfile")).unwrap();
    assert!(!ctx.is_ignored("a.txt"));
    assert!(ctx.is_ignored("b.txt"));
}

#[test]
fn parents_and_excludes() {
    let (_dir, ctx) = context(FILES, None);
    let parents = SelectOptions { parents: true, exclude: vec![] };
    assert_eq!(select(&ctx, &["src/util/u.go"], &parents), vec![entry(0, "src/util/u.go", "src/util/u.go")]);
    assert_eq!(select(&ctx, &["./src/./util/u.go"], &parents), vec![entry(0, "src/util/u.go", "util/u.go")]);
    let exclude = SelectOptions { parents: false, exclude: vec!["*.txt".into(), "util".into()] };
    assert_eq!(select(&ctx, &["src"], &exclude), vec![entry(0, "src", ""), entry(0, "src/main.go", "main.go")]);
    assert_eq!(select(&ctx, &["src/*"], &exclude), vec![entry(0, "src/main.go", "main.go")]);
}

#[test]
fn missing_and_outside_sources_are_named() {
    let (dir, ctx) = context(FILES, None);
    let err = |word: &str| ctx.select(&[word.to_string()], &SelectOptions::default()).unwrap_err().to_string();
    assert_eq!(err("nope"), "failed to compute cache key: failed to calculate checksum of ref context: \"/nope\": not found");
    assert_eq!(err("../etc/passwd"), "forbidden path outside the build context: ../etc/passwd");
    // A link out of the context is followed inside it: /etc is the context's own etc.
    symlink("/etc", dir.path().join("escape")).unwrap();
    assert_eq!(err("escape"), "failed to compute cache key: failed to calculate checksum of ref context: \"/escape\": not found");
    assert_eq!(ctx.select(&["*.rs".to_string()], &SelectOptions::default()).unwrap(), vec![], "an empty wildcard copies nothing, as BuildKit");
}

#[test]
fn source_symlinks_resolve_inside_the_root() {
    let (dir, ctx) = context(&[("real/etc/conf", "c"), ("src/a", "a")], None);
    symlink("/real/etc", dir.path().join("abs")).unwrap();
    symlink("../src", dir.path().join("real/rel")).unwrap();
    assert_eq!(select(&ctx, &["abs"], &SelectOptions::default()), vec![entry(0, "real/etc", ""), entry(0, "real/etc/conf", "conf")]);
    assert_eq!(select(&ctx, &["real/rel/a"], &SelectOptions::default()), vec![entry(0, "src/a", "a")]);
}

#[test]
fn the_digest_follows_content_modes_and_links_not_times() {
    let (dir, ctx) = context(FILES, None);
    symlink("main.go", dir.path().join("src/link")).unwrap();
    let digest = || ctx.digest(&ctx.select(&["src".into()], &SelectOptions::default()).unwrap()).unwrap();
    let first = digest();
    assert!(first.starts_with("sha256:") && first.len() == 71);
    let file = dir.path().join("src/main.go");
    filetime_touch(&file);
    assert_eq!(digest(), first, "a new mtime changes nothing");
    fs::write(&file, "changed").unwrap();
    let changed = digest();
    assert_ne!(changed, first);
    fs::set_permissions(&file, fs::Permissions::from_mode(0o755)).unwrap();
    assert_ne!(digest(), changed);
    let moded = digest();
    fs::remove_file(dir.path().join("src/link")).unwrap();
    symlink("notes.txt", dir.path().join("src/link")).unwrap();
    assert_ne!(digest(), moded);
}

/// Sets a file's modification time a minute back.
fn filetime_touch(path: &std::path::Path) {
    let file = fs::File::options().write(true).open(path).unwrap();
    file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60)).unwrap();
}

#[test]
fn an_ignored_dockerfile_and_dockerignore_are_still_read_but_not_copied() {
    let (dir, _) = context(&[("Dockerfile", "FROM x\n"), ("app.py", "")], Some("Dockerfile\n.dockerignore\n"));
    let ctx = Context::open(dir.path(), &dir.path().join("Dockerfile")).unwrap();
    assert_eq!(fs::read_to_string(dir.path().join("Dockerfile")).unwrap(), "FROM x\n");
    assert_eq!(select(&ctx, &["."], &SelectOptions::default()), vec![entry(0, "", ""), entry(0, "app.py", "app.py")]);
}

#[test]
fn a_stage_root_is_read_without_ignore_rules() {
    let (dir, _) = context(&[("notes.md", "n"), ("bin/busybox", "b")], Some("*.md\n"));
    symlink("/bin/busybox", dir.path().join("sh")).unwrap();
    let root = Context::unfiltered(dir.path());
    assert_eq!(select(&root, &["notes.md", "sh"], &SelectOptions::default()), vec![entry(0, "notes.md", "notes.md"), entry(1, "bin/busybox", "sh")]);
}
