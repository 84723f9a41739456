//! Names of what a sandbox creates, unique per sandbox: the test process's pid plus a counter.

use std::sync::atomic::{AtomicU32, Ordering};

/// Longest interface name the kernel accepts (IFNAMSIZ - 1).
pub(crate) const IFNAME_MAX: usize = 15;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The identity of one sandbox: `<pid hex>x<counter hex>`, at most 11 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SandboxId(String);

impl SandboxId {
    /// A new id, never returned before by this process (for the first 65,536 sandboxes).
    pub(crate) fn next() -> SandboxId {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed) & 0xffff;
        SandboxId(format!("{:x}x{:x}", std::process::id(), n))
    }

    /// The id as text.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// An interface name `<prefix><id>`, checked against IFNAMSIZ.
    pub(crate) fn ifname(&self, prefix: &str) -> String {
        let name = format!("{prefix}{}", self.0);
        assert!(
            name.len() <= IFNAME_MAX,
            "interface name {name} is too long"
        );
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_names_fit_ifnamsiz() {
        let a = SandboxId::next();
        let b = SandboxId::next();
        assert_ne!(a, b);
        assert!(a
            .as_str()
            .starts_with(&format!("{:x}x", std::process::id())));
        // Worst case: a 7-digit pid (0x400000) and counter 0xffff.
        let worst = SandboxId(format!("{:x}x{:x}", 4_194_304u32, 0xffffu32));
        assert_eq!(worst.ifname("xu").len(), 13);
    }
}
