//! `xcompose down`: stop and remove the project's containers and networks.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Result};
use clap::Args;
use xcompose_stack::{DownOptions, RemoveImages};

use crate::Cli;

/// `down`'s flags.
#[derive(Debug, Args)]
pub struct DownArgs {
    /// Remove named volumes declared in the "volumes" section of the Compose file and anonymous volumes attached to containers.
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Remove containers for services not defined in the Compose file (default: COMPOSE_REMOVE_ORPHANS).
    #[arg(long)]
    pub remove_orphans: bool,
    /// Specify a shutdown timeout in seconds.
    #[arg(short = 't', long)]
    pub timeout: Option<u64>,
    /// Remove images used by services. "local" remove only images that don't have a custom tag ("local"|"all").
    #[arg(long)]
    pub rmi: Option<String>,
    /// Only these services' containers (their networks and volumes once nothing uses them).
    pub services: Vec<String>,
}

/// Runs `down`.
pub fn run(cli: &Cli, args: &DownArgs) -> Result<ExitCode> {
    let images = args.rmi.as_deref().map(str::parse::<RemoveImages>).transpose().map_err(|e| anyhow!(e))?;
    let stack = super::project::open(cli, &args.services)?;
    stack.down(&DownOptions { volumes: args.volumes, remove_orphans: super::project::remove_orphans(args.remove_orphans), timeout: args.timeout.map(Duration::from_secs), images, services: args.services.clone(), ignore_orphans: super::project::ignore_orphans() })?;
    Ok(ExitCode::SUCCESS)
}
