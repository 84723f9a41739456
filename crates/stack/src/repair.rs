//! Self-healing `up`: what the state root says exists but the kernel lost (after a reboot, or a
//! bridge deleted by hand) is made again before the plan, so one `up` repairs everything. The
//! check is cheap enough for every `up`: one netlink dump of the links, and the resolver's pid.
//! Containers need nothing here: one whose supervisor died reads as exited, and starting it
//! again makes its network namespace, veths, addresses, published ports and resolver sockets
//! anew.

use crate::{Stack, StackError};

impl Stack {
    /// Makes again the bridges (with their firewall rules) of the project's networks that have
    /// a record but no bridge any more, and starts the project's resolver again if it serves
    /// containers but died.
    pub(crate) fn repair(&self) -> Result<(), StackError> {
        let links = xcompose_network::inventory::link_names().map_err(StackError::network)?;
        for network in self.project.networks.values() {
            let Some(record) = self.networks.get(&network.name)? else { continue };
            if !links.contains(&crate::networks::bridge_of(&record)?) {
                self.networks.ensure(&record)?;
            }
        }
        self.resolver.revive()
    }
}
