use super::*;
use crate::args::BuildArgs;
use crate::args::GlobalArgs;
use crate::expand::Expander;
use crate::model::Dockerfile;

/// Applies the stage's instructions (expanded, ARGs declared) to `state`.
fn build(text: &str, mut state: ImageConfigState) -> ImageConfigState {
    let d = Dockerfile::parse(text, "Dockerfile").unwrap();
    let args = BuildArgs::default();
    let globals = GlobalArgs::new(&d, &args, "").unwrap();
    let expander = Expander::new(d.escape);
    let mut scope = StageScope::new(&state.config.env().clone().unwrap_or_default());
    for instruction in &d.stages.last().unwrap().instructions {
        let kind = instruction.kind.instantiate(&expander, &scope).unwrap().kind;
        match &kind {
            InstructionKind::Arg(decls) => {
                scope.declare(decls, &args, &globals, &expander).unwrap();
            }
            InstructionKind::Env(pairs) => {
                state.apply(&kind, &scope).unwrap();
                scope.set_env(&pairs.iter().map(|p| (p.key.clone(), p.value.clone())).collect::<Vec<_>>());
                continue;
            }
            _ => {}
        }
        state.apply(&kind, &scope).unwrap();
    }
    state
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn created_by(state: &ImageConfigState) -> Vec<(String, bool)> {
    state.history.iter().map(|h| (h.created_by().clone().unwrap(), h.empty_layer().unwrap_or(false))).collect()
}

#[test]
fn scratch_starts_with_path_and_root_workdir() {
    let s = ImageConfigState::scratch();
    assert_eq!(s.config.env().clone().unwrap(), vec![DEFAULT_PATH]);
    assert_eq!(s.config.working_dir().as_deref(), Some("/"));
}

#[test]
fn metadata_instructions_set_the_config() {
    let s = build(
        "FROM scratch\nENV A=1 B=\"two words\"\nENV A=3\nLABEL org.x=y \"k 2\"=v\nEXPOSE 80 53/udp 8000-8001\nEXPOSE 80/tcp\nVOLUME /data [\"/x\"]\nVOLUME [\"/logs\"]\nUSER app:app\nWORKDIR /srv\nWORKDIR app/../web\nSTOPSIGNAL SIGQUIT\nMAINTAINER Jane\n",
        ImageConfigState::scratch(),
    );
    let c = &s.config;
    assert_eq!(c.env().clone().unwrap(), strings(&[DEFAULT_PATH, "A=3", "B=two words"]));
    let labels = c.labels().clone().unwrap();
    assert_eq!((labels["org.x"].as_str(), labels["k 2"].as_str()), ("y", "v"));
    assert_eq!(c.exposed_ports().clone().unwrap(), strings(&["53/udp", "80/tcp", "8000/tcp", "8001/tcp"]));
    assert_eq!(c.volumes().clone().unwrap(), strings(&["/data", "/logs", "[/x]"]));
    assert_eq!(c.user().as_deref(), Some("app:app"));
    assert_eq!(c.working_dir().as_deref(), Some("/srv/web"));
    assert_eq!(c.stop_signal().as_deref(), Some("SIGQUIT"));
    assert_eq!(s.author.as_deref(), Some("Jane"));
}

#[test]
fn history_as_buildkit_writes_it() {
    let s = build(
        "FROM scratch\nARG V=1\nENV A=$V\nRUN echo $A\nCOPY a b /dst/\nWORKDIR /srv\nEXPOSE 80\nVOLUME /d\nCMD echo hi\nENTRYPOINT [\"tini\", \"--\"]\nHEALTHCHECK --interval=5m --timeout=3s CMD curl -f http://localhost/ || exit 1\nSHELL [\"/bin/bash\", \"-c\"]\nUSER app\nONBUILD COPY . /app\n",
        ImageConfigState::scratch(),
    );
    let expected = [
        ("ARG V=1", true),
        ("ENV A=1", true),
        ("RUN |1 V=1 /bin/sh -c echo $A # buildkit", false),
        ("COPY a b /dst/ # buildkit", false),
        ("WORKDIR /srv", false),
        ("EXPOSE map[80/tcp:{}]", true),
        ("VOLUME [/d]", true),
        ("CMD [\"/bin/sh\" \"-c\" \"echo hi\"]", true),
        ("ENTRYPOINT [\"tini\" \"--\"]", true),
        ("HEALTHCHECK &{[\"CMD-SHELL\" \"curl -f http://localhost/ || exit 1\"] \"5m0s\" \"3s\" \"0s\" \"0s\" '\\x00'}", true),
        ("SHELL [/bin/bash -c]", true),
        ("USER app", true),
    ];
    assert_eq!(created_by(&s), expected.map(|(c, e)| (c.to_string(), e)).to_vec());
    assert!(s.history.iter().all(|h| h.comment().as_deref() == Some(HISTORY_COMMENT)));
}

#[test]
fn the_references_cmd_and_entrypoint_table() {
    // Dockerfile reference, "Understand how CMD and ENTRYPOINT interact": the command run is
    // Entrypoint + Cmd as stored.
    let run = |text: &str| {
        let s = build(&format!("FROM scratch\n{text}"), ImageConfigState::scratch());
        [s.config.entrypoint().clone().unwrap_or_default(), s.config.cmd().clone().unwrap_or_default()].concat().join(" ")
    };
    assert_eq!(run("CMD [\"exec_cmd\", \"p1_cmd\"]\n"), "exec_cmd p1_cmd");
    assert_eq!(run("CMD exec_cmd p1_cmd\n"), "/bin/sh -c exec_cmd p1_cmd");
    assert_eq!(run("ENTRYPOINT exec_entry p1_entry\n"), "/bin/sh -c exec_entry p1_entry");
    assert_eq!(run("ENTRYPOINT [\"exec_entry\", \"p1_entry\"]\n"), "exec_entry p1_entry");
    assert_eq!(run("CMD [\"exec_cmd\", \"p1_cmd\"]\nENTRYPOINT exec_entry p1_entry\n"), "/bin/sh -c exec_entry p1_entry exec_cmd p1_cmd");
    assert_eq!(run("CMD [\"exec_cmd\", \"p1_cmd\"]\nENTRYPOINT [\"exec_entry\", \"p1_entry\"]\n"), "exec_entry p1_entry exec_cmd p1_cmd");
    assert_eq!(run("CMD exec_cmd p1_cmd\nENTRYPOINT [\"exec_entry\", \"p1_entry\"]\n"), "exec_entry p1_entry /bin/sh -c exec_cmd p1_cmd");
    assert_eq!(run("SHELL [\"/bin/bash\", \"-lc\"]\nCMD x\n"), "/bin/bash -lc x");
    let cleared = build("FROM scratch\nENTRYPOINT [\"e\"]\nENTRYPOINT []\nCMD []\n", ImageConfigState::scratch());
    assert_eq!((cleared.config.entrypoint().clone(), cleared.config.cmd().clone()), (None, Some(vec![])));
}

#[test]
fn entrypoint_resets_an_inherited_cmd_but_keeps_this_stages() {
    let base = build("FROM scratch\nCMD [\"base\"]\n", ImageConfigState::scratch());
    let child = build("FROM base\nENTRYPOINT [\"e\"]\n", base.for_next_stage());
    assert_eq!((child.config.entrypoint().clone(), child.config.cmd().clone()), (Some(strings(&["e"])), None));
    let later_cmd = build("FROM base\nENTRYPOINT [\"e\"]\nCMD [\"c\"]\n", base.for_next_stage());
    assert_eq!(later_cmd.config.cmd().clone(), Some(strings(&["c"])));
}

#[test]
fn healthcheck_options_and_none_in_the_config_json() {
    let s = build("FROM scratch\nHEALTHCHECK --interval=30s --retries=3 CMD [\"/check\"]\n", ImageConfigState::scratch());
    let json = s.config_json();
    assert_eq!(json["Healthcheck"], serde_json::json!({"Test": ["CMD", "/check"], "Interval": 30_000_000_000i64, "Retries": 3}));
    let none = build("FROM scratch\nHEALTHCHECK NONE\n", s.for_next_stage());
    assert_eq!(none.config_json()["Healthcheck"], serde_json::json!({"Test": ["NONE"]}));
    assert_eq!(created_by(&none).last().unwrap().0, "HEALTHCHECK &{[\"NONE\"] \"0s\" \"0s\" \"0s\" \"0s\" '\\x00'}");
}

#[test]
fn config_json_and_back_keep_dockers_fields() {
    let s = build("FROM scratch\nSHELL [\"/bin/ash\", \"-eo\", \"pipefail\", \"-c\"]\nONBUILD RUN make\nEXPOSE 80\nHEALTHCHECK CMD true\n", ImageConfigState::scratch());
    let blob = serde_json::json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}, "config": s.config_json(), "history": []});
    let back = ImageConfigState::from_config_blob(&serde_json::to_vec(&blob).unwrap()).unwrap();
    assert_eq!(back.shell, strings(&["/bin/ash", "-eo", "pipefail", "-c"]));
    assert_eq!(back.on_build, strings(&["RUN make"]));
    assert_eq!(back.healthcheck, s.healthcheck);
    assert_eq!(back.config.exposed_ports().clone(), Some(strings(&["80/tcp"])));
    let object = ImageConfigState::from_config_json(&s.config_json()).unwrap();
    assert_eq!((object.shell, object.on_build, object.healthcheck), (back.shell, back.on_build, back.healthcheck));
    assert_eq!(ImageConfigState::from_config_json(&serde_json::Value::Null).unwrap(), ImageConfigState::default());
}

