//! Variable interpolation over a whole document, with compose's type casts.
//!
//! Every string value is substituted (`${VAR:-default}` and friends, see [`xcompose_env::template`]);
//! then values at a few well-known paths are cast to the type the model expects, exactly where the
//! reference loader casts them (so `read_only: "${RO}"` becomes a boolean).

use serde_json::{Number, Value};
use xcompose_env::{template, Lookup};

use crate::path::KeyPath;

/// What went wrong while interpolating one value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("error while interpolating {path}: {message}")]
pub struct InterpolationError {
    /// Where (compose rendering, `services.web.ports.[].target`).
    pub path: KeyPath,
    /// The template or cast problem.
    pub message: String,
}

#[derive(Clone, Copy)]
enum Cast {
    Int,
    Int64,
    Float,
    Float32,
    Bool,
}

/// Paths whose string values are cast after substitution (`*` any key, `[]` any item).
const CASTS: &[(&[&str], Cast)] = &[
    (&["services", "*", "configs", "[]", "mode"], Cast::Int),
    (&["services", "*", "cpu_count"], Cast::Int64),
    (&["services", "*", "cpu_percent"], Cast::Float),
    (&["services", "*", "cpu_period"], Cast::Int64),
    (&["services", "*", "cpu_quota"], Cast::Int64),
    (&["services", "*", "cpu_rt_period"], Cast::Int64),
    (&["services", "*", "cpu_rt_runtime"], Cast::Int64),
    (&["services", "*", "cpus"], Cast::Float32),
    (&["services", "*", "cpu_shares"], Cast::Int64),
    (&["services", "*", "init"], Cast::Bool),
    (&["services", "*", "deploy", "replicas"], Cast::Int),
    (&["services", "*", "deploy", "update_config", "parallelism"], Cast::Int),
    (&["services", "*", "deploy", "update_config", "max_failure_ratio"], Cast::Float),
    (&["services", "*", "deploy", "rollback_config", "parallelism"], Cast::Int),
    (&["services", "*", "deploy", "rollback_config", "max_failure_ratio"], Cast::Float),
    (&["services", "*", "deploy", "restart_policy", "max_attempts"], Cast::Int),
    (&["services", "*", "deploy", "placement", "max_replicas_per_node"], Cast::Int),
    (&["services", "*", "healthcheck", "retries"], Cast::Int),
    (&["services", "*", "healthcheck", "disable"], Cast::Bool),
    (&["services", "*", "oom_kill_disable"], Cast::Bool),
    (&["services", "*", "oom_score_adj"], Cast::Int64),
    (&["services", "*", "pids_limit"], Cast::Int64),
    (&["services", "*", "ports", "[]", "target"], Cast::Int),
    (&["services", "*", "privileged"], Cast::Bool),
    (&["services", "*", "read_only"], Cast::Bool),
    (&["services", "*", "scale"], Cast::Int),
    (&["services", "*", "secrets", "[]", "mode"], Cast::Int),
    (&["services", "*", "stdin_open"], Cast::Bool),
    (&["services", "*", "tty"], Cast::Bool),
    (&["services", "*", "ulimits", "*"], Cast::Int),
    (&["services", "*", "ulimits", "*", "hard"], Cast::Int),
    (&["services", "*", "ulimits", "*", "soft"], Cast::Int),
    (&["services", "*", "volumes", "[]", "read_only"], Cast::Bool),
    (&["services", "*", "volumes", "[]", "volume", "nocopy"], Cast::Bool),
    (&["networks", "*", "external"], Cast::Bool),
    (&["networks", "*", "internal"], Cast::Bool),
    (&["networks", "*", "attachable"], Cast::Bool),
    (&["networks", "*", "enable_ipv6"], Cast::Bool),
    (&["volumes", "*", "external"], Cast::Bool),
    (&["secrets", "*", "external"], Cast::Bool),
    (&["configs", "*", "external"], Cast::Bool),
];

