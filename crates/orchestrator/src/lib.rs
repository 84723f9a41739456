//! Turning a compose project into actions: the dependency [`graph`] of services, networks and
//! volumes, compose's container [`naming`] and [`labels`], the [`plan`] that takes what is
//! running to what the project wants, level by level so independent steps can run in parallel,
//! and the [`process`] a service's container runs, from the service and its image.
//!
//! Everything here is pure: the runtime reports what exists as [`plan::Actual`], and executes the
//! [`plan::Plan`] it gets back.

pub mod graph;
pub mod process;
pub mod security;
pub mod labels;
pub mod naming;
pub mod plan;
