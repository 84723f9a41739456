//! What the project commands share: the project loaded from the global flags, as a [`Stack`]
//! in the state root, reporting progress the way compose does.

use std::path::Path;

use anyhow::{Context, Result};
use xcompose_stack::Stack;

use crate::Cli;

/// The project of the global flags (`services` named on the command line activate their profiles).
pub fn open(cli: &Cli, services: &[String]) -> Result<Stack> {
    open_in(cli, services, &cli.root)
}

/// The project of the global flags in state root `root`.
pub fn open_in(cli: &Cli, services: &[String], root: &Path) -> Result<Stack> {
    let mut opts = cli.project_options();
    opts.services = services.to_vec();
    // Documents that passed the schema are remembered in the state root (not in a dry run,
    // which writes nothing).
    if !cli.dry_run {
        opts.validation_cache = Some(xcompose_loader::ValidationCache::new(root.join("validated")));
    }
    let (working_dir, files) = xcompose_loader::project_files(&opts)?;
    let project = xcompose_loader::load(&opts)?;
    let exe = std::env::current_exe().context("finding the xcompose binary")?;
    let stack = Stack::new(project, &working_dir, &files, root, &exe)?;
    Ok(stack.with_progress(super::progress::reporter(&cli.output, false)).with_parallel(cli.parallel_limit))
}

/// Whether variable `name` is true, as compose's utils.StringToBool reads it (Go's
/// strconv.ParseBool of its lower case; anything else is false).
fn env_true(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| matches!(v.to_lowercase().as_str(), "1" | "t" | "true"))
}

/// `COMPOSE_IGNORE_ORPHANS`: `up` and `down` then say nothing about orphan containers.
pub fn ignore_orphans() -> bool {
    env_true("COMPOSE_IGNORE_ORPHANS")
}

/// `--remove-orphans`, whose default is `COMPOSE_REMOVE_ORPHANS`.
pub fn remove_orphans(flag: bool) -> bool {
    flag || env_true("COMPOSE_REMOVE_ORPHANS")
}

/// The running container of `service` that `attach`, `export` and the like act on, as compose's
/// getSpecifiedContainer picks it: with `index` 0 the first (one-off containers after the
/// service's own), else the service's container number `index`.
pub fn running_container(stack: &Stack, service: &str, index: u32) -> Result<xcompose_stack::ContainerInfo> {
    let number = |c: &xcompose_stack::ContainerInfo| c.labels.get("com.docker.compose.container-number").and_then(|n| n.parse::<u32>().ok()).unwrap_or(0);
    let mut running: Vec<_> = stack
        .containers()?
        .into_iter()
        .filter(|c| c.service == service && c.state.status == xcompose_supervisor::state::Status::Running)
        .filter(|c| index == 0 || (!c.oneoff && number(c) == index))
        .collect();
    running.sort_by_key(|c| (c.oneoff, number(c)));
    running.into_iter().next().ok_or_else(|| match index {
        0 => anyhow::anyhow!("service {service:?} is not running"),
        n => anyhow::anyhow!("service {service:?} is not running container #{n}"),
    })
}
