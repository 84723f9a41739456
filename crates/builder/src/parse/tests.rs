use crate::model::*;

fn parse(text: &str) -> Dockerfile {
    Dockerfile::parse(text, "Dockerfile").unwrap()
}

fn error(text: &str) -> String {
    Dockerfile::parse(text, "Dockerfile").unwrap_err().to_string()
}

fn kinds(text: &str) -> Vec<InstructionKind> {
    parse(text).stages.into_iter().flat_map(|s| s.instructions).map(|i| i.kind).collect()
}

#[test]
fn stages_with_names_platforms_and_global_args() {
    let d = parse("# syntax=docker/dockerfile:1\nARG BASE=busybox\nFROM --platform=$BUILDPLATFORM ${BASE} AS Build\nRUN make\n\nfrom build as Final\n");
    assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(d.global_args.len(), 1);
    assert_eq!(d.stages.len(), 2);
    assert_eq!((d.stages[0].name.as_deref(), d.stages[0].base.as_str(), d.stages[0].platform.as_deref()), (Some("build"), "${BASE}", Some("$BUILDPLATFORM")));
    assert_eq!(d.stages[0].instructions[0].lines, SourceLines { start: 4, end: 4 });
    assert_eq!((d.stages[1].name.as_deref(), d.stages[1].base.as_str(), d.stages[1].index), (Some("final"), "build", 1));
    assert_eq!(d.stage("FINAL").map(|s| s.index), Some(1));
    assert_eq!(d.stage("0").map(|s| s.index), Some(0));
}

#[test]
fn exec_and_shell_forms() {
    let k = kinds("FROM x\nRUN [\"echo\", \"a b\"]\nRUN echo \\\n  $HOME\nCMD [\"a\"\nENTRYPOINT [\"sh\"]\nSHELL [\"/bin/bash\", \"-c\"]\n");
    assert_eq!(k[0], InstructionKind::Run(RunArgs { command: CommandLine::Exec(vec!["echo".into(), "a b".into()]), heredocs: vec![], mounts: vec![], network: None, security: None }));
    assert!(matches!(&k[1], InstructionKind::Run(r) if r.command == CommandLine::Shell("echo   $HOME".into())));
    assert_eq!(k[2], InstructionKind::Cmd(CommandLine::Shell("[\"a\"".into())));
    assert_eq!(k[3], InstructionKind::Entrypoint(CommandLine::Exec(vec!["sh".into()])));
    assert_eq!(k[4], InstructionKind::Shell(vec!["/bin/bash".into(), "-c".into()]));
}

#[test]
fn run_flags_and_heredocs() {
    let k = kinds("FROM x\nRUN --mount=type=cache,target=/c --mount=type=tmpfs,target=/t --network=none <<EOF\necho $X\nEOF\n");
    let InstructionKind::Run(run) = &k[0] else { panic!("{k:?}") };
    assert_eq!(run.mounts, vec!["type=cache,target=/c", "type=tmpfs,target=/t"]);
    assert_eq!(run.network.as_deref(), Some("none"));
    assert_eq!(run.command, CommandLine::Shell("<<EOF".into()));
    assert_eq!(run.heredocs, vec![Heredoc { name: "EOF".into(), content: "echo $X\n".into(), expand: true }]);
}

