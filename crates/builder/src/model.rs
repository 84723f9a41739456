//! The parsed Dockerfile: stages and their instructions, with flags and source lines. Every
//! word is kept as written (unexpanded, quotes included) — the builder expands it with
//! [`crate::expand::Expander`] when it reaches the instruction, as BuildKit does at dispatch.

use std::path::PathBuf;

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The file's path, for messages (`Dockerfile`, or the `-f` path as given).
    pub path: PathBuf,
    /// The `# syntax=` directive, if any (a `docker/dockerfile:1.x` frontend).
    pub syntax: Option<String>,
    /// The escape character: `\` unless the `# escape=` directive says `` ` ``.
    pub escape: char,
    /// The ARG instructions before the first FROM (usable in FROM lines; BuildKit's "meta args").
    pub global_args: Vec<Instruction>,
    /// The stages, in file order.
    pub stages: Vec<Stage>,
}

/// Where an instruction sits in its Dockerfile: 1-based lines, the last one included
/// (continuations and heredoc bodies make instructions span lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceLines {
    /// The instruction's first line.
    pub start: usize,
    /// The instruction's last line.
    pub end: usize,
}

/// One `FROM` and the instructions up to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// Position among the stages, from 0 (what `--from=0` names).
    pub index: usize,
    /// The `AS name`, lowercased as BuildKit compares names.
    pub name: Option<String>,
    /// The base as written: an image reference, an earlier stage's name, or `scratch`
    /// (unexpanded: global ARGs apply).
    pub base: String,
    /// The `--platform` flag as written, if any.
    pub platform: Option<String>,
    /// The FROM line's position.
    pub lines: SourceLines,
    /// The FROM instruction's text as written (continuations joined).
    pub original: String,
    /// The stage's instructions after FROM.
    pub instructions: Vec<Instruction>,
}

/// One instruction of a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Its position in the file.
    pub lines: SourceLines,
    /// Its text as written, continuations joined into one line as BuildKit prints it
    /// (`RUN apt-get update &&     apt-get install -y x`); heredoc bodies excluded.
    pub original: String,
    /// What it says.
    pub kind: InstructionKind,
}

/// The instructions of the Dockerfile reference (FROM is a [`Stage`]'s head).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstructionKind {
    /// `ADD [flags] src... dest`.
    Add(CopyArgs),
    /// `ARG name[=default] ...`.
    Arg(Vec<ArgDecl>),
    /// `CMD`.
    Cmd(CommandLine),
    /// `COPY [flags] src... dest`.
    Copy(CopyArgs),
    /// `ENTRYPOINT`.
    Entrypoint(CommandLine),
    /// `ENV k=v ...` or the legacy `ENV k v`.
    Env(Vec<KeyValue>),
    /// `EXPOSE port[/proto] ...` (each word as written).
    Expose(Vec<String>),
    /// `HEALTHCHECK [options] CMD ...` or `HEALTHCHECK NONE`.
    Healthcheck(Healthcheck),
    /// `LABEL k=v ...`.
    Label(Vec<KeyValue>),
    /// `MAINTAINER name` (the image's Author).
    Maintainer(String),
    /// `ONBUILD instruction`.
    Onbuild(OnbuildTrigger),
    /// `RUN [flags] command`.
    Run(RunArgs),
    /// `SHELL ["exe", "arg", ...]`.
    Shell(Vec<String>),
    /// `STOPSIGNAL signal`.
    Stopsignal(String),
    /// `USER user[:group]`.
    User(String),
    /// `VOLUME ["/a", ...]` or `VOLUME /a /b`.
    Volume(Vec<String>),
    /// `WORKDIR path`.
    Workdir(String),
}

/// A command in exec form (JSON array) or shell form (one string for the SHELL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLine {
    /// `["exe", "arg"]`: run as is, no shell, no expansion.
    Exec(Vec<String>),
    /// `exe arg`: given to the SHELL as its last argument, as written (continuations joined;
    /// heredoc bodies are in [`RunArgs::heredocs`]).
    Shell(String),
}

