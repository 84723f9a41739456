//! Kubernetes object names from compose names, and the record of every name that had to change,
//! so the conversion can show the mapping. Names are RFC 1035 labels (lowercase letters, digits
//! and `-`, starting with a letter, ending with a letter or digit, at most 63 characters): what
//! a Service's name must be, and valid for every other kind.

use std::collections::BTreeMap;

/// The longest RFC 1123 label.
pub const MAX_LABEL: usize = 63;

/// `name` as an RFC 1035 label: lowercased, every run of other characters (`_`, `.`, ...) one
/// `-`, trimmed of `-` at both ends, `x` in front if it starts with a digit (or is empty), cut
/// to 63 characters.
pub fn dns_label(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-');
    let lead = if trimmed.starts_with(|c: char| c.is_ascii_lowercase()) { "" } else { "x" };
    let mut out: String = format!("{lead}{trimmed}").chars().take(MAX_LABEL).collect();
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Whether `name` is already an RFC 1035 label.
pub fn is_dns_label(name: &str) -> bool {
    dns_label(name) == name
}

/// Compose names (of one kind: services, volumes, ...) and the Kubernetes names given to them:
/// each distinct, the compose name itself when it is valid.
#[derive(Debug, Default, Clone)]
pub struct NameMap {
    names: BTreeMap<String, String>,
}

impl NameMap {
    /// Names for `compose_names`; two that would collide (`my_app`, `my-app`) get `-2`, `-3`, ...
    pub fn new<'a>(compose_names: impl IntoIterator<Item = &'a String>) -> NameMap {
        let mut names = BTreeMap::new();
        let mut taken: Vec<String> = Vec::new();
        let all: Vec<&String> = compose_names.into_iter().collect();
        // Valid names first, so they keep themselves whatever their order.
        for name in all.iter().filter(|n| is_dns_label(n)).chain(all.iter().filter(|n| !is_dns_label(n))) {
            let base = dns_label(name);
            let mut candidate = base.clone();
            let mut n = 2;
            while taken.contains(&candidate) {
                let suffix = format!("-{n}");
                candidate = format!("{}{suffix}", &base[..base.len().min(MAX_LABEL - suffix.len())]);
                n += 1;
            }
            taken.push(candidate.clone());
            names.insert((*name).clone(), candidate);
        }
        NameMap { names }
    }

    /// The Kubernetes name of `compose_name` (its label form if it was not given to [`NameMap::new`]).
    pub fn get(&self, compose_name: &str) -> String {
        self.names.get(compose_name).cloned().unwrap_or_else(|| dns_label(compose_name))
    }

    /// The names that changed: (compose name, Kubernetes name).
    pub fn renamed(&self) -> impl Iterator<Item = (&str, &str)> {
        self.names.iter().filter(|(a, b)| a != b).map(|(a, b)| (a.as_str(), b.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_rfc_1035() {
        assert_eq!(dns_label("web"), "web");
        assert_eq!(dns_label("My_App.v2"), "my-app-v2");
        assert_eq!(dns_label("__x__"), "x");
        assert_eq!(dns_label("3d-app"), "x3d-app");
        assert_eq!(dns_label("___"), "x");
        assert_eq!(dns_label(&"a".repeat(70)).len(), 63);
        assert_eq!(dns_label(&format!("{}_b", "a".repeat(62))), "a".repeat(62));
    }

    #[test]
    fn colliding_names_stay_distinct() {
        let names: Vec<String> = vec!["my_app".into(), "my-app".into(), "db".into()];
        let map = NameMap::new(&names);
        assert_eq!(map.get("my-app"), "my-app");
        assert_eq!(map.get("my_app"), "my-app-2");
        assert_eq!(map.get("db"), "db");
        assert_eq!(map.renamed().collect::<Vec<_>>(), vec![("my_app", "my-app-2")]);
    }
}
