//! `xcompose ps`: the project's containers, as compose lists them.

use std::process::ExitCode;

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use chrono::{DateTime, Utc};
use clap::Args;
use xcompose_loader::Project;
use xcompose_stack::ContainerInfo;
use xcompose_supervisor::health::HealthStatus;
use xcompose_supervisor::state::{ContainerState, Status};

use crate::go_format::Format;
use crate::Cli;

/// The column title of each field a `--format` template can name, as compose's.
const HEADERS: [(&str, &str); 20] = [
    ("ID", "CONTAINER ID"),
    ("Name", "NAME"),
    ("Names", "NAMES"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("Project", "PROJECT"),
    ("Service", "SERVICE"),
    ("CreatedAt", "CREATED AT"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Health", "HEALTH"),
    ("ExitCode", "EXIT CODE"),
    ("Publishers", "PUBLISHERS"),
    ("Ports", "PORTS"),
    ("Labels", "LABELS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
    ("Mounts", "MOUNTS"),
    ("Networks", "NETWORKS"),
    ("RunningFor", "CREATED"),
    ("Size", "SIZE"),
];

/// `ps`'s flags.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all stopped containers (including those created by the run command).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Display services.
    #[arg(long)]
    pub services: bool,
    /// Filter services by status: paused, restarting, removing, running, dead, created, exited.
    #[arg(long)]
    pub status: Vec<String>,
    /// Filter services by a property (supported filters: status).
    #[arg(long)]
    pub filter: Option<String>,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Include orphaned services (not declared by project).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "true|false")]
    pub orphans: bool,
    /// Format the output: table, json, or a Go template (`{{.Name}}`, `table {{.Name}}\t{{.Status}}`).
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Services to list (default: all).
    #[arg(value_name = "SERVICE")]
    pub service_names: Vec<String>,
    /// `--swarm`: the tasks of the project deployed with `deploy --swarm`.
    #[command(flatten)]
    pub swarm: super::deploy::SwarmPsArgs,
}

