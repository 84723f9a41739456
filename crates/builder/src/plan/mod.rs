//! Which stages a build needs and in what order: the target (`--target`, else the last
//! stage), the stages it depends on through `FROM stage`, `COPY --from=stage` and
//! `RUN --mount=from=stage`, each stage's base, and which stages are independent of each
//! other (they can be built at the same time). Stages the target does not need are skipped,
//! as BuildKit skips them.

use std::collections::{BTreeMap, BTreeSet};

use crate::args::{BuildArgs, GlobalArgs};
use crate::expand::Expander;
use crate::model::{Dockerfile, InstructionKind, Stage};

/// What a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// `FROM scratch`: nothing.
    Scratch,
    /// `FROM name` of an earlier stage (its index).
    Stage(usize),
    /// An image reference, expanded with the global ARGs.
    Image(String),
}

/// Where a `COPY --from` or `RUN --mount=from=` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromSource {
    /// An earlier stage (its index).
    Stage(usize),
    /// An image reference or a named build context, as expanded.
    Image(String),
}

/// A stage of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStage {
    /// The stage's index in the Dockerfile.
    pub index: usize,
    /// What it starts from.
    pub base: Base,
    /// `--platform` expanded, if given.
    pub platform: Option<String>,
    /// The earlier stages it needs (its base stage, `--from` and `from=` stages), ascending.
    pub depends_on: Vec<usize>,
    /// Each COPY/ADD `--from` and RUN `--mount` `from=` of the stage, by instruction index
    /// within the stage (a RUN's mounts in order). Read as written: BuildKit does not expand
    /// them (`--from=$X` names an image `$X`).
    pub sources: BTreeMap<usize, Vec<FromSource>>,
}

/// The stages to build, dependencies first, ending with the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildPlan {
    /// The needed stages in an order where every stage comes after the ones it needs.
    pub stages: Vec<PlannedStage>,
    /// The target stage's index.
    pub target: usize,
    /// The global ARGs (FROM lines' scope).
    pub globals: GlobalArgs,
}

/// Why there is no plan, in BuildKit's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// `--target` names no stage.
    #[error("target stage {0:?} could not be found")]
    UnknownTarget(String),
    /// `COPY --from` / `--mount from=` names the stage itself or a later one.
    #[error("line {line}: cannot copy from stage {from:?}, it needs to be defined before current stage {current:?}")]
    LaterStage {
        /// The line of the instruction.
        line: usize,
        /// The stage named.
        from: String,
        /// The stage that names it.
        current: String,
    },
    /// `--from=N` with no stage N.
    #[error("line {line}: invalid stage index {index}")]
    InvalidIndex {
        /// The instruction's line.
        line: usize,
        /// The index given.
        index: i64,
    },
    /// A FROM base that expands to nothing.
    #[error("line {line}: base name ({base}) should not be blank")]
    BlankBase {
        /// The FROM line.
        line: usize,
        /// The base as written.
        base: String,
    },
    /// A word that does not expand.
    #[error("line {line}: {message}")]
    Expand {
        /// The instruction's line.
        line: usize,
        /// The expansion error.
        message: String,
    },
}

impl BuildPlan {
    /// The plan for building `target` (a stage name, case-insensitive, or index; `None` for the
    /// last stage) of `dockerfile` with `args`.
    pub fn new(dockerfile: &Dockerfile, args: &BuildArgs, target: Option<&str>) -> Result<Self, PlanError> {
        let target_stage = match target {
            Some(name) => dockerfile.stages.iter().find(|s| s.name.as_deref() == Some(name.to_ascii_lowercase().as_str())).ok_or_else(|| PlanError::UnknownTarget(name.to_string()))?,
            None => dockerfile.stages.last().ok_or_else(|| PlanError::UnknownTarget(String::new()))?,
        };
        let globals = GlobalArgs::new(dockerfile, args, target.unwrap_or("")).map_err(|e| PlanError::Expand { line: 1, message: e.0 })?;
        let mut all = Vec::new();
        for stage in &dockerfile.stages {
            all.push(plan_stage(dockerfile, stage, &globals)?);
        }
        let mut needed = BTreeSet::new();
        let mut pending = vec![target_stage.index];
        while let Some(index) = pending.pop() {
            if needed.insert(index) {
                pending.extend(&all[index].depends_on);
            }
        }
        // Dependencies are always earlier stages, so file order is a build order.
        let stages = all.into_iter().filter(|s| needed.contains(&s.index)).collect();
        Ok(Self { stages, target: target_stage.index, globals })
    }

    /// The stages in waves: each wave's stages need only stages of earlier waves, so a wave's
    /// stages can be built in parallel.
    pub fn waves(&self) -> Vec<Vec<usize>> {
        let mut level: BTreeMap<usize, usize> = BTreeMap::new();
        let mut waves: Vec<Vec<usize>> = Vec::new();
        for stage in &self.stages {
            let l = stage.depends_on.iter().map(|d| level[d] + 1).max().unwrap_or(0);
            level.insert(stage.index, l);
            if waves.len() <= l {
                waves.resize(l + 1, Vec::new());
            }
            waves[l].push(stage.index);
        }
        waves
    }