#[test]
fn onbuild_triggers_run_after_from_in_order_and_are_not_inherited() {
    let mut base = build("FROM scratch\nONBUILD COPY . /app\nONBUILD RUN make /app\n", ImageConfigState::scratch());
    let child = Dockerfile::parse("FROM base\nRUN x\n", "app/Dockerfile").unwrap();
    let from = child.stages[0].lines;
    let mut same = base.clone();
    let triggers = base.take_onbuild_triggers_at(&child, from).unwrap();
    assert_eq!(triggers.iter().map(|t| t.original.as_str()).collect::<Vec<_>>(), vec!["COPY . /app", "RUN make /app"]);
    assert!(triggers.iter().all(|t| t.lines == from));
    assert!(base.on_build.is_empty());
    assert!(base.take_onbuild_triggers_at(&child, from).unwrap().is_empty());
    let unplaced = same.take_onbuild_triggers('\\').unwrap();
    assert_eq!(unplaced.iter().map(|t| t.lines.start).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(unplaced.into_iter().map(|t| t.kind).collect::<Vec<_>>(), triggers.into_iter().map(|t| t.kind).collect::<Vec<_>>());
}

#[test]
fn refusals_in_dockers_words() {
    let mut s = ImageConfigState::scratch();
    let scope = StageScope::default();
    assert_eq!(s.apply(&InstructionKind::Expose(vec!["http".into()]), &scope).unwrap_err().0, "invalid containerPort: http");
    assert_eq!(s.apply(&InstructionKind::Stopsignal("SIGNOPE".into()), &scope).unwrap_err().0, "Invalid signal: SIGNOPE");
    let child = Dockerfile::parse("# c\nFROM base\n", "Dockerfile").unwrap();
    let mut chained = ImageConfigState { on_build: vec!["ONBUILD RUN x".into()], ..ImageConfigState::scratch() };
    let e = chained.take_onbuild_triggers_at(&child, child.stages[0].lines).unwrap_err();
    assert_eq!(e.to_string(), "dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    let mut bad = ImageConfigState { on_build: vec!["RUNN x".into()], ..ImageConfigState::scratch() };
    assert_eq!(bad.take_onbuild_triggers_at(&child, child.stages[0].lines).unwrap_err().to_string(), "dockerfile parse error on line 2: unknown instruction: RUNN (did you mean RUN?)");
    let no_path = serde_json::json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}, "config": {"Env": ["A=1"]}});
    let with_path = ImageConfigState::from_config_blob(&serde_json::to_vec(&no_path).unwrap()).unwrap();
    assert_eq!(with_path.config.env().clone().unwrap(), strings(&["A=1", DEFAULT_PATH]));
    assert!(ImageConfigState::from_config_blob(b"not json").unwrap_err().0.starts_with("the base image's config cannot be read"));
}

#[test]
fn copy_history_names_flags_paths_then_heredocs() {
    let s = build("FROM scratch\nCOPY --parents --chown=1:2 --chmod=644 --link <<one a* <<two /d/\n1\none\n2\ntwo\nADD https://x/y.tgz /z\n", ImageConfigState::scratch());
    let entries = created_by(&s);
    assert_eq!(entries[0].0, "COPY --parents --chown=1:2 --chmod=644 a* <<one <<two /d/ # buildkit");
    assert_eq!(entries[1].0, "ADD https://x/y.tgz /z # buildkit");
}

#[test]
fn heredoc_runs_in_history() {
    let s = build("FROM scratch\nRUN <<EOF\necho hi\nEOF\n", ImageConfigState::scratch());
    assert_eq!(created_by(&s)[0].0, "RUN /bin/sh -c echo hi\n # buildkit");
}
