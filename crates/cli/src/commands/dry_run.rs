//! `--dry-run`: what `up` and `create` would do, printed as compose prints it
//! (` DRY-RUN MODE -  Container p-web-1  Created`), with nothing changed.
//!
//! The stores create their directories when opened, so the project is opened on a scratch view
//! of the state root: a temporary directory whose entries link to the real root's. What exists
//! is read through the links; whatever opening creates lands in the scratch directory, which goes
//! when the command ends.

use std::path::Path;

use anyhow::{Context, Result};
use tempfile::TempDir;
use xcompose_orchestrator::plan::{Action, Plan};
use xcompose_stack::Stack;

/// Compose's prefix of every progress line in dry-run mode (`api.DRYRUN_PREFIX`).
pub const PREFIX: &str = " DRY-RUN MODE - ";

/// A scratch view of state root `root` (which may not exist yet): one link per entry.
pub fn scratch_root(root: &Path) -> Result<TempDir> {
    let scratch = tempfile::Builder::new().prefix("xcompose-dry-run-").tempdir().context("creating the dry-run scratch directory")?;
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(scratch),
        Err(e) => return Err(e).with_context(|| format!("reading {}", root.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", root.display()))?;
        let link = scratch.path().join(entry.file_name());
        std::os::unix::fs::symlink(entry.path(), &link).with_context(|| format!("linking {}", link.display()))?;
    }
    Ok(scratch)
}

/// The progress events carrying out `plan` would report, in order: (kind, name, status), as the
/// stack reports them when it acts.
pub fn up_events(stack: &Stack, plan: &Plan, no_start: bool) -> Result<Vec<(&'static str, String, &'static str)>> {
    let mut events = Vec::new();
    for action in plan.steps.iter().flatten() {
        let (name, doing, done) = match action {
            Action::CreateNetwork(key) => {
                let name = stack.project().networks[key].name.clone();
                events.extend([("Network", name.clone(), "Creating"), ("Network", name, "Created")]);
                continue;
            }
            Action::CreateVolume(key) => {
                let name = stack.project().volumes[key].name.clone();
                events.extend([("Volume", name.clone(), "Creating"), ("Volume", name, "Created")]);
                continue;
            }
            Action::RemoveOrphan { name, .. } | Action::Remove { name, .. } => {
                events.extend([("Container", name.clone(), "Stopping"), ("Container", name.clone(), "Removed")]);
                continue;
            }
            Action::Create { name, .. } => {
                events.extend([("Container", name.clone(), "Creating"), ("Container", name.clone(), "Created")]);
                (name.clone(), "Starting", "Started")
            }
            Action::Recreate { name, .. } => {
                events.extend([("Container", name.clone(), "Recreate"), ("Container", name.clone(), "Recreated")]);
                (name.clone(), "Starting", "Started")
            }
            Action::Start { id } => (stack.runtime().find(id)?.name, "Starting", "Started"),
            Action::Restart { id } => (stack.runtime().find(id)?.name, "Restarting", "Started"),
        };
        if !no_start {
            events.extend([("Container", name.clone(), doing), ("Container", name, done)]);
        }
    }
    Ok(events)
}
