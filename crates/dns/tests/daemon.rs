//! The resolver as a process (`xcompose __dns CONFIG` calls `daemon::main`), forked inside a
//! sandbox: it serves the containers whose client files are there, writes its pid file, serves
//! containers added later once asked over its control socket, and on SIGTERM or SIGINT exits 0
//! and removes its pid file and socket.

mod common;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use xcompose_dns::daemon::{self, control_socket, pid_file, DaemonConfig};

/// Writes a daemon config for `project` (no upstream); its path.
fn config(project: &Project) -> Result<PathBuf, String> {
    let path = project.dir.path().join("config.json");
    let resolv_conf = project.dir.path().join("resolv.conf");
    std::fs::write(&resolv_conf, "# no upstream\n").map_err(|e| e.to_string())?;
    DaemonConfig { clients: project.clients(), resolv_conf }.save(&path).map_err(|e| e.to_string())?;
    Ok(path)
}

/// Forks a child that runs the daemon and leaves with its exit code (100 if it failed).
fn spawn_daemon(config: &Path) -> Result<Pid, String> {
    // SAFETY: the scenario's other threads have ended; the child leaves with _exit.
    match unsafe { fork() }.map_err(|e| e.to_string())? {
        ForkResult::Child => {
            let code = daemon::main(config).unwrap_or(100);
            // SAFETY: leaving the forked child without running the parent's destructors.
            unsafe { nix::libc::_exit(code) }
        }
        ForkResult::Parent { child } => Ok(child),
    }
}

/// Waits until the pid file exists and holds a pid; that pid.
fn wait_for_pid_file(path: &Path) -> Result<i32, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(pid) = text.trim().parse() {
                return Ok(pid);
            }
        }
        if Instant::now() > deadline {
            return Err(format!("{} never appeared", path.display()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn serves_then_stops_on(signal: Signal) -> Result<(), String> {
    host_loopback()?;
    let project = Project::new()?;
    let records = project.dir.path().join("records.json");
    save_records(&records, &[("daemon-web", &[Ipv4Addr::new(10, 89, 0, 5)])])?;
    let first = project.container("first", &[&records], &[])?;
    let config = config(&project)?;
    let child = spawn_daemon(&config)?;

    let pid = wait_for_pid_file(&pid_file(&config))?;
    check(pid == child.as_raw(), || format!("pid file says {pid}, the daemon is {child}"))?;
    let reply = in_netns(&first, || ask_udp("daemon-web", RecordType::A))??;
    check(addresses(&reply) == vec![Ipv4Addr::new(10, 89, 0, 5)], || format!("{reply:?}"))?;
    let reply = in_netns(&first, || ask_udp("not-there", RecordType::A))??;
    check(reply.metadata.response_code == ResponseCode::NXDomain, || format!("{reply:?}"))?;

    // A container added while it runs is served once the control socket says so.
    let second = project.container("second", &[&records], &[])?;
    xcompose_dns::control::sync(&control_socket(&config), "second").map_err(|e| e.to_string())?;
    let reply = in_netns(&second, || ask_tcp("daemon-web", RecordType::A))??;
    check(addresses(&reply) == vec![Ipv4Addr::new(10, 89, 0, 5)], || format!("{reply:?}"))?;

    kill(child, signal).map_err(|e| e.to_string())?;
    let status = waitpid(child, None).map_err(|e| e.to_string())?;
    check(status == WaitStatus::Exited(child, 0), || format!("the daemon ended with {status:?} on {signal}"))?;
    check(!pid_file(&config).exists(), || "the pid file is left behind".into())?;
    check(!control_socket(&config).exists(), || "the control socket is left behind".into())?;
    Ok(())
}

#[test]
fn the_daemon_serves_writes_its_pid_file_and_exits_0_on_sigterm() {
    xcompose_testkit::in_forked_sandbox(|| serves_then_stops_on(Signal::SIGTERM));
}

#[test]
fn the_daemon_exits_0_on_sigint_too() {
    xcompose_testkit::in_forked_sandbox(|| serves_then_stops_on(Signal::SIGINT));
}

#[test]
fn the_daemon_fails_with_a_readable_error_when_its_config_is_broken() {
    xcompose_testkit::in_forked_sandbox(|| {
        let project = Project::new()?;
        let config = project.dir.path().join("config.json");
        std::fs::write(&config, "{\"clients\": 3}").map_err(|e| e.to_string())?;
        let err = daemon::main(&config).err().ok_or("the daemon served with a broken config")?;
        check(err.starts_with(&format!("parsing {}", config.display())), || err.clone())?;
        check(!pid_file(&config).exists(), || "a pid file was written".into())?;
        Ok(())
    });
}
