//! [`Sandbox::reboot`]: the sandbox's machine power-cycled, its disk kept.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{Sandbox, COMMON_SETUP, KINDS};
use crate::procs::{self, NsId, PinnedNs};
use crate::watchdog::MARK_VAR;

/// How long the processes of the old boot may take to die.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// Run in the new namespaces: what the old mount namespace had mounted under the sandbox's
/// temporary directory (`$2`) is gone, as after a reboot, then the usual setup (hostname `$1`).
const REBOOT_SETUP: &str = r#"
awk -v dir="$2/" 'index($5, dir) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
  umount -l "$m"
done
"#;

impl Sandbox {
    /// Simulates a reboot of the sandbox's machine, its disk kept: every process of the sandbox
    /// is killed (those started in its peer aside), and from now on the sandbox is a fresh
    /// network + mount + UTS namespace, so every link, address, route, firewall rule and mount
    /// made inside is gone, while [`Sandbox::root`] and [`Sandbox::temp_dir`] keep their files.
    /// Loopback is up and /run is an empty tmpfs again, as after [`Sandbox::new`]; the uplink is
    /// not made again. Host-wide state outside the namespaces (cgroups) stays as the killed
    /// processes left it.
    pub fn reboot(&mut self) -> anyhow::Result<()> {
        self.kill_everything()?;
        let mut holder = self
            .command("unshare")
            .args(["--net", "--mount", "--uts", "--propagation", "private", "--", "sleep", "infinity"])
            .stdin(std::process::Stdio::null())
            .spawn()
            .context("starting the rebooted sandbox's namespace holder (unshare)")?;
        let pid = holder.id();
        // Reaped by the sandbox's teardown (it carries the mark); not by this handle.
        std::thread::spawn(move || holder.wait());
        self.wait_for_new_namespaces(pid)?;
        let old: Vec<PinnedNs> = self.pins.drain(..3).collect();
        let mut new = Vec::new();
        for kind in KINDS {
            new.push(PinnedNs::open(pid, kind).with_context(|| format!("opening /proc/{pid}/ns/{kind}"))?);
        }
        self.pins.splice(0..0, new);
        self.retired.extend(old);
        self.holder = pid;
        let hostname = format!("xtk-{}", self.id.as_str());
        let script = format!("{REBOOT_SETUP}\n{COMMON_SETUP}");
        let temp_dir = self.temp_dir().to_str().context("the sandbox's temporary directory is not UTF-8")?.to_string();
        self.run_ok("sh", &["-c", &script, "xtk-reboot", &hostname, &temp_dir]).context("setting up the rebooted sandbox")?;
        Ok(())
    }

    /// Kills every process of the sandbox (a holder of namespaces it had before an earlier
    /// reboot included: the open namespace files keep those) but its current holder, and none
    /// that runs in its peer, until none is left.
    fn kill_everything(&self) -> anyhow::Result<()> {
        let sandbox: Vec<&PinnedNs> = self.pins[..3].iter().chain(&self.retired).collect();
        let peer = &self.pins[3..];
        let mark = format!("{MARK_VAR}={}", self.mark);
        let deadline = Instant::now() + KILL_TIMEOUT;
        loop {
            let victims: Vec<u32> = procs::members(&sandbox, &mark)
                .into_iter()
                .filter(|&pid| pid != self.holder && pid != self.peer && !in_peer(pid, peer))
                .collect();
            if victims.is_empty() {
                return Ok(());
            }
            anyhow::ensure!(Instant::now() < deadline, "processes of sandbox {} survived its reboot: {victims:?}", self.id());
            for &pid in &victims {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGSTOP);
            }
            for &pid in &victims {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until process `pid` runs `sleep` in namespaces other than the sandbox's current ones.
    fn wait_for_new_namespaces(&self, pid: u32) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let sleeping = std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep");
            let fresh = KINDS.iter().zip(&self.pins).all(|(kind, old)| {
                std::fs::metadata(format!("/proc/{pid}/ns/{kind}")).is_ok_and(|m| NsId::of(&m) != old.id)
            });
            if sleeping && fresh {
                return Ok(());
            }
            anyhow::ensure!(Instant::now() < deadline, "the rebooted sandbox's holder {pid} did not get new namespaces (unshare failed?)");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Whether `pid` lives in one of the peer's namespaces.
fn in_peer(pid: u32, peer: &[PinnedNs]) -> bool {
    peer.iter().any(|ns| std::fs::metadata(format!("/proc/{pid}/ns/{}", ns.kind)).is_ok_and(|m| NsId::of(&m) == ns.id))
}
