//! Stand-ins for the frontend pieces not merged yet (word expansion, the image config state):
//! the least the executor needs, replaced by `crate::expand` and `crate::config` when they land.

use serde_json::{json, Map, Value};

use crate::model::{CommandLine, InstructionKind};

/// Expands `$NAME`, `${NAME}`, `${NAME:-word}` and `${NAME:+word}` from `vars`, drops quotes
/// and keeps `\$` literal.
pub fn expand(word: &str, vars: &[(String, String)]) -> String {
    let lookup = |name: &str| vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if quote != Some('\'') && i + 1 < chars.len() => {
                out.push(chars[i + 1]);
                i += 2;
                continue;
            }
            '"' | '\'' if quote.is_none() => quote = Some(c),
            '"' | '\'' if quote == Some(c) => quote = None,
            '$' if quote != Some('\'') => {
                if chars.get(i + 1) == Some(&'{') {
                    if let Some(end) = chars[i..].iter().position(|c| *c == '}') {
                        let inner: String = chars[i + 2..i + end].iter().collect();
                        let (name, op, alt) = match inner.find(':') {
                            Some(p) => (&inner[..p], inner.get(p + 1..p + 2).unwrap_or(""), &inner[(p + 2).min(inner.len())..]),
                            None => (inner.as_str(), "", ""),
                        };
                        let value = lookup(name).filter(|v| !v.is_empty());
                        out.push_str(&match (op, value) {
                            ("-", None) => expand(alt, vars),
                            ("+", Some(_)) => expand(alt, vars),
                            ("+", None) => String::new(),
                            (_, v) => v.unwrap_or_default(),
                        });
                        i += end + 1;
                        continue;
                    }
                }
                let name: String = chars[i + 1..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == '_').collect();
                if !name.is_empty() {
                    out.push_str(&lookup(&name).unwrap_or_default());
                    i += 1 + name.chars().count();
                    continue;
                }
                out.push('$');
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

/// Applies a config-only instruction to the image's `config` object (Docker's `Config`).
pub fn apply_config(config: &mut Map<String, Value>, kind: &InstructionKind, vars: &[(String, String)], shell: &[String]) {
    let x = |w: &str| expand(w, vars);
    let command = |c: &CommandLine| match c {
        CommandLine::Exec(args) => json!(args),
        CommandLine::Shell(text) => json!(shell.iter().cloned().chain([text.clone()]).collect::<Vec<_>>()),
    };
    match kind {
        InstructionKind::Env(pairs) => {
            let mut env: Vec<String> = config.get("Env").and_then(Value::as_array).map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect()).unwrap_or_default();
            for pair in pairs {
                let (key, value) = (x(&pair.key), x(&pair.value));
                env.retain(|e| e.split('=').next() != Some(key.as_str()));
                env.push(format!("{key}={value}"));
            }
            config.insert("Env".into(), json!(env));
        }
        InstructionKind::Label(pairs) => {
            let labels = config.entry("Labels").or_insert_with(|| json!({}));
            if let Some(labels) = labels.as_object_mut() {
                for pair in pairs {
                    labels.insert(x(&pair.key), json!(x(&pair.value)));
                }
            }
        }
        InstructionKind::Cmd(c) => {
            config.insert("Cmd".into(), command(c));
        }
        InstructionKind::Entrypoint(c) => {
            config.insert("Entrypoint".into(), command(c));
            config.insert("Cmd".into(), Value::Null);
        }
        InstructionKind::User(user) => {
            config.insert("User".into(), json!(x(user)));
        }
        InstructionKind::Expose(ports) => {
            let exposed = config.entry("ExposedPorts").or_insert_with(|| json!({}));
            if let Some(exposed) = exposed.as_object_mut() {
                for port in ports {
                    let port = x(port);
                    let port = if port.contains('/') { port } else { format!("{port}/tcp") };
                    exposed.insert(port, json!({}));
                }
            }
        }
        InstructionKind::Stopsignal(signal) => {
            config.insert("StopSignal".into(), json!(x(signal)));
        }
        InstructionKind::Shell(words) => {
            config.insert("Shell".into(), json!(words));
        }
        InstructionKind::Volume(paths) => {
            let volumes = config.entry("Volumes").or_insert_with(|| json!({}));
            if let Some(volumes) = volumes.as_object_mut() {
                for path in paths {
                    volumes.insert(x(path), json!({}));
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_the_common_forms() {
        let vars = vec![("A".to_string(), "1".to_string()), ("E".to_string(), String::new())];
        assert_eq!(expand("$A-${A}-${B:-d}-${A:+s}-${E:-e}-\\$A-'$A'", &vars), "1-1-d-s-e-$A-$A");
    }
}
