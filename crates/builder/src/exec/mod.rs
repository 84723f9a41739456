//! Executing a build: the steps that change the filesystem and the layers they make. A step
//! works on a [`snapshot::Snapshot`] of its parent (an overlay upper directory over the parent's
//! layers): RUN in a container of xcompose's runtime ([`run`]), COPY and ADD by writing into the
//! mounted snapshot; what the step changed becomes an OCI layer ([`diff`]).

pub mod build;
pub mod cache;
pub mod copy;
pub mod diff;
pub mod progress;
pub mod run;
pub mod snapshot;
mod stage;
mod steps;