/// Runs `ps`.
pub fn run(cli: &Cli, args: &PsArgs) -> Result<ExitCode> {
    if args.swarm.swarm {
        return super::deploy::ps(cli, &args.swarm);
    }
    let mut statuses = args.status.clone();
    if let Some(filter) = &args.filter {
        // compose's --filter: KEY=VALUE, only `status` carried out (`source` is not in compose either).
        match filter.split_once('=') {
            None => bail!("arguments to --filter should be in form KEY=VAL"),
            Some(("status", value)) => statuses.push(value.to_string()),
            Some(("source", _)) => bail!("not implemented"),
            Some((key, _)) => bail!("unknown filter {key}"),
        }
    }
    let stack = super::project::open(cli, &[])?;
    let now = Utc::now();
    let trunc = !args.no_trunc;
    let shown: Vec<ContainerInfo> = stack
        .containers()?
        .into_iter()
        .filter(|c| args.service_names.is_empty() || args.service_names.contains(&c.service))
        .filter(|c| args.orphans || stack.project().services.contains_key(&c.service))
        .filter(|c| args.all || (!c.oneoff && matches!(c.state.status, Status::Running | Status::Paused | Status::Restarting)) || !statuses.is_empty())
        .filter(|c| statuses.is_empty() || statuses.iter().any(|s| s == c.state.status.as_str()))
        .collect();
    if args.quiet {
        shown.iter().for_each(|c| println!("{}", c.id));
    } else if args.services {
        let mut names: Vec<&str> = shown.iter().map(|c| c.service.as_str()).collect();
        names.dedup();
        names.iter().for_each(|n| println!("{n}"));
    } else {
        let project = stack.project();
        match Format::parse(&args.format) {
            Format::Json => {
                for c in &shown {
                    println!("{}", json_line(c, project, now, trunc));
                }
            }
            Format::Table => print_table(&shown, now, trunc),
            Format::Template { text, table } => {
                let items: Vec<serde_json::Value> = shown.iter().map(|c| json_line(c, project, now, trunc)).collect();
                print!("{}", crate::go_format::render(&text, table, &items, &BTreeMap::from(HEADERS), crate::table::DOCKER_MIN_WIDTH)?);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Docker's `Command` column: quoted, cut to 20 characters unless `--no-trunc`.
fn command_text(c: &ContainerInfo, trunc: bool) -> String {
    let joined = c.command.join(" ");
    let short: String = if trunc && joined.chars().count() > 20 { joined.chars().take(19).chain(['…']).collect() } else { joined };
    format!("\"{short}\"")
}

fn print_table(shown: &[ContainerInfo], now: DateTime<Utc>, trunc: bool) {
    let mut rows = vec![["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"].map(String::from).to_vec()];
    rows.extend(shown.iter().map(|c| {
        vec![c.name.clone(), c.image.clone(), command_text(c, trunc), c.service.clone(), created_text(&c.created, now), status_text(&c.state, now), ports_text(c)]
    }));
    print!("{}", crate::table::render(crate::table::DOCKER_MIN_WIDTH, &rows));
}

/// Docker's `Ports` column: `6379/tcp, 127.0.0.1:8080->80/tcp, 0.0.0.0:5353->53/udp` (exposed
/// ports not published first, as Docker lists them).
fn ports_text(c: &ContainerInfo) -> String {
    exposed_text(&c.exposed).into_iter().chain(c.ports.iter().map(|p| p.display())).collect::<Vec<_>>().join(", ")
}

/// Exposed ports (sorted by port) as docker/cli's `DisplayablePorts` shows them: consecutive
/// ports of a protocol as one range (`7000-7002/udp`), a range broken by a gap shown first.
fn exposed_text(exposed: &[(u16, String)]) -> Vec<String> {
    let form = |(protocol, first, last): &(String, u16, u16)| {
        if first == last { format!("{first}/{protocol}") } else { format!("{first}-{last}/{protocol}") }
    };
    let mut open: Vec<(String, u16, u16)> = Vec::new();
    let mut shown = Vec::new();
    for (port, protocol) in exposed {
        match open.iter_mut().find(|g| g.0 == *protocol) {
            None => open.push((protocol.clone(), *port, *port)),
            Some(group) if *port == group.2 + 1 => group.2 = *port,
            Some(group) => {
                shown.push(form(group));
                (group.1, group.2) = (*port, *port);
            }
        }
    }
    shown.extend(open.iter().map(form));
    shown
}

/// The networks and mounts of `c`'s service, as compose lists them: network names, and the
/// mounts' volume names or host paths; with how many are local volumes.
fn networks_and_mounts(c: &ContainerInfo, project: &Project) -> (Vec<String>, Vec<String>, usize) {
    let Some(service) = project.services.get(&c.service) else { return (Vec::new(), Vec::new(), 0) };
    let networks = service.networks.keys().map(|k| project.networks.get(k).map_or(k.clone(), |n| n.name.clone())).collect();
    let volumes: Vec<&xcompose_loader::model::ServiceVolume> = service.volumes.iter().filter(|v| v.kind == "volume" || v.kind == "bind").collect();
    let mounts = volumes
        .iter()
        .filter(|v| !v.source.is_empty())
        .map(|v| if v.kind == "volume" { project.volumes.get(&v.source).map_or(v.source.clone(), |d| d.name.clone()) } else { v.source.clone() })
        .collect();
    (networks, mounts, volumes.iter().filter(|v| v.kind == "volume").count())
}

/// One container as compose's `ps --format json` prints it, and as templates see it.
fn json_line(c: &ContainerInfo, project: &Project, now: DateTime<Utc>, trunc: bool) -> serde_json::Value {
    let label_text: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let (networks, mounts, local_volumes) = networks_and_mounts(c, project);
    serde_json::json!({
        "Command": command_text(c, trunc),
        "CreatedAt": c.created,
        "ExitCode": c.state.exit_code.unwrap_or(0),
        "Health": c.state.health.as_ref().map(|h| h.status.as_str()).unwrap_or(""),
        "ID": c.id,
        "Image": c.image,
        "Labels": label_text.join(","),
        // Docker's container context prints counts and sizes as text.
        "LocalVolumes": local_volumes.to_string(),
        "Mounts": mounts.join(","),
        "Name": c.name,
        "Names": c.name,
        "Networks": networks.join(","),
        "Project": c.labels.get("com.docker.compose.project").cloned().unwrap_or_default(),
        "Ports": ports_text(c),
        "Publishers": c.exposed.iter().map(|(port, protocol)| serde_json::json!({
            "URL": "",
            "TargetPort": port,
            "PublishedPort": 0,
            "Protocol": protocol,
        })).chain(c.ports.iter().map(|p| serde_json::json!({
            "URL": p.host_address().to_string(),
            "TargetPort": p.container_port,
            "PublishedPort": p.host_port,
            "Protocol": p.protocol,
        }))).collect::<Vec<_>>(),
        "RunningFor": created_text(&c.created, now),
        "Service": c.service,
        "Size": crate::sizes::decimal(0, 3),
        "State": c.state.status.as_str(),
        "Status": status_text(&c.state, now),
    })
}

/// `5 minutes ago` for an RFC 3339 time, as Docker's CREATED columns.
pub fn created_text(created: &str, now: DateTime<Utc>) -> String {
    match DateTime::parse_from_rfc3339(created) {
        Ok(t) => format!("{} ago", human_duration(now - t.with_timezone(&Utc))),
        Err(_) => String::new(),
    }
}

/// Docker's `Status` column: `Up 5 seconds (healthy)`, `Exited (1) 2 minutes ago`, `Created`.
fn status_text(state: &ContainerState, now: DateTime<Utc>) -> String {
    let since = |t: Option<DateTime<Utc>>| human_duration(now - t.unwrap_or(now));
    // Docker: `(health: starting)`, `(healthy)`, `(unhealthy)`.
    let health = match state.health.as_ref().map(|h| h.status) {
        Some(HealthStatus::Starting) => " (health: starting)".to_string(),
        Some(status) => format!(" ({})", status.as_str()),
        None => String::new(),
    };
    match state.status {
        Status::Created => "Created".into(),
        Status::Running => format!("Up {}{health}", since(state.started_at)),
        Status::Paused => format!("Up {} (Paused)", since(state.started_at)),
        Status::Restarting => format!("Restarting ({}) {} ago", state.exit_code.unwrap_or(0), since(state.finished_at)),
        Status::Exited => format!("Exited ({}) {} ago", state.exit_code.unwrap_or(0), since(state.finished_at)),
        Status::Dead => "Dead".into(),
    }
}

/// Docker's human durations (`Less than a second`, `5 seconds`, `About a minute`, `3 hours`).
pub fn human_duration(d: chrono::Duration) -> String {
    let seconds = d.num_seconds();
    let minutes = d.num_minutes();
    let hours = d.num_hours();
    match () {
        _ if seconds < 1 => "Less than a second".into(),
        _ if seconds == 1 => "1 second".into(),
        _ if seconds < 60 => format!("{seconds} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposed_ports_grouped_as_docker() {
        let ports = |list: &[(u16, &str)]| list.iter().map(|(p, t)| (*p, t.to_string())).collect::<Vec<_>>();
        assert_eq!(exposed_text(&ports(&[(5432, "tcp"), (7000, "udp"), (7001, "udp")])), ["5432/tcp", "7000-7001/udp"]);
        assert_eq!(exposed_text(&ports(&[(80, "tcp"), (81, "tcp"), (90, "tcp"), (91, "udp")])), ["80-81/tcp", "90/tcp", "91/udp"]);
        assert!(exposed_text(&[]).is_empty());
    }

    #[test]
    fn human_durations_as_docker() {
        let s = chrono::Duration::seconds;
        assert_eq!(human_duration(s(0)), "Less than a second");
        assert_eq!(human_duration(s(1)), "1 second");
        assert_eq!(human_duration(s(59)), "59 seconds");
        assert_eq!(human_duration(s(60)), "About a minute");
        assert_eq!(human_duration(s(150)), "2 minutes");
        assert_eq!(human_duration(s(3600)), "About an hour");
        assert_eq!(human_duration(s(3 * 3600)), "3 hours");
        assert_eq!(human_duration(s(3 * 86400)), "3 days");
    }

    #[test]
    fn statuses_as_docker() {
        let now = Utc::now();
        let mut state = ContainerState::created();
        assert_eq!(status_text(&state, now), "Created");
        state.status = Status::Exited;
        state.exit_code = Some(3);
        state.finished_at = Some(now - chrono::Duration::seconds(5));
        assert_eq!(status_text(&state, now), "Exited (3) 5 seconds ago");
        state.status = Status::Running;
        state.started_at = Some(now - chrono::Duration::seconds(2));
        assert_eq!(status_text(&state, now), "Up 2 seconds");
        state.health = Some(xcompose_supervisor::health::Health::default());
        assert_eq!(status_text(&state, now), "Up 2 seconds (health: starting)");
        state.health.as_mut().unwrap().status = HealthStatus::Unhealthy;
        assert_eq!(status_text(&state, now), "Up 2 seconds (unhealthy)");
    }
}