/// A here-document (`<<EOF`, `<<-EOF`, `<<"EOF"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word (`EOF`), which COPY uses as the file name.
    pub name: String,
    /// The body, each line ending with a newline; leading tabs already stripped for `<<-`.
    pub content: String,
    /// Whether `$var` in the body is expanded (the delimiter was not quoted).
    pub expand: bool,
}

/// `ARG name` or `ARG name=default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    /// The argument's name.
    pub name: String,
    /// Its default as written (unexpanded), if any.
    pub default: Option<String>,
}

/// One `key=value` of ENV or LABEL, both as written (unexpanded, quotes kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

/// ONBUILD's trigger: kept as the raw text the image stores, and parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnbuildTrigger {
    /// The trigger's text after `ONBUILD ` (what the image config's `OnBuild` holds).
    pub expression: String,
    /// The trigger parsed (never FROM, MAINTAINER or ONBUILD).
    pub instruction: Box<Instruction>,
}

/// RUN's command and flags (flag values as written, unexpanded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunArgs {
    /// The command.
    pub command: CommandLine,
    /// Here-documents of the shell form, in order.
    pub heredocs: Vec<Heredoc>,
    /// Each `--mount=` value (`type=cache,target=/x`), in order.
    pub mounts: Vec<String>,
    /// `--network=default|none|host`.
    pub network: Option<String>,
    /// `--security=sandbox|insecure`.
    pub security: Option<String>,
}

/// A COPY or ADD source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopySource {
    /// A path, glob or (ADD) URL, as written.
    Path(String),
    /// A here-document whose body becomes a file named after its delimiter.
    Heredoc(Heredoc),
}

/// COPY's and ADD's sources, destination and flags (values as written, unexpanded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyArgs {
    /// The sources, in order (at least one).
    pub sources: Vec<CopySource>,
    /// The destination.
    pub dest: String,
    /// `--from=stage|image|context`.
    pub from: Option<String>,
    /// `--chown=user[:group]`.
    pub chown: Option<String>,
    /// `--chmod=mode`.
    pub chmod: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `--parents`.
    pub parents: bool,
    /// Each `--exclude=pattern`.
    pub exclude: Vec<String>,
    /// ADD's `--checksum=sha256:...`.
    pub checksum: Option<String>,
    /// ADD's `--keep-git-dir`.
    pub keep_git_dir: bool,
}

/// HEALTHCHECK: a probe with its options, or `NONE` (disable the inherited one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`.
    None,
    /// `HEALTHCHECK [options] CMD ...`.
    Check(HealthProbe),
}

/// A HEALTHCHECK probe; durations in nanoseconds as Docker stores them, `None` when not given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthProbe {
    /// The command (`CMD` exec form or `CMD-SHELL` from the shell form).
    pub command: CommandLine,
    /// `--interval`.
    pub interval: Option<i64>,
    /// `--timeout`.
    pub timeout: Option<i64>,
    /// `--start-period`.
    pub start_period: Option<i64>,
    /// `--start-interval`.
    pub start_interval: Option<i64>,
    /// `--retries`.
    pub retries: Option<i64>,
}

impl InstructionKind {
    /// The instruction's keyword in capitals (`RUN`), as messages and history print it.
    pub fn keyword(&self) -> &'static str {
        match self {
            Self::Add(_) => "ADD",
            Self::Arg(_) => "ARG",
            Self::Cmd(_) => "CMD",
            Self::Copy(_) => "COPY",
            Self::Entrypoint(_) => "ENTRYPOINT",
            Self::Env(_) => "ENV",
            Self::Expose(_) => "EXPOSE",
            Self::Healthcheck(_) => "HEALTHCHECK",
            Self::Label(_) => "LABEL",
            Self::Maintainer(_) => "MAINTAINER",
            Self::Onbuild(_) => "ONBUILD",
            Self::Run(_) => "RUN",
            Self::Shell(_) => "SHELL",
            Self::Stopsignal(_) => "STOPSIGNAL",
            Self::User(_) => "USER",
            Self::Volume(_) => "VOLUME",
            Self::Workdir(_) => "WORKDIR",
        }
    }
}
