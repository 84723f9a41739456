//! `extends`: a service built on another service, in the same file or another one.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::LoadError;
use crate::merge::merge;
use crate::path::KeyPath;
use crate::pipeline::Context;
use crate::resolve::resolve_service_paths;

/// Resolves every `extends` in the services of `cfg` (a canonical file read from `file`).
pub fn apply_extends(cfg: &mut Value, file: &Path, working_dir: &Path, ctx: &Context) -> Result<(), LoadError> {
    let names: Vec<String> = match cfg.get("services") {
        Some(Value::Object(s)) => s.keys().cloned().collect(),
        _ => return Ok(()),
    };
    for name in names {
        let mut seen = HashSet::new();
        let resolved = resolve(cfg, &name, file, working_dir, ctx, &mut seen)?;
        cfg["services"][&name] = resolved;
    }
    Ok(())
}

/// The service `name` of `cfg` with its `extends` chain merged in.
fn resolve(
    cfg: &Value,
    name: &str,
    file: &Path,
    working_dir: &Path,
    ctx: &Context,
    seen: &mut HashSet<(PathBuf, String)>,
) -> Result<Value, LoadError> {
    let Some(service) = cfg.get("services").and_then(|s| s.get(name)).cloned() else {
        return Err(LoadError::Invalid(format!(
            "cannot extend service {name:?} in {}: service {name:?} not found",
            file.display()
        )));
    };
    let Some(ext) = service.get("extends").cloned() else { return Ok(service) };
    if !seen.insert((file.to_path_buf(), name.to_string())) {
        return Err(LoadError::Invalid(format!("circular reference with extends in {}: service {name:?}", file.display())));
    }
    let base_name = ext.get("service").and_then(Value::as_str).unwrap_or_default().to_string();
    let mut base = match ext.get("file").and_then(Value::as_str) {
        None => resolve(cfg, &base_name, file, working_dir, ctx, seen)?,
        Some(other) => {
            let other_path = PathBuf::from(crate::resolve::absolutize(other, file.parent().unwrap_or(working_dir), ctx.environment));
            let other_dir = other_path.parent().map(Path::to_path_buf).unwrap_or_default();
            let mut doc = crate::pipeline::parse_file(&other_path)?;
            if ctx.interpolate {
                crate::pipeline::interpolate_document(&mut doc.value, &other_path, ctx)?;
            }
            crate::canonical::canonicalize(&mut doc.value)?;
            let mut base = resolve(&doc.value, &base_name, &other_path, &other_dir, ctx, seen)?;
            resolve_service_paths(&mut base, &ctx.path_base(&other_dir, working_dir), ctx.environment);
            base
        }
    };
    if let Some(b) = base.as_object_mut() {
        b.shift_remove("extends");
    }
    let mut own = service;
    if let Some(o) = own.as_object_mut() {
        o.shift_remove("extends");
    }
    merge(&mut base, own, &KeyPath::of(&["services", name]));
    Ok(base)
}