#[test]
fn copy_sources_flags_and_heredoc_files() {
    let k = kinds("FROM x\nCOPY --from=build --chown=app:app --chmod=0755 --link --parents --exclude=*.md --exclude=tmp a b* /dst/\nCOPY <<one <<'two' /d/\n1 $X\none\n2\ntwo\nADD --checksum=sha256:aa --keep-git-dir=true [\"a b\", \"/c\"]\n");
    let InstructionKind::Copy(copy) = &k[0] else { panic!() };
    assert_eq!(copy.sources, vec![CopySource::Path("a".into()), CopySource::Path("b*".into())]);
    assert_eq!((copy.dest.as_str(), copy.from.as_deref(), copy.chown.as_deref(), copy.chmod.as_deref()), ("/dst/", Some("build"), Some("app:app"), Some("0755")));
    assert!(copy.link && copy.parents);
    assert_eq!(copy.exclude, vec!["*.md", "tmp"]);
    let InstructionKind::Copy(heredocs) = &k[1] else { panic!() };
    assert_eq!(heredocs.sources, vec![
        CopySource::Heredoc(Heredoc { name: "one".into(), content: "1 $X\n".into(), expand: true }),
        CopySource::Heredoc(Heredoc { name: "two".into(), content: "2\n".into(), expand: false }),
    ]);
    let InstructionKind::Add(add) = &k[2] else { panic!() };
    assert_eq!((add.sources.clone(), add.dest.as_str(), add.checksum.as_deref(), add.keep_git_dir), (vec![CopySource::Path("a b".into())], "/c", Some("sha256:aa"), true));
}

#[test]
fn env_label_and_arg_words() {
    let k = kinds("FROM x\nENV a=b c=\"d e\" f=g\\ h\nENV legacy value with spaces\nLABEL \"com.x\"=1 v=\"2\"\nARG A B=1 C=\"x y\"\n");
    let kv = |k: &str, v: &str| KeyValue { key: k.into(), value: v.into() };
    assert_eq!(k[0], InstructionKind::Env(vec![kv("a", "b"), kv("c", "\"d e\""), kv("f", "g\\ h")]));
    assert_eq!(k[1], InstructionKind::Env(vec![kv("legacy", "value with spaces")]));
    assert_eq!(k[2], InstructionKind::Label(vec![kv("\"com.x\"", "1"), kv("v", "\"2\"")]));
    assert_eq!(k[3], InstructionKind::Arg(vec![
        ArgDecl { name: "A".into(), default: None },
        ArgDecl { name: "B".into(), default: Some("1".into()) },
        ArgDecl { name: "C".into(), default: Some("\"x y\"".into()) },
    ]));
}

#[test]
fn metadata_instructions() {
    let k = kinds("FROM x\nEXPOSE 80 53/udp 8000-8010\nVOLUME /a /b\nVOLUME [\"/c\"]\nUSER app:grp\nWORKDIR /srv\nSTOPSIGNAL SIGINT\nMAINTAINER Jane <j@x>\n");
    assert_eq!(k[0], InstructionKind::Expose(vec!["80".into(), "53/udp".into(), "8000-8010".into()]));
    assert_eq!(k[1], InstructionKind::Volume(vec!["/a".into(), "/b".into()]));
    assert_eq!(k[2], InstructionKind::Volume(vec!["/c".into()]));
    assert_eq!(k[3], InstructionKind::User("app:grp".into()));
    assert_eq!(k[4], InstructionKind::Workdir("/srv".into()));
    assert_eq!(k[5], InstructionKind::Stopsignal("SIGINT".into()));
    assert_eq!(k[6], InstructionKind::Maintainer("Jane <j@x>".into()));
}

#[test]
fn healthcheck_options_in_nanoseconds() {
    let k = kinds("FROM x\nHEALTHCHECK --interval=5s --timeout=1m --start-period=1.5s --start-interval=100ms --retries=3 CMD curl -f http://localhost/\nHEALTHCHECK CMD [\"/bin/check\"]\nHEALTHCHECK none\n");
    assert_eq!(k[0], InstructionKind::Healthcheck(Healthcheck::Check(HealthProbe {
        command: CommandLine::Shell("curl -f http://localhost/".into()),
        interval: Some(5_000_000_000),
        timeout: Some(60_000_000_000),
        start_period: Some(1_500_000_000),
        start_interval: Some(100_000_000),
        retries: Some(3),
    })));
    assert!(matches!(&k[1], InstructionKind::Healthcheck(Healthcheck::Check(p)) if p.command == CommandLine::Exec(vec!["/bin/check".into()]) && p.interval.is_none()));
    assert_eq!(k[2], InstructionKind::Healthcheck(Healthcheck::None));
}

