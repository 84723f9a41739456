//! An instruction's words expanded as BuildKit expands them when it dispatches the
//! instruction (`SupportsSingleWordExpansion`): the sources, destination and `--chown`,
//! `--chmod`, `--exclude`, `--checksum` of COPY/ADD (not `--from`), ENV and LABEL keys and
//! values, EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL and RUN's `--mount` options. ARG's
//! defaults expand in [`crate::StageScope::declare`]; RUN, CMD, ENTRYPOINT, SHELL,
//! HEALTHCHECK, MAINTAINER and ONBUILD's stored trigger stay as written. Also gives the
//! variables used, which an instruction's cache key holds.

use std::collections::BTreeSet;

use crate::expand::{ExpandError, Expander, Variables};
use crate::model::{CopyArgs, CopySource, InstructionKind, KeyValue};
use crate::scope::StageScope;

/// An instruction with its words expanded, and the set variables it used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instantiated {
    /// The instruction, its expandable words expanded (quotes removed).
    pub kind: InstructionKind,
    /// The variables the expansion used that were set.
    pub used: BTreeSet<String>,
}

impl Instantiated {
    /// The variables this step's cache key holds, as `NAME=value`, so that a changed ARG or
    /// ENV invalidates from its first use on: for RUN every variable in `scope` (they are its
    /// environment) and its `|N A=1` ARG prefix — the proxy arguments stay out, as BuildKit
    /// keeps them out of cache keys; for other instructions the variables their words used.
    /// `scope` is the stage's scope before the step.
    pub fn cache_inputs(&self, scope: &StageScope) -> Vec<String> {
        match &self.kind {
            InstructionKind::Run(_) => scope.env().into_iter().chain(scope.run_args_prefix()).collect(),
            _ => self.used.iter().map(|name| format!("{name}={}", scope.value(name).unwrap_or_default())).collect(),
        }
    }
}

struct Expansion<'a> {
    expander: &'a Expander,
    env: &'a dyn Variables,
    used: BTreeSet<String>,
}

impl Expansion<'_> {
    fn word(&mut self, word: &str) -> Result<String, ExpandError> {
        let expanded = self.expander.word(word, self.env)?;
        self.used.extend(expanded.matched);
        Ok(expanded.value)
    }

    fn split(&mut self, words: &[String]) -> Result<Vec<String>, ExpandError> {
        let mut out = Vec::new();
        for word in words {
            self.used.extend(self.expander.word(word, self.env)?.matched);
            out.extend(self.expander.words(word, self.env)?);
        }
        Ok(out)
    }

    fn all(&mut self, words: &[String]) -> Result<Vec<String>, ExpandError> {
        words.iter().map(|w| self.word(w)).collect()
    }

    fn optional(&mut self, word: &Option<String>) -> Result<Option<String>, ExpandError> {
        word.as_deref().map(|w| self.word(w)).transpose()
    }

    fn pairs(&mut self, pairs: &[KeyValue]) -> Result<Vec<KeyValue>, ExpandError> {
        pairs.iter().map(|p| Ok(KeyValue { key: self.word(&p.key)?, value: self.word(&p.value)? })).collect()
    }

    fn copy(&mut self, args: &CopyArgs) -> Result<CopyArgs, ExpandError> {
        let sources = args
            .sources
            .iter()
            .map(|s| match s {
                CopySource::Path(p) => self.word(p).map(CopySource::Path),
                CopySource::Heredoc(h) => Ok(CopySource::Heredoc(h.clone())),
            })
            .collect::<Result<_, _>>()?;
        Ok(CopyArgs {
            sources,
            dest: self.word(&args.dest)?,
            chown: self.optional(&args.chown)?,
            chmod: self.optional(&args.chmod)?,
            exclude: self.all(&args.exclude)?,
            checksum: self.optional(&args.checksum)?,
            ..args.clone()
        })
    }
}

impl InstructionKind {
    /// This instruction with its words expanded in `env` (the [`crate::StageScope`] before it).
    pub fn instantiate(&self, expander: &Expander, env: &dyn Variables) -> Result<Instantiated, ExpandError> {
        let mut x = Expansion { expander, env, used: BTreeSet::new() };
        let kind = match self {
            Self::Add(args) => Self::Add(x.copy(args)?),
            Self::Copy(args) => Self::Copy(x.copy(args)?),
            Self::Env(pairs) => Self::Env(x.pairs(pairs)?),
            Self::Label(pairs) => Self::Label(x.pairs(pairs)?),
            // EXPOSE splits its words after expansion (BuildKit's `ProcessWords`).
            Self::Expose(ports) => Self::Expose(x.split(ports)?),
            Self::Volume(paths) => Self::Volume(x.all(paths)?),
            Self::User(user) => Self::User(x.word(user)?),
            Self::Workdir(dir) => Self::Workdir(x.word(dir)?),
            Self::Stopsignal(signal) => Self::Stopsignal(x.word(signal)?),
            Self::Run(run) => {
                let mut run = run.clone();
                run.mounts = x.all(&run.mounts)?;
                Self::Run(run)
            }
            other => other.clone(),
        };
        Ok(Instantiated { kind, used: x.used })
    }
}

impl Expander {
    /// A COPY/ADD here-document body whose delimiter was not quoted: variables expanded,
    /// quotes left as they are (BuildKit's lexer with `SkipProcessQuotes`, and `\` as the
    /// escape whatever the Dockerfile's).
    pub fn heredoc(&self, content: &str, env: &dyn Variables) -> Result<String, ExpandError> {
        let lexer = Expander::default();
        let mut out = String::new();
        let mut rest = content;
        // Quotes are literal here: expand each quote-free run, and keep the quotes.
        while let Some(at) = rest.find(['\'', '"']) {
            out.push_str(&lexer.word(&rest[..at], env)?.value);
            out.push_str(&rest[at..at + 1]);
            rest = &rest[at + 1..];
        }
        out.push_str(&lexer.word(rest, env)?.value);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CommandLine, Dockerfile};
    use std::collections::BTreeMap;

