//! The builder's conformance corpus (`tests/builder-conformance/NN-name/`, at least 40 cases):
//! each Dockerfile is built by xcompose (through its CLI only: a compose file with `build:`,
//! `xcompose build`, `xcompose image save`) and by the references, Debian's `buildah bud` (1.28)
//! and `docker build` (dockerd 20.10's classic builder, as Debian has no buildx), all from the
//! same busybox base image loaded into each. The image configuration fields and the final
//! filesystem trees must be equal (see `xcompose_testkit::build_refs`), except where a case
//! records a reference's known divergence with its reason, and every build must meet the case's
//! hand-written expectations (the only check where no reference supports a feature).
//!
//! Every case is built even when an earlier one fails; the test fails at the end with a report of
//! each case (PASS, or what differs), so the report is the builder's to-do list.

use std::path::{Path, PathBuf};

use xcompose_testkit::build_refs::{
    base_image_archive, differences, without_compose_labels, ArchiveImage, BuildSpec, Buildah,
    BuiltImage, Case, DockerClassic, HttpFiles, ImageBuilder, Reference, Xcompose, CONFIG_FIELDS,
};
use xcompose_testkit::Sandbox;

/// The binary under test.
const XCOMPOSE: &str = env!("CARGO_BIN_EXE_xcompose");
/// The corpus must cover the list: at least this many cases.
const MIN_CASES: usize = 40;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/builder-conformance")
}

fn cases() -> Vec<Case> {
    let cases = Case::all(&corpus()).unwrap();
    assert!(
        cases.len() >= MIN_CASES,
        "only {} cases in {}",
        cases.len(),
        corpus().display()
    );
    cases
}

/// Builds the case's prerequisites, then the case, with `builder`.
fn build_case(sb: &Sandbox, builder: &dyn ImageBuilder, case: &Case) -> anyhow::Result<BuiltImage> {
    for before in case.pre_builds() {
        builder.build(sb, &before)?;
    }
    builder.build(sb, &case.spec())
}

/// One line per case and a verdict: fails the test (printing the whole report) if any case failed.
struct Report {
    lines: Vec<String>,
    failed: usize,
}

impl Report {
    fn new() -> Report {
        Report {
            lines: Vec::new(),
            failed: 0,
        }
    }

    fn case(&mut self, name: &str, problems: Vec<String>, note: &str) {
        if problems.is_empty() {
            self.lines.push(format!("PASS {name}{note}"));
        } else {
            self.failed += 1;
            self.lines.push(format!("FAIL {name}{note}"));
            self.lines.extend(
                problems
                    .iter()
                    .map(|p| format!("    {}", p.replace('\n', "\n    "))),
            );
        }
    }

    fn finish(self, what: &str) {
        let report = self.lines.join("\n");
        println!("{what}:\n{report}");
        assert!(
            self.failed == 0,
            "{what}: {} case(s) failed:\n{report}",
            self.failed
        );
    }
}

/// The sandbox every build of a test runs in, the images to load into each builder (the base
/// image), and the file server the `ADD <url>` cases download from.
struct Setup {
    sb: Sandbox,
    images: Vec<PathBuf>,
    _files: HttpFiles,
}

fn setup() -> Setup {
    let sb = Sandbox::new().unwrap();
    let files = HttpFiles::start(&sb, &corpus().join("http-root")).unwrap();
    Setup {
        images: vec![base_image_archive().unwrap()],
        sb,
        _files: files,
    }
}

/// The references' builds of `case`, each or its error.
fn reference_builds(
    setup: &Setup,
    buildah: &Buildah,
    docker: &DockerClassic,
    case: &Case,
) -> Vec<(Reference, anyhow::Result<BuiltImage>)> {
    std::thread::scope(|scope| {
        let buildah = case
            .supported_by(Reference::Buildah)
            .then(|| scope.spawn(|| build_case(&setup.sb, buildah, case)));
        let docker = case
            .supported_by(Reference::Docker)
            .then(|| scope.spawn(|| build_case(&setup.sb, docker, case)));
        [(Reference::Buildah, buildah), (Reference::Docker, docker)]
            .into_iter()
            .filter_map(|(reference, thread)| thread.map(|t| (reference, t.join().unwrap())))
            .collect()
    })
}

