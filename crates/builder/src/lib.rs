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
//! - [`expand`] — Docker's shell-word expansion (`$v`, `${v:-w}`, `${v#p}`, quotes, escapes) as
//!   the [`Expander`], which also reports the variables a word used.
//! - [`instantiate`] — an instruction's words expanded as BuildKit does at dispatch (which
//!   instructions and flags expand), with the variables used, for cache keys.
//! - [`args`] — [`BuildArgs`] (`--build-arg`), the built-in platform and proxy args, and the
//!   [`GlobalArgs`] before the first FROM.
//! - [`scope`] — [`StageScope`]: a stage's variables instruction by instruction (ARG, ENV),
//!   RUN's environment and its `|N A=1` history prefix.
//! - [`plan`] — [`BuildPlan`]: the stages a target needs, in order, and which can run in parallel.
//! - [`config`] — [`ImageConfigState`]: the image config and history, instruction by instruction.
//! - [`context`] — [`Context`]: `.dockerignore`, COPY/ADD source selection and the content digest of a
//!   selection for cache keys.

pub mod args;
pub mod config;
pub mod context;
pub mod error;
pub mod expand;
pub mod instantiate;
pub mod model;
mod parse;
pub mod plan;
pub mod scope;

pub use args::{BuildArgs, GlobalArgs, Platform};
pub use config::{ConfigError, ImageConfigState};
pub use context::{Context, ContextError, SelectOptions, SelectedPath};
pub use error::ParseError;
pub use instantiate::Instantiated;
pub use plan::{Base, BuildPlan, FromSource, PlanError, PlannedStage};
pub use expand::{ExpandError, Expanded, Expander, Variables};

pub use scope::StageScope;
pub use model::{
    ArgDecl, CommandLine, CopyArgs, CopySource, Dockerfile, HealthProbe, Healthcheck, Heredoc, Instruction, InstructionKind,
    KeyValue, OnbuildTrigger, RunArgs, SourceLines, Stage,
};
