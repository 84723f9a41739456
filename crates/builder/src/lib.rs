//! The Dockerfile frontend of xcompose's builder: everything that is a pure function of the
//! Dockerfile, the build arguments and the context directory. Executing a build (containers,
//! layers, the cache store, committing images) is the caller's; this crate never writes.
//!
//! Module layout, one job each:
//! - [`model`] — the parsed Dockerfile: [`Dockerfile`], [`Stage`], [`Instruction`] with its
//!   [`InstructionKind`], flags and [`SourceLines`]; words kept unexpanded.
//! - `parse` — text to [`Dockerfile`] (`Dockerfile::parse(text, path)`), on the
//!   `parse-dockerfile` crate, with the parser directives, heredocs, flag checks and BuildKit's
//!   error words (`dockerfile parse error on line 5: unknown instruction: RUNN`).
//! - `expand` — Docker's shell-word expansion (`$v`, `${v:-w}`, `${v#p}`, quotes, escapes) as
//!   the `Expander`, which also reports the variables a word used.
//! - `args` — `BuildArgs` (`--build-arg`), ARG scoping, the built-in platform and proxy args.
//! - `plan` — `BuildPlan`: the stages a target needs, in order, and which can run in parallel.
//! - `config` — `ImageConfigState`: the image config and history, instruction by instruction.
//! - `context` — `.dockerignore`, COPY/ADD source selection and the content digest of a
//!   selection for cache keys.

pub mod error;
pub mod exec;
pub mod model;
mod parse;

pub use error::ParseError;

pub use model::{
    ArgDecl, CommandLine, CopyArgs, CopySource, Dockerfile, HealthProbe, Healthcheck, Heredoc, Instruction, InstructionKind,
    KeyValue, OnbuildTrigger, RunArgs, SourceLines, Stage,
};
