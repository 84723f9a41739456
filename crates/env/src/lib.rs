//! Env files and variable interpolation, as Docker Compose v2 reads them.
//!
//! - [`template`]: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`,
//!   `${VAR?error}`, `${VAR:+alternate}`, `${VAR+alternate}`, nesting in defaults, `$$` for `$`.
//! - [`dotenv`]: `.env` and `env_file` files: `KEY=value`, `export`, quotes, comments, bare `KEY`
//!   taken from the environment, UTF-8 BOM and CRLF.

pub mod dotenv;
pub mod template;

use std::collections::HashMap;

use indexmap::IndexMap;

/// Where variables come from: `Some(value)` when set (possibly empty), `None` when unset.
pub trait Lookup {
    /// The value of `name`.
    fn lookup(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Lookup for F {
    fn lookup(&self, name: &str) -> Option<String> {
        self(name)
    }
}

impl Lookup for HashMap<String, String> {
    fn lookup(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl Lookup for IndexMap<String, String> {
    fn lookup(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}
