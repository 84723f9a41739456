//! What the link tests share: a "container", a process in a network namespace of its own.

use std::process::Child;
use std::time::{Duration, Instant};

use xcompose_testkit::Sandbox;

/// A process in a network namespace of its own inside the sandbox, once it has unshared.
pub fn container(sb: &Sandbox) -> anyhow::Result<Child> {
    let child = sb.command("unshare").args(["--net", "sleep", "60"]).spawn()?;
    let sandbox_ns = std::fs::read_link(format!("/proc/{}/ns/net", sb.pid()))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ns = std::fs::read_link(format!("/proc/{}/ns/net", child.id()))?;
        let comm = std::fs::read_to_string(format!("/proc/{}/comm", child.id()))?;
        if ns != sandbox_ns && comm.trim() == "sleep" {
            return Ok(child);
        }
        anyhow::ensure!(Instant::now() < deadline, "the container process never unshared");
        std::thread::sleep(Duration::from_millis(10));
    }
}
