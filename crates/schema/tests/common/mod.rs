//! Helpers shared by the integration tests.

use serde_json::{Map, Value};
use xcompose_schema::{check_after_schema, check_before_schema, validate, Violation};
use yaml_rust2::{Yaml, YamlLoader};

/// Parses one YAML document into JSON, keeping YAML 1.2 scalars (`on`, `yes` stay strings).
pub fn yaml(text: &str) -> Value {
    let mut docs = YamlLoader::load_from_str(text).expect("test YAML parses");
    if docs.is_empty() {
        return Value::Null;
    }
    to_json(docs.remove(0))
}

fn to_json(y: Yaml) -> Value {
    match y {
        Yaml::Real(r) => r
            .parse::<f64>()
            .map(Value::from)
            .unwrap_or(Value::String(r)),
        Yaml::Integer(i) => Value::from(i),
        Yaml::String(s) => Value::String(s),
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Array(a) => Value::Array(a.into_iter().map(to_json).collect()),
        Yaml::Hash(h) => {
            let mut map = Map::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) | Yaml::Real(s) => s,
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    other => format!("{other:?}"),
                };
                map.insert(key, to_json(v));
            }
            Value::Object(map)
        }
        _ => Value::Null,
    }
}

/// The step that rejects `doc`, in compose's order, and its violation.
pub fn first_violation(doc: &Value) -> Option<(&'static str, Violation)> {
    if let Err(v) = check_before_schema(doc) {
        return Some(("before", v));
    }
    if let Err(v) = validate(doc) {
        return Some(("schema", v));
    }
    check_after_schema(doc).err().map(|v| ("after", v))
}
