//! The parser directives at the top of a Dockerfile (`# syntax=...`, `# escape=...`,
//! `# check=...`), read as BuildKit's directive parser does: only before the first line that
//! is not one (an empty line, another comment, an unknown directive or an instruction).

/// The directives read so far, and whether the directive section is over.
#[derive(Debug, Clone)]
pub(crate) struct Directives {
    /// `# syntax=`, with its line.
    pub syntax: Option<(String, usize)>,
    /// The escape character.
    pub escape: char,
    seen: Vec<String>,
    done: bool,
}

impl Default for Directives {
    fn default() -> Self {
        Self { syntax: None, escape: '\\', seen: Vec::new(), done: false }
    }
}

impl Directives {
    /// Looks at `line` (its newline trimmed) for a directive; any other line ends the section.
    pub(crate) fn read(&mut self, line: &str, number: usize) -> Result<(), String> {
        if self.done {
            return Ok(());
        }
        let Some((name, value)) = directive(line) else {
            self.done = true;
            return Ok(());
        };
        let name = name.to_ascii_lowercase();
        if !["syntax", "escape", "check"].contains(&name.as_str()) {
            self.done = true;
            return Ok(());
        }
        if self.seen.contains(&name) {
            return Err(format!("only one {name} parser directive can be used"));
        }
        self.seen.push(name.clone());
        match name.as_str() {
            "escape" => {
                self.escape = match value {
                    "`" => '`',
                    "\\" => '\\',
                    _ => return Err(format!("invalid escape token '{value}' does not match ` or \\")),
                }
            }
            "syntax" => self.syntax = Some((value.to_string(), number)),
            _ => {}
        }
        Ok(())
    }
}

/// `# name = value` (moby's `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`).
fn directive(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('#')?.trim_start();
    let name_len = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
    let name = &rest[..name_len];
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let value = rest[name_len..].trim_start().strip_prefix('=')?.trim();
    (!value.is_empty()).then_some((name, value))
}

/// Checks that a `# syntax=` names a Dockerfile frontend this builder implements: BuildKit's
/// own `docker/dockerfile:1`, `:1.x`, `:1.x.y`, their `-labs` variants and digests, with or
/// without `docker.io/`. Anything else is another frontend, which a daemonless builder
/// cannot fetch and run.
pub(crate) fn check_syntax(value: &str) -> Result<(), String> {
    let image = value.split('@').next().unwrap_or(value);
    let image = image.strip_prefix("docker.io/").unwrap_or(image);
    let (name, tag) = image.split_once(':').unwrap_or((image, "latest"));
    let known_name = matches!(name, "docker/dockerfile" | "docker/dockerfile-upstream");
    let version = tag.strip_suffix("-labs").unwrap_or(tag);
    let known_version = version == "latest" || version == "labs" || {
        let mut parts = version.split('.');
        parts.next() == Some("1") && parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    if known_name && known_version {
        Ok(())
    } else {
        Err(format!(
            "unsupported Dockerfile frontend {value:?}: xcompose builds with its own Dockerfile frontend, which implements docker/dockerfile:1; remove the syntax directive or use # syntax=docker/dockerfile:1"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_directives_until_the_first_other_line() {
        let mut d = Directives::default();
        d.read("# syntax = docker/dockerfile:1.4", 1).unwrap();
        d.read("#escape=`", 2).unwrap();
        d.read("", 3).unwrap();
        d.read("# escape=\\", 4).unwrap();
        assert_eq!(d.escape, '`');
        assert_eq!(d.syntax, Some(("docker/dockerfile:1.4".to_string(), 1)));
    }

    #[test]
    fn an_unknown_directive_ends_the_section() {
        let mut d = Directives::default();
        d.read("# unknowndirective=value", 1).unwrap();
        d.read("# escape=`", 2).unwrap();
        assert_eq!(d.escape, '\\');
    }

    #[test]
    fn refuses_a_repeated_directive_and_a_bad_escape() {
        let mut d = Directives::default();
        d.read("# escape=`", 1).unwrap();
        assert_eq!(d.read("# ESCAPE=`", 2).unwrap_err(), "only one escape parser directive can be used");
        let mut d = Directives::default();
        assert_eq!(d.read("# escape=x", 1).unwrap_err(), "invalid escape token 'x' does not match ` or \\");
    }

    #[test]
    fn accepts_dockerfile_1_frontends_only() {
        for ok in ["docker/dockerfile:1", "docker/dockerfile:1.7", "docker/dockerfile:1.7.1-labs", "docker.io/docker/dockerfile:1@sha256:ab", "docker/dockerfile"] {
            assert_eq!(check_syntax(ok), Ok(()), "{ok}");
        }
        for bad in ["docker/dockerfile:0.9", "tonistiigi/dockerfile:1", "example.com/frontend:1", "docker/dockerfile:1.x"] {
            assert!(check_syntax(bad).unwrap_err().starts_with("unsupported Dockerfile frontend"), "{bad}");
        }
    }
}
