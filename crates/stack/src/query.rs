//! What `ps` and `logs` show: the project's containers with their state, and their log lines.

use std::path::PathBuf;

use xcompose_orchestrator::labels;
use xcompose_supervisor::state::ContainerState;

use crate::{Stack, StackError};

/// A container of the project, for `ps`.
#[derive(Debug, Clone)]
pub struct ContainerInfo {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its service.
    pub service: String,
    /// Its image as the service names it.
    pub image: String,
    /// The command it runs.
    pub command: Vec<String>,
    /// Created at (RFC 3339).
    pub created: String,
    /// Its state.
    pub state: ContainerState,
    /// A one-off (`run`) container.
    pub oneoff: bool,
    /// Its labels.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Its log file.
    pub log_path: PathBuf,
    /// Its logging driver keeps nothing (`none`).
    pub logs_discarded: bool,
    /// Its published ports.
    pub ports: Vec<crate::PortBinding>,
    /// The ports it exposes that are not published, by port then protocol (`6379`, `tcp`).
    pub exposed: Vec<(u16, String)>,
}

/// One line of a container's log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct LogLine {
    /// The text, with its line ending.
    pub log: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// When it was written (RFC 3339 with nanoseconds).
    pub time: String,
}

impl Stack {
    /// The project's containers, sorted by service and number.
    pub fn containers(&self) -> Result<Vec<ContainerInfo>, StackError> {
        let mut out = Vec::new();
        for c in self.project_containers()? {
            let record = self.runtime.find(&c.id)?;
            let ports = self.ports.of(&c.id)?;
            let mut exposed: Vec<(u16, String)> = record
                .exposed_ports
                .iter()
                .filter_map(|p| p.split_once('/').and_then(|(port, protocol)| Some((port.parse().ok()?, protocol.to_string()))))
                .filter(|(port, protocol)| !ports.iter().any(|b| b.container_port == *port && b.protocol == *protocol))
                .collect();
            exposed.sort();
            out.push(ContainerInfo {
                service: c.labels.get(labels::SERVICE).cloned().unwrap_or_default(),
                oneoff: c.labels.get(labels::ONEOFF).map(String::as_str) == Some("True"),
                image: record.image.clone(),
                command: record.supervisor.spec.process.args.clone(),
                created: record.created.clone(),
                log_path: record.supervisor.log_path.clone(),
                logs_discarded: record.supervisor.log.discard,
                ports,
                exposed,
                state: c.state,
                labels: c.labels,
                id: c.id,
                name: c.name,
            });
        }
        out.sort_by(|a, b| (&a.service, &a.name).cmp(&(&b.service, &b.name)));
        Ok(out)
    }

    /// The log lines of `container`, oldest first: its rotated files (gzipped or not) and its
    /// current one, as Docker's `json-file` reader reads them. A container whose logging driver
    /// keeps nothing (`none`) has none to read: Docker's error, which compose turns into a
    /// warning.
    pub fn log_lines(&self, container: &ContainerInfo) -> Result<Vec<LogLine>, StackError> {
        if container.logs_discarded {
            return Err(StackError::LogsUnreadable("configured logging driver does not support reading".into()));
        }
        let entries = xcompose_supervisor::log::read_all(&container.log_path).map_err(StackError::io(&container.log_path))?;
        Ok(entries.into_iter().map(|e| LogLine { log: e.log, stream: e.stream.as_str().to_string(), time: e.time }).collect())
    }
}
