//! Healthcheck bookkeeping: when to probe next and what the results mean, as Docker defines it.
//!
//! A container starts `starting`. Each probe that passes makes it `healthy` and resets the failure
//! streak; `retries` consecutive failures make it `unhealthy`. Failures during `start_period` do
//! not count (a pass during it still makes the container healthy). While `starting`, probes run
//! every `start_interval`, then every `interval`. Every restart resets the state.

use std::time::Duration;

/// Health of a container with a healthcheck.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// No verdict yet.
    Starting,
    /// The last probe passed.
    Healthy,
    /// `retries` probes in a row failed.
    Unhealthy,
}

impl HealthStatus {
    /// Docker's word for it: `starting`, `healthy`, `unhealthy`.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

/// The timing of a healthcheck, with Docker's defaults.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HealthConfig {
    /// Between probes (default 30s).
    pub interval: Duration,
    /// A probe running longer fails (default 30s).
    pub timeout: Duration,
    /// Consecutive failures that make the container unhealthy (default 3).
    pub retries: u32,
    /// Failures in this first period do not count (default 0).
    pub start_period: Duration,
    /// Between probes during the start period (default 5s).
    pub start_interval: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
            retries: 3,
            start_period: Duration::ZERO,
            start_interval: Duration::from_secs(5),
        }
    }
}

/// One probe's outcome, kept for `inspect` (Docker keeps the last five).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Probe {
    /// Exit code of the probe (`-1` for a timeout).
    pub exit_code: i32,
    /// Its output, cut to 4 KiB.
    pub output: String,
}

/// The health record of one container run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Health {
    /// Current status.
    pub status: HealthStatus,
    /// Consecutive failures counted.
    pub failing_streak: u32,
    /// The last probes, newest last.
    pub log: Vec<Probe>,
}

/// Probes kept in [`Health::log`].
pub const KEPT_PROBES: usize = 5;
/// Output kept per probe.
pub const MAX_OUTPUT: usize = 4096;

impl Default for Health {
    fn default() -> Self {
        Self { status: HealthStatus::Starting, failing_streak: 0, log: Vec::new() }
    }
}

impl Health {
    /// Records a probe that finished `since_start` after the container started.
    pub fn record(&mut self, config: &HealthConfig, exit_code: i32, output: &str, since_start: Duration) {
        let mut output = output.to_string();
        if output.len() > MAX_OUTPUT {
            let mut cut = MAX_OUTPUT;
            while !output.is_char_boundary(cut) {
                cut -= 1;
            }
            output.truncate(cut);
        }
        self.log.push(Probe { exit_code, output });
        if self.log.len() > KEPT_PROBES {
            self.log.remove(0);
        }
        if exit_code == 0 {
            self.status = HealthStatus::Healthy;
            self.failing_streak = 0;
            return;
        }
        if since_start < config.start_period && self.status == HealthStatus::Starting {
            return;
        }
        self.failing_streak += 1;
        if self.failing_streak >= config.retries {
            self.status = HealthStatus::Unhealthy;
        }
    }

    /// How long to wait before the next probe.
    pub fn next_probe_in(&self, config: &HealthConfig, since_start: Duration) -> Duration {
        if self.status == HealthStatus::Starting && since_start < config.start_period {
            config.start_interval
        } else {
            config.interval
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> HealthConfig {
        HealthConfig { interval: Duration::from_secs(1), retries: 3, start_period: Duration::from_secs(10), ..Default::default() }
    }

    #[test]
    fn a_pass_makes_it_healthy_and_retries_failures_unhealthy() {
        let c = cfg();
        let mut h = Health::default();
        let late = Duration::from_secs(20);
        h.record(&c, 0, "ok", late);
        assert_eq!(h.status, HealthStatus::Healthy);
        h.record(&c, 1, "", late);
        h.record(&c, 1, "", late);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Healthy, 2));
        h.record(&c, 1, "", late);
        assert_eq!(h.status, HealthStatus::Unhealthy);
        h.record(&c, 0, "", late);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Healthy, 0));
    }

    #[test]
    fn failures_in_the_start_period_do_not_count() {
        let c = cfg();
        let mut h = Health::default();
        for _ in 0..5 {
            h.record(&c, 1, "", Duration::from_secs(2));
        }
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Starting, 0));
        assert_eq!(h.next_probe_in(&c, Duration::from_secs(2)), c.start_interval);
        assert_eq!(h.next_probe_in(&c, Duration::from_secs(12)), c.interval);
    }

    #[test]
    fn the_log_keeps_five_short_entries() {
        let c = cfg();
        let mut h = Health::default();
        for i in 0..7 {
            h.record(&c, i, &"é".repeat(3000), Duration::from_secs(30));
        }
        assert_eq!(h.log.len(), KEPT_PROBES);
        assert_eq!(h.log[0].exit_code, 2);
        assert!(h.log.iter().all(|p| p.output.len() <= MAX_OUTPUT));
    }
}
