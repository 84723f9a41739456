//! Rendering a JSON value as YAML, for `config`'s default output.

use serde_json::Value;
use yaml_rust2::{Yaml, YamlEmitter};

fn to_yaml_node(v: &Value) -> Yaml {
    match v {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(n.to_string()),
        },
        Value::String(s) => Yaml::String(s.clone()),
        Value::Array(items) => Yaml::Array(items.iter().map(to_yaml_node).collect()),
        Value::Object(map) => {
            Yaml::Hash(map.iter().map(|(k, v)| (Yaml::String(k.clone()), to_yaml_node(v))).collect())
        }
    }
}

/// The value as a YAML document (without the leading `---`).
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    let mut emitter = YamlEmitter::new(&mut out);
    emitter.multiline_strings(true);
    emitter.dump(&to_yaml_node(v)).expect("writing to a String cannot fail");
    let body = out.strip_prefix("---\n").unwrap_or(&out).to_string();
    body + "\n"
}
