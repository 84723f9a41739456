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
    let (working_dir, files) = xcompose_loader::project_files(&opts)?;
    let project = xcompose_loader::load(&opts)?;
    let exe = std::env::current_exe().context("finding the xcompose binary")?;
    let stack = Stack::new(project, &working_dir, &files, root, &exe)?;
    Ok(stack.with_progress(super::progress::reporter("")))
}
