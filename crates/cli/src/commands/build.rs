//! `build`: the images of services with a `build:` section, with xcompose's own builder; and
//! `builder prune`, which empties its cache.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use xcompose_stack::{BuildOptions, PushOptions};

use crate::Cli;

/// `build`'s flags, as compose takes them.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Do not use cache when building the image.
    #[arg(long)]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the image.
    #[arg(long)]
    pub pull: bool,
    /// Set build-time variables for services.
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Don't print anything to STDOUT.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Also build dependencies (transitively).
    #[arg(long)]
    pub with_dependencies: bool,
    /// Push service images.
    #[arg(long)]
    pub push: bool,
    /// Print equivalent bake file.
    #[arg(long)]
    pub print: bool,
    /// Services to build (default: all with a build section).
    pub services: Vec<String>,
}

/// `builder`'s subcommands.
#[derive(Debug, Subcommand)]
pub enum BuilderCommand {
    /// Remove build cache.
    Prune(PruneArgs),
}

/// `builder prune`'s flags.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused build cache, not just dangling ones (the same here: every record).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// Runs `build`.
pub fn run(cli: &Cli, args: &BuildArgs) -> Result<ExitCode> {
    let mut build_args = BTreeMap::new();
    for arg in &args.build_args {
        match arg.split_once('=') {
            Some((k, v)) => build_args.insert(k.to_string(), v.to_string()),
            // `--build-arg NAME` takes NAME's value from the environment, as compose does.
            None => match std::env::var(arg) {
                Ok(v) => build_args.insert(arg.clone(), v),
                Err(_) => continue,
            },
        };
    }
    let stack = super::project::open(cli, &args.services)?;
    let opts = BuildOptions { services: args.services.clone(), with_dependencies: args.with_dependencies, no_cache: args.no_cache, pull: args.pull, build_args, quiet: args.quiet };
    if args.print {
        println!("{}", stack.bake_definition(&opts, args.push)?);
        return Ok(ExitCode::SUCCESS);
    }
    stack.build(&opts)?;
    if args.push {
        stack.push(&PushOptions { services: args.services.clone(), include_deps: args.with_dependencies, ignore_failures: false, quiet: args.quiet })?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `builder`.
pub fn builder(cli: &Cli, command: &BuilderCommand) -> Result<ExitCode> {
    match command {
        BuilderCommand::Prune(args) => {
            if !args.force && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                eprint!("WARNING! This will remove all dangling build cache. Are you sure you want to continue? [y/N] ");
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer)?;
                if !matches!(answer.trim(), "y" | "Y") {
                    return Ok(ExitCode::SUCCESS);
                }
            }
            let report = xcompose_builder::exec::prune::prune(&cli.root)?;
            println!("Total reclaimed space: {}", crate::sizes::decimal(report.bytes, 4));
            Ok(ExitCode::SUCCESS)
        }
    }
}
