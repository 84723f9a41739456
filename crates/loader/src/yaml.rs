//! YAML text to a JSON value tree, remembering where each key came from.
//!
//! Compose files are YAML 1.2 with a few YAML 1.1 habits kept by the reference loader: merge keys
//! (`<<: *anchor`), `0755`-style octal integers, and the custom tags `!reset` and `!override`.
//! The tree is a [`serde_json::Value`] so that the later stages (interpolation, schema validation,
//! merging) work on one well-known type; positions and tags are kept beside it, by key path.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::path::KeyPath;

/// A line and column in a file, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// A compose-specific YAML tag that changes how a value merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeTag {
    /// `!reset`: the value is dropped and the key reset to nothing in the merged result.
    Reset,
    /// `!override`: the value replaces the base value instead of merging with it.
    Override,
}

/// One parsed YAML document with its positions and merge tags.
#[derive(Debug, Clone)]
pub struct Document {
    /// The document as a JSON value tree (keys always strings).
    pub value: Value,
    /// Where each key path was written.
    pub positions: HashMap<KeyPath, Position>,
    /// Paths carrying `!reset` or `!override`.
    pub tags: Vec<(KeyPath, MergeTag)>,
}

impl Document {
    /// The position of a path, or of its nearest ancestor that has one.
    pub fn position_of(&self, path: &KeyPath) -> Option<Position> {
        let mut p = path.clone();
        loop {
            if let Some(pos) = self.positions.get(&p) {
                return Some(*pos);
            }
            if !p.pop() {
                return None;
            }
        }
    }
}

/// A YAML syntax or structure error with its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {}, column {}: {message}", position.line, position.column)]
pub struct YamlError {
    /// Where the problem was found.
    pub position: Position,
    /// What is wrong.
    pub message: String,
}

/// Parses YAML text. An empty text gives `null`. Several documents in one stream are an error,
/// as compose reads one project per file.
pub fn parse(text: &str) -> Result<Document, YamlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).map_err(|e| YamlError {
        position: Position { line: e.marker().line(), column: e.marker().col() + 1 },
        message: e.info().to_string(),
    })?;
    if let Some(err) = builder.error {
        return Err(err);
    }
    if builder.documents > 1 {
        return Err(YamlError {
            position: Position { line: 1, column: 1 },
            message: "multiple YAML documents in one compose file are not supported".into(),
        });
    }
    Ok(Document {
        value: builder.root.unwrap_or(Value::Null),
        positions: builder.positions,
        tags: builder.tags,
    })
}

/// A container being built: its value, its path, and (for mappings) the pending key.
enum Frame {
    Seq { items: Vec<Value>, anchor: usize, path: KeyPath, tag: Option<MergeTag> },
    Map { map: Map<String, Value>, merged: Vec<Value>, key: Option<(String, Marker)>, anchor: usize, path: KeyPath, tag: Option<MergeTag> },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Value>,
    anchors: HashMap<usize, Value>,
    positions: HashMap<KeyPath, Position>,
    tags: Vec<(KeyPath, MergeTag)>,
    documents: usize,
    error: Option<YamlError>,
}

fn position(mark: Marker) -> Position {
    Position { line: mark.line(), column: mark.col() + 1 }
}

fn merge_tag(tag: &Option<Tag>) -> Option<MergeTag> {
    match tag {
        Some(t) if t.handle == "!" && t.suffix == "reset" => Some(MergeTag::Reset),
        Some(t) if t.handle == "!" && t.suffix == "override" => Some(MergeTag::Override),
        _ => None,
    }
}

impl Builder {
    /// The path the next value will be stored at, and whether it is a mapping key.
    fn next_path(&self) -> (KeyPath, bool) {
        match self.stack.last() {
            None => (KeyPath::root(), false),
            Some(Frame::Seq { items, path, .. }) => (path.child_index(items.len()), false),
            Some(Frame::Map { key: None, path, .. }) => (path.clone(), true),
            Some(Frame::Map { key: Some((k, _)), path, .. }) => (path.child(k), false),
        }
    }

    fn fail(&mut self, mark: Marker, message: String) {
        if self.error.is_none() {
            self.error = Some(YamlError { position: position(mark), message });
        }
    }

