//! Docker's seccomp profiles for xcompose's containers.
//!
//! A [`Profile`] is Docker's JSON format (`defaultAction`, `archMap`, `syscalls` with their
//! `includes`/`excludes` conditions), so a profile written for `docker run --security-opt
//! seccomp=…` works unchanged; [`Profile::docker_default`] is Docker's own default profile,
//! kept as data in `profiles/default.json`. [`compiled`] resolves a profile against a
//! container's capabilities and the host (architecture, kernel), compiles it with libseccomp to
//! a BPF program once per host (kept on disk in the directory given to [`cache_compiled_in`]),
//! and [`Filter::load`] installs that program in the calling thread just before the container's
//! command is exec'd.

mod compile;
mod disk;
mod host;
mod load;
mod profile;

pub use compile::{cache_compiled_in, compiled, Filter};
pub use profile::{Arg, ArchMap, Condition, Profile, SyscallRule};

/// Why a profile cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The profile file could not be read.
    #[error("reading seccomp profile {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The profile is not Docker's seccomp JSON.
    #[error("seccomp profile {origin}: {message}")]
    Invalid {
        /// Where the profile came from.
        origin: String,
        /// What is wrong in it.
        message: String,
    },
    /// libseccomp refused to build the filter.
    #[error("compiling the seccomp profile: {0}")]
    Compile(String),
    /// The kernel refused the filter.
    #[error("loading the seccomp filter: {0}")]
    Load(std::io::Error),
}
