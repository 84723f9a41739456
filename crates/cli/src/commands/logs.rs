//! `xcompose logs`: the output of the project's containers, prefixed with their names.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use clap::Args;
use xcompose_stack::{ContainerInfo, LogLine};

use super::attach::{colors_wanted, has_stopped, name_width, print_line, Follower, Style};
use super::timestamp;

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
    /// Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes).
    #[arg(long, allow_hyphen_values = true)]
    pub since: Option<String>,
    /// Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes).
    #[arg(long, allow_hyphen_values = true)]
    pub until: Option<String>,
    /// Don't print prefix in logs.
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Produce monochrome output.
    #[arg(long)]
    pub no_color: bool,
    /// index of the container if service has multiple replicas
    #[arg(long, default_value_t = 0)]
    pub index: u32,
    /// Services (default: all).
    pub services: Vec<String>,
}

/// Runs `logs`.
pub fn run(cli: &Cli, args: &LogsArgs) -> Result<ExitCode> {
    if args.index > 0 && args.services.len() != 1 {
        bail!("--index requires one service to be selected");
    }
    let stack = super::project::open(cli, &[])?;
    let mut containers: Vec<ContainerInfo> =
        stack.containers()?.into_iter().filter(|c| !c.oneoff && (args.services.is_empty() || args.services.contains(&c.service))).collect();
    if args.index > 0 {
        // compose's getSpecifiedContainer: that replica, or an error naming it.
        let number = args.index.to_string();
        containers.retain(|c| c.labels.get("com.docker.compose.container-number") == Some(&number));
        if containers.is_empty() {
            bail!("service {:?} is not running container #{}", args.services[0], args.index);
        }
    }
    let style = Style { prefix: !args.no_log_prefix, timestamps: args.timestamps, split_streams: false, color: colors_wanted(&cli.output, args.no_color) };
    let width = name_width(&containers);
    let tail: Option<usize> = args.tail.parse().ok();
    let now = chrono::Utc::now();
    let since = args.since.as_deref().map(|v| timestamp::parse("since", v, now)).transpose().map_err(|e| anyhow!(e))?;
    let until = args.until.as_deref().map(|v| timestamp::parse("until", v, now)).transpose().map_err(|e| anyhow!(e))?;
    let in_window = |line: &LogLine| {
        let Ok(t) = chrono::DateTime::parse_from_rfc3339(&line.time) else { return true };
        since.is_none_or(|s| t >= s) && until.is_none_or(|u| t <= u)
    };
    let mut printed = Vec::new();
    let mut lines: Vec<(String, usize, &ContainerInfo, LogLine)> = Vec::new();
    for (index, c) in containers.iter().enumerate() {
        let all = match stack.log_lines(c) {
            Err(xcompose_stack::StackError::LogsUnreadable(why)) => {
                warn(&format!("Can't retrieve logs for {:?}: {why}", c.name));
                Vec::new()
            }
            other => other?,
        };
        printed.push(all.len());
        let window: Vec<LogLine> = all.into_iter().filter(in_window).collect();
        let skip = tail.map_or(0, |n| window.len().saturating_sub(n));
        lines.extend(window.into_iter().skip(skip).map(|l| (l.time.clone(), index, c, l)));
    }
    // Interleaved by time, as they were written.
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, index, c, line) in &lines {
        print_line(style, c, *index, line, width)?;
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

/// A warning as compose's logger prints it: `WARN[0000] ...` on a terminal, logfmt otherwise.
fn warn(message: &str) {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        eprintln!("WARN[0000] {message}");
    } else {
        let time = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
        eprintln!("time={time:?} level=warning msg={message:?}");
    }
}
