//! What RUN executes, as BuildKit's `dispatchRun` turns the instruction into a process: exec
//! form as is; shell form through the SHELL; a RUN that is one here-document runs its body
//! through the SHELL, or, when the body starts with `#!`, as a script file mounted at
//! `/dev/pipes/<name>`; other here-documents are put back after the command for the shell.

use super::ImageConfigState;
use crate::model::{CommandLine, RunArgs};

/// Where BuildKit mounts a RUN's here-document script.
pub const PIPES_DIR: &str = "/dev/pipes";

/// The process of a RUN step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInvocation {
    /// The process's arguments (SHELL included for the shell form).
    pub args: Vec<String>,
    /// A script to mount read-only at this path with mode 0755, and its content.
    pub script: Option<(String, String)>,
}

impl ImageConfigState {
    /// The process `run` executes with this config's SHELL.
    pub fn run_invocation(&self, run: &RunArgs) -> RunInvocation {
        let CommandLine::Shell(text) = &run.command else {
            return RunInvocation { args: self.command_args(&run.command), script: None };
        };
        let mut script = None;
        let command = match run.heredocs.first() {
            Some(first) if run.heredocs.len() == 1 && is_lone_heredoc(text, &first.name) => {
                if first.content.starts_with("#!") {
                    let path = format!("{PIPES_DIR}/{}", first.name);
                    script = Some((path.clone(), first.content.clone()));
                    path
                } else {
                    first.content.clone()
                }
            }
            _ => run.heredocs.iter().fold(text.clone(), |full, h| format!("{full}\n{}{}", h.content, h.name)),
        };
        RunInvocation { args: self.command_args(&CommandLine::Shell(command)), script }
    }
}

/// `<<EOF`, `<<-EOF`, `<<"EOF"` alone: the whole command is the here-document.
fn is_lone_heredoc(text: &str, name: &str) -> bool {
    crate::parse::heredoc_name(text).is_some_and(|declared| declared == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Dockerfile, InstructionKind};

    fn invocation(line: &str) -> RunInvocation {
        let d = Dockerfile::parse(&format!("FROM x\n{line}"), "Dockerfile").unwrap();
        let InstructionKind::Run(run) = &d.stages[0].instructions[0].kind else { panic!() };
        ImageConfigState::scratch().run_invocation(run)
    }

    #[test]
    fn forms_and_heredocs_as_buildkit_runs_them() {
        assert_eq!(invocation("RUN [\"echo\", \"a\"]\n").args, vec!["echo", "a"]);
        assert_eq!(invocation("RUN echo a\n").args, vec!["/bin/sh", "-c", "echo a"]);
        assert_eq!(invocation("RUN <<EOF\necho a\necho b\nEOF\n").args, vec!["/bin/sh", "-c", "echo a\necho b\n"]);
        let script = invocation("RUN <<'END'\n#!/usr/bin/env python3\nprint(1)\nEND\n");
        assert_eq!(script.args, vec!["/bin/sh", "-c", "/dev/pipes/END"]);
        assert_eq!(script.script, Some(("/dev/pipes/END".to_string(), "#!/usr/bin/env python3\nprint(1)\n".to_string())));
        assert_eq!(invocation("RUN cat <<A >/a && cat <<B >/b\n1\nA\n2\nB\n").args, vec!["/bin/sh", "-c", "cat <<A >/a && cat <<B >/b\n1\nA\n2\nB"]);
    }
}
