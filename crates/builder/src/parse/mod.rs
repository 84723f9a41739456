//! Dockerfile text to the [`Dockerfile`] model, as BuildKit's parser reads it.
//!
//! Written after moby/buildkit's `frontend/dockerfile/parser` rather than on the
//! `parse-dockerfile` crate: that crate (0.1.9) keeps escape-newlines inside shell-form
//! commands, reads one here-document per line and drops its delimiter (COPY needs it as the
//! file name), and does not check flags; BuildKit's words and semantics are needed here.

mod directives;
mod flags;
mod heredoc;
mod instruction;
mod lines;
mod suggest;
mod words;

use std::path::Path;

use crate::error::ParseError;
use crate::model::{Dockerfile, Instruction, InstructionKind, ParseWarning, Stage};
use instruction::{parse_instruction, Parsed};

/// The delimiter `word` declares when it is a here-document word (`<<EOF`, `<<-"EOF"`).
pub(crate) fn heredoc_name(word: &str) -> Option<String> {
    heredoc::declared_by(word).map(|d| d.name)
}

impl Dockerfile {
    /// Parses `text`, the Dockerfile at `path` (named in errors).
    pub fn parse(text: &str, path: impl AsRef<Path>) -> Result<Self, ParseError> {
        let path = path.as_ref().to_path_buf();
        let error = |line: usize, message: String| ParseError { path: path.clone(), line, message };
        let (directives, logical) = lines::logical_lines(text).map_err(|(line, message)| error(line, message))?;
        if let Some((syntax, line)) = &directives.syntax {
            directives::check_syntax(syntax).map_err(|m| error(*line, m))?;
        }
        let mut global_args = Vec::new();
        let mut stages: Vec<Stage> = Vec::new();
        let mut warnings = Vec::new();
        for line in logical {
            if line.empty_continuation {
                // BuildKit's NoEmptyContinuation check, at the instruction's last line.
                warnings.push(ParseWarning { line: line.lines.end, rule: "NoEmptyContinuation".into(), message: "Empty continuation line".into() });
            }
            let at = line.lines.start;
            match parse_instruction(&line.text, &line.heredocs, directives.escape).map_err(|m| error(at, m))? {
                Parsed::From { base, platform, name } => {
                    if let Some(name) = &name {
                        if stages.iter().any(|s| s.name.as_ref() == Some(name)) {
                            return Err(error(at, format!("duplicate stage name {name:?}")));
                        }
                    }
                    let index = stages.len();
                    stages.push(Stage { index, name, base, platform, lines: line.lines, original: line.text, instructions: Vec::new() });
                }
                Parsed::Other(mut kind) => {
                    if let InstructionKind::Onbuild(trigger) = &mut kind {
                        trigger.instruction.lines = line.lines;
                    }
                    let instruction = Instruction { lines: line.lines, original: line.text, kind };
                    match (stages.last_mut(), &instruction.kind) {
                        (Some(stage), _) => stage.instructions.push(instruction),
                        (None, InstructionKind::Arg(_)) => global_args.push(instruction),
                        (None, _) => return Err(error(at, "no build stage in current context".into())),
                    }
                }
            }
        }
        if stages.is_empty() {
            let line = global_args.last().map_or(1, |a: &Instruction| a.lines.start);
            let message = if global_args.is_empty() { "file with no instructions" } else { "dockerfile contains no stages to build" };
            return Err(error(line, message.into()));
        }
        Ok(Dockerfile { path, syntax: directives.syntax.map(|(s, _)| s), escape: directives.escape, global_args, stages, warnings })
    }

    /// The stage `name` names: an `AS` name (case-insensitive) or an index.
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        let lower = name.to_ascii_lowercase();
        self.stages.iter().find(|s| s.name.as_deref() == Some(lower.as_str())).or_else(|| name.parse::<usize>().ok().and_then(|i| self.stages.get(i)))
    }
}

#[cfg(test)]
mod tests;
