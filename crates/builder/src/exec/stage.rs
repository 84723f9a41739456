//! One stage: its base (scratch, an earlier stage, or an image from the store or a registry),
//! the base's ONBUILD triggers, then its instructions in order. Steps that change the filesystem
//! (RUN, COPY, ADD, WORKDIR) are looked up in the cache by their key and carried out on a
//! snapshot when missing; the others only change the image config.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};
use xcompose_images::{ImageStore, Reference, StoredLayer};

use crate::exec::build::{image_document, layers_of, BuildError, BuildRequest};
use crate::exec::cache::{BuildCache, CacheKey, CachedLayer, CachedStep};
use crate::exec::interim::{apply_config, expand};
use crate::exec::progress::{Progress, Vertex};
use crate::exec::snapshot::Snapshot;
use crate::exec::{diff, steps};
use crate::model::{Dockerfile, Instruction, InstructionKind, Stage};

/// Docker's default `PATH`, which BuildKit gives images that set none.
pub(crate) const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A built stage: its layers and its image config document.
#[derive(Debug, Clone)]
pub struct StageResult {
    /// Layers, bottom first.
    pub layers: Vec<StoredLayer>,
    /// The image config document (`architecture`, `os`, `config`, `history`...).
    pub document: Map<String, Value>,
    /// The cache key of its last step.
    pub key: String,
}

/// The state of a stage being built.
pub(crate) struct StageState {
    /// What is built so far.
    pub result: StageResult,
    /// ARGs in scope with their values.
    pub args: Vec<(String, String)>,
}

impl StageState {
    /// The image's `config` object.
    pub fn config(&self) -> Map<String, Value> {
        self.result.document.get("config").and_then(Value::as_object).cloned().unwrap_or_default()
    }

    /// The image's `Env`, as `KEY=value`.
    pub fn env(&self) -> Vec<String> {
        self.config().get("Env").and_then(Value::as_array).map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect()).unwrap_or_default()
    }

    /// Variables for word expansion: the ARGs in scope, then ENV (which wins).
    pub fn vars(&self) -> Vec<(String, String)> {
        let env = self.env().into_iter().filter_map(|e| e.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())));
        self.args.iter().cloned().chain(env).collect()
    }

    /// A config string field (`WorkingDir`, `User`).
    pub fn config_str(&self, key: &str) -> String {
        self.config().get(key).and_then(Value::as_str).unwrap_or_default().to_string()
    }

    /// The SHELL for shell forms.
    pub fn shell(&self) -> Vec<String> {
        match self.config().get("Shell").and_then(Value::as_array) {
            Some(words) if !words.is_empty() => words.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
            _ => vec!["/bin/sh".into(), "-c".into()],
        }
    }

    /// The layer directories, bottom first.
    pub fn layer_dirs(&self, store: &ImageStore) -> Vec<PathBuf> {
        layers_of(&self.result.layers, store)
    }

    /// Changes the image's `config` object.
    pub fn edit_config(&mut self, edit: impl FnOnce(&mut Map<String, Value>)) {
        let config = self.result.document.entry("config").or_insert_with(|| json!({}));
        if !config.is_object() {
            *config = json!({});
        }
        if let Some(config) = config.as_object_mut() {
            edit(config);
        }
    }

    /// Appends a history entry for `created_by`; `empty_layer` when the step added no layer.
    pub fn add_history(&mut self, created_by: &str, empty_layer: bool) {
        let mut entry = json!({"created": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true), "created_by": created_by, "comment": "buildkit.dockerfile.v0"});
        if empty_layer {
            entry["empty_layer"] = json!(true);
        }
        let history = self.result.document.entry("history").or_insert_with(|| json!([]));
        if let Some(history) = history.as_array_mut() {
            history.push(entry);
        }
    }
}

/// Builds the stages of one build.
pub(crate) struct StageBuilder<'a> {
    /// The image store.
    pub store: &'a ImageStore,
    /// The build cache.
    pub cache: &'a BuildCache,
    /// The build's request.
    pub request: &'a BuildRequest,
    /// The Dockerfile.
    pub dockerfile: &'a Dockerfile,
    /// Where snapshots are made.
    pub tmp: &'a Path,
    /// The build's output.
    pub progress: &'a Progress<'a>,
    /// Whether step names carry their stage's name (`[build 2/3]`).
    pub multi_stage: bool,
}

/// Whether an instruction is a step of its own in the output (and the `[i/n]` count).
fn is_step(kind: &InstructionKind) -> bool {
    matches!(kind, InstructionKind::Run(_) | InstructionKind::Copy(_) | InstructionKind::Add(_) | InstructionKind::Workdir(_))
}

