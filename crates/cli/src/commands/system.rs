//! `xcompose system boot` and `system shutdown`, run when the machine starts and stops
//! (`examples/systemd/xcompose.service`). Boot does what Docker's daemon does at its start: every
//! project of the state root gets back what the reboot removed, and its containers whose restart
//! policy says so are started again. Shutdown stops every container as Docker's daemon does when
//! it stops: each with its stop signal and grace period, not recorded as stopped by the user (the
//! SIGTERM the system sends every process at shutdown would read as one, and `unless-stopped`
//! and `on-failure` containers would then stay down at boot).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use xcompose_orchestrator::labels;
use xcompose_stack::Stack;
use xcompose_supervisor::state::{ContainerState, Status};

use crate::Cli;

/// `system` subcommands.
#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Start again, after a reboot, the containers whose restart policy says so (always;
    /// unless-stopped, unless the user stopped them; on-failure, unless they exited cleanly), in
    /// every project of the state root; idempotent.
    Boot,
    /// Stop every running container of the state root, as the machine shuts down, without
    /// recording it as stopped by the user (so `system boot` starts it again by its policy).
    Shutdown,
}

/// Runs a `system` subcommand.
pub fn run(cli: &Cli, command: &SystemCommand) -> Result<ExitCode> {
    match command {
        SystemCommand::Boot => boot(cli),
        SystemCommand::Shutdown => shutdown(cli),
    }
}

/// `system shutdown`: every running container stopped at once, its record then saying what it
/// said before about a stop by the user.
fn shutdown(cli: &Cli) -> Result<ExitCode> {
    let runtime = xcompose_runtime::Runtime::open(&cli.root, &std::env::current_exe().context("finding the xcompose binary")?)?;
    let running: Vec<_> = runtime.list()?.into_iter().filter(|c| matches!(c.state.status, Status::Running | Status::Paused | Status::Restarting)).collect();
    let results: Vec<Result<()>> = std::thread::scope(|scope| {
        let stops: Vec<_> = running
            .iter()
            .map(|c| {
                let runtime = &runtime;
                scope.spawn(move || -> Result<()> {
                    let state_path = runtime.find(&c.id)?.supervisor.state_path;
                    runtime.stop(&c.id, None)?;
                    let mut state = ContainerState::load(&state_path).with_context(|| format!("reading {}", state_path.display()))?;
                    state.stopped_by_user = c.state.stopped_by_user;
                    state.save(&state_path).with_context(|| format!("writing {}", state_path.display()))?;
                    Ok(())
                })
            })
            .collect();
        stops.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    });
    let mut failed = false;
    for (container, result) in running.iter().zip(results) {
        if let Err(e) = result {
            eprintln!("container {}: {}", container.name, crate::error_line(&e));
            failed = true;
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
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
    let stack = Stack::new(project, &working_dir, &files, &cli.root, exe)?.with_progress(super::progress::reporter(&cli.output, false)).with_parallel(cli.parallel_limit);
    stack.boot()?;
    Ok(())
}
