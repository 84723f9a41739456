//! The build cache through the CLI, as BuildKit behaves: a rebuild with nothing changed runs
//! nothing, a changed copied file re-runs only the steps after its COPY (a changed mtime alone
//! re-runs nothing), and a changed ARG re-runs from its first use (and its old value is still
//! cached).
//!
//! Every RUN step of the project appends its name to a log in a cache mount (`id=runs`), which
//! persists across builds; a `probe` service built with `no_cache` copies that log into its image,
//! read back from `xcompose image save`. So the log says which steps ran, in order.

use std::path::{Path, PathBuf};

use xcompose_testkit::build_refs::{base_image_archive, file_contents, Xcompose};
use xcompose_testkit::Sandbox;

/// The binary under test.
const XCOMPOSE: &str = env!("CARGO_BIN_EXE_xcompose");

/// The project's Dockerfile: steps a and b before the COPY of two.txt, c (the first use of ARG V)
/// and d after it.
const DOCKERFILE: &str = r#"# syntax=docker/dockerfile:1
FROM busybox
RUN --mount=type=cache,id=runs,target=/runs echo a >> /runs/log
COPY one.txt /one.txt
RUN --mount=type=cache,id=runs,target=/runs echo b >> /runs/log
COPY two.txt /two.txt
ARG V=1
RUN --mount=type=cache,id=runs,target=/runs echo "c $V" >> /runs/log
RUN --mount=type=cache,id=runs,target=/runs echo d >> /runs/log
"#;

/// The probe's Dockerfile: copies the log out of the cache into the image.
const PROBE: &str = r#"# syntax=docker/dockerfile:1
FROM busybox
RUN --mount=type=cache,id=runs,target=/runs cp /runs/log /log
"#;

/// A sandbox with the base image loaded into xcompose, and the project.
struct Project {
    sb: Sandbox,
    xcompose: Xcompose,
    dir: PathBuf,
}

impl Project {
    fn new() -> Project {
        let sb = Sandbox::new().unwrap();
        let xcompose =
            Xcompose::new(&sb, Path::new(XCOMPOSE), &[base_image_archive().unwrap()]).unwrap();
        let dir = sb.temp_dir().join("cache-project");
        for (path, text) in [
            ("app/Dockerfile", DOCKERFILE),
            ("app/one.txt", "one\n"),
            ("app/two.txt", "two\n"),
            ("probe/Dockerfile", PROBE),
        ] {
            std::fs::create_dir_all(dir.join(path).parent().unwrap()).unwrap();
            std::fs::write(dir.join(path), text).unwrap();
        }
        let project = Project { sb, xcompose, dir };
        project.set_arg("1");
        project
    }

    /// Writes the compose file with build argument V = `value`.
    fn set_arg(&self, value: &str) {
        let compose = format!(
            "services:\n  app:\n    build:\n      context: app\n      args:\n        V: \"{value}\"\n    image: cache-app\n  probe:\n    build:\n      context: probe\n      no_cache: true\n    image: cache-probe\n"
        );
        std::fs::write(self.dir.join("compose.yaml"), compose).unwrap();
    }

    /// `xcompose -f compose.yaml build SERVICE`; fails the test unless it succeeds.
    fn build(&self, service: &str) {
        let out = self
            .xcompose
            .command(&self.sb)
            .arg("-f")
            .arg(self.dir.join("compose.yaml"))
            .args(["build", service])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "xcompose build {service} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Builds the app, then the probe; the steps that ran so far, from the log.
    fn build_and_log(&self) -> String {
        self.build("app");
        self.build("probe");
        let archive = self.sb.temp_dir().join("probe.tar");
        let out = self
            .xcompose
            .command(&self.sb)
            .args(["image", "save", "-o"])
            .arg(&archive)
            .arg("cache-probe")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "image save: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log = file_contents(&archive, "/log")
            .unwrap()
            .expect("the probe image has no /log");
        String::from_utf8(log).unwrap()
    }

    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.dir.join("app").join(file), text).unwrap();
    }
}

#[test]
fn a_rebuild_with_nothing_changed_runs_nothing() {
    let project = Project::new();
    assert_eq!(
        project.build_and_log(),
        "a\nb\nc 1\nd\n",
        "the first build runs every step"
    );
    assert_eq!(
        project.build_and_log(),
        "a\nb\nc 1\nd\n",
        "the rebuild ran steps"
    );
}

#[test]
fn a_changed_file_reruns_only_the_steps_after_its_copy() {
    let project = Project::new();
    assert_eq!(project.build_and_log(), "a\nb\nc 1\nd\n");
    project.write("two.txt", "two, changed\n");
    assert_eq!(
        project.build_and_log(),
        "a\nb\nc 1\nd\nc 1\nd\n",
        "two.txt changed: c and d re-run"
    );
    project.write("one.txt", "one, changed\n");
    assert_eq!(
        project.build_and_log(),
        "a\nb\nc 1\nd\nc 1\nd\nb\nc 1\nd\n",
        "one.txt changed: b, c and d re-run"
    );
    // The same contents with a new mtime: the cache key holds contents, not times.
    let file = std::fs::File::options()
        .append(true)
        .open(project.dir.join("app/one.txt"))
        .unwrap();
    file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
        .unwrap();
    assert_eq!(
        project.build_and_log(),
        "a\nb\nc 1\nd\nc 1\nd\nb\nc 1\nd\n",
        "a new mtime alone re-ran steps"
    );
}

#[test]
fn an_arg_change_invalidates_from_its_first_use() {
    let project = Project::new();
    assert_eq!(project.build_and_log(), "a\nb\nc 1\nd\n");
    project.set_arg("2");
    assert_eq!(
        project.build_and_log(),
        "a\nb\nc 1\nd\nc 2\nd\n",
        "V=2: c and d re-run"
    );
    project.set_arg("1");
    assert_eq!(
        project.build_and_log(),
        "a\nb\nc 1\nd\nc 2\nd\n",
        "V=1 again: its steps are still cached"
    );
}

#[test]
fn a_file_rewritten_with_its_size_and_mtime_put_back_is_still_changed() {
    let project = Project::new();
    assert_eq!(project.build_and_log(), "a\nb\nc 1\nd\n");
    // The same size, and the old mtime restored with `touch -d`: only the ctime tells the
    // remembered digest is stale, and the contents decide the key.
    let file = project.dir.join("app/two.txt");
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    let since = mtime.duration_since(std::time::UNIX_EPOCH).unwrap();
    let stamp = format!("@{}.{:09}", since.as_secs(), since.subsec_nanos());
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&file, "TWO\n").unwrap();
    let touched = std::process::Command::new("touch").arg("-d").arg(&stamp).arg(&file).status().unwrap();
    assert!(touched.success());
    assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), mtime, "touch -d put the mtime back");
    assert_eq!(
        project.build_and_log(),
        "a\nb\nc 1\nd\nc 1\nd\n",
        "two.txt's new contents re-ran c and d"
    );
}
