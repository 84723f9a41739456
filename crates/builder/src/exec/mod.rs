//! Executing a build: the steps that change the filesystem and the layers they make. A step
//! works on a [`snapshot::Snapshot`] of its parent (an overlay upper directory over the parent's
//! layers): RUN in a container of xcompose's runtime ([`run`]), COPY and ADD by writing into the
//! mounted snapshot; what the step changed becomes an OCI layer ([`diff`]). RUN steps on the
//! default network run on the build network ([`network`]); [`prune`] is `builder prune`.

pub mod archive;
pub mod build;
pub mod cache;
pub mod cache_io;
pub mod cancel;
pub mod copy;
pub mod diff;
pub mod network;
pub mod progress;
pub mod prune;
pub mod run;
mod schedule;
mod run_network;
pub mod snapshot;
mod stage;
mod steps;
