//! Reading compose files into one merged, canonical JSON model: parse, interpolate, validate,
//! canonicalise, include, extends, merge. The typed [`crate::model::Project`] is decoded from it.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::canonical::canonicalize;
use crate::error::LoadError;
use crate::merge::{apply_tags, enforce_unicity, merge};
use crate::path::KeyPath;
use crate::resolve::{resolve_environment, resolve_paths};
use crate::validated::ValidationCache;
use crate::yaml::{self, Document};

/// Shared settings of one load.
pub struct Context<'a> {
    /// Variables for interpolation.
    pub environment: &'a IndexMap<String, String>,
    /// Whether to interpolate.
    pub interpolate: bool,
    /// Whether to make relative paths absolute (`config --no-path-resolution` clears it).
    pub resolve_paths: bool,
    /// The directory of the project that includes this load (the project directory at the
    /// top): without `resolve_paths`, an included project's paths are made relative to it, as
    /// compose does, and the includer's own load rebases them in turn.
    pub root: &'a Path,
    /// Whether compose's normalization applies (`config --no-normalize` clears it): it fills
    /// build args declared without a value from the environment.
    pub normalize: bool,
    /// Where documents that passed the schema are remembered, if anywhere.
    pub validation_cache: Option<&'a ValidationCache>,
}

impl Context<'_> {
    /// What the relative paths of an included or extended file in `dir` are joined to: `dir`,
    /// or without `resolve_paths` its path from `from`, the directory of the file that
    /// includes or extends it (compose-go's `filepath.Rel`, so `../lib` for a sibling).
    pub fn path_base(&self, dir: &Path, from: &Path) -> PathBuf {
        if self.resolve_paths {
            return dir.to_path_buf();
        }
        pathdiff::diff_paths(dir, from).unwrap_or_else(|| dir.to_path_buf())
    }
}

/// Loads and merges `files` (relative paths resolved against `working_dir`) into one model.
/// `chain` holds the files being included above this load, to catch include cycles.
pub fn load_model(files: &[PathBuf], working_dir: &Path, ctx: &Context, chain: &[PathBuf]) -> Result<Value, LoadError> {
    let mut dict = Value::Object(Map::new());
    for file in files {
        let mut chain = chain.to_vec();
        chain.push(file.clone());
        let (cfg, tags) = process_file(file, working_dir, ctx, &chain)?;
        let mut cfg = cfg;
        apply_tags(&mut dict, &mut cfg, &tags);
        merge(&mut dict, cfg, &KeyPath::root());
        enforce_unicity(&mut dict);
    }
    // Without path resolution the project's own files keep their paths as written.
    if ctx.resolve_paths || !chain.is_empty() {
        resolve_paths(&mut dict, &ctx.path_base(working_dir, ctx.root), ctx.environment);
    }
    if ctx.interpolate {
        resolve_environment(&mut dict, ctx.environment, ctx.normalize);
    }
    Ok(dict)
}

/// Reads one file through interpolation, validation, canonical forms, includes and extends.
fn process_file(
    file: &Path,
    working_dir: &Path,
    ctx: &Context,
    chain: &[PathBuf],
) -> Result<(Value, Vec<(KeyPath, yaml::MergeTag)>), LoadError> {
    let mut doc = parse_file(file)?;
    if doc.value.is_null() {
        doc.value = Value::Object(Map::new());
    }
    if !doc.value.is_object() {
        return Err(LoadError::Invalid(format!("{}: top-level object must be a mapping", file.display())));
    }
    if ctx.interpolate {
        interpolate_document(&mut doc.value, file, ctx)?;
    }
    validate(file, &doc, ctx.validation_cache)?;
    let mut cfg = doc.value;
    if let Some(obj) = cfg.as_object_mut() {
        if obj.shift_remove("version").is_some() {
            eprintln!(
                "WARN[0000] {}: the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion",
                file.display()
            );
        }
    }
    canonicalize(&mut cfg)?;
    crate::include::apply_includes(&mut cfg, working_dir, ctx, chain)?;
    crate::extends::apply_extends(&mut cfg, file, working_dir, ctx)?;
    Ok((cfg, doc.tags))
}

/// Interpolates a parsed file, warning (as compose does) about each variable that is not set.
pub fn interpolate_document(value: &mut Value, file: &Path, ctx: &Context) -> Result<(), LoadError> {
    let lookup = |name: &str| ctx.environment.get(name).cloned();
    let missing = crate::interpolate::interpolate(value, &lookup)
        .map_err(|e| LoadError::Interpolation { file: file.to_path_buf(), message: e.to_string() })?;
    for name in missing {
        eprintln!("WARN[0000] The {name:?} variable is not set. Defaulting to a blank string.");
    }
    Ok(())
}

/// Reads and parses a YAML file, with errors naming the file and position.
/// `-` reads standard input, as `docker compose -f -` does.
pub fn parse_file(file: &Path) -> Result<Document, LoadError> {
    let read = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(file)
    };
    let text = read.map_err(|source| LoadError::Read { path: file.to_path_buf(), source })?;
    yaml::parse(&text).map_err(|e| LoadError::Yaml { file: file.to_path_buf(), position: e.position, message: e.message })
}

/// Validates a document against the compose schema, mapping the violation back to its line; a
/// document `cache` remembers as valid under the same key is not validated again.
fn validate(file: &Path, doc: &Document, cache: Option<&ValidationCache>) -> Result<(), LoadError> {
    let key = cache.map(|_| ValidationCache::key(&doc.value));
    if let (Some(cache), Some(key)) = (cache, &key) {
        if cache.is_valid(file, key) {
            return Ok(());
        }
    }
    validate_now(file, doc)?;
    if let (Some(cache), Some(key)) = (cache, &key) {
        cache.remember(file, key);
    }
    Ok(())
}

/// Validates a document against the compose schema.
fn validate_now(file: &Path, doc: &Document) -> Result<(), LoadError> {
    xcompose_schema::validate(&doc.value).map_err(|v| {
        let mut path = KeyPath::root();
        for seg in &v.path {
            path = match seg {
                xcompose_schema::PathSegment::Key(k) => path.child(k),
                xcompose_schema::PathSegment::Index(i) => path.child_index(*i),
            };
        }
        // Point at the offending key itself, not at the mapping that holds it.
        if let Some(key) = v.message.split("additional properties '").nth(1).and_then(|r| r.split('\'').next()) {
            path = path.child(key);
        }
        LoadError::Schema { file: file.to_path_buf(), position: doc.position_of(&path), message: v.message }
    })
}
