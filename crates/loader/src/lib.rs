//! Loads Compose Specification files into a typed [`Project`], exactly as Docker Compose v2 does.
//!
//! The pipeline, one module per step: [`yaml`] parses with positions, [`interpolate`] substitutes
//! variables, the `xcompose-schema` crate validates, [`canonical`] rewrites short syntaxes,
//! [`include`] and [`extends`] pull in other definitions, [`merge`] combines files, [`resolve`]
//! fixes paths and host variables, [`normalize`] applies project-wide defaults, [`model`] is the
//! typed result and [`project`] its final passes (profiles, consistency, env files).
//!
//! ```no_run
//! let mut opts = xcompose_loader::ProjectOptions::from_process();
//! opts.files.push("compose.yaml".into());
//! let project = xcompose_loader::load(&opts).unwrap();
//! println!("{}", project.name);
//! ```

pub mod canonical;
pub mod error;
pub mod extends;
pub mod hash;
pub mod include;
pub mod interpolate;
pub mod merge;
pub mod model;
pub mod normalize;
pub mod options;
pub mod path;
pub mod pipeline;
pub mod project;
pub mod raw_env;
pub mod resolve;
mod shell;
pub mod short_syntax;
pub mod units;
mod validated;
pub mod yaml;

use serde_json::Value;

pub use error::LoadError;
pub use hash::service_hash;
pub use model::Project;
pub use options::ProjectOptions;
pub use validated::ValidationCache;

/// Loads the project described by `opts`.
pub fn load(opts: &ProjectOptions) -> Result<Project, LoadError> {
    let (model, resolved) = merged_model(opts)?;
    let mut project = decode(model)?;
    project::resolve_label_files(&mut project)?;
    project::resolve_file_object_environment(&mut project, &resolved.environment);
    project::apply_profiles(&mut project, &active_profiles(opts, &resolved), &opts.services)?;
    if !opts.skip_consistency {
        project::check_consistency(&project)?;
    }
    if opts.prune_unused {
        project::prune_unused(&mut project);
    }
    if opts.resolve_env_files {
        project::resolve_env_files(&mut project, &resolved.environment)?;
    }
    Ok(project)
}

/// The project directory and the compose files `opts` designate (absolute, in merge order), as
/// recorded in containers' `com.docker.compose.project.*` labels.
pub fn project_files(opts: &ProjectOptions) -> Result<(std::path::PathBuf, Vec<std::path::PathBuf>), LoadError> {
    let resolved = options::resolve(opts)?;
    Ok((resolved.working_dir, resolved.files))
}

/// The merged, normalised model as a JSON value, before typing: what `config --no-interpolate`
/// prints, since values like `${PORT}` cannot be typed yet. Like compose, every service is kept
/// whatever its profiles; unlike compose, short syntaxes are already in their long forms.
pub fn load_untyped(opts: &ProjectOptions) -> Result<Value, LoadError> {
    merged_model(opts).map(|(model, _)| model)
}

/// All files loaded, merged and normalised.
fn merged_model(opts: &ProjectOptions) -> Result<(Value, options::Resolved), LoadError> {
    let resolved = options::resolve(opts)?;
    let ctx = pipeline::Context { environment: &resolved.environment, interpolate: opts.interpolate, resolve_paths: !opts.keep_relative_paths, root: &resolved.working_dir, normalize: !opts.skip_normalization, validation_cache: opts.validation_cache.as_ref() };
    let mut model = pipeline::load_model(&resolved.files, &resolved.working_dir, &ctx, &[])?;
    if model.as_object().is_none_or(|m| m.is_empty()) {
        return Err(LoadError::Invalid("empty compose file".into()));
    }
    let name = project_name(opts, &resolved, &model)?;
    if opts.skip_normalization {
        normalize::set_name(&mut model, &name);
    } else {
        normalize::normalize(&mut model, &name);
    }
    Ok((model, resolved))
}

/// Decodes the merged model into the typed project, naming the key path of a bad value.
fn decode(model: Value) -> Result<Project, LoadError> {
    serde_path_to_error::deserialize(model).map_err(|e| {
        let path = e.path().to_string();
        LoadError::Invalid(format!("{path}: {}", e.into_inner()))
    })
}

/// `--profile` values, else `COMPOSE_PROFILES` (comma-separated).
fn active_profiles(opts: &ProjectOptions, resolved: &options::Resolved) -> Vec<String> {
    if !opts.profiles.is_empty() {
        return opts.profiles.iter().flat_map(|p| p.split(',')).map(str::to_string).collect();
    }
    resolved
        .environment
        .get("COMPOSE_PROFILES")
        .map(|v| v.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default()
}

/// `-p`, else `COMPOSE_PROJECT_NAME`, else the `name:` key (lowercased unless normalization is
/// skipped), else the project directory's name.
fn project_name(opts: &ProjectOptions, resolved: &options::Resolved, model: &Value) -> Result<String, LoadError> {
    let explicit =
        opts.project_name.clone().or_else(|| resolved.environment.get("COMPOSE_PROJECT_NAME").filter(|v| !v.is_empty()).cloned());
    if let Some(name) = explicit {
        if options::normalize_project_name(&name) != name || name.is_empty() {
            return Err(LoadError::Invalid(format!(
                "invalid project name {name:?}: must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number"
            )));
        }
        return Ok(name);
    }
    // Compose lowercases the `name:` key's value as part of normalization only.
    let from_key = model.get("name").and_then(Value::as_str).map(|n| if opts.skip_normalization { n.to_string() } else { options::normalize_project_name(n) });
    if let Some(name) = from_key.filter(|n| !n.is_empty()) {
        return Ok(name);
    }
    let dir = resolved.working_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name = options::normalize_project_name(&dir);
    if name.is_empty() {
        return Err(LoadError::Invalid("project name must not be empty".into()));
    }
    Ok(name)
}