#[test]
fn onbuild_keeps_the_trigger_text() {
    let k = kinds("FROM x\nONBUILD   COPY . /app\n");
    let InstructionKind::Onbuild(trigger) = &k[0] else { panic!() };
    assert_eq!(trigger.expression, "COPY . /app");
    assert!(matches!(trigger.instruction.kind, InstructionKind::Copy(_)));
    assert_eq!(trigger.instruction.lines, SourceLines { start: 2, end: 2 });
}

#[test]
fn onbuild_heredocs_are_stored_with_the_trigger() {
    let k = kinds("FROM x\nONBUILD RUN <<EOF\nmake\nEOF\n");
    let InstructionKind::Onbuild(trigger) = &k[0] else { panic!() };
    assert_eq!(trigger.expression, "RUN <<EOF\nmake\nEOF");
    let InstructionKind::Run(run) = &trigger.instruction.kind else { panic!() };
    assert_eq!(run.heredocs.len(), 1);
    let reparsed = Dockerfile::parse(&format!("FROM x\n{}\n", trigger.expression), "Dockerfile").unwrap();
    assert_eq!(reparsed.stages[0].instructions[0].kind, trigger.instruction.kind);
}

#[test]
fn lowercase_keywords_and_the_original_text() {
    let d = parse("from x\nrun echo hi \\\n there\n");
    assert_eq!(d.stages[0].instructions[0].original, "run echo hi  there");
    assert_eq!(d.stages[0].instructions[0].lines, SourceLines { start: 2, end: 3 });
}

