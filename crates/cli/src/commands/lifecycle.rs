//! `xcompose start`, `stop`, `restart` and `rm`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use crate::Cli;

/// Flags of `stop` and `restart`.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Specify a shutdown timeout in seconds.
    #[arg(short = 't', long)]
    pub timeout: Option<u64>,
    /// Services (default: all).
    pub services: Vec<String>,
}

/// `restart`'s flags.
#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Specify a shutdown timeout in seconds.
    #[arg(short = 't', long)]
    pub timeout: Option<u64>,
    /// Don't restart dependent services.
    #[arg(long)]
    pub no_deps: bool,
    /// Services (default: all).
    pub services: Vec<String>,
}

/// `start`'s arguments.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Services (default: all).
    pub services: Vec<String>,
}

/// `rm`'s flags.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Don't ask to confirm removal.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Stop the containers, if required, before removing.
    #[arg(short = 's', long)]
    pub stop: bool,
    /// Remove any anonymous volumes attached to containers.
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Services (default: all).
    pub services: Vec<String>,
}

/// Runs `start`.
pub fn start(cli: &Cli, args: &StartArgs) -> Result<ExitCode> {
    super::project::open(cli, &[])?.start(&args.services)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `stop`.
pub fn stop(cli: &Cli, args: &StopArgs) -> Result<ExitCode> {
    super::project::open(cli, &[])?.stop(&args.services, args.timeout.map(Duration::from_secs))?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `restart`: the services named and, unless `--no-deps`, the services that depend on
/// them with `restart: true` (transitively), as compose restarts them.
pub fn restart(cli: &Cli, args: &RestartArgs) -> Result<ExitCode> {
    let stack = super::project::open(cli, &[])?;
    let services = if args.no_deps { args.services.clone() } else { with_restarting_dependents(stack.project(), &args.services) };
    stack.restart(&services, args.timeout.map(Duration::from_secs))?;
    Ok(ExitCode::SUCCESS)
}

/// `services` (empty: all) and the services depending on one of them with `restart: true`.
fn with_restarting_dependents(project: &xcompose_loader::Project, services: &[String]) -> Vec<String> {
    let mut chosen = services.to_vec();
    if chosen.is_empty() {
        return chosen;
    }
    loop {
        let more: Vec<String> = project
            .services
            .iter()
            .filter(|(name, _)| !chosen.contains(name))
            .filter(|(_, service)| service.depends_on.iter().any(|(dep, d)| d.restart && chosen.contains(dep)))
            .map(|(name, _)| name.clone())
            .collect();
        if more.is_empty() {
            return chosen;
        }
        chosen.extend(more);
    }
}

/// Runs `rm` (without `-f`, compose asks for confirmation; xcompose never prompts).
pub fn rm(cli: &Cli, args: &RmArgs) -> Result<ExitCode> {
    let removed = super::project::open(cli, &[])?.remove(&args.services, args.stop)?;
    if removed.is_empty() {
        eprintln!("No stopped containers");
    }
    Ok(ExitCode::SUCCESS)
}
