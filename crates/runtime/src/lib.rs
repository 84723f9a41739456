//! Containers as records on disk, under `<root>/containers/<id>/`:
//!
//! ```text
//! container.json   what was asked (name, image, labels, the supervisor config)
//! supervisor.json  the config the supervisor process reads
//! supervisor.pid   while its supervisor runs
//! supervisor.err   the supervisor's own error output
//! state.json       the container's state (see xcompose_supervisor::state)
//! container.log    its output (json-file)
//! hostname hosts resolv.conf   bind-mounted on /etc in the container
//! netns            its network namespace, pinned (unless it shares another's)
//! upper/ work/ merged/   its writable layer
//! ```
//!
//! `<root>/userns-remap.json` records the state root's user namespace remapping (see [`remap`]).
//!
//! A container is created in `.creating-<pid>-<id>` and renamed into place when complete, so a crash
//! during create leaves only a hidden directory that listing ignores and the next create removes;
//! removal renames the directory to `.removing-<pid>-<id>` before deleting it, likewise.
//! Starting spawns `xcompose __supervise`, which outlives the command that started it.

mod id;
mod record;
pub mod remap;
mod runtime;
mod staged;
mod start_notice;
mod subids;

pub use record::{ContainerRecord, CreateRequest, DEFAULT_STOP_GRACE};
pub use runtime::{ContainerSummary, ExecRequest, Runtime, RuntimeError};
