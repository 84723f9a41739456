//! One logical line to an instruction, with BuildKit's argument rules and error words
//! (moby/buildkit `frontend/dockerfile/parser` dispatch table and `instructions/parse.go`).

use xcompose_loader::units::parse_go_duration;

use super::flags::{FlagKind, Flags};
use super::heredoc;
use super::suggest;
use super::words::{fields, json_array, leading_flags, quoted_words, Json, NOT_STRINGS};
use crate::model::{
    ArgDecl, CommandLine, CopyArgs, CopySource, HealthProbe, Healthcheck, Heredoc, Instruction, InstructionKind, KeyValue, OnbuildTrigger,
    RunArgs, SourceLines,
};

/// Every instruction's keyword, as BuildKit lists them for its suggestions.
const KEYWORDS: [&str; 18] = [
    "add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck", "label", "maintainer", "onbuild", "run", "shell", "stopsignal", "user",
    "volume", "workdir",
];

/// A line read: the head of a stage or an instruction within one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// `FROM [--platform=p] base [AS name]`.
    From {
        /// The base as written.
        base: String,
        /// `--platform`.
        platform: Option<String>,
        /// `AS name`, lowercased.
        name: Option<String>,
    },
    /// Any other instruction.
    Other(InstructionKind),
}

/// Reads `text` (one logical line) and its here-documents.
pub(crate) fn parse_instruction(text: &str, heredocs: &[Heredoc], escape: char) -> Result<Parsed, String> {
    let text = text.trim();
    let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let (flag_words, args) = leading_flags(rest);
    let keyword = word.to_ascii_uppercase();
    let flags = |known: &[(&str, FlagKind)]| Flags::parse(&flag_words, known);
    let none = || flags(&[]);
    let kind = match keyword.as_str() {
        "FROM" => return from(args, &flags(&[("platform", FlagKind::String)])?),
        "RUN" => {
            let f = flags(&[("mount", FlagKind::Strings), ("network", FlagKind::String), ("security", FlagKind::String)])?;
            let command = command("RUN", args)?;
            InstructionKind::Run(RunArgs {
                command,
                heredocs: heredocs.to_vec(),
                mounts: f.strings("mount"),
                network: f.string("network"),
                security: f.string("security"),
            })
        }
        "CMD" => {
            none()?;
            InstructionKind::Cmd(command("CMD", args)?)
        }
        "ENTRYPOINT" => {
            none()?;
            InstructionKind::Entrypoint(command("ENTRYPOINT", args)?)
        }
        "SHELL" => {
            none()?;
            match json_array(args) {
                Json::Strings(s) if !s.is_empty() => InstructionKind::Shell(s),
                Json::Strings(_) => return Err(at_least_one("SHELL")),
                Json::NotStrings => return Err(NOT_STRINGS.into()),
                Json::Words if args.is_empty() => return Err(at_least_one("SHELL")),
                Json::Words => return Err("SHELL requires the arguments to be in JSON form".into()),
            }
        }
        "COPY" => {
            let f = flags(&[
                ("from", FlagKind::String),
                ("chown", FlagKind::String),
                ("chmod", FlagKind::String),
                ("link", FlagKind::Bool),
                ("parents", FlagKind::Bool),
                ("exclude", FlagKind::Strings),
            ])?;
            InstructionKind::Copy(copy_args("COPY", args, heredocs, &f)?)
        }
        "ADD" => {
            let f = flags(&[
                ("chown", FlagKind::String),
                ("chmod", FlagKind::String),
                ("link", FlagKind::Bool),
                ("keep-git-dir", FlagKind::Bool),
                ("checksum", FlagKind::String),
                ("exclude", FlagKind::Strings),
            ])?;
            InstructionKind::Add(copy_args("ADD", args, heredocs, &f)?)
        }
        "ENV" => {
            none()?;
            InstructionKind::Env(name_values("ENV", args, escape)?)
        }
        "LABEL" => {
            none()?;
            InstructionKind::Label(name_values("LABEL", args, escape)?)
        }
        "ARG" => {
            none()?;
            InstructionKind::Arg(arg_decls(args, escape)?)
        }
        "EXPOSE" => {
            none()?;
            let ports = fields(args);
            if ports.is_empty() {
                return Err(at_least_one("EXPOSE"));
            }
            InstructionKind::Expose(ports)
        }
        "VOLUME" => {
            none()?;
            let volumes = list(args)?;
            if volumes.is_empty() {
                return Err(at_least_one("VOLUME"));
            }
            if volumes.iter().any(|v| v.trim().is_empty()) {
                return Err("VOLUME specified can not be an empty string".into());
            }
            InstructionKind::Volume(volumes.iter().map(|v| v.trim().to_string()).collect())
        }
        "USER" => InstructionKind::User(single("USER", args, none)?),
        "WORKDIR" => InstructionKind::Workdir(single("WORKDIR", args, none)?),
        "STOPSIGNAL" => InstructionKind::Stopsignal(single("STOPSIGNAL", args, none)?),
        "MAINTAINER" => InstructionKind::Maintainer(single("MAINTAINER", args, none)?),
        "HEALTHCHECK" => InstructionKind::Healthcheck(healthcheck(args, &flag_words)?),
        "ONBUILD" => {
            none()?;
            InstructionKind::Onbuild(onbuild(args, heredocs, escape)?)
        }
        _ => return Err(suggest::with_suggestion(format!("unknown instruction: {word}"), word, &KEYWORDS, false)),
    };
    Ok(Parsed::Other(kind))
}

