//! `include`: other compose projects loaded on their own (own directory, own env file) whose
//! resources are added to this one.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::LoadError;
use crate::pipeline::{load_model, Context};

/// Loads each `include` entry of `cfg` and adds its resources; a resource defined on both sides
/// with different content is an error.
pub fn apply_includes(cfg: &mut Value, working_dir: &Path, ctx: &Context, chain: &[PathBuf]) -> Result<(), LoadError> {
    let Some(Value::Array(entries)) = cfg.as_object_mut().and_then(|o| o.shift_remove("include")) else {
        return Ok(());
    };
    for entry in entries {
        let paths: Vec<PathBuf> = entry
            .get("path")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(|p| abs(p, working_dir, ctx)).collect())
            .unwrap_or_default();
        let Some(first) = paths.first() else { continue };
        for p in &paths {
            if chain.contains(p) {
                let mut cycle: Vec<String> = chain.iter().map(|c| c.display().to_string()).collect();
                cycle.push(p.display().to_string());
                return Err(LoadError::Invalid(format!("include cycle detected: {}", cycle.join(" includes "))));
            }
        }
        let project_dir = match entry.get("project_directory").and_then(Value::as_str) {
            Some(d) => abs(d, working_dir, ctx),
            None => first.parent().map(Path::to_path_buf).unwrap_or_else(|| working_dir.to_path_buf()),
        };
        let env_files: Vec<PathBuf> = match entry.get("env_file").and_then(Value::as_array) {
            Some(list) => list.iter().filter_map(Value::as_str).map(|p| abs(p, working_dir, ctx)).collect(),
            None => vec![project_dir.join(".env")].into_iter().filter(|p| p.is_file()).collect(),
        };
        let mut environment: IndexMap<String, String> = IndexMap::new();
        for f in &env_files {
            let lookup = |n: &str| ctx.environment.get(n).cloned();
            let vars = xcompose_env::dotenv::read_file(f, &lookup)
                .map_err(|e| LoadError::EnvFile(format!("failed to read {}: {e}", f.display())))?;
            environment.extend(vars);
        }
        environment.extend(ctx.environment.iter().map(|(k, v)| (k.clone(), v.clone())));
        let sub = Context { environment: &environment, interpolate: ctx.interpolate, resolve_paths: ctx.resolve_paths, root: working_dir, normalize: ctx.normalize, validation_cache: ctx.validation_cache };
        let imported = load_model(&paths, &project_dir, &sub, chain)?;
        add_imported(cfg, imported)?;
    }
    Ok(())
}

fn abs(p: &str, base: &Path, ctx: &Context) -> PathBuf {
    PathBuf::from(crate::resolve::absolutize(p, base, ctx.environment))
}

fn add_imported(cfg: &mut Value, imported: Value) -> Result<(), LoadError> {
    let Value::Object(imported) = imported else { return Ok(()) };
    let root = cfg.as_object_mut().expect("compose documents are mappings");
    for (kind, items) in imported {
        let Value::Object(items) = items else { continue };
        if !matches!(kind.as_str(), "services" | "networks" | "volumes" | "secrets" | "configs" | "models") {
            continue;
        }
        let target = root.entry(kind.clone()).or_insert_with(|| Value::Object(Default::default()));
        let Some(target) = target.as_object_mut() else { continue };
        for (name, value) in items {
            match target.get(&name) {
                Some(existing) if *existing != value => {
                    return Err(LoadError::Invalid(format!("{kind}.{name} conflicts with imported resource")));
                }
                _ => {
                    target.insert(name, value);
                }
            }
        }
    }
    Ok(())
}
