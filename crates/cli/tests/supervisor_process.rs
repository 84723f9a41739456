//! The supervisor as its own process: started by a short-lived command, it outlives it, keeps the
//! container running (logs, state, cgroup), and on SIGTERM stops it within the grace period and
//! cleans up after itself. Runs inside a testkit sandbox.

use std::path::Path;
use std::time::{Duration, Instant};

use xcompose_cgroups::Resources;
use xcompose_container::{ContainerSpec, RootFs};
use xcompose_supervisor::daemon::{pid_file, DaemonConfig};
use xcompose_supervisor::restart::RestartPolicy;
use xcompose_supervisor::run::SupervisorConfig;
use xcompose_supervisor::state::{ContainerState, Status};

fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn state(path: &Path) -> Option<ContainerState> {
    ContainerState::load(path).ok()
}

#[test]
fn the_supervisor_outlives_its_caller_and_stops_cleanly() {
    xcompose_testkit::require_root().unwrap();
    let sb = xcompose_testkit::Sandbox::new().unwrap();
    let dir = sb.root().join("c1");
    std::fs::create_dir_all(&dir).unwrap();
    let o = xcompose_testkit::busybox_overlay(&dir).unwrap();
    let mut spec = ContainerSpec::new(
        RootFs::Overlay { lower: vec![o.lower], upper: o.upper, work: o.work, merged: o.merged },
        vec!["/bin/sh".into(), "-c".into(), "echo hello from the container; while true; do sleep 1; done".into()],
    );
    spec.hostname = "c1".into();
    let cgroup_name = format!("daemon-test-{}", std::process::id());
    let config = DaemonConfig {
        supervisor: SupervisorConfig {
            spec,
            restart: RestartPolicy::Always,
            healthcheck: None,
            log_path: dir.join("container.log"),
            log: Default::default(),
            state_path: dir.join("state.json"),
            events: None,
            shared_namespaces: Vec::new(),
            shm_dir: None,
            stdin: None,
        },
        cgroup: Some((cgroup_name.clone(), Resources { memory_limit: Some(64 << 20), pids_limit: Some(32), ..Default::default() })),
        stop_signal: nix::sys::signal::Signal::SIGTERM as i32,
        stop_grace: Duration::from_millis(500),
        seccomp_cache: None,
    };
    let config_path = dir.join("supervisor.json");
    std::fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();

    // The "CLI": a shell that starts the supervisor in the background and exits at once.
    let xcompose = env!("CARGO_BIN_EXE_xcompose");
    sb.run_ok("sh", &["-c", &format!("{xcompose} __supervise {} >/dev/null 2>&1 & exit 0", config_path.display())]).unwrap();

    wait_until("the container to run", Duration::from_secs(10), || state(&config.supervisor.state_path).is_some_and(|s| s.status == Status::Running));
    wait_until("the log line", Duration::from_secs(5), || {
        std::fs::read_to_string(&config.supervisor.log_path).is_ok_and(|l| l.contains("hello from the container"))
    });
    let supervisor_pid: i32 = std::fs::read_to_string(pid_file(&config_path)).unwrap().trim().parse().unwrap();
    let container_pid = state(&config.supervisor.state_path).unwrap().pid.unwrap();
    let cgroups = std::fs::read_to_string(format!("/proc/{container_pid}/cgroup")).unwrap();
    assert!(cgroups.contains(&cgroup_name), "the container is in its cgroup: {cgroups}");

    let asked = Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(supervisor_pid), nix::sys::signal::Signal::SIGTERM).unwrap();
    wait_until("the supervisor to exit", Duration::from_secs(10), || !Path::new(&format!("/proc/{supervisor_pid}")).exists() || std::fs::read_to_string(format!("/proc/{supervisor_pid}/stat")).is_ok_and(|s| s.contains(") Z ")));
    // busybox sh as PID 1 ignores SIGTERM: only the SIGKILL after the grace period ends it.
    assert!(asked.elapsed() >= Duration::from_millis(500), "the grace period was honoured");
    let last = state(&config.supervisor.state_path).unwrap();
    assert_eq!(last.status, Status::Exited);
    assert_eq!(last.exit_code, Some(137));
    assert_eq!(last.restart_count, 0, "a stop is not followed by a restart");
    assert!(!Path::new(&format!("/proc/{container_pid}")).exists(), "the container process is gone");
    assert!(!pid_file(&config_path).exists(), "the pid file is removed");
    let leftover = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    assert!(!leftover.contains(&cgroup_name));
    let memory_root = Path::new("/sys/fs/cgroup/memory");
    if memory_root.is_dir() {
        let found = std::process::Command::new("find").arg(memory_root).args(["-name", &cgroup_name]).output().unwrap();
        assert!(found.stdout.is_empty(), "the cgroup is removed: {}", String::from_utf8_lossy(&found.stdout));
    }
}
