//! What links the calling thread's network namespace has, in one netlink dump: the cheap check
//! by which `up` finds what a reboot or a hand removed (a bridge, a container's veth) without
//! running a program.

use std::collections::BTreeSet;

use futures_util::TryStreamExt;

use crate::link::{link_name, LinkError};
use crate::netlink::{with_handle, NetlinkError};

/// The names of every link of the calling thread's network namespace.
pub fn link_names() -> Result<BTreeSet<String>, LinkError> {
    with_handle(|handle| async move {
        let mut links = handle.link().get().execute();
        let mut names = BTreeSet::new();
        while let Some(link) = links.try_next().await.map_err(|e| NetlinkError::request("listing interfaces", e))? {
            names.extend(link_name(&link));
        }
        Ok(names)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_always_listed() {
        assert!(link_names().unwrap().contains("lo"));
    }
}
