//! `xcompose wait`: block until the containers of services stop; exit with the last one's code,
//! as `docker compose wait` does.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;
use xcompose_stack::DownOptions;

use crate::Cli;

/// `wait`'s flags.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Drops project when the first container stops.
    #[arg(long)]
    pub down_project: bool,
    /// The services.
    #[arg(required = true, value_name = "SERVICE")]
    pub services: Vec<String>,
}

/// Runs `wait`: prints `container "ID" exited with status code N` for each container as it
/// stops; with `--down-project`, then takes the project down (orphans included).
pub fn run(cli: &Cli, args: &WaitArgs) -> Result<ExitCode> {
    let stack = super::project::open(cli, &[])?;
    let name = stack.project().name.clone();
    let code = stack.wait_stopped(&args.services, &mut |id, code| println!("container {id:?} exited with status code {code}"))?;
    let Some(code) = code else { bail!("no containers for project {name:?}") };
    if args.down_project {
        stack.down(&DownOptions { volumes: false, remove_orphans: true, timeout: None, images: None, services: Vec::new(), ignore_orphans: false })?;
    }
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}