    /// `--build-arg` names no ARG of the needed stages (nor a global one) declares: Docker
    /// warns "One or more build-args [...] were not consumed". Built-ins and proxies excluded.
    pub fn unused_build_args(&self, dockerfile: &Dockerfile, args: &BuildArgs) -> Vec<String> {
        let needed: BTreeSet<usize> = self.stages.iter().map(|s| s.index).collect();
        let stage_instructions = dockerfile.stages.iter().filter(|s| needed.contains(&s.index)).flat_map(|s| &s.instructions);
        let declared: BTreeSet<&str> = dockerfile
            .global_args
            .iter()
            .chain(stage_instructions)
            .filter_map(|i| match &i.kind {
                InstructionKind::Arg(decls) => Some(decls.iter().map(|d| d.name.as_str())),
                _ => None,
            })
            .flatten()
            .collect();
        let builtins = args.builtins("");
        args.values
            .keys()
            .filter(|k| !declared.contains(k.as_str()) && !builtins.contains_key(*k) && !crate::args::PROXY_ARGS.contains(&k.as_str()))
            .cloned()
            .collect()
    }
}

/// A stage as BuildKit names it in messages: its name, else `stage-N`.
fn stage_label(dockerfile: &Dockerfile, stage: &Stage) -> String {
    match &stage.name {
        Some(name) => name.clone(),
        None if dockerfile.stages.len() == 1 => String::new(),
        None => format!("stage-{}", stage.index),
    }
}

fn plan_stage(dockerfile: &Dockerfile, stage: &Stage, globals: &GlobalArgs) -> Result<PlannedStage, PlanError> {
    let expander = Expander::new(dockerfile.escape);
    let at = |line: usize| move |e: crate::expand::ExpandError| PlanError::Expand { line, message: e.0 };
    let line = stage.lines.start;
    let base_name = expander.word(&stage.base, &globals.values).map_err(at(line))?.value;
    if base_name.is_empty() {
        return Err(PlanError::BlankBase { line, base: stage.base.clone() });
    }
    // BuildKit looks the expanded base up among the earlier stages' (lowercased) names as is.
    let earlier = dockerfile.stages[..stage.index].iter().rev().find(|s| s.name.as_deref() == Some(base_name.as_str())).map(|s| s.index);
    let base = match earlier {
        Some(index) => Base::Stage(index),
        None if base_name.eq_ignore_ascii_case("scratch") => Base::Scratch,
        None => Base::Image(base_name.clone()),
    };
    let platform = stage.platform.as_deref().map(|p| expander.word(p, &globals.values)).transpose().map_err(at(line))?.map(|e| e.value);
    let mut depends_on: BTreeSet<usize> = match base {
        Base::Stage(i) => [i].into(),
        _ => BTreeSet::new(),
    };
    let mut sources = BTreeMap::new();
    for (position, instruction) in stage.instructions.iter().enumerate() {
        let line = instruction.lines.start;
        // `--from` and `from=` are read as written: BuildKit does not expand them.
        let froms: Vec<String> = match &instruction.kind {
            InstructionKind::Copy(c) | InstructionKind::Add(c) => c.from.iter().cloned().collect(),
            InstructionKind::Run(run) => run.mounts.iter().filter_map(|m| mount_from(m)).collect(),
            _ => continue,
        };
        if froms.is_empty() {
            continue;
        }
        let mut resolved = Vec::new();
        for from in froms {
            let named = match from.parse::<i64>() {
                Ok(index) => Some(usize::try_from(index).ok().and_then(|i| dockerfile.stages.get(i)).ok_or(PlanError::InvalidIndex { line, index })?),
                Err(_) => dockerfile.stages.iter().find(|s| s.name.as_deref() == Some(from.to_ascii_lowercase().as_str())),
            };
            match named {
                Some(s) if s.index < stage.index => {
                    depends_on.insert(s.index);
                    resolved.push(FromSource::Stage(s.index));
                }
                Some(_) => return Err(PlanError::LaterStage { line, from, current: stage_label(dockerfile, stage) }),
                None => resolved.push(FromSource::Image(from)),
            }
        }
        sources.insert(position, resolved);
    }
    Ok(PlannedStage { index: stage.index, base, platform, depends_on: depends_on.into_iter().collect(), sources })
}

/// The `from=` of a `--mount` value (`type=bind,from=build,target=/x`).
fn mount_from(mount: &str) -> Option<String> {
    mount.split(',').find_map(|field| field.split_once('=').filter(|(k, _)| k.trim().eq_ignore_ascii_case("from")).map(|(_, v)| v.trim().to_string()))
}

#[cfg(test)]
mod tests;
