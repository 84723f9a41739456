//! Restart policies (`restart:` in compose) and Docker's back-off between restarts.

use std::time::Duration;

/// A container's restart policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Never restart (`no`, the default).
    No,
    /// Always restart, even after a clean exit; a stopped container starts again with the daemon.
    Always,
    /// Restart after a non-zero exit, at most `max_retries` times if given (`on-failure[:N]`).
    OnFailure {
        /// Limit on restarts (`None`: unlimited).
        max_retries: Option<u32>,
    },
    /// Like `always`, except after the user stopped it.
    UnlessStopped,
}

impl std::str::FromStr for RestartPolicy {
    type Err = String;

    /// Parses compose's `restart:` value.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            None | Some((_, "")) => match s.trim_end_matches(':') {
                "" | "no" => Ok(Self::No),
                "always" => Ok(Self::Always),
                "unless-stopped" => Ok(Self::UnlessStopped),
                "on-failure" => Ok(Self::OnFailure { max_retries: None }),
                other => Err(format!("invalid restart policy {other:?}: use no, always, on-failure[:max-retries] or unless-stopped")),
            },
            Some(("on-failure", n)) => n
                .parse()
                .map(|n| Self::OnFailure { max_retries: Some(n) })
                .map_err(|_| format!("invalid restart policy {s:?}: the maximum retry count must be a number")),
            Some(_) => Err(format!("invalid restart policy {s:?}: only on-failure takes a maximum retry count")),
        }
    }
}

impl RestartPolicy {
    /// Whether a container that exited with `exit_code`, after `restarts` restarts, restarts now.
    /// `stopped_by_user` is true when the exit followed `stop`/`kill` by the user: then nothing restarts.
    pub fn should_restart(&self, exit_code: i32, restarts: u32, stopped_by_user: bool) -> bool {
        if stopped_by_user {
            return false;
        }
        match self {
            Self::No => false,
            Self::Always | Self::UnlessStopped => true,
            Self::OnFailure { max_retries } => exit_code != 0 && max_retries.is_none_or(|max| restarts < max),
        }
    }
}

/// Docker's restart delay: 100 ms doubling at each restart up to one minute, back to 100 ms once
/// the container ran for at least 10 seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    delay: Duration,
}

/// The first and smallest delay.
pub const MIN_DELAY: Duration = Duration::from_millis(100);
/// The largest delay.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run at least this long resets the delay.
pub const RESET_AFTER: Duration = Duration::from_secs(10);

impl Default for Backoff {
    fn default() -> Self {
        Self { delay: MIN_DELAY }
    }
}

impl Backoff {
    /// The delay before the next start, given how long the last run lasted; then doubles it.
    pub fn next_delay(&mut self, last_run: Duration) -> Duration {
        if last_run >= RESET_AFTER {
            self.delay = MIN_DELAY;
        }
        let delay = self.delay;
        self.delay = (self.delay * 2).min(MAX_DELAY);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compose_values() {
        assert_eq!("no".parse(), Ok(RestartPolicy::No));
        assert_eq!("".parse(), Ok(RestartPolicy::No));
        assert_eq!("always".parse(), Ok(RestartPolicy::Always));
        assert_eq!("unless-stopped".parse(), Ok(RestartPolicy::UnlessStopped));
        assert_eq!("on-failure".parse(), Ok(RestartPolicy::OnFailure { max_retries: None }));
        assert_eq!("on-failure:3".parse(), Ok(RestartPolicy::OnFailure { max_retries: Some(3) }));
        assert!("sometimes".parse::<RestartPolicy>().is_err());
        assert!("always:3".parse::<RestartPolicy>().is_err());
        assert!("on-failure:x".parse::<RestartPolicy>().is_err());
    }

    #[test]
    fn decisions() {
        use RestartPolicy::*;
        assert!(!No.should_restart(1, 0, false));
        assert!(Always.should_restart(0, 100, false));
        assert!(!Always.should_restart(1, 0, true));
        assert!(UnlessStopped.should_restart(0, 0, false));
        assert!(!UnlessStopped.should_restart(0, 0, true));
        let limited = OnFailure { max_retries: Some(2) };
        assert!(!limited.should_restart(0, 0, false));
        assert!(limited.should_restart(1, 1, false));
        assert!(!limited.should_restart(1, 2, false));
        assert!(OnFailure { max_retries: None }.should_restart(137, 1000, false));
    }

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let mut b = Backoff::default();
        let quick = Duration::from_millis(50);
        let delays: Vec<u128> = (0..4).map(|_| b.next_delay(quick).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 800]);
        for _ in 0..20 {
            b.next_delay(quick);
        }
        assert_eq!(b.next_delay(quick), MAX_DELAY);
        assert_eq!(b.next_delay(Duration::from_secs(11)), MIN_DELAY);
    }
}
