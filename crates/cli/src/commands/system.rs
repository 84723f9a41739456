//! `xcompose system boot`: run once when the machine starts (`examples/systemd/xcompose.service`),
//! it does what Docker's daemon does at its start: every project of the state root gets back what
//! the reboot removed, and its containers whose restart policy says so are started again.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use xcompose_orchestrator::labels;
use xcompose_stack::Stack;

use crate::Cli;

/// `system` subcommands.
#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Start again, after a reboot, the containers whose restart policy says so (always;
    /// unless-stopped, unless the user stopped them; on-failure, unless they exited cleanly), in
    /// every project of the state root; idempotent.
    Boot,
}

/// Runs a `system` subcommand.
pub fn run(cli: &Cli, command: &SystemCommand) -> Result<ExitCode> {
    match command {
        SystemCommand::Boot => boot(cli),
    }
}

/// Where a project was brought up from: its working directory and compose files, as its
/// containers' labels record them.
#[derive(Debug, Default)]
struct Origin {
    working_dir: PathBuf,
    files: Vec<PathBuf>,
}

/// `system boot`: each project in turn; one that cannot be loaded (its files are gone) is
/// reported and the others are still booted.
fn boot(cli: &Cli) -> Result<ExitCode> {
    let exe = std::env::current_exe().context("finding the xcompose binary")?;
    let runtime = xcompose_runtime::Runtime::open(&cli.root, &exe)?;
    let mut projects: BTreeMap<String, Origin> = BTreeMap::new();
    for container in runtime.list()? {
        let Some(project) = container.labels.get(labels::PROJECT) else { continue };
        let origin = projects.entry(project.clone()).or_default();
        if let Some(dir) = container.labels.get(labels::WORKING_DIR) {
            origin.working_dir = dir.into();
        }
        if let Some(files) = container.labels.get(labels::CONFIG_FILES) {
            origin.files = files.split(',').filter(|f| !f.is_empty()).map(PathBuf::from).collect();
        }
    }
    let mut failed = false;
    for (name, origin) in &projects {
        if let Err(e) = boot_project(cli, &exe, name, origin) {
            eprintln!("project {name}: {}; its containers were not started (run `xcompose up -d` in {})", crate::error_line(&e), origin.working_dir.display());
            failed = true;
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Boots project `name`, loaded from where it was brought up.
fn boot_project(cli: &Cli, exe: &std::path::Path, name: &str, origin: &Origin) -> Result<()> {
    let mut opts = cli.project_options();
    opts.files = origin.files.clone();
    opts.project_name = Some(name.to_string());
    opts.project_directory = Some(origin.working_dir.clone());
    let (working_dir, files) = xcompose_loader::project_files(&opts)?;
    let project = xcompose_loader::load(&opts)?;
    let stack = Stack::new(project, &working_dir, &files, &cli.root, exe)?.with_progress(super::progress::reporter(""));
    stack.boot()?;
    Ok(())
}
