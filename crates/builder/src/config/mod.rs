//! The image config as a build changes it, instruction by instruction (pure): ENV, LABEL,
//! EXPOSE, VOLUME, USER, WORKDIR, SHELL, STOPSIGNAL, HEALTHCHECK, ONBUILD, CMD, ENTRYPOINT and
//! MAINTAINER with Docker's rules, and the history entries BuildKit writes for every step.
//!
//! The OCI fields are `oci-spec`'s [`Config`]; Docker's fields beside them (`Healthcheck`,
//! `OnBuild`, `Shell`) are kept as the image store reads them ([`ImageHealthcheck`]) and
//! written back by [`ImageConfigState::config_json`].

mod gofmt;
mod ports;
mod run;
mod signal;

pub use run::{RunInvocation, PIPES_DIR};

use std::collections::{BTreeSet, HashMap};

use oci_spec::image::{Config, History, ImageConfiguration};
use xcompose_images::ImageHealthcheck;

use crate::error::ParseError;
use crate::model::{CommandLine, CopySource, Dockerfile, Healthcheck, Instruction, InstructionKind, SourceLines};
use crate::scope::StageScope;

/// The default SHELL.
pub const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

/// The PATH of an image built `FROM scratch` (BuildKit's `system.DefaultPathEnv`).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// BuildKit's history comment on every step.
pub const HISTORY_COMMENT: &str = "buildkit.dockerfile.v0";

/// An instruction the config refuses, in Docker's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// A stage's image config and history as its instructions are applied.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImageConfigState {
    /// The OCI run config (Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Volumes,
    /// Labels, StopSignal).
    pub config: Config,
    /// HEALTHCHECK, durations in nanoseconds.
    pub healthcheck: Option<ImageHealthcheck>,
    /// ONBUILD triggers, as written after `ONBUILD `.
    pub on_build: Vec<String>,
    /// SHELL; empty for the default `/bin/sh -c`.
    pub shell: Vec<String>,
    /// MAINTAINER (the image's `author`).
    pub author: Option<String>,
    /// The history, the base image's entries first.
    pub history: Vec<History>,
    /// Whether this stage set CMD (an ENTRYPOINT after it keeps it).
    cmd_set: bool,
}

impl ImageConfigState {
    /// The config of `FROM scratch`: WorkingDir `/` and the default PATH, as BuildKit starts it.
    pub fn scratch() -> Self {
        let mut config = Config::default();
        config.set_env(Some(vec![DEFAULT_PATH.to_string()]));
        config.set_working_dir(Some("/".to_string()));
        Self { config, ..Self::default() }
    }

