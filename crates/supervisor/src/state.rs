//! The recorded state of a container, with Docker's state machine, written atomically.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::health::Health;

/// Docker's container states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created, never started.
    Created,
    /// Its process runs.
    Running,
    /// Frozen.
    Paused,
    /// Waiting to be started again by its restart policy.
    Restarting,
    /// Its process ended.
    Exited,
    /// Could not be removed or stopped cleanly.
    Dead,
}

impl Status {
    /// Docker's word for the state (`running`, `exited`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    /// Whether the state machine allows going from `self` to `to`.
    pub fn can_become(self, to: Status) -> bool {
        use Status::*;
        matches!(
            (self, to),
            (Created, Running | Exited | Dead)
                | (Running, Paused | Exited | Restarting | Dead)
                | (Paused, Running | Exited | Dead)
                | (Restarting, Running | Exited | Dead)
                | (Exited, Running | Restarting | Dead)
        )
    }
}

/// What is known of a container's current or last run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ContainerState {
    /// Current status.
    pub status: Status,
    /// Host pid of its PID 1 while running.
    pub pid: Option<u32>,
    /// Exit code of the last run.
    pub exit_code: Option<i32>,
    /// Whether the last run was killed by the OOM killer.
    pub oom_killed: bool,
    /// Start of the current or last run.
    pub started_at: Option<DateTime<Utc>>,
    /// End of the last run.
    pub finished_at: Option<DateTime<Utc>>,
    /// Restarts done by the restart policy.
    pub restart_count: u32,
    /// Set when the user stopped it, so no policy restarts it.
    pub stopped_by_user: bool,
    /// Health, for containers with a healthcheck.
    pub health: Option<Health>,
}

impl ContainerState {
    /// A container just created.
    pub fn created() -> Self {
        Self {
            status: Status::Created,
            pid: None,
            exit_code: None,
            oom_killed: false,
            started_at: None,
            finished_at: None,
            restart_count: 0,
            stopped_by_user: false,
            health: None,
        }
    }

    /// Moves to `to`, refusing transitions Docker does not make.
    pub fn transition(&mut self, to: Status) -> Result<(), String> {
        if !self.status.can_become(to) {
            return Err(format!("container is {:?}, it cannot become {:?}", self.status, to));
        }
        self.status = to;
        Ok(())
    }

    /// Reads a state file.
    pub fn load(path: &Path) -> std::io::Result<Self> {
        serde_json::from_slice(&std::fs::read(path)?).map_err(std::io::Error::other)
    }

    /// Writes the state file atomically (temp file, fsync, rename, fsync of the directory), so a
    /// crash at any moment leaves either the old or the new state.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        use std::io::Write;
        let dir = path.parent().ok_or_else(|| std::io::Error::other("state path has no directory"))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(&serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        std::fs::File::open(dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_machine_matches_docker() {
        let mut s = ContainerState::created();
        assert!(s.transition(Status::Paused).is_err());
        s.transition(Status::Running).unwrap();
        s.transition(Status::Paused).unwrap();
        assert!(s.transition(Status::Restarting).is_err());
        s.transition(Status::Running).unwrap();
        s.transition(Status::Exited).unwrap();
        s.transition(Status::Restarting).unwrap();
        s.transition(Status::Running).unwrap();
        assert!(s.transition(Status::Created).is_err());
    }

    #[test]
    fn saves_atomically_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut s = ContainerState::created();
        s.save(&path).unwrap();
        s.transition(Status::Running).unwrap();
        s.pid = Some(42);
        s.save(&path).unwrap();
        assert_eq!(ContainerState::load(&path).unwrap(), s);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().filter(|e| e.file_name() != "state.json").collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }
}
