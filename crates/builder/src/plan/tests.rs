use super::*;

fn dockerfile(text: &str) -> Dockerfile {
    Dockerfile::parse(text, "Dockerfile").unwrap()
}

fn plan(text: &str, target: Option<&str>) -> Result<BuildPlan, PlanError> {
    BuildPlan::new(&dockerfile(text), &BuildArgs::default(), target)
}

const MULTI: &str = "\
ARG GO=1.22
FROM golang:${GO} AS build
RUN make
FROM node AS assets
RUN npm ci
FROM build AS test
RUN go test
FROM scratch AS final
COPY --from=build /app /app
COPY --from=assets /dist /dist
COPY --from=nginx:latest /etc/nginx /etc/nginx
";

#[test]
fn the_target_needs_only_its_dependencies() {
    let p = plan(MULTI, None).unwrap();
    assert_eq!(p.target, 3);
    assert_eq!(p.stages.iter().map(|s| s.index).collect::<Vec<_>>(), vec![0, 1, 3]);
    assert_eq!(p.stages[0].base, Base::Image("golang:1.22".into()));
    assert_eq!(p.stages[2].base, Base::Scratch);
    assert_eq!(p.stages[2].depends_on, vec![0, 1]);
    assert_eq!(p.stages[2].sources[&2], vec![FromSource::Image("nginx:latest".into())]);
    assert_eq!(p.waves(), vec![vec![0, 1], vec![3]]);
}

#[test]
fn a_target_by_name_skips_later_stages() {
    let p = plan(MULTI, Some("TEST")).unwrap();
    assert_eq!(p.stages.iter().map(|s| s.index).collect::<Vec<_>>(), vec![0, 2]);
    assert_eq!(p.stages[1].base, Base::Stage(0));
    assert_eq!(p.waves(), vec![vec![0], vec![2]]);
}

#[test]
fn build_args_reach_from_lines_through_global_args() {
    let d = dockerfile(MULTI);
    let args = BuildArgs::new([("GO".to_string(), "1.23".to_string()), ("UNUSED".to_string(), "x".to_string())].into());
    let p = BuildPlan::new(&d, &args, None).unwrap();
    assert_eq!(p.stages[0].base, Base::Image("golang:1.23".into()));
    assert_eq!(p.unused_build_args(&d, &args), vec!["UNUSED"]);
}

#[test]
fn mounts_and_from_flags_are_dependencies_read_as_written() {
    let p = plan("FROM a AS one\nFROM b AS two\nARG SRC=one\nCOPY --from=One /x /x\nRUN --mount=type=bind,from=0,target=/m true\nCOPY --from=${SRC} /y /y\n", None).unwrap();
    assert_eq!(p.stages.iter().map(|s| s.index).collect::<Vec<_>>(), vec![0, 1]);
    assert_eq!(p.stages[1].depends_on, vec![0]);
    assert_eq!(p.stages[1].sources[&1], vec![FromSource::Stage(0)]);
    assert_eq!(p.stages[1].sources[&2], vec![FromSource::Stage(0)]);
    assert_eq!(p.stages[1].sources[&3], vec![FromSource::Image("${SRC}".into())]);
}

#[test]
fn a_stage_base_is_matched_as_written() {
    let p = plan("FROM a AS build\nFROM BUILD AS upper\nFROM build\n", None).unwrap();
    assert_eq!(p.stages.iter().map(|s| s.index).collect::<Vec<_>>(), vec![0, 2]);
    let all = plan("FROM a AS build\nFROM BUILD AS upper\n", None).unwrap();
    assert_eq!(all.stages[0].base, Base::Image("BUILD".into()));
}

#[test]
fn errors_in_buildkits_words() {
    assert_eq!(plan(MULTI, Some("nope")).unwrap_err().to_string(), "target stage \"nope\" could not be found");
    assert_eq!(
        plan("FROM a AS one\nCOPY --from=two /x /x\nFROM b AS two\n", None).unwrap_err().to_string(),
        "line 2: cannot copy from stage \"two\", it needs to be defined before current stage \"one\""
    );
    assert_eq!(plan("FROM a\nCOPY --from=0 /x /x\n", None).unwrap_err().to_string(), "line 2: cannot copy from stage \"0\", it needs to be defined before current stage \"\"");
    assert_eq!(
        plan("FROM a\nFROM b\nCOPY --from=1 /x /x\n", None).unwrap_err().to_string(),
        "line 3: cannot copy from stage \"1\", it needs to be defined before current stage \"stage-1\""
    );
    assert_eq!(plan("FROM a\nCOPY --from=3 /x /x\n", None).unwrap_err().to_string(), "line 2: invalid stage index 3");
    assert_eq!(plan("ARG X\nFROM ${X}\n", None).unwrap_err().to_string(), "line 2: base name (${X}) should not be blank");
}

#[test]
fn from_a_later_stage_name_is_an_image() {
    let p = plan("FROM later AS first\nFROM busybox AS later\n", Some("first")).unwrap();
    assert_eq!(p.stages[0].base, Base::Image("later".into()));
}