    /// The state of a stage `FROM` the image whose config blob is `blob` (with the default
    /// PATH added to its Env when it has none, as BuildKit does).
    pub fn from_config_blob(blob: &[u8]) -> Result<Self, ConfigError> {
        let corrupt = |e: serde_json::Error| ConfigError(format!("the base image's config cannot be read: {e}"));
        let image: ImageConfiguration = serde_json::from_slice(blob).map_err(corrupt)?;
        let raw: serde_json::Value = serde_json::from_slice(blob).map_err(corrupt)?;
        let mut state = Self::from_config_json(&raw["config"])?;
        // BuildKit makes sure a stage's environment has a PATH.
        let mut env = state.config.env().clone().unwrap_or_default();
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.push(DEFAULT_PATH.to_string());
            state.config.set_env(Some(env));
        }
        state.author = image.author().clone();
        state.history = image.history().clone().unwrap_or_default();
        Ok(state)
    }

    /// The state of Docker's `config` object alone (`{"Env": [...], "Cmd": [...], ...}`),
    /// without author or history; `null` is an empty config.
    pub fn from_config_json(config: &serde_json::Value) -> Result<Self, ConfigError> {
        let strings = |key: &str| -> Vec<String> { serde_json::from_value(config[key].clone()).ok().flatten().unwrap_or_default() };
        let oci: Option<Config> = serde_json::from_value(config.clone()).map_err(|e| ConfigError(format!("the base image's config cannot be read: {e}")))?;
        Ok(Self {
            config: oci.unwrap_or_default(),
            healthcheck: serde_json::from_value(config["Healthcheck"].clone()).ok().flatten(),
            on_build: strings("OnBuild"),
            shell: strings("Shell"),
            ..Self::default()
        })
    }

    /// The state a later stage `FROM` this one starts with (CMD not set by that stage yet).
    pub fn for_next_stage(&self) -> Self {
        Self { cmd_set: false, ..self.clone() }
    }

    /// The base image's ONBUILD triggers as instructions to run right after FROM, in order;
    /// the new image does not keep them (Docker clears `OnBuild` once triggered). Lines and
    /// errors are those of the triggers' own text (path `ONBUILD`);
    /// [`ImageConfigState::take_onbuild_triggers_at`] places them at the stage's FROM.
    pub fn take_onbuild_triggers(&mut self, escape: char) -> Result<Vec<Instruction>, ParseError> {
        let path = std::path::PathBuf::from("ONBUILD");
        self.take_triggers(escape, &path, None)
    }

    /// [`ImageConfigState::take_onbuild_triggers`] with the triggers, and their errors, placed
    /// at the stage's FROM (`from` in `dockerfile`), as BuildKit places them.
    pub fn take_onbuild_triggers_at(&mut self, dockerfile: &Dockerfile, from: SourceLines) -> Result<Vec<Instruction>, ParseError> {
        self.take_triggers(dockerfile.escape, &dockerfile.path, Some(from))
    }

    fn take_triggers(&mut self, escape: char, path: &std::path::Path, from: Option<SourceLines>) -> Result<Vec<Instruction>, ParseError> {
        if self.on_build.is_empty() {
            return Ok(Vec::new());
        }
        let at_from = |message: String| ParseError { path: path.to_path_buf(), line: from.map_or(1, |f| f.start), message };
        let directive = if escape == '`' { "# escape=`\n" } else { "" };
        let text = format!("{directive}FROM scratch\n{}\n", self.on_build.join("\n"));
        let parsed = Dockerfile::parse(&text, path).map_err(|e| at_from(e.message))?;
        if parsed.stages.len() > 1 {
            return Err(at_from("FROM isn't allowed as an ONBUILD trigger".into()));
        }
        let mut triggers: Vec<Instruction> = parsed.stages.into_iter().flat_map(|s| s.instructions).collect();
        for trigger in &mut triggers {
            match trigger.kind.keyword() {
                "ONBUILD" => return Err(at_from("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into())),
                "MAINTAINER" => return Err(at_from("MAINTAINER isn't allowed as an ONBUILD trigger".into())),
                _ => trigger.lines = from.unwrap_or(trigger.lines),
            }
        }
        self.on_build.clear();
        Ok(triggers)
    }

    /// The SHELL in force.
    pub fn shell(&self) -> Vec<String> {
        if self.shell.is_empty() {
            DEFAULT_SHELL.map(String::from).to_vec()
        } else {
            self.shell.clone()
        }
    }

    /// A command as the image or RUN gets it: exec form as is, shell form as SHELL + the string.
    pub fn command_args(&self, command: &CommandLine) -> Vec<String> {
        match command {
            CommandLine::Exec(words) => words.clone(),
            CommandLine::Shell(text) => {
                let mut args = self.shell();
                args.push(text.clone());
                args
            }
        }
    }

    /// Applies `kind` — already instantiated (words expanded), and for ARG after
    /// [`StageScope::declare`] — to the config, and appends its history entry (none for
    /// ONBUILD, as BuildKit). `scope` is the
    /// stage's variables before the instruction (after, for ARG).
    pub fn apply(&mut self, kind: &InstructionKind, scope: &StageScope) -> Result<(), ConfigError> {
        match kind {
            InstructionKind::Env(pairs) => {
                let mut env = self.config.env().clone().unwrap_or_default();
                for pair in pairs {
                    let entry = format!("{}={}", pair.key, pair.value);
                    match env.iter_mut().find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == pair.key) {
                        Some(existing) => *existing = entry,
                        None => env.push(entry),
                    }
                }
                self.config.set_env(Some(env));
            }
            InstructionKind::Label(pairs) => {
                let labels = self.config.labels_mut().get_or_insert_with(HashMap::new);
                for pair in pairs {
                    labels.insert(pair.key.clone(), pair.value.clone());
                }
            }
            InstructionKind::Expose(words) => {
                let mut ports: BTreeSet<String> = self.config.exposed_ports().clone().unwrap_or_default().into_iter().collect();
                for word in words {
                    ports.extend(ports::exposed(word).map_err(ConfigError)?);
                }
                self.config.set_exposed_ports(Some(ports.into_iter().collect()));
            }
            InstructionKind::Volume(paths) => {
                let mut volumes: BTreeSet<String> = self.config.volumes().clone().unwrap_or_default().into_iter().collect();
                volumes.extend(paths.iter().cloned());
                self.config.set_volumes(Some(volumes.into_iter().collect()));
            }
            InstructionKind::User(user) => {
                self.config.set_user(Some(user.clone()));
            }
            InstructionKind::Workdir(dir) => {
                let previous = self.config.working_dir().clone().unwrap_or_default();
                self.config.set_working_dir(Some(workdir(&previous, dir)));
            }
            InstructionKind::Shell(shell) => self.shell = shell.clone(),
            InstructionKind::Stopsignal(signal) => {
                signal::check(signal).map_err(ConfigError)?;
                self.config.set_stop_signal(Some(signal.clone()));
            }
            InstructionKind::Healthcheck(check) => self.healthcheck = Some(image_healthcheck(check)),
            InstructionKind::Onbuild(trigger) => self.on_build.push(trigger.expression.clone()),
            InstructionKind::Cmd(command) => {
                self.config.set_cmd(Some(self.command_args(command)));
                self.cmd_set = true;
            }
            InstructionKind::Entrypoint(command) => {
                // `ENTRYPOINT []` clears it (BuildKit keeps an empty ENTRYPOINT as none).
                let args = self.command_args(command);
                self.config.set_entrypoint((!args.is_empty()).then_some(args));
                if !self.cmd_set {
                    self.config.set_cmd(None);
                }
            }
            InstructionKind::Maintainer(name) => self.author = Some(name.clone()),
            InstructionKind::Arg(_) | InstructionKind::Run(_) | InstructionKind::Copy(_) | InstructionKind::Add(_) => {}
        }
        if matches!(kind, InstructionKind::Onbuild(_)) {
            // BuildKit records no history for ONBUILD.
            return Ok(());
        }
        let created_by = self.created_by(kind, scope);
        // BuildKit's WORKDIR makes the directory in a layer, unless it is `/`.
        let layer = makes_layer(kind) && !(matches!(kind, InstructionKind::Workdir(_)) && self.config.working_dir().as_deref() == Some("/"));
        self.history.push(history_entry(created_by, !layer));
        Ok(())
    }

    /// Marks the last history entry as adding no layer (a RUN, COPY or WORKDIR whose
    /// snapshot came out empty is left out of the image's layers, as BuildKit does).
    pub fn mark_last_empty(&mut self) {
        if let Some(last) = self.history.last_mut() {
            last.set_empty_layer(Some(true));
        }
    }

    /// The `created_by` BuildKit writes for `kind` (for WORKDIR and CMD/ENTRYPOINT, once
    /// applied): `RUN |1 A=x /bin/sh -c make # buildkit`,
    /// `COPY src /dst # buildkit`, `ENV a=b`, `CMD ["/bin/sh" "-c" "x"]`, `EXPOSE map[80/tcp:{}]`,
    /// `HEALTHCHECK &{["CMD-SHELL" "x"] "5s" "0s" "0s" "0s" '\x00'}`, ...
    pub fn created_by(&self, kind: &InstructionKind, scope: &StageScope) -> String {
        match kind {
            InstructionKind::Run(run) => {
                let args = self.run_invocation(run).args;
                let prefix = scope.run_args_prefix().map(|p| format!("{p} ")).unwrap_or_default();
                format!("RUN {prefix}{} # buildkit", args.join(" "))
            }
            InstructionKind::Copy(copy) | InstructionKind::Add(copy) => {
                // BuildKit's `dispatchCopy`: --parents, --chown, --chmod, the paths, then the
                // here-documents, then the destination.
                let mut words = vec![kind.keyword().to_string()];
                if copy.parents {
                    words.push("--parents".into());
                }
                words.extend(copy.chown.iter().map(|c| format!("--chown={c}")));
                words.extend(copy.chmod.iter().map(|c| format!("--chmod={c}")));
                words.extend(copy.sources.iter().filter_map(|s| match s {
                    CopySource::Path(p) => Some(p.clone()),
                    CopySource::Heredoc(_) => None,
                }));
                words.extend(copy.sources.iter().filter_map(|s| match s {
                    CopySource::Heredoc(h) => Some(format!("<<{}", h.name)),
                    CopySource::Path(_) => None,
                }));
                words.push(copy.dest.clone());
                format!("{} # buildkit", words.join(" "))
            }
            InstructionKind::Workdir(_) => format!("WORKDIR {}", self.config.working_dir().clone().unwrap_or_default()),
            InstructionKind::Arg(decls) => {
                let declared = scope.declared();
                let words: Vec<String> = decls
                    .iter()
                    .map(|d| match declared.get(&d.name).cloned().flatten() {
                        Some(v) => format!("{}={v}", d.name),
                        None => d.name.clone(),
                    })
                    .collect();
                format!("ARG {}", words.join(" "))
            }
            InstructionKind::Env(pairs) | InstructionKind::Label(pairs) => {
                let words: Vec<String> = pairs.iter().map(|p| format!("{}={}", p.key, p.value)).collect();
                format!("{} {}", kind.keyword(), words.join(" "))
            }
            InstructionKind::Expose(words) => {
                let ports: BTreeSet<String> = words.iter().filter_map(|w| ports::exposed(w).ok()).flatten().collect();
                format!("EXPOSE map[{}]", ports.iter().map(|p| format!("{p}:{{}}")).collect::<Vec<_>>().join(" "))
            }
            InstructionKind::Volume(paths) => format!("VOLUME {}", gofmt::slice(paths)),
            InstructionKind::Shell(shell) => format!("SHELL {}", gofmt::slice(shell)),
            InstructionKind::Cmd(_) => format!("CMD {}", gofmt::quote_slice(&self.config.cmd().clone().unwrap_or_default())),
            InstructionKind::Entrypoint(_) => format!("ENTRYPOINT {}", gofmt::quote_slice(&self.config.entrypoint().clone().unwrap_or_default())),
            InstructionKind::Healthcheck(check) => {
                let h = image_healthcheck(check);
                let d = |n: Option<i64>| gofmt::quote(&gofmt::duration(n.unwrap_or(0)));
                format!(
                    "HEALTHCHECK &{{{} {} {} {} {} {}}}",
                    gofmt::quote_slice(&h.test.unwrap_or_default()),
                    d(h.interval),
                    d(h.timeout),
                    d(h.start_period),
                    d(h.start_interval),
                    gofmt::quote_rune(h.retries.unwrap_or(0))
                )
            }
            InstructionKind::Onbuild(trigger) => format!("ONBUILD {}", trigger.expression),
            InstructionKind::User(v) | InstructionKind::Stopsignal(v) | InstructionKind::Maintainer(v) => format!("{} {v}", kind.keyword()),
        }
    }

    /// Docker's `config` object of the image config: the OCI fields and `Healthcheck`,
    /// `OnBuild`, `Shell` when set.
    pub fn config_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(&self.config).unwrap_or_else(|_| serde_json::json!({}));
        if let (Some(object), Some(h)) = (value.as_object_mut(), &self.healthcheck) {
            let mut check = serde_json::Map::new();
            check.insert("Test".into(), serde_json::json!(h.test.clone().unwrap_or_default()));
            for (key, field) in [("Interval", h.interval), ("Timeout", h.timeout), ("StartPeriod", h.start_period), ("StartInterval", h.start_interval), ("Retries", h.retries)] {
                if let Some(n) = field.filter(|n| *n != 0) {
                    check.insert(key.into(), serde_json::json!(n));
                }
            }
            object.insert("Healthcheck".into(), serde_json::Value::Object(check));
        }
        if let Some(object) = value.as_object_mut() {
            if !self.on_build.is_empty() {
                object.insert("OnBuild".into(), serde_json::json!(self.on_build));
            }
            if !self.shell.is_empty() {
                object.insert("Shell".into(), serde_json::json!(self.shell));
            }
        }
        value
    }
}

