//! Memory cost of supervision: starts N busybox containers, each under its own
//! `xcompose __supervise` process, and reports the supervisors' resident set size (VmRSS).
//! Runs as root inside a testkit sandbox; prints `supervisor RSS: mean X KiB over N`.

use std::path::Path;
use std::time::{Duration, Instant};

use xcompose_container::{ContainerSpec, RootFs};
use xcompose_supervisor::daemon::{pid_file, DaemonConfig};
use xcompose_supervisor::restart::RestartPolicy;
use xcompose_supervisor::run::SupervisorConfig;
use xcompose_supervisor::state::{ContainerState, Status};

const CONTAINERS: usize = 5;

fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn main() {
    // `cargo bench` passes --bench; nothing to parse.
    let sb = xcompose_testkit::Sandbox::new().expect("a sandbox (run as root)");
    let xcompose = env!("CARGO_BIN_EXE_xcompose");
    let mut configs = Vec::new();
    for i in 0..CONTAINERS {
        let dir = sb.root().join(format!("c{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let o = xcompose_testkit::busybox_overlay(&dir).unwrap();
        let mut spec = ContainerSpec::new(
            RootFs::Overlay { lower: vec![o.lower], upper: o.upper, work: o.work, merged: o.merged },
            vec!["/bin/sh".into(), "-c".into(), "while true; do echo tick; sleep 1; done".into()],
        );
        spec.init = true;
        let config = DaemonConfig {
            supervisor: SupervisorConfig {
                spec,
                restart: RestartPolicy::Always,
                healthcheck: None,
                log_path: dir.join("container.log"),
                log: xcompose_supervisor::log::LogOptions { max_size: Some(1 << 20), max_files: 2, ..Default::default() },
                state_path: dir.join("state.json"),
                events: None,
                shared_namespaces: Vec::new(),
                shm_dir: None,
                stdin: None,
            },
            cgroup: None,
            stop_signal: nix::sys::signal::Signal::SIGTERM as i32,
            stop_grace: Duration::from_secs(2),
            seccomp_cache: None,
        };
        let path = dir.join("supervisor.json");
        std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
        sb.run_ok("sh", &["-c", &format!("{xcompose} __supervise {} >/dev/null 2>&1 & exit 0", path.display())]).unwrap();
        configs.push((path, config.supervisor.state_path));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    for (_, state) in &configs {
        while !ContainerState::load(state).is_ok_and(|s| s.status == Status::Running) {
            assert!(Instant::now() < deadline, "containers did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    std::thread::sleep(Duration::from_secs(2));
    let pids: Vec<i32> = configs.iter().map(|(p, _)| std::fs::read_to_string(pid_file(p)).unwrap().trim().parse().unwrap()).collect();
    let rss: Vec<u64> = pids.iter().map(|p| rss_kib(*p)).collect();
    let mean = rss.iter().sum::<u64>() / rss.len() as u64;
    println!("supervisor RSS: mean {mean} KiB over {CONTAINERS} (each: {rss:?} KiB)");
    for pid in pids {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
    }
    for (path, _) in &configs {
        let deadline = Instant::now() + Duration::from_secs(10);
        while pid_file(path).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!Path::new(&pid_file(path)).exists(), "a supervisor did not stop");
    }
}
