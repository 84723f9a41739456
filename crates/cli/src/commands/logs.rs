//! `xcompose logs`: the output of the project's containers, prefixed with their names.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use xcompose_stack::{ContainerInfo, LogLine, Stack};

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
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = std::io::stdout().lock();
    for (_, c, line) in &lines {
        print_line(&mut out, args, c, line, width)?;
    }
    drop(out);
    if args.follow {
        follow(&stack, args, &containers, printed, width)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_line(out: &mut impl Write, args: &LogsArgs, c: &ContainerInfo, line: &LogLine, width: usize) -> std::io::Result<()> {
    if !args.no_log_prefix {
        write!(out, "{:<width$} | ", c.name)?;
    }
    if args.timestamps {
        write!(out, "{} ", line.time)?;
    }
    write!(out, "{}", line.log)?;
    if !line.log.ends_with('\n') {
        writeln!(out)?;
    }
    out.flush()
}

/// Prints new lines as they are written, until every container has stopped.
fn follow(stack: &Stack, args: &LogsArgs, containers: &[ContainerInfo], mut printed: Vec<usize>, width: usize) -> Result<()> {
    loop {
        let mut any_running = false;
        for (c, seen) in containers.iter().zip(printed.iter_mut()) {
            let all = stack.log_lines(c)?;
            let mut out = std::io::stdout().lock();
            for line in all.iter().skip(*seen) {
                print_line(&mut out, args, c, line, width)?;
            }
            *seen = all.len().max(*seen);
            let state = stack.runtime().state(&stack.runtime().find(&c.id)?);
            any_running |= matches!(state.status, xcompose_supervisor::state::Status::Running | xcompose_supervisor::state::Status::Restarting);
        }
        if !any_running {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
