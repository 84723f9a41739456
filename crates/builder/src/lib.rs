//! The Dockerfile frontend of xcompose's builder: everything that is a pure function of the
//! Dockerfile, the build arguments and the context directory. Executing a build (containers,
//! layers, the cache store, committing images) is the caller's; this frontend never writes.
//!
//! Module layout, one job each:
//! - [`model`] — the parsed Dockerfile: [`Dockerfile`], [`Stage`], [`Instruction`] with its
//!   [`InstructionKind`], flags and [`SourceLines`]; words kept unexpanded.
//! - `parse` — text to [`Dockerfile`] ([`Dockerfile::parse`]) after BuildKit's parser: the
//!   `syntax`/`escape` directives, continuations, comments, heredocs, exec/shell forms, flag
//!   checks, and BuildKit's error words (`dockerfile parse error on line 5: unknown
//!   instruction: RUNN`) in [`ParseError`].
//! - [`expand`] — Docker's shell-word expansion (`$v`, `${v:-w}`, `${v#p}`, quotes, escapes) as
//!   the [`Expander`], which also reports the variables a word used.
//! - [`instantiate`] — an instruction's words expanded as BuildKit does at dispatch (which
//!   instructions and flags expand), with the variables used, for cache keys.
//! - [`args`] — [`BuildArgs`] (`--build-arg`), the built-in platform and proxy args, and the
//!   [`GlobalArgs`] before the first FROM.
//! - [`scope`] — [`StageScope`]: a stage's variables instruction by instruction (ARG, ENV),
//!   RUN's environment and its `|N A=1` history prefix.
//! - [`plan`] — [`BuildPlan`]: the stages a target needs, in order, each one's base and
//!   `--from` sources, and which can be built in parallel.
//! - [`stage`] — [`StageState`]: one stage's config and scope advanced instruction by
//!   instruction ([`StageState::step`]), giving the executor each [`Step`].
//! - [`config`] — [`ImageConfigState`]: the image config and history, instruction by
//!   instruction, with Docker's rules.
//! - `copy_flags` — COPY/ADD flag checks at dispatch ([`CopyArgs::chmod_mode`],
//!   [`CopyArgs::check_checksum`]).
//! - [`context`] — [`Context`]: `.dockerignore`, COPY/ADD source selection and the content
//!   digest of a selection for cache keys.
//!
//! A stage, driven as the executor does it (RUN, COPY and ADD themselves are the executor's):
//!
//! ```
//! use xcompose_builder::*;
//!
//! let dockerfile = Dockerfile::parse("ARG TAG=1\nFROM alpine:$TAG\nARG NAME=app\nENV HOME=/home/$NAME\nWORKDIR $HOME\nCMD run\n", "Dockerfile").unwrap();
//! let args = BuildArgs::default();
//! let plan = BuildPlan::new(&dockerfile, &args, None).unwrap();
//! assert_eq!(plan.stages[0].base, Base::Image("alpine:1".into()));
//!
//! let expander = Expander::new(dockerfile.escape);
//! // `ImageConfigState::from_config_blob` of the base image; scratch here.
//! let mut stage = StageState::from_image(ImageConfigState::scratch());
//! for instruction in &dockerfile.stages[plan.target].instructions {
//!     let step = stage.step(instruction, &args, &plan.globals, &expander).unwrap();
//!     // `step.cache_inputs` go into the step's cache key; the executor carries out
//!     // `step.kind` when `step.changes_filesystem`.
//!     assert_eq!(step.changes_filesystem, matches!(step.kind, InstructionKind::Workdir(_)));
//! }
//! assert_eq!(stage.config.config.working_dir().as_deref(), Some("/home/app"));
//! assert_eq!(stage.config.config.cmd().clone().unwrap(), ["/bin/sh", "-c", "run"]);
//! ```

pub mod args;
pub mod config;
pub mod context;
mod copy_flags;
pub mod error;
pub mod exec;
pub mod expand;
pub mod instantiate;
pub mod model;
mod parse;
pub mod plan;
pub mod scope;
pub mod stage;

pub use args::{BuildArgs, GlobalArgs, Platform};
pub use config::{ConfigError, ImageConfigState};
pub use context::{AddSourceKind, Context, ContextError, SelectOptions, SelectedPath};
pub use error::ParseError;
pub use expand::{ExpandError, Expanded, Expander, Variables};
pub use instantiate::Instantiated;
pub use model::{
    ArgDecl, CommandLine, CopyArgs, CopySource, Dockerfile, HealthProbe, Healthcheck, Heredoc, Instruction, InstructionKind, KeyValue,
    OnbuildTrigger, RunArgs, SourceLines, Stage,
};
pub use plan::{Base, BuildPlan, FromSource, PlanError, PlannedStage};
pub use scope::StageScope;
pub use stage::{StageState, Step, StepError};
