//! `xcompose events`: the project's container events as they happen, as compose prints them.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use clap::Args;
use xcompose_events::Event;
use xcompose_orchestrator::labels;

use super::timestamp;
use crate::Cli;

/// `events`'s flags.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Output events as a stream of json objects.
    #[arg(long)]
    pub json: bool,
    /// Show all events created since timestamp.
    #[arg(long, allow_hyphen_values = true)]
    pub since: Option<String>,
    /// Stream events until this timestamp.
    #[arg(long, allow_hyphen_values = true)]
    pub until: Option<String>,
    /// Services (default: all).
    pub services: Vec<String>,
}

/// Runs `events`: follows the journal until interrupted (or past `--until`).
pub fn run(cli: &Cli, args: &EventsArgs) -> Result<ExitCode> {
    let stack = super::project::open(cli, &[])?;
    let project = stack.project().name.clone();
    let now = Utc::now();
    let since = args.since.as_deref().map(|v| timestamp::parse("since", v, now)).transpose().map_err(|e| anyhow!(e))?;
    let until = args.until.as_deref().map(|v| timestamp::parse("until", v, now)).transpose().map_err(|e| anyhow!(e))?;
    let mut follower = stack.runtime().events().follow(since.is_some())?;
    let mut out = std::io::stdout().lock();
    loop {
        for event in follower.poll()? {
            if event.attributes.get(labels::PROJECT) != Some(&project) || since.is_some_and(|s| event.time < s) || until.is_some_and(|u| event.time > u) {
                continue;
            }
            let service = event.attributes.get(labels::SERVICE).cloned().unwrap_or_default();
            if !args.services.is_empty() && !args.services.contains(&service) {
                continue;
            }
            let line = if args.json { json_line(&event, &service) } else { text_line(&event) };
            // A closed pipe (`events | head`) ends the command.
            if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                return Ok(ExitCode::SUCCESS);
            }
        }
        if until.is_some_and(|u| Utc::now() > u) {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The attributes compose shows: the engine's, without compose's own labels.
fn shown_attributes(event: &Event) -> BTreeMap<&str, &str> {
    event.attributes.iter().filter(|(k, _)| !k.starts_with("com.docker.compose.")).map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// `--json`: `{"action", "attributes", "id", "service", "time", "type"}`.
fn json_line(event: &Event, service: &str) -> String {
    serde_json::json!({
        "action": event.action,
        "attributes": shown_attributes(event),
        "id": event.id,
        "service": service,
        "time": event.time.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        "type": "container",
    })
    .to_string()
}

/// `2026-11-25 09:50:12.123456 container start ID (image=busybox:latest, name=p-web-1)`.
fn text_line(event: &Event) -> String {
    let attributes: Vec<String> = shown_attributes(event).into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{} container {} {} ({})", local_time(event.time), event.action, event.id, attributes.join(", "))
}

fn local_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        Event {
            time: DateTime::parse_from_rfc3339("2026-11-25T09:50:12.123456789Z").unwrap().with_timezone(&Utc),
            id: "abc".into(),
            action: "die".into(),
            attributes: [("com.docker.compose.project", "p"), ("com.docker.compose.service", "web"), ("name", "p-web-1"), ("image", "busybox:latest"), ("exitCode", "0")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
        }
    }

    #[test]
    fn json_has_composes_fields_without_its_labels() {
        let v: serde_json::Value = serde_json::from_str(&json_line(&event(), "web")).unwrap();
        assert_eq!(v["type"], "container");
        assert_eq!(v["service"], "web");
        assert_eq!(v["action"], "die");
        assert_eq!(v["time"], "2026-11-25T09:50:12.123456789Z");
        assert_eq!(v["attributes"], serde_json::json!({"exitCode": "0", "image": "busybox:latest", "name": "p-web-1"}));
    }

    #[test]
    fn text_is_time_action_id_and_attributes() {
        let line = text_line(&event());
        assert!(line.ends_with(" container die abc (exitCode=0, image=busybox:latest, name=p-web-1)"), "{line}");
        assert_eq!(line.split(" container ").next().unwrap().len(), "2026-11-25 09:50:12.123456".len());
    }
}
