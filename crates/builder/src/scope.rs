//! The variables of one stage as its instructions run (BuildKit's dispatch state): the
//! environment words expand with and RUN sees — the base image's `Env`, then each ENV and
//! each ARG with a value, in order, the later one winning — and the ARGs the stage declared.

use std::collections::BTreeMap;

use crate::args::{BuildArgs, GlobalArgs};
use crate::expand::{ExpandError, Expander, Variables};
use crate::model::ArgDecl;

/// A stage's variables at one point of the stage. A stage `FROM` an earlier stage starts
/// with a clone of that stage's final scope: BuildKit carries its environment and its
/// declared ARGs over.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StageScope {
    env: Vec<(String, String)>,
    declared: Vec<(String, Option<String>)>,
}

impl StageScope {
    /// The scope at FROM: the base image's `Env` (`NAME=value` strings).
    pub fn new(base_env: &[String]) -> Self {
        let mut scope = Self::default();
        for entry in base_env {
            let (name, value) = entry.split_once('=').unwrap_or((entry, ""));
            scope.set(name, value);
        }
        scope
    }

    fn set(&mut self, name: &str, value: &str) {
        match self.env.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = value.to_string(),
            None => self.env.push((name.to_string(), value.to_string())),
        }
    }

    /// ENV with its pairs already expanded: they join the environment.
    pub fn set_env(&mut self, pairs: &[(String, String)]) {
        pairs.iter().for_each(|(n, v)| self.set(n, v));
    }

    /// ARG in this stage: each name's value is the `--build-arg`, else its default expanded
    /// with the scope so far, else the global ARG's value; a name with a value joins the
    /// environment. Returns the `NAME=value` (or `NAME`) words of the history's `ARG` line.
    pub fn declare(&mut self, decls: &[ArgDecl], args: &BuildArgs, globals: &GlobalArgs, expander: &Expander) -> Result<Vec<String>, ExpandError> {
        let mut words = Vec::new();
        for decl in decls {
            let value = match (args.values.get(&decl.name), &decl.default) {
                (Some(given), _) => Some(given.clone()),
                (None, Some(default)) => Some(expander.word(default, self)?.value),
                (None, None) => globals.get(&decl.name).map(str::to_string),
            };
            if let Some(value) = &value {
                self.set(&decl.name, value);
            }
            words.push(match &value {
                Some(v) => format!("{}={v}", decl.name),
                None => decl.name.clone(),
            });
            self.declared.retain(|(n, _)| n != &decl.name);
            self.declared.push((decl.name.clone(), value));
        }
        Ok(words)
    }

    /// The environment as `NAME=value` strings in order: what words expand with, and (with
    /// [`StageScope::run_env`]'s proxies) RUN's environment and cache key.
    pub fn env(&self) -> Vec<String> {
        self.env.iter().map(|(n, v)| format!("{n}={v}")).collect()
    }

    /// RUN's environment: [`StageScope::env`] and the proxy build arguments it does not set.
    pub fn run_env(&self, args: &BuildArgs) -> Vec<String> {
        let mut env = self.env();
        for (name, value) in args.proxies() {
            if self.value(&name).is_none() {
                env.push(format!("{name}={value}"));
            }
        }
        env
    }

    /// The declared ARGs with their values, as RUN's history line and cache key show them:
    /// `|2 A=1 B=x` before the command (BuildKit's `runCommandString`; a later ENV of the same
    /// name shows its value). `None` when the stage declared no ARG.
    pub fn run_args_prefix(&self) -> Option<String> {
        if self.declared.is_empty() {
            return None;
        }
        let words: Vec<String> = self
            .declared
            .iter()
            .map(|(name, value)| format!("{name}={}", self.value(name).or(value.as_deref()).unwrap_or("")))
            .collect();
        Some(format!("|{} {}", words.len(), words.join(" ")))
    }

    /// The names and values of the declared ARGs.
    pub fn declared(&self) -> BTreeMap<String, Option<String>> {
        self.declared.iter().cloned().collect()
    }
}

impl Variables for StageScope {
    fn value(&self, name: &str) -> Option<&str> {
        self.env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Platform;
    use crate::model::{Dockerfile, InstructionKind};

    fn decls(text: &str) -> Vec<ArgDecl> {
        let d = Dockerfile::parse(&format!("FROM x\nARG {text}\n"), "Dockerfile").unwrap();
        match &d.stages[0].instructions[0].kind {
            InstructionKind::Arg(decls) => decls.clone(),
            _ => unreachable!(),
        }
    }

    fn build_args(pairs: &[(&str, &str)]) -> BuildArgs {
        let host = Platform { os: "linux".into(), architecture: "amd64".into(), variant: String::new() };
        BuildArgs { values: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), target_platform: host.clone(), build_platform: host }
    }

    #[test]
    fn the_references_arg_scoping_example() {
        // Dockerfile reference, "Scope": a global ARG is only seen in a stage after `ARG NAME`.
        let d = Dockerfile::parse("ARG VERSION=latest\nFROM busybox:$VERSION\nARG VERSION\nRUN echo $VERSION\n", "Dockerfile").unwrap();
        let args = build_args(&[]);
        let globals = GlobalArgs::new(&d, &args, "").unwrap();
        let mut scope = StageScope::new(&["PATH=/bin".into()]);
        assert_eq!(scope.value("VERSION"), None);
        let words = scope.declare(&decls("VERSION"), &args, &globals, &Expander::default()).unwrap();
        assert_eq!(words, vec!["VERSION=latest"]);
        assert_eq!(scope.value("VERSION"), Some("latest"));
    }

    #[test]
    fn build_args_override_defaults_and_env_overrides_args() {
        let args = build_args(&[("A", "given"), ("UNDECLARED", "x"), ("HTTP_PROXY", "http://p")]);
        let globals = GlobalArgs::default();
        let mut scope = StageScope::new(&["HOME=/root".into()]);
        scope.declare(&decls("A=default B=${HOME}/b C"), &args, &globals, &Expander::default()).unwrap();
        assert_eq!((scope.value("A"), scope.value("B"), scope.value("C")), (Some("given"), Some("/root/b"), None));
        assert_eq!(scope.value("UNDECLARED"), None);
        scope.set_env(&[("A".into(), "from-env".into())]);
        assert_eq!(scope.value("A"), Some("from-env"));
        assert_eq!(scope.run_args_prefix().as_deref(), Some("|3 A=from-env B=/root/b C="));
        assert_eq!(scope.run_env(&args), vec!["HOME=/root", "A=from-env", "B=/root/b", "HTTP_PROXY=http://p"]);
    }

    #[test]
    fn builtin_platform_args_need_a_declaration_in_a_stage() {
        let d = Dockerfile::parse("FROM x\n", "Dockerfile").unwrap();
        let args = build_args(&[]);
        let globals = GlobalArgs::new(&d, &args, "").unwrap();
        let mut scope = StageScope::new(&[]);
        assert_eq!(scope.value("TARGETARCH"), None);
        scope.declare(&decls("TARGETARCH TARGETPLATFORM"), &args, &globals, &Expander::default()).unwrap();
        assert_eq!((scope.value("TARGETARCH"), scope.value("TARGETPLATFORM")), (Some("amd64"), Some("linux/amd64")));
    }
}
