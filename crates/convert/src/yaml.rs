//! Manifests as YAML documents, keys in the order the conversion built them (yaml-rust2's
//! emitter, which quotes strings that would read back as numbers or booleans).

use serde_json::Value;
use yaml_rust2::yaml::Hash;
use yaml_rust2::{Yaml, YamlEmitter};

/// One YAML document for `value`, starting with `---`, ending with a newline.
pub fn document(value: &Value) -> String {
    let mut out = String::new();
    YamlEmitter::new(&mut out).dump(&to_yaml(value)).expect("writing YAML into a String cannot fail");
    out.push('\n');
    out
}

/// Several documents, one after the other.
pub fn documents<'a>(values: impl IntoIterator<Item = &'a Value>) -> String {
    values.into_iter().map(document).collect()
}

fn to_yaml(value: &Value) -> Yaml {
    match value {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(n.to_string()),
        },
        Value::String(s) => Yaml::String(s.clone()),
        Value::Array(items) => Yaml::Array(items.iter().map(to_yaml).collect()),
        Value::Object(map) => {
            let mut hash = Hash::new();
            for (k, v) in map {
                hash.insert(Yaml::String(k.clone()), to_yaml(v));
            }
            Yaml::Hash(hash)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_that_look_like_other_types_are_quoted() {
        let doc = document(&serde_json::json!({"kind": "Service", "port": 80, "name": "80", "flag": "true", "list": ["a"]}));
        assert_eq!(doc, "---\nkind: Service\nport: 80\nname: \"80\"\nflag: \"true\"\nlist:\n  - a\n");
    }
}
