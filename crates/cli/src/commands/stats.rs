//! `xcompose stats`: CPU, memory, network and process counts of the project's containers, from
//! their cgroups and network namespaces, in Docker's table.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use xcompose_stack::{ContainerInfo, Stack};
use xcompose_supervisor::state::Status;

use crate::sizes;
use crate::go_format::Format;
use crate::Cli;

/// `stats`'s flags.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result.
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Format the output: table, json, or a Go template (`{{.Name}} {{.CPUPerc}}`, `table {{.Name}}\t{{.MemUsage}}`).
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Services (default: all).
    pub services: Vec<String>,
}

/// Docker's default table, as a template.
const TABLE: &str = "{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// The column title of each field a template can name, as Docker's.
const HEADERS: [(&str, &str); 9] = [
    ("Container", "CONTAINER"),
    ("ID", "CONTAINER ID"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

/// Between the two readings a CPU percentage is computed from.
const SAMPLE: Duration = Duration::from_millis(500);

/// Runs `stats`: one table with `--no-stream`, else a table a second, redrawn on a terminal.
pub fn run(cli: &Cli, args: &StatsArgs) -> Result<ExitCode> {
    let (template, table) = match Format::parse(&args.format) {
        Format::Table => (Some(TABLE.to_string()), true),
        Format::Json => (None, false),
        Format::Template { text, table } => (Some(text), table),
    };
    let stack = super::project::open(cli, &[])?;
    let total_memory = total_memory();
    let mut out = std::io::stdout().lock();
    let redraw = !args.no_stream && std::io::stdout().is_terminal();
    let mut last = readings(&stack, args)?;
    loop {
        std::thread::sleep(SAMPLE);
        let now = readings(&stack, args)?;
        let rows: Vec<serde_json::Value> = now
            .iter()
            .map(|reading| row(reading, last.iter().find(|r| r.container.id == reading.container.id), total_memory, args.no_trunc))
            .collect();
        let mut text = match &template {
            Some(template) => crate::go_format::render(template, table, &rows, &BTreeMap::from(HEADERS), crate::table::DOCKER_MIN_WIDTH)?,
            None => rows.iter().map(|r| format!("{r}\n")).collect(),
        };
        if redraw {
            text.insert_str(0, "\x1b[2J\x1b[H");
        }
        out.write_all(text.as_bytes()).and_then(|()| out.flush()).context("writing to stdout")?;
        if args.no_stream {
            return Ok(ExitCode::SUCCESS);
        }
        last = now;
        std::thread::sleep(Duration::from_secs(1).saturating_sub(SAMPLE));
    }
}

/// One container's figures at one moment.
struct Reading {
    container: ContainerInfo,
    at: Instant,
    cgroup: Option<xcompose_cgroups::Stats>,
    /// Bytes received and sent on the container's interfaces (not loopback).
    network: (u64, u64),
}

fn readings(stack: &Stack, args: &StatsArgs) -> Result<Vec<Reading>> {
    let mut readings = Vec::new();
    for container in stack.containers()? {
        let running = matches!(container.state.status, Status::Running | Status::Paused);
        if container.oneoff || !(args.all || running) || !(args.services.is_empty() || args.services.contains(&container.service)) {
            continue;
        }
        let cgroup = if running { stack.runtime().stats(&container.id)? } else { None };
        let network = container.state.pid.filter(|_| running).map(network_io).unwrap_or_default();
        readings.push(Reading { container, at: Instant::now(), cgroup, network });
    }
    Ok(readings)
}

/// A container's figures as Docker's `stats --format json` prints them: CPU over the time since
/// `before` (the same container's last reading).
fn row(now: &Reading, before: Option<&Reading>, total_memory: u64, no_trunc: bool) -> serde_json::Value {
    let id = if no_trunc { now.container.id.clone() } else { now.container.id.chars().take(12).collect() };
    let cpu = match (&now.cgroup, before.and_then(|b| b.cgroup.as_ref().map(|c| (b.at, c)))) {
        (Some(stats), Some((then, old))) => {
            let wall = now.at.duration_since(then).as_nanos().max(1) as f64;
            stats.cpu_usage_ns.saturating_sub(old.cpu_usage_ns) as f64 / wall * 100.0
        }
        _ => 0.0,
    };
    let (usage, limit, pids) = match &now.cgroup {
        Some(stats) => (stats.memory_usage, stats.memory_limit.filter(|l| *l < total_memory).unwrap_or(total_memory), stats.pids),
        None => (0, 0, 0),
    };
    let memory_percent = if limit == 0 { 0.0 } else { usage as f64 / limit as f64 * 100.0 };
    serde_json::json!({
        // Block I/O is not accounted yet.
        "BlockIO": "0B / 0B",
        "CPUPerc": format!("{cpu:.2}%"),
        "Container": id,
        "ID": id,
        "MemPerc": format!("{memory_percent:.2}%"),
        "MemUsage": format!("{} / {}", sizes::binary(usage), sizes::binary(limit)),
        "Name": now.container.name,
        "NetIO": format!("{} / {}", sizes::decimal(now.network.0, 3), sizes::decimal(now.network.1, 3)),
        "PIDs": pids.to_string(),
    })
}

/// Bytes received and sent by the interfaces of process `pid`'s network namespace, loopback aside.
fn network_io(pid: u32) -> (u64, u64) {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/dev")) else { return (0, 0) };
    text.lines()
        .skip(2)
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| name.trim() != "lo")
        .map(|(_, counters)| {
            let fields: Vec<u64> = counters.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect();
            (fields.first().copied().unwrap_or(0), fields.get(8).copied().unwrap_or(0))
        })
        .fold((0, 0), |(rx, tx), (r, t)| (rx + r, tx + t))
}

/// The machine's memory (what an unlimited container's limit shows), from /proc/meminfo.
fn total_memory() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}