#[test]
fn the_references_agree_on_the_corpus() {
    let setup = setup();
    let buildah = Buildah::new(&setup.sb, &setup.images).unwrap();
    let docker = DockerClassic::new(&setup.sb, &setup.images).unwrap();
    let mut report = Report::new();
    for case in cases() {
        let mut problems = Vec::new();
        let mut built = Vec::new();
        for (reference, result) in reference_builds(&setup, &buildah, &docker, &case) {
            match result {
                Ok(image) => {
                    problems.extend(
                        case.unmet_expectations(&image, &case.ignored_for(reference))
                            .into_iter()
                            .map(|p| format!("{}: {p}", reference.name())),
                    );
                    built.push((reference, image));
                }
                Err(e) => problems.push(format!("{} could not build it: {e:#}", reference.name())),
            }
        }
        let note = match built.as_slice() {
            [(a, left), (b, right)] => {
                let mut ignored = case.ignored_for(*a);
                let other = case.ignored_for(*b);
                ignored.fields.extend(other.fields);
                ignored.paths.extend(other.paths);
                problems.extend(differences(a.name(), left, b.name(), right, &ignored));
                ""
            }
            [(only, _)] => {
                if only == &Reference::Buildah {
                    " (buildah only)"
                } else {
                    " (docker only)"
                }
            }
            _ => " (no reference: expectations only)",
        };
        if built.is_empty()
            && case.supported_by(Reference::Buildah) | case.supported_by(Reference::Docker)
        {
            problems.push("no reference built it".into());
        }
        report.case(&case.name, problems, note);
    }
    report.finish("buildah vs docker build on the corpus");
}

#[test]
fn xcompose_builds_the_corpus_as_the_references_do() {
    let setup = setup();
    let buildah = Buildah::new(&setup.sb, &setup.images).unwrap();
    let docker = DockerClassic::new(&setup.sb, &setup.images).unwrap();
    let xcompose = Xcompose::new(&setup.sb, Path::new(XCOMPOSE), &setup.images).unwrap();
    let mut report = Report::new();
    for case in cases() {
        let mut problems = Vec::new();
        let ours = match build_case(&setup.sb, &xcompose, &case) {
            Ok(image) => image,
            Err(e) => {
                report.case(
                    &case.name,
                    vec![format!("xcompose could not build it: {e:#}")],
                    "",
                );
                continue;
            }
        };
        problems.extend(case.unmet_expectations(&ours, &Default::default()));
        problems.extend(inspect_disagrees(&setup.sb, &xcompose, &case.spec(), &ours));
        let mut compared = Vec::new();
        for (reference, result) in reference_builds(&setup, &buildah, &docker, &case) {
            match result {
                Ok(theirs) => {
                    compared.push(reference.name());
                    let ignored = case.ignored_for(reference);
                    problems.extend(differences(
                        reference.name(),
                        &theirs,
                        "xcompose",
                        &ours,
                        &ignored,
                    ));
                }
                Err(e) => problems.push(format!(
                    "reference {} could not build it: {e:#}",
                    reference.name()
                )),
            }
        }
        let note = if compared.is_empty() {
            " (expectations only)".to_string()
        } else {
            format!(" (vs {})", compared.join(", "))
        };
        report.case(&case.name, problems, &note);
    }
    report.finish("xcompose build vs the references on the corpus");
}

/// Where `xcompose image inspect`'s `.Config` disagrees with the configuration in the image
/// `xcompose image save` wrote.
fn inspect_disagrees(
    sb: &Sandbox,
    xcompose: &Xcompose,
    spec: &BuildSpec,
    saved: &BuiltImage,
) -> Vec<String> {
    let inspect = match xcompose.inspect(sb, &spec.tag) {
        Ok(inspect) => inspect,
        Err(e) => return vec![format!("{e:#}")],
    };
    let from_inspect = without_compose_labels(BuiltImage::from_archive(ArchiveImage {
        config: serde_json::json!({"config": inspect["Config"], "author": inspect["Author"]}),
        tree: Vec::new(),
    }));
    CONFIG_FIELDS
        .iter()
        .filter(|field| from_inspect.config[**field] != saved.config[**field])
        .map(|field| {
            format!(
                "image inspect .Config.{field} {} != saved image's {}",
                from_inspect.config[*field], saved.config[*field]
            )
        })
        .collect()
}
