//! Making a merged model self-contained: relative paths made absolute against the project
//! directory, and variables declared without a value (`environment: [FOO]`) filled from the
//! environment.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::Value;

use crate::options::clean;

/// Expands `~` and joins a relative path onto `base`, cleaning the result; an absolute path is
/// kept exactly as written (compose keeps `/etc/app/` with its slash).
pub fn absolutize(path: &str, base: &Path, env: &IndexMap<String, String>) -> String {
    let expanded: PathBuf = if path == "~" || path.starts_with("~/") {
        let home = env.get("HOME").cloned().unwrap_or_else(|| "/root".into());
        PathBuf::from(home).join(path.trim_start_matches('~').trim_start_matches('/'))
    } else if Path::new(path).is_absolute() || is_windows_absolute(path) {
        return path.to_string();
    } else {
        base.join(path)
    };
    clean(&expanded).to_string_lossy().into_owned()
}

/// Whether `path` is an absolute Windows path (`C:\dir`, `C:/dir`, `\\server\share`), which
/// compose-go keeps as written on every platform.
fn is_windows_absolute(path: &str) -> bool {
    let b = path.as_bytes();
    path.starts_with("\\\\") || (b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && matches!(b[2], b'\\' | b'/'))
}

/// Whether a build context is remote (git or http), so not a path.
fn is_remote(context: &str) -> bool {
    ["http://", "https://", "git://", "git@", "github.com/", "ssh://"].iter().any(|p| context.starts_with(p))
}

fn fix(v: &mut Value, base: &Path, env: &IndexMap<String, String>) {
    if let Value::String(s) = v {
        *s = absolutize(s, base, env);
    }
}

/// Makes every path-valued key of the model absolute.
pub fn resolve_paths(doc: &mut Value, base: &Path, env: &IndexMap<String, String>) {
    if let Some(Value::Object(services)) = doc.get_mut("services") {
        for service in services.values_mut() {
            resolve_service_paths(service, base, env);
        }
    }
    for kind in ["secrets", "configs"] {
        if let Some(Value::Object(items)) = doc.get_mut(kind) {
            for item in items.values_mut() {
                if let Some(f) = item.get_mut("file") {
                    fix(f, base, env);
                }
            }
        }
    }
}

/// Makes the paths of one service absolute (also used for services extended from another file).
pub fn resolve_service_paths(service: &mut Value, base: &Path, env: &IndexMap<String, String>) {
    let Some(s) = service.as_object_mut() else { return };
    if let Some(Value::Object(build)) = s.get_mut("build") {
        match build.get_mut("context") {
            Some(Value::String(ctx)) if !is_remote(ctx) => *ctx = absolutize(ctx, base, env),
            Some(_) => {}
            None => {
                build.insert("context".into(), Value::String(absolutize(".", base, env)));
            }
        }
        if let Some(Value::Object(extra)) = build.get_mut("additional_contexts") {
            for v in extra.values_mut() {
                if let Value::String(p) = v {
                    if !p.contains("://") && !p.starts_with("docker-image:") && !p.starts_with("service:") {
                        *p = absolutize(p, base, env);
                    }
                }
            }
        }
    }
    if let Some(Value::Array(files)) = s.get_mut("env_file") {
        for f in files.iter_mut() {
            if let Some(p) = f.get_mut("path") {
                fix(p, base, env);
            }
        }
    }
    if let Some(Value::Array(files)) = s.get_mut("label_file") {
        for f in files.iter_mut() {
            fix(f, base, env);
        }
    }
    if let Some(Value::Object(ext)) = s.get_mut("extends") {
        if let Some(f) = ext.get_mut("file") {
            fix(f, base, env);
        }
    }
    if let Some(Value::Array(volumes)) = s.get_mut("volumes") {
        for v in volumes.iter_mut() {
            if v.get("type").and_then(Value::as_str) == Some("bind") {
                if let Some(src) = v.get_mut("source") {
                    fix(src, base, env);
                }
            }
        }
    }
    if let Some(Value::Object(develop)) = s.get_mut("develop") {
        if let Some(Value::Array(rules)) = develop.get_mut("watch") {
            for rule in rules.iter_mut() {
                if let Some(p) = rule.get_mut("path") {
                    fix(p, base, env);
                }
            }
        }
    }
}

/// Fills `environment` entries declared without a value from `env`, and, with `build_args`
/// (compose-go does it in its normalization), build args too. An environment entry not found
/// stays `null`; a build arg not found is dropped.
pub fn resolve_environment(doc: &mut Value, env: &IndexMap<String, String>, build_args: bool) {
    let Some(Value::Object(services)) = doc.get_mut("services") else { return };
    for service in services.values_mut() {
        if let Some(Value::Object(vars)) = service.get_mut("environment") {
            for (k, v) in vars.iter_mut() {
                if v.is_null() {
                    if let Some(found) = env.get(k) {
                        *v = Value::String(found.clone());
                    }
                }
            }
        }
        if let Some(Value::Object(args)) = service.get_mut("build").and_then(|b| b.get_mut("args")).filter(|_| build_args) {
            let keys: Vec<String> = args.keys().cloned().collect();
            for k in keys {
                if args[&k].is_null() {
                    match env.get(&k) {
                        Some(found) => {
                            args.insert(k, Value::String(found.clone()));
                        }
                        None => {
                            args.shift_remove(&k);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_absolute_paths_are_kept_as_written() {
        let env = IndexMap::new();
        let base = Path::new("/project");
        assert_eq!(absolutize("C:\\docker\\project", base, &env), "C:\\docker\\project");
        assert_eq!(absolutize("d:/data", base, &env), "d:/data");
        assert_eq!(absolutize("\\\\server\\share", base, &env), "\\\\server\\share");
        assert_eq!(absolutize("C:relative", base, &env), "/project/C:relative");
        assert_eq!(absolutize("./relative", base, &env), "/project/relative");
    }
}
