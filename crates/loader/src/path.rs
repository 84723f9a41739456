//! Key paths into a compose document (`services.web.ports.0`), used to report where a problem is.

use std::fmt;

/// One step of a [`KeyPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// A path from the document root to a value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyPath(Vec<Segment>);

impl KeyPath {
    /// The document root.
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// This path extended by a mapping key.
    pub fn child(&self, key: &str) -> Self {
        let mut v = self.0.clone();
        v.push(Segment::Key(key.to_string()));
        Self(v)
    }

    /// This path extended by a sequence index.
    pub fn child_index(&self, index: usize) -> Self {
        let mut v = self.0.clone();
        v.push(Segment::Index(index));
        Self(v)
    }

    /// Removes the last segment; false at the root.
    pub fn pop(&mut self) -> bool {
        self.0.pop().is_some()
    }

    /// The segments, root first.
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// Whether this path matches a pattern of keys where `*` matches any key and `[]` any index.
    pub fn matches(&self, pattern: &[&str]) -> bool {
        self.0.len() == pattern.len()
            && self.0.iter().zip(pattern).all(|(seg, pat)| match seg {
                Segment::Key(k) => *pat == "*" || pat == k,
                Segment::Index(_) => *pat == "[]",
            })
    }

    /// Builds a path from dotted keys (no indexes): `KeyPath::of(&["services", "web"])`.
    pub fn of(keys: &[&str]) -> Self {
        Self(keys.iter().map(|k| Segment::Key((*k).to_string())).collect())
    }
}

impl fmt::Display for KeyPath {
    /// Compose's rendering: keys joined by dots, sequence items as `[]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            match seg {
                Segment::Key(k) => f.write_str(k)?,
                Segment::Index(_) => f.write_str("[]")?,
            }
        }
        Ok(())
    }
}
