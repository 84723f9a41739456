//! An instruction's `--flags` checked against the ones it takes, with BuildKit's `BFlags`
//! rules and words: `unknown flag: x`, `duplicate flag specified: x`, `missing a value on
//! flag: x`, `expecting boolean value for flag x, not: y`.

use std::collections::BTreeMap;

/// The kind of value a flag takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagKind {
    /// `--link`, `--link=true|false`.
    Bool,
    /// `--from=x`, once.
    String,
    /// `--mount=x`, any number of times.
    Strings,
}

/// The flags given to one instruction, by name.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    values: BTreeMap<String, Vec<String>>,
}

impl Flags {
    /// Checks `given` (`--name[=value]` words) against `known` (name, kind).
    pub(crate) fn parse(given: &[String], known: &[(&str, FlagKind)]) -> Result<Self, String> {
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for word in given {
            let Some(arg) = word.strip_prefix("--") else {
                return Err(format!("arg should start with -- : {word}"));
            };
            let (name, value) = match arg.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (arg, None),
            };
            let Some((_, kind)) = known.iter().find(|(n, _)| *n == name) else {
                let names: Vec<&str> = known.iter().map(|(n, _)| *n).collect();
                return Err(super::suggest::with_suggestion(format!("unknown flag: {name}"), name, &names, true));
            };
            let seen = values.entry(name.to_string()).or_default();
            if !seen.is_empty() && *kind != FlagKind::Strings {
                return Err(format!("duplicate flag specified: {name}"));
            }
            let value = match (kind, value) {
                (FlagKind::Bool, Some("")) | (FlagKind::String | FlagKind::Strings, None) => {
                    return Err(format!("missing a value on flag: {name}"));
                }
                (FlagKind::Bool, None) => "true".to_string(),
                (FlagKind::Bool, Some(v)) => match v.to_ascii_lowercase().as_str() {
                    b @ ("true" | "false") => b.to_string(),
                    _ => return Err(format!("expecting boolean value for flag {name}, not: {v}")),
                },
                (_, Some(v)) => v.to_string(),
            };
            seen.push(value);
        }
        Ok(Self { values })
    }

    /// A string flag's value, if given.
    pub(crate) fn string(&self, name: &str) -> Option<String> {
        self.values.get(name).and_then(|v| v.last().cloned())
    }

    /// A repeatable flag's values, in order.
    pub(crate) fn strings(&self, name: &str) -> Vec<String> {
        self.values.get(name).cloned().unwrap_or_default()
    }

    /// A boolean flag: given without `=false`.
    pub(crate) fn bool(&self, name: &str) -> bool {
        self.string(name).is_some_and(|v| v == "true")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FlagKind::*;

    const COPY: &[(&str, FlagKind)] = &[("from", String), ("link", Bool), ("exclude", Strings)];

    fn parse(words: &[&str]) -> Result<Flags, std::string::String> {
        Flags::parse(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>(), COPY)
    }

    #[test]
    fn reads_each_kind() {
        let flags = parse(&["--from=build", "--link", "--exclude=*.md", "--exclude=x"]).unwrap();
        assert_eq!(flags.string("from").as_deref(), Some("build"));
        assert!(flags.bool("link"));
        assert_eq!(flags.strings("exclude"), vec!["*.md", "x"]);
        assert!(!parse(&["--link=FALSE"]).unwrap().bool("link"));
    }

    #[test]
    fn refuses_as_buildkit_does() {
        assert_eq!(parse(&["--frm=1"]).unwrap_err(), "unknown flag: frm (did you mean from?)");
        assert_eq!(parse(&["--chmod=1"]).unwrap_err(), "unknown flag: chmod");
        assert_eq!(parse(&["--from=a", "--from=b"]).unwrap_err(), "duplicate flag specified: from");
        assert_eq!(parse(&["--from"]).unwrap_err(), "missing a value on flag: from");
        assert_eq!(parse(&["--link="]).unwrap_err(), "missing a value on flag: link");
        assert_eq!(parse(&["--link=yes"]).unwrap_err(), "expecting boolean value for flag link, not: yes");
    }
}