fn at_least_one(keyword: &str) -> String {
    format!("{keyword} requires at least one argument")
}

fn from(args: &str, flags: &Flags) -> Result<Parsed, String> {
    let words = fields(args);
    let name = match words.as_slice() {
        [_] => None,
        [_, as_, name] if as_.eq_ignore_ascii_case("as") => {
            let lower = name.to_ascii_lowercase();
            let valid = lower.starts_with(|c: char| c.is_ascii_lowercase())
                && lower.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
            if !valid {
                return Err(format!("invalid name for build stage: {name:?}, name can't start with a number or contain symbols"));
            }
            Some(lower)
        }
        _ => return Err("FROM requires either one or three arguments".into()),
    };
    Ok(Parsed::From { base: words[0].clone(), platform: flags.string("platform"), name })
}

/// RUN, CMD, ENTRYPOINT: exec form when the arguments are a JSON array of strings.
fn command(keyword: &str, args: &str) -> Result<CommandLine, String> {
    match json_array(args) {
        Json::Strings(words) => Ok(CommandLine::Exec(words)),
        Json::NotStrings => Err(NOT_STRINGS.into()),
        Json::Words if args.trim().is_empty() && keyword == "RUN" => Err(at_least_one(keyword)),
        Json::Words => Ok(CommandLine::Shell(args.trim().to_string())),
    }
}

/// COPY, ADD and VOLUME arguments: a JSON array, else whitespace-separated fields.
fn list(args: &str) -> Result<Vec<String>, String> {
    match json_array(args) {
        Json::Strings(words) => Ok(words),
        Json::NotStrings => Err(NOT_STRINGS.into()),
        _ => Ok(fields(args)),
    }
}

fn copy_args(keyword: &str, args: &str, heredocs: &[Heredoc], flags: &Flags) -> Result<CopyArgs, String> {
    let words = list(args)?;
    let Some((dest, sources)) = words.split_last().filter(|(_, s)| !s.is_empty()) else {
        return Err(format!("{keyword} requires at least two arguments, but only one was provided. Destination could not be determined"));
    };
    if heredoc::declared_by(dest).is_some() {
        return Err(format!("{keyword} cannot accept a heredoc as a destination"));
    }
    let mut bodies = heredocs.iter();
    let sources = sources
        .iter()
        .map(|word| match heredoc::declared_by(word).and_then(|_| bodies.next()) {
            Some(body) => CopySource::Heredoc(body.clone()),
            None => CopySource::Path(word.clone()),
        })
        .collect();
    Ok(CopyArgs {
        sources,
        dest: dest.clone(),
        from: flags.string("from"),
        chown: flags.string("chown"),
        chmod: flags.string("chmod"),
        link: flags.bool("link"),
        parents: flags.bool("parents"),
        exclude: flags.strings("exclude"),
        checksum: flags.string("checksum"),
        keep_git_dir: flags.bool("keep-git-dir"),
    })
}

/// ENV and LABEL: `k=v ...`, or the legacy `k v` (the rest of the line is the value).
fn name_values(keyword: &str, args: &str, escape: char) -> Result<Vec<KeyValue>, String> {
    let words = quoted_words(args, escape);
    let Some(first) = words.first() else {
        return Err(at_least_one(keyword));
    };
    if !first.contains('=') {
        let (key, value) = args.trim().split_once(char::is_whitespace).ok_or_else(|| format!("{keyword} must have two arguments"))?;
        return Ok(vec![KeyValue { key: key.to_string(), value: value.trim_start().to_string() }]);
    }
    words
        .iter()
        .map(|word| match word.split_once('=') {
            Some(("", _)) => Err(format!("{keyword} names can not be blank")),
            Some((key, value)) => Ok(KeyValue { key: key.to_string(), value: value.to_string() }),
            None => Err(format!("Syntax error - can't find = in {word:?}. Must be of the form: name=value")),
        })
        .collect()
}