impl StageBuilder<'_> {
    /// Builds `stage`, whose earlier stages it may use are in `done`.
    pub fn build_stage(&self, stage: &Stage, done: &BTreeMap<usize, StageResult>) -> Result<StageResult, BuildError> {
        let global = self.global_args();
        let base = expand(&stage.base, &global);
        let prefix = match (&stage.name, self.multi_stage) {
            (Some(name), true) => format!("{name} "),
            (None, true) => format!("stage-{} ", stage.index),
            _ => String::new(),
        };
        let mut state = StageState { result: self.base(&base, stage, done)?, args: Vec::new() };
        let triggers = self.onbuild_triggers(&mut state)?;
        let total = 1 + triggers.iter().chain(&stage.instructions).filter(|i| is_step(&i.kind)).count();
        let from_name = match self.dockerfile.stage(&base).filter(|s| s.index < stage.index) {
            Some(_) => base.clone(),
            None if base == "scratch" => base.clone(),
            None => Reference::parse(&base).map(|r| r.to_string()).unwrap_or(base.clone()),
        };
        self.progress.vertex(&format!("[{prefix}1/{total}] FROM {from_name}")).cached();
        let mut number = 1;
        for instruction in triggers.iter().chain(&stage.instructions) {
            let vertex = is_step(&instruction.kind).then(|| {
                number += 1;
                self.progress.vertex(&format!("[{prefix}{number}/{total}] {}", instruction.original))
            });
            self.dispatch(&mut state, instruction, &global, done, vertex)?;
        }
        Ok(state.result)
    }

    /// The ARGs before the first FROM with their values (for FROM lines and stage ARGs).
    fn global_args(&self) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = Vec::new();
        for instruction in &self.dockerfile.global_args {
            if let InstructionKind::Arg(decls) = &instruction.kind {
                for decl in decls {
                    if let Some(value) = self.arg_value(&decl.name, decl.default.as_deref(), &vars) {
                        vars.push((decl.name.clone(), value));
                    }
                }
            }
        }
        vars
    }

    /// An ARG's value: the request's, else its default expanded with `vars`.
    fn arg_value(&self, name: &str, default: Option<&str>, vars: &[(String, String)]) -> Option<String> {
        match self.request.args.get(name) {
            Some(Some(value)) => Some(value.clone()),
            _ => default.map(|d| expand(d, vars)),
        }
    }

    /// The stage's starting point.
    fn base(&self, base: &str, stage: &Stage, done: &BTreeMap<usize, StageResult>) -> Result<StageResult, BuildError> {
        if let Some(earlier) = self.dockerfile.stage(base).filter(|s| s.index < stage.index) {
            return done.get(&earlier.index).cloned().ok_or_else(|| BuildError::Invalid(format!("stage {base} was not built")));
        }
        if base == "scratch" {
            let document = json!({
                "architecture": host_architecture(),
                "os": "linux",
                "config": {"Env": [DEFAULT_PATH]},
                "rootfs": {"type": "layers", "diff_ids": []},
                "history": [],
            });
            return Ok(StageResult { layers: Vec::new(), document: document.as_object().cloned().unwrap_or_default(), key: "scratch".into() });
        }
        let id = self.image(base)?;
        let mut document = image_document(self.store, &id)?;
        let config = document.entry("config").or_insert_with(|| json!({}));
        if let Some(config) = config.as_object_mut() {
            let env = config.entry("Env").or_insert_with(|| json!([]));
            if !env.as_array().is_some_and(|e| e.iter().any(|v| v.as_str().is_some_and(|s| s.starts_with("PATH=")))) {
                if let Some(env) = env.as_array_mut() {
                    env.insert(0, json!(DEFAULT_PATH));
                }
            }
        }
        Ok(StageResult { layers: self.store.image_layers(&id)?, document, key: id })
    }

    /// The image `reference` names: from the store, pulled if missing (or always with `pull`).
    pub(crate) fn image(&self, reference: &str) -> Result<String, BuildError> {
        if !self.request.pull {
            if let Ok(image) = self.store.resolve(reference) {
                return Ok(image.id);
            }
        }
        let vertex = self.progress.vertex(&format!("[internal] load metadata for {}", Reference::parse(reference).map(|r| r.to_string()).unwrap_or(reference.to_string())));
        let options = xcompose_registry::PullOptions { platform: None, max_concurrent_downloads: xcompose_registry::DEFAULT_CONCURRENT_DOWNLOADS };
        match xcompose_registry::pull(self.store, reference, &options, &|_| {}) {
            Ok(_) => vertex.done(),
            Err(e) => {
                let message = format!("failed to resolve source metadata for {reference}: {e}");
                vertex.error(&message);
                return Err(BuildError::Invalid(format!("failed to solve: {message}")));
            }
        }
        Ok(self.store.resolve(reference)?.id)
    }

    /// The base image's ONBUILD triggers, parsed (they run before the stage's instructions); the
    /// new image does not inherit them.
    fn onbuild_triggers(&self, state: &mut StageState) -> Result<Vec<Instruction>, BuildError> {
        let triggers: Vec<String> =
            state.config().get("OnBuild").and_then(Value::as_array).map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect()).unwrap_or_default();
        state.edit_config(|c| {
            c.remove("OnBuild");
        });
        let mut parsed = Vec::new();
        for trigger in triggers {
            let file = Dockerfile::parse(&format!("FROM scratch\n{trigger}\n"), "ONBUILD")?;
            parsed.extend(file.stages.into_iter().flat_map(|s| s.instructions));
        }
        Ok(parsed)
    }

    /// Carries out one instruction.
    fn dispatch(&self, state: &mut StageState, instruction: &Instruction, global: &[(String, String)], done: &BTreeMap<usize, StageResult>, vertex: Option<Vertex>) -> Result<(), BuildError> {
        let vars = state.vars();
        match (&instruction.kind, vertex) {
            (InstructionKind::Arg(decls), _) => {
                for decl in decls {
                    let inherited = global.iter().rev().find(|(k, _)| *k == decl.name).map(|(_, v)| v.clone());
                    let value = self.arg_value(&decl.name, decl.default.as_deref(), &vars).or(inherited);
                    if let Some(value) = value {
                        state.args.push((decl.name.clone(), value));
                    }
                }
            }
            (InstructionKind::Onbuild(trigger), _) => {
                state.edit_config(|c| {
                    let list = c.entry("OnBuild").or_insert_with(|| json!([]));
                    if !list.is_array() {
                        *list = json!([]);
                    }
                    if let Some(list) = list.as_array_mut() {
                        list.push(json!(trigger.expression));
                    }
                });
                state.add_history(&instruction.original, true);
            }
            (InstructionKind::Maintainer(name), _) => {
                state.result.document.insert("author".into(), json!(name));
                state.add_history(&instruction.original, true);
            }
            (kind, Some(vertex)) => {
                let step = steps::Step { store: self.store, request: self.request, tmp: self.tmp, stages: done, dockerfile: self.dockerfile, builder: self };
                let outcome = match kind {
                    InstructionKind::Run(run) => step.run(state, run, &vertex),
                    InstructionKind::Copy(copy) => step.copy(state, copy, false),
                    InstructionKind::Add(copy) => step.copy(state, copy, true),
                    InstructionKind::Workdir(path) => step.workdir(state, path),
                    _ => unreachable!("is_step covers exactly these"),
                };
                self.finish_step(state, instruction, outcome, vertex)?;
            }
            (kind, None) => {
                let shell = state.shell();
                state.edit_config(|c| apply_config(c, kind, &vars, &shell));
                state.add_history(&instruction.original, true);
            }
        }
        Ok(())
    }

    /// Takes a step's result from the cache or carries it out, and adds its layer and history.
    fn finish_step(&self, state: &mut StageState, instruction: &Instruction, outcome: Result<steps::Planned, BuildError>, vertex: Vertex) -> Result<(), BuildError> {
        let planned = match outcome {
            Ok(planned) => planned,
            Err(e) => {
                vertex.error(&e.to_string());
                return Err(e);
            }
        };
        let cached = if self.request.no_cache { None } else { self.cache.lookup(&planned.key, self.store) };
        let layer = match cached {
            Some(step) => {
                vertex.cached();
                step.layer.map(|l| l.stored())
            }
            None => match (planned.execute)(&vertex).and_then(|upper| self.commit_layer(upper)) {
                Ok(layer) => {
                    let record = CachedStep { layer: layer.as_ref().map(CachedLayer::from) };
                    self.cache.record(&planned.key, &record).map_err(|e| BuildError::Invalid(format!("recording the build cache: {e}")))?;
                    vertex.done();
                    layer
                }
                Err(e) => {
                    vertex.error(&e.to_string());
                    return Err(match e {
                        BuildError::Invalid(message) => BuildError::Step { step: instruction.original.clone(), message },
                        other => other,
                    });
                }
            },
        };
        if let Some(workdir) = planned.workdir {
            state.edit_config(|c| {
                c.insert("WorkingDir".into(), json!(workdir));
            });
        }
        state.add_history(&planned.created_by, layer.is_none());
        if let Some(layer) = layer {
            state.result.layers.push(layer);
        }
        state.result.key = planned.key;
        Ok(())
    }

    /// The step's changes as a layer in the store (`None` when it changed nothing: BuildKit
    /// adds no layer then, only an `empty_layer` history entry). The snapshot goes away after.
    fn commit_layer(&self, snapshot: Snapshot) -> Result<Option<StoredLayer>, BuildError> {
        let upper = snapshot.upper();
        let io = |e: std::io::Error| BuildError::Invalid(format!("writing the layer: {e}"));
        if diff::is_empty(&upper).map_err(io)? {
            return Ok(None);
        }
        let mut writer = self.store.layer_writer()?;
        diff::write_layer(&upper, &mut writer).map_err(io)?;
        Ok(Some(writer.finish()?))
    }

    /// The cache key of a step on `state`.
    pub(crate) fn key(&self, state: &StageState) -> CacheKey {
        CacheKey::new(&state.result.key)
    }
}

/// The host's architecture as OCI names it.
pub(crate) fn host_architecture() -> String {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
    .to_string()
}
