//! Env files and variable interpolation, exactly as Docker Compose v2.40.3 (compose-go v2.9.1)
//! reads them.
//!
//! - [`template`]: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`,
//!   `${VAR?error}`, `${VAR:+alternate}`, `${VAR+alternate}`, nested expressions in the operand,
//!   `$$` for a literal `$`.
//! - [`dotenv`]: `.env` and `env_file` files: `KEY=value`, `KEY: value`, `export`, quotes,
//!   comments, bare `KEY` taken from the lookup, UTF-8 BOM and CRLF line ends.
//!
//! Both follow compose-go's algorithms rather than a cleaned-up grammar, so that odd input gives
//! the same value or the same error message as `docker compose`.

#![warn(missing_docs)]

pub mod dotenv;
mod golang;
pub mod template;

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use indexmap::IndexMap;

/// Where variables come from: `Some(value)` when set (possibly empty), `None` when unset.
///
/// Implemented for closures `Fn(&str) -> Option<String>` and for string maps (`HashMap`,
/// `IndexMap`, `BTreeMap`), so `&map` or `&|name: &str| ...` can be passed as `&dyn Lookup`.
pub trait Lookup {
    /// The value of `name`, `None` if it is not set.
    fn lookup(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Lookup for F {
    fn lookup(&self, name: &str) -> Option<String> {
        self(name)
    }
}

impl<S: BuildHasher> Lookup for HashMap<String, String, S> {
    fn lookup(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl<S: BuildHasher> Lookup for IndexMap<String, String, S> {
    fn lookup(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl Lookup for BTreeMap<String, String> {
    fn lookup(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}