fn arg_decls(args: &str, escape: char) -> Result<Vec<ArgDecl>, String> {
    let words = quoted_words(args, escape);
    if words.is_empty() {
        return Err(at_least_one("ARG"));
    }
    words
        .into_iter()
        .map(|word| match word.split_once('=') {
            Some(("", _)) => Err("ARG names can not be blank".to_string()),
            Some((name, value)) => Ok(ArgDecl { name: name.to_string(), default: Some(value.to_string()) }),
            None => Ok(ArgDecl { name: word, default: None }),
        })
        .collect()
}

/// USER, WORKDIR, STOPSIGNAL, MAINTAINER: the rest of the line, which must be there.
fn single(keyword: &str, args: &str, no_flags: impl Fn() -> Result<Flags, String>) -> Result<String, String> {
    no_flags()?;
    let value = args.trim();
    if value.is_empty() {
        return Err(format!("{keyword} requires exactly one argument"));
    }
    Ok(value.to_string())
}

fn healthcheck(args: &str, flag_words: &[String]) -> Result<Healthcheck, String> {
    let args = args.trim();
    let (kind, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
    if kind.is_empty() {
        return Err(at_least_one("HEALTHCHECK"));
    }
    let kind = kind.to_ascii_uppercase();
    if kind == "NONE" {
        if !rest.trim().is_empty() {
            return Err("HEALTHCHECK NONE takes no arguments".into());
        }
        Flags::parse(flag_words, &[])?;
        return Ok(Healthcheck::None);
    }
    let known = ["interval", "timeout", "start-period", "start-interval", "retries"].map(|n| (n, FlagKind::String));
    let flags = Flags::parse(flag_words, &known)?;
    if kind != "CMD" {
        return Err(format!("Unknown type {kind:?} in HEALTHCHECK (try CMD)"));
    }
    let command = match json_array(rest) {
        Json::Strings(words) if !words.is_empty() => CommandLine::Exec(words),
        Json::NotStrings => return Err(NOT_STRINGS.into()),
        Json::Words if !rest.trim().is_empty() => CommandLine::Shell(rest.trim().to_string()),
        _ => return Err("Missing command after HEALTHCHECK CMD".into()),
    };
    let duration = |name: &str| -> Result<Option<i64>, String> {
        let Some(text) = flags.string(name).filter(|t| !t.is_empty()) else { return Ok(None) };
        match parse_go_duration(&text, false)? {
            0 => Ok(None),
            n if n < 0 => Err(format!("Interval {name:?} cannot be negative")),
            n if n < 1_000_000 => Err(format!("Interval {name:?} cannot be less than 1ms")),
            n => Ok(Some(n)),
        }
    };
    let retries = match flags.string("retries").filter(|t| !t.is_empty()) {
        None => None,
        Some(text) => match text.parse::<i32>() {
            Ok(n) if n < 0 => return Err(format!("--retries cannot be negative ({n})")),
            Ok(0) => None,
            Ok(n) => Some(i64::from(n)),
            Err(_) => return Err(format!("strconv.ParseInt: parsing {text:?}: invalid syntax")),
        },
    };
    Ok(Healthcheck::Check(HealthProbe {
        command,
        interval: duration("interval")?,
        timeout: duration("timeout")?,
        start_period: duration("start-period")?,
        start_interval: duration("start-interval")?,
        retries,
    }))
}

/// ONBUILD's trigger; its text (the image's `OnBuild` entry) carries its here-documents back
/// after it, as BuildKit stores them.
fn onbuild(args: &str, heredocs: &[Heredoc], escape: char) -> Result<OnbuildTrigger, String> {
    let expression = args.trim();
    let trigger = expression.split_whitespace().next().ok_or_else(|| at_least_one("ONBUILD"))?.to_ascii_uppercase();
    match trigger.as_str() {
        "ONBUILD" => return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into()),
        "FROM" | "MAINTAINER" => return Err(format!("{trigger} isn't allowed as an ONBUILD trigger")),
        _ => {}
    }
    let Parsed::Other(kind) = parse_instruction(expression, heredocs, escape)? else {
        return Err("FROM isn't allowed as an ONBUILD trigger".into());
    };
    let lines = SourceLines { start: 0, end: 0 };
    let stored = heredocs.iter().fold(expression.to_string(), |text, h| format!("{text}\n{}{}", h.content, h.name));
    Ok(OnbuildTrigger { expression: stored, instruction: Box::new(Instruction { lines, original: expression.to_string(), kind }) })
}
