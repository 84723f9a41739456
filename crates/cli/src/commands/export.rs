//! `xcompose export`: a service container's filesystem as a tar archive, as `docker compose
//! export` writes it (to a file, atomically and readable by its owner only, or to stdout).

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::Cli;

/// `export`'s flags.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Index of the container if service has multiple replicas.
    #[arg(long, default_value_t = 0)]
    pub index: u32,
    /// Write to a file, instead of STDOUT.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// The service.
    pub service: String,
}

/// Runs `export`.
pub fn run(cli: &Cli, args: &ExportArgs) -> Result<ExitCode> {
    let stack = super::project::open(cli, &[])?;
    let service = &args.service;
    let container = super::project::running_container(&stack, service, args.index)?;
    match &args.output {
        None if std::io::stdout().is_terminal() => bail!("output option is required when exporting to terminal"),
        Some(path) => {
            let dir = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            if !dir.is_dir() {
                bail!("failed to export container: invalid output path: directory {:?} does not exist", dir.display().to_string());
            }
        }
        None => {}
    }
    let name = &container.name;
    let line = format!("{name} export {name} to {}", args.output.as_deref().unwrap_or_default());
    let progress = super::progress::reporter(&cli.output, false);
    progress("", &line, "Exporting");
    match &args.output {
        None => stack.export(&container.id, &mut std::io::stdout().lock())?,
        Some(path) => {
            // Docker's atomic writer: a temporary file (mode 0600) renamed over the output.
            let dir = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let mut file = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("creating {path}"))?;
            stack.export(&container.id, file.as_file_mut())?;
            file.as_file_mut().flush()?;
            file.persist(path).with_context(|| format!("writing {path}"))?;
        }
    }
    progress("", &line, "Exported");
    Ok(ExitCode::SUCCESS)
}