/// Substitutes variables in every string of `value`, in place, then applies the casts.
/// Returns the names of the variables used but not set (compose warns about each).
pub fn interpolate(value: &mut Value, lookup: &dyn Lookup) -> Result<Vec<String>, InterpolationError> {
    let mut missing = Vec::new();
    walk(value, &KeyPath::root(), lookup, &mut missing)?;
    Ok(missing)
}

fn walk(value: &mut Value, path: &KeyPath, lookup: &dyn Lookup, missing: &mut Vec<String>) -> Result<(), InterpolationError> {
    match value {
        Value::String(s) => {
            let mut report = |name: &str| {
                if !missing.iter().any(|m| m == name) {
                    missing.push(name.to_string());
                }
            };
            let substituted = template::substitute_reporting(s, lookup, &mut report).map_err(|e| match e {
                template::TemplateError::Invalid { template } => InterpolationError {
                    path: path.clone(),
                    message: format!("invalid interpolation format {template:?}: you may need to escape any $ with another $"),
                },
                other => InterpolationError { path: path.clone(), message: other.to_string() },
            })?;
            *value = match cast_for(path) {
                Some(cast) => apply(cast, &substituted).map_err(|message| InterpolationError {
                    path: path.clone(),
                    message: format!("failed to cast to expected type: {message}"),
                })?,
                None => Value::String(substituted),
            };
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, &path.child_index(i), lookup, missing)?;
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                walk(v, &path.child(k), lookup, missing)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn cast_for(path: &KeyPath) -> Option<Cast> {
    CASTS.iter().find(|(pattern, _)| path.matches(pattern)).map(|(_, c)| *c)
}

fn apply(cast: Cast, s: &str) -> Result<Value, String> {
    let int_err = |func: &str| format!("strconv.{func}: parsing {s:?}: invalid syntax");
    match cast {
        Cast::Int => s.parse::<i64>().map(Value::from).map_err(|_| int_err("Atoi")),
        Cast::Int64 => s.parse::<i64>().map(Value::from).map_err(|_| int_err("ParseInt")),
        Cast::Float | Cast::Float32 => s
            .parse::<f64>()
            .ok()
            .and_then(|f| {
                let f = if matches!(cast, Cast::Float32) { f64::from(f as f32) } else { f };
                Number::from_f64(f)
            })
            .map(Value::Number)
            .ok_or_else(|| int_err("ParseFloat")),
        Cast::Bool => match s.to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            "y" | "yes" | "on" => {
                eprintln!("WARN[0000] {s:?} for boolean is not supported by YAML 1.2, please use `true`");
                Ok(Value::Bool(true))
            }
            "n" | "no" | "off" => {
                eprintln!("WARN[0000] {s:?} for boolean is not supported by YAML 1.2, please use `false`");
                Ok(Value::Bool(false))
            }
            _ => Err(format!("invalid boolean: {s}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn substitutes_strings_and_casts_known_paths() {
        let mut doc = json!({"services": {"web": {
            "image": "app:${TAG:-latest}", "read_only": "${RO}", "ports": [{"target": "${P}"}],
            "environment": {"X": "$$literal"}, "cpus": "0.5"
        }}});
        let vars = env(&[("RO", "yes"), ("P", "80")]);
        interpolate(&mut doc, &vars).unwrap();
        let web = &doc["services"]["web"];
        assert_eq!(web["image"], "app:latest");
        assert_eq!(web["read_only"], true);
        assert_eq!(web["ports"][0]["target"], 80);
        assert_eq!(web["environment"]["X"], "$literal");
        assert_eq!(web["cpus"], 0.5);
    }

    #[test]
    fn cast_failure_names_the_path_like_compose() {
        let mut doc = json!({"services": {"web": {"ports": [{"target": "abc"}]}}});
        let err = interpolate(&mut doc, &env(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "error while interpolating services.web.ports.[].target: failed to cast to expected type: strconv.Atoi: parsing \"abc\": invalid syntax"
        );
    }

    #[test]
    fn bad_boolean_is_reported() {
        let mut doc = json!({"networks": {"n": {"internal": "maybe"}}});
        let err = interpolate(&mut doc, &env(&[])).unwrap_err();
        assert!(err.to_string().ends_with("invalid boolean: maybe"), "{err}");
    }
}
