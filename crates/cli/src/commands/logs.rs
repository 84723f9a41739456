//! `xcompose logs`: the output of the project's containers, prefixed with their names.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use xcompose_stack::{ContainerInfo, LogLine};

use super::attach::{has_stopped, print_line, Follower, Style};

use crate::Cli;

/// `logs`'s flags.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs for each container ("all" for all).
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps.
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Don't print prefix in logs.
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Produce monochrome output.
    #[arg(long)]
    pub no_color: bool,
    /// Services (default: all).
    pub services: Vec<String>,
}

/// Runs `logs`.
pub fn run(cli: &Cli, args: &LogsArgs) -> Result<ExitCode> {
    let stack = super::project::open(cli, &[])?;
    let containers: Vec<ContainerInfo> =
        stack.containers()?.into_iter().filter(|c| !c.oneoff && (args.services.is_empty() || args.services.contains(&c.service))).collect();
    let style = Style { prefix: !args.no_log_prefix, timestamps: args.timestamps, split_streams: false };
    let width = containers.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let tail: Option<usize> = args.tail.parse().ok();
    let mut printed = Vec::new();
    let mut lines: Vec<(String, &ContainerInfo, LogLine)> = Vec::new();
    for c in &containers {
        let all = stack.log_lines(c)?;
        printed.push(all.len());
        let skip = tail.map_or(0, |n| all.len().saturating_sub(n));
        lines.extend(all.into_iter().skip(skip).map(|l| (l.time.clone(), c, l)));
    }
    // Interleaved by time, as they were written.
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, c, line) in &lines {
        print_line(style, c, line, width)?;
    }
    if args.follow {
        let mut follower = Follower::new(containers, Some(printed), style);
        loop {
            follower.poll(&stack)?;
            if follower.states(&stack)?.iter().all(has_stopped) {
                return Ok(ExitCode::SUCCESS);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(ExitCode::SUCCESS)
}
