//! Liveness and readiness probes from a compose healthcheck.

use serde_json::{json, Map, Value};
use xcompose_loader::model::Healthcheck;

use super::quantity::seconds;

/// The probe running `check`'s test, or `None` when it is disabled (`disable: true`, `NONE`)
/// or has no test (then the image's HEALTHCHECK would apply, which Kubernetes ignores).
/// Docker's defaults (30 s interval and timeout, 3 retries) fill in what is not set, since
/// Kubernetes' own (10 s, 1 s, 3) would fail slow checks that pass under compose.
pub fn probe(check: &Healthcheck) -> Option<Value> {
    if check.disable {
        return None;
    }
    let command: Vec<String> = match check.test.split_first() {
        Some((kind, rest)) if kind == "CMD" => rest.to_vec(),
        Some((kind, rest)) if kind == "CMD-SHELL" => vec!["/bin/sh".into(), "-c".into(), rest.join(" ")],
        _ => return None,
    };
    let mut probe = Map::new();
    probe.insert("exec".into(), json!({"command": command}));
    probe.insert("periodSeconds".into(), json!(seconds(check.interval.map_or(30_000_000_000, |d| d.0), 1)));
    probe.insert("timeoutSeconds".into(), json!(seconds(check.timeout.map_or(30_000_000_000, |d| d.0), 1)));
    probe.insert("failureThreshold".into(), json!(check.retries.unwrap_or(3).max(1)));
    if let Some(start) = check.start_period {
        probe.insert("initialDelaySeconds".into(), json!(seconds(start.0, 0)));
    }
    Some(Value::Object(probe))
}

#[cfg(test)]
mod tests {
    use super::*;
    use xcompose_loader::units::Duration;

    #[test]
    fn shell_checks_run_in_sh() {
        let check = Healthcheck {
            test: vec!["CMD-SHELL".into(), "test -f /x".into()],
            interval: Some(Duration(1_000_000_000)),
            retries: Some(10),
            ..Default::default()
        };
        assert_eq!(
            probe(&check).unwrap(),
            json!({"exec": {"command": ["/bin/sh", "-c", "test -f /x"]}, "periodSeconds": 1, "timeoutSeconds": 30, "failureThreshold": 10})
        );
        assert!(probe(&Healthcheck { test: vec!["NONE".into()], ..Default::default() }).is_none());
        assert!(probe(&Healthcheck { test: vec!["CMD".into(), "true".into()], disable: true, ..Default::default() }).is_none());
    }
}
