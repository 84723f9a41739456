//! The supervision loop on real busybox containers, each test in its own forked sandbox (fresh
//! mount and network namespaces): logs, restart policy after a crash, healthcheck verdicts, stop
//! with a grace period then SIGKILL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use xcompose_container::{ContainerSpec, RootFs};
use xcompose_supervisor::health::{HealthConfig, HealthStatus};
use xcompose_supervisor::log::{read_all, Stream};
use xcompose_supervisor::restart::RestartPolicy;
use xcompose_supervisor::run::{Supervisor, SupervisorConfig};
use xcompose_supervisor::state::{ContainerState, Status};
use xcompose_testkit::in_forked_sandbox;

/// A supervisor config for `script` on a fresh busybox overlay in `dir`.
fn config(dir: &std::path::Path, script: &str) -> SupervisorConfig {
    let o = xcompose_testkit::busybox_overlay(dir).expect("busybox test image");
    let rootfs = RootFs::Overlay { lower: vec![o.lower], upper: o.upper, work: o.work, merged: o.merged };
    SupervisorConfig {
        spec: ContainerSpec::new(rootfs, vec!["/bin/sh".into(), "-c".into(), script.into()]),
        restart: RestartPolicy::No,
        healthcheck: None,
        log_path: dir.join("container.log"),
        log: Default::default(),
        state_path: dir.join("state.json"),
        events: None,
        shared_namespaces: Vec::new(),
        shm_dir: None,
        stdin: None,
    }
}

fn check(cond: bool, what: &str) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what.to_string()) }
}

#[test]
fn output_is_logged_with_its_stream_and_the_exit_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "echo to-out; echo to-err >&2; exit 4");
    in_forked_sandbox(move || {
        let sup = Supervisor::new(cfg.clone(), None)?;
        let code = sup.run()?;
        check(code == 4, "exit code 4")?;
        let entries = read_all(&cfg.log_path).map_err(|e| e.to_string())?;
        check(entries.iter().any(|e| e.log == "to-out\n" && e.stream == Stream::Stdout), "stdout logged")?;
        check(entries.iter().any(|e| e.log == "to-err\n" && e.stream == Stream::Stderr), "stderr logged")?;
        let state = ContainerState::load(&cfg.state_path).map_err(|e| e.to_string())?;
        check(state.status == Status::Exited && state.exit_code == Some(4) && state.finished_at.is_some(), "exit recorded")?;
        Ok(())
    });
}

#[test]
fn on_failure_restarts_up_to_its_limit_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), "echo attempt; exit 1");
    cfg.restart = RestartPolicy::OnFailure { max_retries: Some(2) };
    in_forked_sandbox(move || {
        let sup = Supervisor::new(cfg.clone(), None)?;
        let code = sup.run()?;
        check(code == 1, "the last exit code is returned")?;
        let attempts = read_all(&cfg.log_path).map_err(|e| e.to_string())?.iter().filter(|e| e.log == "attempt\n").count();
        check(attempts == 3, &format!("one run and two restarts, got {attempts} runs"))?;
        check(sup.state().restart_count == 2, "restart count recorded")?;
        Ok(())
    });
}

#[test]
fn healthcheck_turns_healthy_then_unhealthy() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), "touch /tmp/ok; sleep 0.6; rm /tmp/ok; sleep 30");
    let timing = HealthConfig { interval: Duration::from_millis(100), timeout: Duration::from_secs(2), retries: 2, start_period: Duration::ZERO, start_interval: Duration::from_millis(100) };
    cfg.healthcheck = Some((vec!["test".into(), "-f".into(), "/tmp/ok".into()], timing));
    in_forked_sandbox(move || {
        let sup = Supervisor::new(cfg, None)?;
        let runner = { let s = Arc::clone(&sup); std::thread::spawn(move || s.run()) };
        let wait_for = |want: HealthStatus, within: Duration| -> Result<(), String> {
            let deadline = Instant::now() + within;
            while Instant::now() < deadline {
                if sup.health() == Some(want) {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(format!("health never became {want:?}; last {:?}", sup.state().health))
        };
        wait_for(HealthStatus::Healthy, Duration::from_secs(3))?;
        wait_for(HealthStatus::Unhealthy, Duration::from_secs(3))?;
        sup.stop(Signal::SIGKILL as i32, Duration::from_secs(1));
        let code = runner.join().map_err(|_| "the supervisor thread panicked".to_string())??;
        check(code == 137, "killed")?;
        Ok(())
    });
}

/// As Docker's health monitor, stopped with the process: a container that exits before any
/// verdict is unhealthy, so whoever waits for it to be healthy need not wait for probes.
#[test]
fn an_exit_leaves_the_health_unhealthy() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), "exit 1");
    let timing = HealthConfig { interval: Duration::from_secs(30), start_interval: Duration::from_secs(30), ..HealthConfig::default() };
    cfg.healthcheck = Some((vec!["true".into()], timing));
    in_forked_sandbox(move || {
        let sup = Supervisor::new(cfg, None)?;
        check(sup.run()? == 1, "exit code 1")?;
        check(sup.health() == Some(HealthStatus::Unhealthy), &format!("health after the exit: {:?}", sup.state().health))?;
        Ok(())
    });
}

