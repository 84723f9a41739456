//! `xcompose pull` and `xcompose push` (the project's images), and the Docker-style output of
//! `xcompose image pull|push`: a line per layer, redrawn in place with a bar while it downloads
//! on a terminal, plain lines (without the download progress) otherwise.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::Result;
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use xcompose_registry::{LayerStatus, PullEvent};
use xcompose_stack::{PullOptions, PullPolicy, PushOptions};

use crate::Cli;

/// `pull`'s flags.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Pull what it can and ignore images with pull failures.
    #[arg(long)]
    pub ignore_pull_failures: bool,
    /// Also pull services declared as dependencies.
    #[arg(long)]
    pub include_deps: bool,
    /// Pull without printing progress information.
    #[arg(short, long)]
    pub quiet: bool,
    /// Apply pull policy ("missing"|"always").
    #[arg(long, value_parser = ["missing", "always"])]
    pub policy: Option<String>,
    /// Services to pull (default: all).
    pub services: Vec<String>,
}

/// `push`'s flags.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push what it can and ignore images with push failures.
    #[arg(long)]
    pub ignore_push_failures: bool,
    /// Also push images of services declared as dependencies.
    #[arg(long)]
    pub include_deps: bool,
    /// Push without printing progress information.
    #[arg(short, long)]
    pub quiet: bool,
    /// Services to push (default: all).
    pub services: Vec<String>,
}

/// Runs `pull`.
pub fn pull(cli: &Cli, args: &PullArgs) -> Result<ExitCode> {
    let stack = super::project::open(cli, &args.services)?;
    let policy = args.policy.as_deref().map(PullPolicy::parse).transpose().map_err(anyhow::Error::msg)?.flatten();
    let opts = PullOptions {
        services: args.services.clone(),
        include_deps: args.include_deps,
        ignore_failures: args.ignore_pull_failures,
        policy,
        max_concurrent_downloads: None,
        quiet: args.quiet,
    };
    stack.pull(&opts)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `push`.
pub fn push(cli: &Cli, args: &PushArgs) -> Result<ExitCode> {
    let stack = super::project::open(cli, &args.services)?;
    let opts = PushOptions { services: args.services.clone(), include_deps: args.include_deps, ignore_failures: args.ignore_push_failures, quiet: args.quiet };
    stack.push(&opts)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints a pull's events as `docker pull` does.
pub fn pull_printer(quiet: bool) -> Box<dyn Fn(PullEvent) + Sync> {
    if quiet {
        return Box::new(|_| {});
    }
    if !std::io::stdout().is_terminal() {
        return Box::new(|event| {
            if !matches!(event, PullEvent::Layer { status: LayerStatus::Downloading { .. }, .. }) {
                println!("{event}");
            }
        });
    }
    let bars = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
    let lines: Mutex<HashMap<String, ProgressBar>> = Mutex::new(HashMap::new());
    let plain = ProgressStyle::with_template("{msg}").expect("a valid template");
    let downloading = ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes}").expect("a valid template").progress_chars("=> ");
    Box::new(move |event| {
        let PullEvent::Layer { id, status } = &event else {
            let _ = bars.println(event.to_string());
            return;
        };
        let mut lines = lines.lock().unwrap_or_else(|p| p.into_inner());
        let bar = lines.entry(id.clone()).or_insert_with(|| bars.add(ProgressBar::new(0).with_style(plain.clone())));
        match status {
            LayerStatus::Downloading { current, total } => {
                bar.set_style(downloading.clone());
                bar.set_length(*total);
                bar.set_position(*current);
                bar.set_message(format!("{id}: Downloading"));
            }
            other => {
                bar.set_style(plain.clone());
                bar.set_message(format!("{id}: {other}"));
                if matches!(other, LayerStatus::PullComplete | LayerStatus::AlreadyExists) {
                    bar.finish();
                }
            }
        }
    })
}