    fn instantiate(line: &str, env: &[(&str, &str)]) -> Instantiated {
        let d = Dockerfile::parse(&format!("FROM x\n{line}\n"), "Dockerfile").unwrap();
        let env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        d.stages[0].instructions[0].kind.instantiate(&Expander::default(), &env).unwrap()
    }

    #[test]
    fn copy_words_and_flags_expand() {
        let i = instantiate("COPY --from=$STAGE --chown=${USER}:app --exclude=$EX ${SRC}/* \"$DEST\"", &[("STAGE", "build"), ("USER", "me"), ("EX", "*.md"), ("SRC", "src"), ("DEST", "/app dir")]);
        let InstructionKind::Copy(c) = i.kind else { panic!() };
        assert_eq!(c.sources, vec![CopySource::Path("src/*".into())]);
        assert_eq!((c.dest.as_str(), c.from.as_deref(), c.chown.as_deref()), ("/app dir", Some("$STAGE"), Some("me:app")), "--from is not expanded");
        assert_eq!(c.exclude, vec!["*.md"]);
        assert_eq!(i.used, ["DEST", "EX", "SRC", "USER"].map(String::from).into());
    }

    #[test]
    fn env_pairs_expand_with_the_scope_before_the_instruction() {
        // The reference: `ENV abc=bye def=$abc` gives def=hello when abc was hello.
        let i = instantiate("ENV abc=bye def=$abc \"q k\"=\"v w\"", &[("abc", "hello")]);
        let kv = |k: &str, v: &str| KeyValue { key: k.into(), value: v.into() };
        assert_eq!(i.kind, InstructionKind::Env(vec![kv("abc", "bye"), kv("def", "hello"), kv("q k", "v w")]));
    }

    #[test]
    fn run_cmd_and_entrypoint_are_left_to_the_shell() {
        let i = instantiate("RUN --mount=type=cache,target=$CACHE echo $HOME", &[("CACHE", "/c"), ("HOME", "/root")]);
        let InstructionKind::Run(run) = i.kind else { panic!() };
        assert_eq!(run.mounts, vec!["type=cache,target=/c"]);
        assert_eq!(run.command, CommandLine::Shell("echo $HOME".into()));
        assert_eq!(instantiate("CMD echo $HOME", &[("HOME", "/root")]).kind, InstructionKind::Cmd(CommandLine::Shell("echo $HOME".into())));
    }

    #[test]
    fn metadata_words_expand() {
        let env = [("P", "8080"), ("U", "app"), ("D", "/srv"), ("S", "SIGINT")];
        assert_eq!(instantiate("EXPOSE $P/tcp 53", &env).kind, InstructionKind::Expose(vec!["8080/tcp".into(), "53".into()]));
        assert_eq!(instantiate("EXPOSE $PORTS", &[("PORTS", "80 443/udp")]).kind, InstructionKind::Expose(vec!["80".into(), "443/udp".into()]));
        assert_eq!(instantiate("USER $U", &env).kind, InstructionKind::User("app".into()));
        assert_eq!(instantiate("WORKDIR $D/x", &env).kind, InstructionKind::Workdir("/srv/x".into()));
        assert_eq!(instantiate("STOPSIGNAL $S", &env).kind, InstructionKind::Stopsignal("SIGINT".into()));
        assert_eq!(instantiate("VOLUME [\"$D\"]", &env).kind, InstructionKind::Volume(vec!["/srv".into()]));
    }

    #[test]
    fn an_arg_change_reaches_the_cache_key_from_its_first_use() {
        use crate::args::{BuildArgs, GlobalArgs};
        let d = Dockerfile::parse("FROM x\nARG V=1\nCOPY a /a\nRUN make\nWORKDIR /w-$V\n", "Dockerfile").unwrap();
        let inputs = |value: &str| -> Vec<Vec<String>> {
            let args = BuildArgs::new([("V".to_string(), value.to_string()), ("HTTP_PROXY".to_string(), value.to_string())].into());
            let expander = Expander::default();
            let mut scope = StageScope::new(&["PATH=/bin".into()]);
            let mut out = Vec::new();
            for instruction in &d.stages[0].instructions {
                let step = instruction.kind.instantiate(&expander, &scope).unwrap();
                out.push(step.cache_inputs(&scope));
                if let InstructionKind::Arg(decls) = &step.kind {
                    scope.declare(decls, &args, &GlobalArgs::default(), &expander).unwrap();
                }
            }
            out
        };
        let (one, two) = (inputs("1"), inputs("2"));
        assert_eq!(one[1], Vec::<String>::new(), "COPY a /a does not use V");
        assert_eq!(one[2], vec!["PATH=/bin", "V=1", "|1 V=1"]);
        assert_ne!(one[2], two[2], "RUN sees V");
        assert_eq!(one[3], vec!["V=1"]);
        assert_ne!(one[3], two[3]);
    }

    #[test]
    fn heredoc_bodies_keep_their_quotes() {
        let env: BTreeMap<String, String> = [("X".to_string(), "1".to_string())].into();
        assert_eq!(Expander::new('`').heredoc("a=\"$X\" b='${X}'\n", &env).unwrap(), "a=\"1\" b='1'\n");
    }
}