#[test]
fn errors_name_the_line_in_buildkits_words() {
    let cases = [
        ("FROM x\n\nRUN a\n\nRUNN b\n", "dockerfile parse error on line 5: unknown instruction: RUNN (did you mean RUN?)"),
        ("FROM x\nSELECT 1\n", "dockerfile parse error on line 2: unknown instruction: SELECT"),
        ("FROM x\nCOPY --chmode=1 a b\n", "dockerfile parse error on line 2: unknown flag: chmode (did you mean chmod?)"),
        ("FROM x\nCOPY a\n", "dockerfile parse error on line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined"),
        ("FROM x\nCOPY a <<EOF\nx\nEOF\n", "dockerfile parse error on line 2: COPY cannot accept a heredoc as a destination"),
        ("FROM x\nRUN --link a\n", "dockerfile parse error on line 2: unknown flag: link"),
        ("FROM x\nENV\n", "dockerfile parse error on line 2: ENV requires at least one argument"),
        ("FROM x\nENV a\n", "dockerfile parse error on line 2: ENV must have two arguments"),
        ("FROM x\nENV a=1 b\n", "dockerfile parse error on line 2: Syntax error - can't find = in \"b\". Must be of the form: name=value"),
        ("FROM x\nWORKDIR\n", "dockerfile parse error on line 2: WORKDIR requires exactly one argument"),
        ("FROM x\nSHELL sh -c\n", "dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form"),
        ("FROM x\nCMD [1]\n", "dockerfile parse error on line 2: when using JSON array syntax, arrays must be comprised of strings only"),
        ("FROM x\nONBUILD ONBUILD RUN x\n", "dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("FROM x\nONBUILD from y\n", "dockerfile parse error on line 2: FROM isn't allowed as an ONBUILD trigger"),
        ("FROM x\nONBUILD MAINTAINER y\n", "dockerfile parse error on line 2: MAINTAINER isn't allowed as an ONBUILD trigger"),
        ("FROM x\nHEALTHCHECK --interval=1us CMD a\n", "dockerfile parse error on line 2: Interval \"interval\" cannot be less than 1ms"),
        ("FROM x\nHEALTHCHECK --retries=-1 CMD a\n", "dockerfile parse error on line 2: --retries cannot be negative (-1)"),
        ("FROM x\nHEALTHCHECK --interval=5 CMD a\n", "dockerfile parse error on line 2: time: missing unit in duration \"5\""),
        ("FROM x\nHEALTHCHECK CMD\n", "dockerfile parse error on line 2: Missing command after HEALTHCHECK CMD"),
        ("FROM x\nHEALTHCHECK RUN a\n", "dockerfile parse error on line 2: Unknown type \"RUN\" in HEALTHCHECK (try CMD)"),
        ("FROM x\nHEALTHCHECK NONE x\n", "dockerfile parse error on line 2: HEALTHCHECK NONE takes no arguments"),
        ("FROM x y\n", "dockerfile parse error on line 1: FROM requires either one or three arguments"),
        ("FROM x AS 1st\n", "dockerfile parse error on line 1: invalid name for build stage: \"1st\", name can't start with a number or contain symbols"),
        ("FROM x AS a\nFROM y AS A\n", "dockerfile parse error on line 2: duplicate stage name \"a\""),
        ("RUN x\nFROM y\n", "dockerfile parse error on line 1: no build stage in current context"),
        ("# just a comment\n\n", "dockerfile parse error on line 1: file with no instructions"),
        ("ARG A\n", "dockerfile parse error on line 1: dockerfile contains no stages to build"),
        ("FROM x\nRUN cat <<EOF\nno end\n", "dockerfile parse error on line 2: unterminated heredoc"),
        ("# escape=x\nFROM x\n", "dockerfile parse error on line 1: invalid escape token 'x' does not match ` or \\"),
        ("FROM x\nVOLUME [\"\"]\n", "dockerfile parse error on line 2: VOLUME specified can not be an empty string"),
        ("FROM x\nARG =1\n", "dockerfile parse error on line 2: ARG names can not be blank"),
        ("FROM x\nCOPY --link=maybe a b\n", "dockerfile parse error on line 2: expecting boolean value for flag link, not: maybe"),
    ];
    for (text, expected) in cases {
        assert_eq!(error(text), expected, "{text:?}");
    }
}

#[test]
fn another_frontend_is_refused_on_its_line() {
    let e = Dockerfile::parse("# syntax=example.com/my/frontend:2\nFROM x\n", "app/Dockerfile.dev").unwrap_err();
    assert_eq!((e.line, e.location()), (1, "app/Dockerfile.dev:1".to_string()));
    assert!(e.message.starts_with("unsupported Dockerfile frontend \"example.com/my/frontend:2\""), "{e}");
}

#[test]
fn backtick_escape_for_windows_style_files() {
    let k = kinds("# escape=`\nFROM x\nENV a=c:\\path b=x`\ny\nRUN dir `\n  c:\\\n");
    assert_eq!(k[0], InstructionKind::Env(vec![KeyValue { key: "a".into(), value: "c:\\path".into() }, KeyValue { key: "b".into(), value: "xy".into() }]));
    assert!(matches!(&k[1], InstructionKind::Run(r) if r.command == CommandLine::Shell("dir   c:\\".into())));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Lines made of instruction keywords, flags, quotes, escapes, heredoc and JSON pieces.
    fn dockerfile_like() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "LABEL", "CMD", "ENTRYPOINT", "HEALTHCHECK", "ONBUILD", "SHELL", "EXPOSE", "VOLUME", "USER",
            "WORKDIR", "STOPSIGNAL", "MAINTAINER", "AS", "x", "a=b", "\"q", "'s", "\\", "`", "--from=x", "--mount=type=cache", "--interval=1s", "CMD",
            "NONE", "<<EOF", "<<-'E'", "EOF", "\tE", "[\"a\"]", "[1]", "[", "#", "# escape=`", "# syntax=x", "$x", "${x:-y}", " ", "\n", "\n",
        ]);
        prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.join(" "))
    }

    proptest! {
        #[test]
        fn any_text_parses_or_names_a_line(text in dockerfile_like()) {
            match Dockerfile::parse(&text, "Dockerfile") {
                Ok(d) => prop_assert!(!d.stages.is_empty()),
                Err(e) => prop_assert!(e.line >= 1 && e.line <= text.lines().count().max(1), "{e:?}"),
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(text in ".{0,200}") {
            let _ = Dockerfile::parse(&text, "Dockerfile");
        }
    }
}
