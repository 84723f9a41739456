//! A compose key that did not map, and why.

use std::fmt;

/// One key of the compose file the conversion could not carry over (or only partly).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Warning {
    /// Where, as a compose path: `services.web.devices`.
    pub key: String,
    /// What happened to it and why, ending with what to do where there is something to do.
    pub reason: String,
}

impl Warning {
    /// A warning about `key`.
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Warning {
        Warning { key: key.into(), reason: reason.into() }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}
