//! A RUN step's network (`RUN --network`, compose's `build.network`): `default` is a network
//! namespace of the step's own on the build network ([`crate::exec::network`]), `none` a
//! namespace with only loopback, `host` the host's. The namespace is pinned in the step's
//! working directory, so a build killed mid-step leaves it where the next build finds it
//! ([`remove_abandoned`]).

use std::path::Path;

use xcompose_container::NetworkNamespace;

use crate::exec::build::BuildError;
use crate::exec::network::{self, OnDemand};
use crate::exec::run::RunSpec;
use crate::exec::snapshot::Snapshot;

/// The file in a RUN step's working directory pinning its network namespace.
const NETNS: &str = "netns";

/// The file in a RUN step's working directory saying it was attached to the build network.
const ATTACHED: &str = "build-network";

/// Where a RUN step's container is networked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunNetwork {
    /// The build network, NATed to the outside (BuildKit's default).
    Default,
    /// Loopback only.
    None,
    /// The host's network namespace.
    Host,
}

impl RunNetwork {
    /// `--network`'s value.
    pub fn parse(value: &str) -> Result<Self, BuildError> {
        match value {
            "default" => Ok(Self::Default),
            "none" => Ok(Self::None),
            "host" => Ok(Self::Host),
            other => Err(BuildError::Invalid(format!("network mode {other:?} not supported by RUN --network: use default, none or host"))),
        }
    }

    /// Gives `spec` its network namespace and `/etc/resolv.conf`; whether the step was attached
    /// to the build network (for [`RunNetwork::tear_down`]).
    pub fn set_up(self, snapshot: &Snapshot, build_network: &OnDemand, spec: &mut RunSpec) -> Result<bool, BuildError> {
        let host = network::host_resolv_conf();
        if self == Self::Host {
            spec.network = NetworkNamespace::Host;
            spec.resolv_conf = host;
            return Ok(false);
        }
        spec.resolv_conf = network::resolv_conf(&host);
        let failed = |e: String| BuildError::Invalid(format!("RUN --network={}: {e}", self.name()));
        let netns = snapshot.dir().join(NETNS);
        xcompose_network::netns::create(&netns).map_err(|e| failed(e.to_string()))?;
        spec.network = NetworkNamespace::Join(netns.clone());
        if self == Self::None {
            return Ok(false);
        }
        let attach = || -> Result<(), String> {
            let build_network = build_network.get()?;
            // Marked first: a build killed while attaching leaves what the next one detaches.
            std::fs::write(snapshot.dir().join(ATTACHED), b"").map_err(|e| e.to_string())?;
            build_network.attach(&owner(snapshot.dir()), &netns).map(drop)
        };
        if let Err(e) = attach() {
            let _ = self.tear_down(snapshot, build_network, true);
            return Err(failed(e));
        }
        Ok(true)
    }

    /// Undoes [`RunNetwork::set_up`] once the step's container is gone.
    pub fn tear_down(self, snapshot: &Snapshot, build_network: &OnDemand, attached: bool) -> Result<(), BuildError> {
        let failed = |e: String| BuildError::Invalid(format!("RUN --network={}: {e}", self.name()));
        if attached {
            network::detach(build_network.root(), &owner(snapshot.dir())).map_err(failed)?;
        }
        if self != Self::Host {
            xcompose_network::netns::remove(&snapshot.dir().join(NETNS)).map_err(|e| failed(e.to_string()))?;
        }
        Ok(())
    }

    fn name(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::None => "none",
            Self::Host => "host",
        }
    }
}

/// Who holds a step's address on the build network: its working directory's name (unique
/// among live builds, as it starts with the build's pid).
fn owner(dir: &Path) -> String {
    dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Frees what the abandoned RUN step working in `dir` held (its build was killed, its container
/// is gone): its namespace's pin, and its veth pair and address on the build network of state
/// root `root`.
pub(crate) fn remove_abandoned(dir: &Path, root: &Path) {
    let _ = xcompose_network::netns::remove(&dir.join(NETNS));
    if dir.join(ATTACHED).exists() {
        let _ = network::detach(root, &owner(dir));
    }
}
