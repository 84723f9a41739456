//! What keeps a container alive after `xcompose up -d` has exited: one small supervisor process
//! per container (like conmon) that holds the container's output, records how it ends, restarts
//! it by its policy and runs its healthcheck, and
//! feeds its stdin from the clients of a socket ([`stdin`]).
//!
//! This crate holds the supervisor's decisions and records, each testable on its own:
//! [`log`] writes Docker's `json-file` log format with size rotation, [`restart`] decides whether
//! and when to restart, [`health`] tracks healthcheck results into a health status, and [`state`]
//! is the container's recorded state, written atomically. [`run`] ties them to a real container,
//! and [`daemon`] runs that loop as the detached `xcompose __supervise --serve` process, under a
//! [`keeper`] that applies the restart policy if the supervisor itself is killed.

pub mod daemon;
pub mod health;
pub mod keeper;
pub mod log;
pub mod restart;
pub mod run;
pub mod shm;
pub mod state;
pub mod stdin;
