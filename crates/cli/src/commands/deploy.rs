//! `xcompose deploy --swarm`: the project on a Docker Swarm through the Engine API, as `docker
//! stack deploy -c` puts it there (crates/convert builds the specs, crates/swarm sends them);
//! `--rm` removes it as `docker stack rm`; `xcompose ps --swarm` lists its tasks as `docker
//! stack ps`. The stack is named after the project. Compose has no such command (it left
//! Swarm to `docker stack`), so the flags follow the docker CLI's.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Result};
use chrono::{DateTime, Utc};
use clap::Args;
use xcompose_loader::Project;
use xcompose_swarm::{stack, Engine};

use crate::Cli;

/// Flags of `deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Deploy to the Docker Swarm the daemon at --host manages (the only target so far).
    #[arg(long)]
    pub swarm: bool,
    /// The Docker daemon's socket.
    #[arg(short = 'H', long, env = "DOCKER_HOST", default_value = xcompose_swarm::engine::DEFAULT_HOST)]
    pub host: String,
    /// Remove the deployed stack instead (services, networks, secrets, configs; volumes stay).
    #[arg(long)]
    pub rm: bool,
}

/// The flags `ps --swarm` adds.
#[derive(Debug, Args)]
pub struct SwarmPsArgs {
    /// List the tasks of the project's stack on the Docker Swarm (as `docker stack ps`).
    #[arg(long)]
    pub swarm: bool,
    /// The Docker daemon's socket (with --swarm).
    #[arg(short = 'H', long, env = "DOCKER_HOST", default_value = xcompose_swarm::engine::DEFAULT_HOST)]
    pub host: String,
}

fn load(cli: &Cli) -> Result<Project> {
    let mut opts = cli.project_options();
    opts.resolve_env_files = true;
    Ok(xcompose_loader::load(&opts)?)
}

/// Runs `deploy`.
pub fn run(cli: &Cli, args: &DeployArgs) -> Result<ExitCode> {
    if !args.swarm {
        bail!("deploy needs a target: --swarm (to Kubernetes, write manifests with `xcompose convert --format kubernetes` and apply them)");
    }
    let project = load(cli)?;
    let engine = Engine::new(&args.host)?;
    let mut out = std::io::stdout().lock();
    if args.rm {
        stack::remove(&engine, &project.name, &mut out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let environment = xcompose_loader::options::resolve(&cli.project_options())?.environment;
    let contents = super::convert::contents(&project, &environment);
    let stack = xcompose_convert::swarm::convert(&project, &contents).map_err(anyhow::Error::msg)?;
    eprint!("{}", stack.ignored_message());
    stack::deploy(&engine, &stack, &mut out, &mut std::io::stderr().lock())?;
    Ok(ExitCode::SUCCESS)
}

/// `ps --swarm`: the stack's tasks in `docker stack ps`'s table.
pub fn ps(cli: &Cli, args: &SwarmPsArgs) -> Result<ExitCode> {
    let project = load(cli)?;
    let engine = Engine::new(&args.host)?;
    let now = Utc::now();
    let mut rows = vec![["ID", "NAME", "IMAGE", "NODE", "DESIRED STATE", "CURRENT STATE", "ERROR", "PORTS"].map(String::from).to_vec()];
    for task in stack::tasks(&engine, &project.name)? {
        let since = DateTime::parse_from_rfc3339(&task.since).map(|t| super::ps::human_duration(now - t.with_timezone(&Utc))).unwrap_or_default();
        rows.push(vec![
            task.id.chars().take(12).collect(),
            task.name,
            task.image,
            task.node,
            task.desired_state,
            format!("{} {since} ago", stack::capitalize(&task.state)),
            task.error,
            task.ports,
        ]);
    }
    std::io::stdout().lock().write_all(crate::table::render(crate::table::DOCKER_MIN_WIDTH, &rows).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
