//! One stage's frontend state — its image config and its variables — advanced instruction by
//! instruction, as BuildKit's dispatcher does: each instruction expanded in the scope before
//! it, its cache inputs taken, the config and history changed, the scope updated (ARG, ENV).
//! What RUN, COPY, ADD and WORKDIR do to the filesystem is the executor's.

use crate::args::{BuildArgs, GlobalArgs};
use crate::config::{makes_layer, ImageConfigState};
use crate::expand::Expander;
use crate::model::{Instruction, InstructionKind};
use crate::scope::StageScope;

/// A stage's image config and variables.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StageState {
    /// The image config and history so far.
    pub config: ImageConfigState,
    /// The variables in scope.
    pub scope: StageScope,
}

/// An instruction as the executor gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The instruction with its words expanded.
    pub kind: InstructionKind,
    /// The `NAME=value` variables its cache key holds ([`crate::Instantiated::cache_inputs`]).
    pub cache_inputs: Vec<String>,
    /// Whether it changes the filesystem (RUN, COPY, ADD, WORKDIR): the executor's part.
    pub changes_filesystem: bool,
}

/// An instruction the stage cannot take (a word that does not expand, a bad port or
/// signal), with its line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StepError {
    /// The instruction's first line.
    pub line: usize,
    /// What is wrong, in BuildKit's words.
    pub message: String,
}

impl StageState {
    /// A stage starting from an image's (or scratch's) config.
    pub fn from_image(config: ImageConfigState) -> Self {
        let scope = StageScope::new(&config.config.env().clone().unwrap_or_default());
        Self { config, scope }
    }

    /// A stage `FROM` an earlier stage: its config (CMD not yet set here) and its scope.
    pub fn from_stage(parent: &StageState) -> Self {
        Self { config: parent.config.for_next_stage(), scope: parent.scope.clone() }
    }

    /// Takes `instruction`: expands it, records its cache inputs, applies it to the config and
    /// history, and updates the scope.
    pub fn step(&mut self, instruction: &Instruction, args: &BuildArgs, globals: &GlobalArgs, expander: &Expander) -> Result<Step, StepError> {
        let error = |message: String| StepError { line: instruction.lines.start, message };
        let instantiated = instruction.kind.instantiate(expander, &self.scope).map_err(|e| error(e.0))?;
        let cache_inputs = instantiated.cache_inputs(&self.scope);
        let kind = instantiated.kind;
        match &kind {
            InstructionKind::Arg(decls) => {
                self.scope.declare(decls, args, globals, expander).map_err(|e| error(e.0))?;
                self.config.apply(&kind, &self.scope).map_err(|e| error(e.0))?;
            }
            InstructionKind::Env(pairs) => {
                self.config.apply(&kind, &self.scope).map_err(|e| error(e.0))?;
                self.scope.set_env(&pairs.iter().map(|p| (p.key.clone(), p.value.clone())).collect::<Vec<_>>());
            }
            _ => self.config.apply(&kind, &self.scope).map_err(|e| error(e.0))?,
        }
        Ok(Step { changes_filesystem: makes_layer(&kind), kind, cache_inputs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Dockerfile;

    fn run(text: &str) -> (StageState, Vec<Step>) {
        let d = Dockerfile::parse(text, "Dockerfile").unwrap();
        let args = BuildArgs::new([("V".to_string(), "2".to_string())].into());
        let globals = GlobalArgs::new(&d, &args, "").unwrap();
        let expander = Expander::new(d.escape);
        let mut first = StageState::from_image(ImageConfigState::scratch());
        let steps = d.stages[0].instructions.iter().map(|i| first.step(i, &args, &globals, &expander).unwrap()).collect();
        (first, steps)
    }

    #[test]
    fn steps_expand_record_inputs_and_update_config_and_scope() {
        let (state, steps) = run("FROM scratch\nARG V=1\nENV DIR=/srv/$V\nWORKDIR $DIR\nRUN make\nCMD [\"app\"]\n");
        assert_eq!(steps[2].kind, InstructionKind::Workdir("/srv/2".into()));
        assert_eq!(steps[2].cache_inputs, vec!["DIR=/srv/2"]);
        assert!(steps[2].changes_filesystem && steps[3].changes_filesystem && !steps[4].changes_filesystem);
        assert!(steps[3].cache_inputs.contains(&"V=2".to_string()));
        assert_eq!(state.config.config.working_dir().as_deref(), Some("/srv/2"));
        let next = StageState::from_stage(&state);
        assert_eq!(next.scope, state.scope);
    }

    #[test]
    fn errors_carry_the_line() {
        let d = Dockerfile::parse("FROM scratch\n\nUSER ${P:?port needed}\n", "Dockerfile").unwrap();
        let mut state = StageState::from_image(ImageConfigState::scratch());
        let e = state.step(&d.stages[0].instructions[0], &BuildArgs::default(), &GlobalArgs::default(), &Expander::default()).unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (3, "failed to process \"${P:?port needed}\": P: port needed"));
    }
}