    /// Stores a finished value into the enclosing container.
    fn push_value(&mut self, value: Value, mark: Marker, tag: Option<MergeTag>) {
        let (path, is_key) = self.next_path();
        if let (Some(tag), false) = (tag, is_key) {
            self.tags.push((path.clone(), tag));
        }
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq { items, .. }) => {
                self.positions.insert(path, position(mark));
                items.push(value);
            }
            Some(Frame::Map { key: key @ None, .. }) => {
                let k = match value {
                    Value::String(s) => s,
                    Value::Null => "null".to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) => n.to_string(),
                    _ => {
                        self.fail(mark, "a mapping key must be a scalar".into());
                        return;
                    }
                };
                *key = Some((k, mark));
            }
            Some(Frame::Map { map, merged, key: key @ Some(_), .. }) => {
                let (k, kmark) = key.take().expect("checked above");
                if k == "<<" {
                    merged.push(value);
                    return;
                }
                if map.contains_key(&k) {
                    let msg = format!("mapping key \"{k}\" already defined");
                    self.fail(kmark, msg);
                    return;
                }
                self.positions.insert(path, position(kmark));
                map.insert(k, value);
            }
        }
    }

    fn on_scalar(&mut self, text: String, style: TScalarStyle, anchor: usize, tag: Option<Tag>, mark: Marker) {
        let value = match (&tag, style) {
            (Some(t), _) if t.handle == "tag:yaml.org,2002:" || t.handle == "!!" => match t.suffix.as_str() {
                "str" => Value::String(text),
                "null" => Value::Null,
                _ => resolve_plain(&text),
            },
            (_, TScalarStyle::Plain) => resolve_plain(&text),
            _ => Value::String(text),
        };
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
        self.push_value(value, mark, merge_tag(&tag));
    }

    fn finish_map(&mut self, frame: Frame, mark: Marker) {
        let Frame::Map { mut map, merged, anchor, tag, .. } = frame else { unreachable!() };
        for source in merged {
            let sources = match source {
                Value::Array(items) => items,
                other => vec![other],
            };
            for src in sources {
                match src {
                    Value::Object(m) => {
                        for (k, v) in m {
                            map.entry(k).or_insert(v);
                        }
                    }
                    _ => {
                        self.fail(mark, "map merge requires map or sequence of maps as the value".into());
                        return;
                    }
                }
            }
        }
        let value = Value::Object(map);
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
        self.push_value(value, mark, tag);
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::DocumentStart => self.documents += 1,
            Event::Scalar(text, style, anchor, tag) => self.on_scalar(text, style, anchor, tag, mark),
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(v) => self.push_value(v, mark, None),
                None => self.fail(mark, "unknown anchor".into()),
            },
            Event::SequenceStart(anchor, tag) => {
                let (path, _) = self.next_path();
                self.stack.push(Frame::Seq { items: Vec::new(), anchor, path, tag: merge_tag(&tag) });
            }
            Event::MappingStart(anchor, tag) => {
                let (path, _) = self.next_path();
                self.stack.push(Frame::Map {
                    map: Map::new(),
                    merged: Vec::new(),
                    key: None,
                    anchor,
                    path,
                    tag: merge_tag(&tag),
                });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { items, anchor, tag, .. }) = self.stack.pop() {
                    let value = Value::Array(items);
                    if anchor > 0 {
                        self.anchors.insert(anchor, value.clone());
                    }
                    self.push_value(value, mark, tag);
                }
            }
            Event::MappingEnd => {
                if let Some(frame) = self.stack.pop() {
                    self.finish_map(frame, mark);
                }
            }
            _ => {}
        }
    }
}

/// Resolves an untagged plain scalar the way the reference loader does (YAML 1.2 core schema,
/// with Go's base-prefixed integers: `0x1F`, `0o17`, `0b11`, and legacy `017` octal).
fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Value::String(text.into()),
        _ => {}
    }
    if let Some(i) = parse_go_int(text) {
        return Value::Number(i.into());
    }
    if is_yaml_float(text) {
        if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(text.to_string())
}

/// Parses an integer like Go's `strconv.ParseInt(s, 0, 64)`.
pub(crate) fn parse_go_int(text: &str) -> Option<i64> {
    let (neg, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) = if let Some(d) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        (8, d)
    } else if let Some(d) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        (2, d)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if radix == 10 && clean.len() != digits.len() {
        return None;
    }
    let magnitude = i128::from_str_radix(&clean, radix).ok()?;
    let v = if neg { -magnitude } else { magnitude };
    i64::try_from(v).ok()
}

fn is_yaml_float(text: &str) -> bool {
    let s = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
                && (!int.is_empty() || !frac.is_empty())
                && !(int.is_empty() && frac.is_empty())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let exp_ok = match exp {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
        }
    };
    mantissa_ok && exp_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_resolve_like_the_reference() {
        let doc = parse("a: 1\nb: '1'\nc: yes\nd: ~\ne: 0755\nf: 1.5\ng: true\nh: 0x10\ni: 1e3\nj: .5\n").unwrap();
        assert_eq!(
            doc.value,
            json!({"a": 1, "b": "1", "c": "yes", "d": null, "e": 493, "f": 1.5, "g": true, "h": 16, "i": 1000.0, "j": 0.5})
        );
    }

    #[test]
    fn merge_keys_and_anchors() {
        let doc = parse("x: &base {a: 1, b: 2}\ny:\n  <<: *base\n  b: 3\n").unwrap();
        assert_eq!(doc.value["y"], json!({"a": 1, "b": 3}));
    }

    #[test]
    fn explicit_key_wins_over_merge_even_when_written_first() {
        let doc = parse("x: &base {a: 1}\ny:\n  a: 2\n  <<: *base\n").unwrap();
        assert_eq!(doc.value["y"], json!({"a": 2}));
    }

    #[test]
    fn duplicate_keys_are_errors_with_position() {
        let err = parse("services:\n  a: 1\n  a: 2\n").unwrap_err();
        assert_eq!(err.position, Position { line: 3, column: 3 });
        assert!(err.message.contains("already defined"));
    }

    #[test]
    fn positions_and_tags_are_recorded() {
        let doc = parse("services:\n  web:\n    ports: !reset []\n    image: !override x\n").unwrap();
        let ports = KeyPath::root().child("services").child("web").child("ports");
        assert_eq!(doc.positions[&ports], Position { line: 3, column: 5 });
        assert!(doc.tags.contains(&(ports, MergeTag::Reset)));
        assert_eq!(doc.tags.len(), 2);
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let err = parse("services:\n web:\n   image: x\n  bad: [\n").unwrap_err();
        assert!(err.position.line >= 4, "{err}");
    }

    #[test]
    fn go_integers() {
        assert_eq!(parse_go_int("0o17"), Some(15));
        assert_eq!(parse_go_int("-12"), Some(-12));
        assert_eq!(parse_go_int("1_000"), None);
        assert_eq!(parse_go_int("0x_1"), None);
        assert_eq!(parse_go_int("08"), None);
        assert_eq!(parse_go_int("0"), Some(0));
    }
}