#[test]
fn stop_waits_the_grace_period_then_kills() {
    let dir = tempfile::tempdir().unwrap();
    // busybox sh as PID 1 ignores SIGTERM, so only the SIGKILL after the grace period ends it.
    let mut cfg = config(dir.path(), "echo started; while true; do sleep 1; done");
    cfg.restart = RestartPolicy::Always;
    in_forked_sandbox(move || {
        let sup = Supervisor::new(cfg, None)?;
        let runner = { let s = Arc::clone(&sup); std::thread::spawn(move || s.run()) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while sup.state().status != Status::Running && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let asked = Instant::now();
        sup.stop(Signal::SIGTERM as i32, Duration::from_millis(700));
        let code = runner.join().map_err(|_| "the supervisor thread panicked".to_string())??;
        let took = asked.elapsed();
        check(code == 137, &format!("SIGKILL after the grace period, got {code}"))?;
        check(took >= Duration::from_millis(700), &format!("the grace period was honoured ({took:?})"))?;
        let state = sup.state();
        check(state.stopped_by_user && state.status == Status::Exited && state.restart_count == 0, "no restart after a user stop")?;
        Ok(())
    });
}

#[test]
fn pause_freezes_the_container_and_unpause_resumes_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "while true; do echo tick; sleep 0.05; done");
    in_forked_sandbox(move || {
        let name = format!("pause-test-{}", std::process::id());
        let cgroup = xcompose_cgroups::Cgroup::create(&name, &Default::default()).map_err(|e| e.to_string())?;
        let sup = Supervisor::new(cfg.clone(), Some(cgroup.clone()))?;
        let runner = { let s = Arc::clone(&sup); std::thread::spawn(move || s.run()) };
        let ticks = || read_all(&cfg.log_path).map(|e| e.len()).unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(5);
        while ticks() < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        check(sup.set_paused(false).is_err(), "unpause of a running container is refused")?;
        sup.set_paused(true)?;
        check(sup.state().status == Status::Paused, "state is paused")?;
        std::thread::sleep(Duration::from_millis(100));
        let frozen = ticks();
        std::thread::sleep(Duration::from_millis(400));
        check(ticks() == frozen, "no output while paused")?;
        sup.set_paused(false)?;
        std::thread::sleep(Duration::from_millis(400));
        check(ticks() > frozen, "output resumes after unpause")?;
        // Stopping a paused container thaws it so the signal can act.
        sup.set_paused(true)?;
        sup.stop(Signal::SIGTERM as i32, Duration::from_millis(300));
        runner.join().map_err(|_| "the supervisor thread panicked".to_string())??;
        cgroup.destroy().map_err(|e| e.to_string())?;
        Ok(())
    });
}

/// As Docker: between two runs a container its policy restarts is `restarting`, never `exited`.
#[test]
fn a_restarted_container_is_never_seen_exited() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), "exit 3");
    cfg.restart = RestartPolicy::Always;
    in_forked_sandbox(move || {
        let sup = Supervisor::new(cfg.clone(), None)?;
        let runner = { let s = Arc::clone(&sup); std::thread::spawn(move || s.run()) };
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut seen = Vec::new();
        while Instant::now() < deadline && sup.state().restart_count < 3 {
            let state = ContainerState::load(&cfg.state_path).map_err(|e| e.to_string())?;
            if seen.last() != Some(&state.status) {
                seen.push(state.status);
            }
        }
        sup.stop(Signal::SIGKILL as i32, Duration::from_secs(1));
        runner.join().map_err(|_| "the supervisor thread panicked".to_string())??;
        check(sup.state().restart_count >= 3, &format!("restarts: {}", sup.state().restart_count))?;
        check(seen.contains(&Status::Restarting) && !seen.contains(&Status::Exited), &format!("states seen: {seen:?}"))?;
        check(sup.state().status == Status::Exited, "stopped for good: exited")?;
        Ok(())
    });
}
