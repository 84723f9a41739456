//! The DNS server as a process (`xcompose __dns CONFIG` calls `daemon::main`), forked inside a
//! sandbox: it serves from its config, writes its pid file, and on SIGTERM or SIGINT exits 0
//! and removes it.

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
use xcompose_dns::daemon::{self, pid_file, DaemonConfig};

/// Writes a daemon config for the test network in `dir`; its path.
fn config(dir: &Path, listen: Ipv4Addr) -> Result<PathBuf, String> {
    let path = dir.join("dns.json");
    let config = DaemonConfig {
        listen,
        port: 53,
        records: dir.join("records.json"),
        resolv_conf: dir.join("resolv.conf"),
    };
    config.save(&path).map_err(|e| e.to_string())?;
    Ok(path)
}

/// Forks a child that runs the daemon and leaves with its exit code (100 if it failed).
fn spawn_daemon(config: &Path) -> Result<Pid, String> {
    // SAFETY: the scenario has no other thread yet; the child leaves with _exit.
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
    network()?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    save_records(&dir.path().join("records.json"), &[("daemon-web", &[Ipv4Addr::new(10, 89, 0, 5)])])?;
    std::fs::write(dir.path().join("resolv.conf"), "# no upstream\n").map_err(|e| e.to_string())?;
    let config = config(dir.path(), GATEWAY)?;
    let child = spawn_daemon(&config)?;

    let pid = wait_for_pid_file(&pid_file(&config))?;
    check(pid == child.as_raw(), || format!("pid file says {pid}, the daemon is {child}"))?;
    let reply = ask_udp("daemon-web", RecordType::A)?;
    check(addresses(&reply) == vec![Ipv4Addr::new(10, 89, 0, 5)], || format!("{reply:?}"))?;
    let reply = ask_udp("not-there", RecordType::A)?;
    check(reply.metadata.response_code == ResponseCode::NXDomain, || format!("{reply:?}"))?;

    kill(child, signal).map_err(|e| e.to_string())?;
    let status = waitpid(child, None).map_err(|e| e.to_string())?;
    check(status == WaitStatus::Exited(child, 0), || format!("the daemon ended with {status:?} on {signal}"))?;
    check(!pid_file(&config).exists(), || "the pid file is left behind".into())?;
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
fn the_daemon_fails_with_a_readable_error_when_the_gateway_address_is_not_there() {
    xcompose_testkit::in_forked_sandbox(|| {
        network()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        // 10.89.1.1 is on no interface of the sandbox.
        let config = config(dir.path(), Ipv4Addr::new(10, 89, 1, 1))?;
        let err = daemon::main(&config).err().ok_or("the daemon served on an address it does not have")?;
        check(err.starts_with("binding the DNS server to udp 10.89.1.1:53"), || err.clone())?;
        check(!pid_file(&config).exists(), || "a pid file was written".into())?;
        Ok(())
    });
}
