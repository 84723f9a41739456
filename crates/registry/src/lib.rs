//! Images from registries, over the OCI distribution protocol (through `oci-client`): Docker's
//! names, where to pull from ([`conf`], registries.conf with mirrors), TLS roots from Docker's
//! [`certs`].d, [`credentials`] from Docker's and podman's files, [`pull`] with layers unpacked
//! as they download, [`push`], and [`login`]/[`logout`] writing Docker's config.json.

pub mod certs;
pub mod conf;
pub mod credentials;
mod download;
mod error;
mod login;
pub mod platform;
pub mod progress;
mod pull;
mod push;
mod session;

pub use conf::{Endpoint, Registries};
pub use download::{download, Downloaded};
pub use error::RegistryError;
pub use login::{login, logout, DEFAULT_SERVER};
pub use platform::Platform;
pub use progress::{LayerStatus, PullEvent, PushEvent};
pub use pull::{pull, PullOptions, Pulled, DEFAULT_CONCURRENT_DOWNLOADS};
pub use push::{push, PushedImage};

/// The runtime a pull or push runs on: a couple of threads, as the work is mostly waiting.
fn runtime() -> Result<tokio::runtime::Runtime, RegistryError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| RegistryError::Registry(format!("starting the network runtime: {e}")))
}