/// RUN, COPY, ADD and WORKDIR change the filesystem; the others only the config.
pub fn makes_layer(kind: &InstructionKind) -> bool {
    matches!(kind, InstructionKind::Run(_) | InstructionKind::Copy(_) | InstructionKind::Add(_) | InstructionKind::Workdir(_))
}

fn history_entry(created_by: String, empty_layer: bool) -> History {
    let mut entry = History::default();
    entry.set_created_by(Some(created_by));
    entry.set_comment(Some(HISTORY_COMMENT.to_string()));
    if empty_layer {
        entry.set_empty_layer(Some(true));
    }
    entry
}

/// WORKDIR `dir` after `previous`: absolute as is, relative joined to the previous one;
/// cleaned (`/a/./b/..` is `/a`).
fn workdir(previous: &str, dir: &str) -> String {
    let joined = if dir.starts_with('/') { dir.to_string() } else { format!("/{previous}/{dir}") };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn image_healthcheck(check: &Healthcheck) -> ImageHealthcheck {
    match check {
        Healthcheck::None => ImageHealthcheck { test: Some(vec!["NONE".into()]), ..ImageHealthcheck::default() },
        Healthcheck::Check(probe) => {
            let test = match &probe.command {
                CommandLine::Exec(words) => std::iter::once("CMD".to_string()).chain(words.iter().cloned()).collect(),
                CommandLine::Shell(text) => vec!["CMD-SHELL".to_string(), text.clone()],
            };
            ImageHealthcheck {
                test: Some(test),
                interval: probe.interval,
                timeout: probe.timeout,
                start_period: probe.start_period,
                start_interval: probe.start_interval,
                retries: probe.retries,
            }
        }
    }
}

#[cfg(test)]
mod tests;
