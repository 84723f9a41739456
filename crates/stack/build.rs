//! Turns `keys/refused.toml` into a Rust table (`$OUT_DIR/refused_keys.rs`), so that `up` checks
//! the refused compose keys without parsing TOML on every run; the file stays the one list, read
//! by the schema-walk test (`tests/keys.rs`) through the same table.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

/// An entry of `keys/refused.toml`: the reason alone, or the reason and the values honoured.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Entry {
    Always(String),
    Unless { reason: String, allowed: Vec<String> },
}

fn main() {
    let source = "keys/refused.toml";
    println!("cargo::rerun-if-changed={source}");
    let text = std::fs::read_to_string(source).unwrap_or_else(|e| panic!("reading {source}: {e}"));
    let entries: BTreeMap<String, Entry> = toml::from_str(&text).unwrap_or_else(|e| panic!("{source}: {e}"));
    let mut table = String::from("/// `keys/refused.toml`: key path, reason, and the values honoured (`None`: none).\nconst REFUSED: &[(&str, &str, Option<&[&str]>)] = &[\n");
    for (key, entry) in &entries {
        match entry {
            Entry::Always(reason) => writeln!(table, "    ({key:?}, {reason:?}, None),"),
            Entry::Unless { reason, allowed } => writeln!(table, "    ({key:?}, {reason:?}, Some(&{allowed:?})),"),
        }
        .expect("writing to a string");
    }
    table.push_str("];\n");
    let out = Path::new(&std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("refused_keys.rs");
    std::fs::write(&out, table).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
