//! `xcompose up`: create and start the project's containers.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use xcompose_orchestrator::plan::Action;
use xcompose_stack::UpOptions;

use crate::Cli;

/// `up`'s flags.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Detached mode: run containers in the background.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Don't start the services after creating them.
    #[arg(long)]
    pub no_start: bool,
    /// Wait for services to be running|healthy. Implies detached mode.
    #[arg(long)]
    pub wait: bool,
    /// Maximum duration in seconds to wait for the project to be running|healthy.
    #[arg(long)]
    pub wait_timeout: Option<u64>,
    /// Recreate containers even if their configuration and image haven't changed.
    #[arg(long)]
    pub force_recreate: bool,
    /// If containers already exist, don't recreate them.
    #[arg(long, conflicts_with = "force_recreate")]
    pub no_recreate: bool,
    /// Remove containers for services not defined in the Compose file.
    #[arg(long)]
    pub remove_orphans: bool,
    /// Don't start linked services.
    #[arg(long)]
    pub no_deps: bool,
    /// Scale SERVICE to NUM instances (SERVICE=NUM).
    #[arg(long)]
    pub scale: Vec<String>,
    /// Use this timeout in seconds for container shutdown when containers are already running.
    #[arg(short = 't', long)]
    pub timeout: Option<u64>,
    /// Services to start (default: all).
    pub services: Vec<String>,
}

/// Runs `up`.
pub fn run(cli: &Cli, args: &UpArgs) -> Result<ExitCode> {
    if !(args.detach || args.wait || cli.dry_run) {
        bail!("attached mode is not supported yet: run `xcompose up -d`, then `xcompose logs -f`");
    }
    let stack = super::project::open(cli, &args.services)?;
    let mut scale = BTreeMap::new();
    for s in &args.scale {
        let Some((service, n)) = s.split_once('=') else { bail!("invalid --scale {s:?}: expected SERVICE=NUM") };
        let n: u32 = n.parse().map_err(|_| anyhow::anyhow!("invalid --scale {s:?}: {n:?} is not a number"))?;
        scale.insert(service.to_string(), n);
    }
    let opts = UpOptions {
        plan: xcompose_orchestrator::plan::UpOptions {
            force_recreate: args.force_recreate,
            no_recreate: args.no_recreate,
            remove_orphans: args.remove_orphans,
            scale,
            services: args.services.clone(),
            no_deps: args.no_deps,
            image_digests: BTreeMap::new(),
        },
        no_start: args.no_start,
        wait: args.wait,
        wait_timeout: args.wait_timeout.map(Duration::from_secs),
        timeout: args.timeout.map(Duration::from_secs),
    };
    if cli.dry_run {
        for action in stack.plan(&opts)?.steps.iter().flatten() {
            eprintln!("DRY-RUN MODE - {}", describe(action));
        }
        return Ok(ExitCode::SUCCESS);
    }
    stack.up(&opts)?;
    Ok(ExitCode::SUCCESS)
}

/// An action in words.
fn describe(action: &Action) -> String {
    match action {
        Action::CreateNetwork(key) => format!("Network {key}  Create"),
        Action::CreateVolume(key) => format!("Volume {key}  Create"),
        Action::RemoveOrphan { name, .. } | Action::Remove { name, .. } => format!("Container {name}  Remove"),
        Action::Create { name, .. } => format!("Container {name}  Create"),
        Action::Recreate { name, .. } => format!("Container {name}  Recreate"),
        Action::Start { id } => format!("Container {}  Start", &id[..12.min(id.len())]),
        Action::Restart { id } => format!("Container {}  Restart", &id[..12.min(id.len())]),
    }
}
