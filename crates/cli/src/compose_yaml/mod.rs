//! `config`'s YAML, byte for byte as docker compose prints it: compose-go's project marshalled
//! by Go's yaml.v3 (two-space indent), written here from the project's JSON form, which equals
//! compose's. Keys of structs come in their Go field order, maps' keys sorted as yaml.v3 sorts
//! them, strings quoted as yaml.v3 quotes them.

mod extensions;
mod keys;
mod scalar;
mod types;

use serde_json::{Map, Value};

use scalar::Position;
use types::{Kind, Ty};

pub use extensions::add as add_extensions;

/// A string value as yaml.v3 writes it (plain, quoted or as a block).
pub fn string_value(s: &str, indent: usize) -> String {
    scalar::string(s, Position::Value, indent)
}

/// A project's JSON form as compose's `config` prints it (the extensions only JSON leaves out
/// come from [`add_extensions`]).
pub fn to_yaml(project: &Value) -> String {
    let mut out = String::new();
    match project {
        Value::Object(map) if !map.is_empty() => write_mapping(&mut out, &entries(map, Ty::Struct(Kind::Project)), 0),
        other => {
            out.push_str(&inline(other, Position::Value, 0));
            out.push('\n');
        }
    }
    out
}

/// A mapping's entries in yaml.v3's order, with what each value holds: a struct's fields in
/// declaration order, then its `x-*` extensions sorted; a map's keys sorted.
fn entries(map: &Map<String, Value>, ty: Ty) -> Vec<(&str, &Value, Ty)> {
    match ty {
        Ty::Struct(kind) => {
            let fields = types::fields(kind);
            let mut out: Vec<(&str, &Value, Ty)> = fields
                .iter()
                .filter_map(|(name, field_ty)| map.get_key_value(*name).map(|(k, v)| (k.as_str(), v, *field_ty)))
                .filter(|(k, v, _)| !types::omitted(kind, k, v))
                .collect();
            let unknown: Vec<&String> = map.keys().filter(|k| !k.starts_with("x-") && !fields.iter().any(|(f, _)| f == k)).collect();
            out.extend(unknown.into_iter().map(|k| (k.as_str(), &map[k], Ty::Any)));
            out.extend(sorted(map.keys().filter(|k| k.starts_with("x-")).collect()).into_iter().map(|k| (k.as_str(), &map[k], Ty::Any)));
            out
        }
        Ty::Map(kind) => sorted(map.keys().collect()).into_iter().map(|k| (k.as_str(), &map[k], Ty::Struct(kind))).collect(),
        Ty::Any | Ty::List(_) => sorted(map.keys().collect()).into_iter().map(|k| (k.as_str(), &map[k], Ty::Any)).collect(),
    }
}

/// `keys` in yaml.v3's order.
fn sorted(mut keys: Vec<&String>) -> Vec<&String> {
    keys.sort_by(|a, b| keys::compare(a, b));
    keys
}

/// What the items of a list of `ty` hold.
fn item_ty(ty: Ty) -> Ty {
    match ty {
        Ty::List(kind) => Ty::Struct(kind),
        _ => Ty::Any,
    }
}

/// Whether the value is written on its own lines below its key or dash.
fn is_block(value: &Value) -> bool {
    match value {
        Value::Object(map) => !map.is_empty(),
        Value::Array(items) => !items.is_empty(),
        _ => false,
    }
}

/// A scalar or an empty collection, as written after `key: ` or `- `.
fn inline(value: &Value, position: Position, indent: usize) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar::string(s, position, indent),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// Mapping entries at `indent`, each on its own line(s).
fn write_mapping(out: &mut String, entries: &[(&str, &Value, Ty)], indent: usize) {
    for (key, value, ty) in entries {
        out.push_str(&" ".repeat(indent));
        out.push_str(&scalar::string(key, Position::Key, indent));
        out.push(':');
        write_value(out, value, *ty, indent + 2, true);
    }
}

/// The value after a key (`after_key`) or a dash: inline after a space, or a block below.
fn write_value(out: &mut String, value: &Value, ty: Ty, indent: usize, after_key: bool) {
    match value {
        // A mapping whose every field is omitted (a network with only an empty `ipam`, as
        // `config --no-normalize` leaves it) is written `{}`, as yaml.v3 writes it.
        Value::Object(map) if !entries(map, ty).is_empty() => {
            let all = entries(map, ty);
            if after_key {
                out.push('\n');
                write_mapping(out, &all, indent);
            } else {
                // After a dash: the first entry on the dash's line, the others below it.
                let mut first = String::new();
                write_mapping(&mut first, &all[..1], indent);
                out.push(' ');
                out.push_str(first.trim_start());
                write_mapping(out, &all[1..], indent);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            if after_key {
                out.push('\n');
                write_sequence(out, items, item_ty(ty), indent);
            } else {
                let mut nested = String::new();
                write_sequence(&mut nested, items, item_ty(ty), indent);
                out.push(' ');
                out.push_str(nested.trim_start());
            }
        }
        scalar => {
            out.push(' ');
            out.push_str(&inline(scalar, Position::Value, indent));
            out.push('\n');
        }
    }
}

/// Sequence items at `indent`: `- item`, the item's own lines indented past the dash.
fn write_sequence(out: &mut String, items: &[Value], ty: Ty, indent: usize) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        if is_block(item) {
            write_value(out, item, ty, indent + 2, false);
        } else {
            out.push(' ');
            out.push_str(&inline(item, Position::Value, indent + 2));
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::to_yaml;

    #[test]
    fn structs_in_field_order_maps_sorted_and_empties_as_compose() {
        let project = serde_json::json!({
            "networks": {"default": {"ipam": {}, "name": "p_default"}},
            "name": "p",
            "services": {
                "web": {
                    "entrypoint": null,
                    "command": ["sh", "-c", "echo hi\nexit 3\n"],
                    "networks": {"default": null},
                    "ports": [{"target": 80, "published": "8080", "mode": "ingress", "protocol": "tcp"}],
                    "environment": {"B": "yes", "A10": "8080:80", "A3": "12:30", "A2": "", "x": "a: b"},
                    "volumes": [{"type": "volume", "target": "/d", "volume": {}}],
                    "develop": {"watch": [{"path": "/src", "action": "rebuild", "exec": {"command": null}}]},
                    "deploy": {"placement": {}, "replicas": 2},
                    "image": "busybox",
                    "x-extra": [["a"]]
                }
            },
            "x-top": {"b": 1, "a": true}
        });
        let want = "name: p
services:
  web:
    develop:
      watch:
        - path: /src
          action: rebuild
    command:
      - sh
      - -c
      - |
        echo hi
        exit 3
    deploy:
      replicas: 2
    environment:
      A2: \"\"
      A3: \"12:30\"
      A10: 8080:80
      B: \"yes\"
      x: 'a: b'
    image: busybox
    networks:
      default: null
    ports:
      - mode: ingress
        target: 80
        published: \"8080\"
        protocol: tcp
    volumes:
      - type: volume
        target: /d
        volume: {}
    x-extra:
      - - a
networks:
  default:
    name: p_default
x-top:
  a: true
  b: 1
";
        assert_eq!(to_yaml(&project), want);
    }
}
