//! The process's seccomp filter: compiled by the caller before it forks (so the child takes it
//! from the cache it inherits), loaded by the child just before its command is exec'd.

use std::sync::Arc;

use xcompose_seccomp::Filter;

use crate::spec::Process;
use crate::ContainerError;

/// Compiles `process`'s profile into this process's cache; a bad profile is refused here, before
/// anything is started.
pub(crate) fn prepare(process: &Process) -> crate::Result<()> {
    filter_for(process).map(drop).map_err(ContainerError::Spec)
}

/// The compiled filter of `process`'s profile, if it has one.
pub(crate) fn filter_for(process: &Process) -> Result<Option<Arc<Filter>>, String> {
    let Some(profile) = &process.seccomp else { return Ok(None) };
    xcompose_seccomp::compiled(profile, &process.capabilities).map(Some).map_err(|e| e.to_string())
}

/// Installs `filter` in the calling (container) process.
pub(crate) fn load(filter: Option<&Filter>) -> Result<(), String> {
    filter.map_or(Ok(()), |f| f.load().map_err(|e| e.to_string()))
}
