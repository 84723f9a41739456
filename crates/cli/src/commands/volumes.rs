//! `xcompose volumes`: the project's volumes, listed as `docker compose volumes` lists them
//! (`docker volume ls`'s table, JSON lines or names).

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;

use super::volume::{write_list, LsFormat};
use crate::Cli;

/// `volumes`' flags.
#[derive(Debug, Args)]
pub struct VolumesArgs {
    /// Only display volume names.
    #[arg(short, long)]
    pub quiet: bool,
    /// Format the output: table or json.
    #[arg(long, value_enum, default_value = "table")]
    pub format: LsFormat,
    /// Only the volumes these services' containers mount.
    pub services: Vec<String>,
}

/// Runs `volumes`.
pub fn run(cli: &Cli, args: &VolumesArgs) -> Result<ExitCode> {
    let stack = super::project::open(cli, &args.services)?;
    if let Some(unknown) = args.services.iter().find(|s| !stack.project().services.contains_key(s.as_str())) {
        bail!("no such service: {unknown}");
    }
    write_list(stack.project_volumes(&args.services)?, args.quiet, args.format)?;
    Ok(ExitCode::SUCCESS)
}
