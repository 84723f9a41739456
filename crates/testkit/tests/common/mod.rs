//! Helpers shared by the harness's own tests: what the host looks like, and processes by pid.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Names of the links in the host's (this process's) network namespace, from `ip -o link`.
pub fn host_links() -> BTreeSet<String> {
    let output = std::process::Command::new("ip")
        .args(["-o", "link"])
        .output()
        .unwrap();
    assert!(output.status.success(), "ip -o link failed: {output:?}");
    link_names(&String::from_utf8(output.stdout).unwrap())
}

/// Interface names in `ip -o link` output ("2: name@peer: <...> ...").
pub fn link_names(ip_o_link: &str) -> BTreeSet<String> {
    ip_o_link
        .lines()
        .filter_map(|line| line.split(": ").nth(1))
        .map(|name| name.split('@').next().unwrap().to_string())
        .collect()
}

/// This process's /proc/self/mountinfo.
pub fn host_mountinfo() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap()
}

/// A process as seen at one moment: its pid and start time, so pid reuse is not mistaken for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proc {
    pub pid: u32,
    start: u64,
}

fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 1..];
    Some(after_comm.split_whitespace().map(str::to_string).collect())
}

impl Proc {
    /// The running process `pid`; panics if there is none.
    pub fn of(pid: u32) -> Proc {
        let fields = stat_fields(pid).unwrap_or_else(|| panic!("no process {pid}"));
        // Fields after the command name start at field 3 (state); starttime is field 22.
        Proc {
            pid,
            start: fields[19].parse().unwrap(),
        }
    }

    /// True while this very process exists and has not exited (a zombie has exited).
    pub fn alive(&self) -> bool {
        match stat_fields(self.pid) {
            Some(fields) => fields[0] != "Z" && fields[19].parse::<u64>().ok() == Some(self.start),
            None => false,
        }
    }
}

/// The parent of `pid`.
pub fn parent_of(pid: u32) -> u32 {
    stat_fields(pid).unwrap()[1].parse().unwrap()
}

/// Live (non-zombie) descendants of this process, with their command lines.
pub fn live_descendants() -> Vec<(u32, String)> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap() {
        let Some(pid) = entry
            .unwrap()
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Some(fields) = stat_fields(pid) else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline)
            .replace('\0', " ")
            .trim_end()
            .to_string();
        all.push((
            pid,
            fields[1].parse::<u32>().unwrap(),
            fields[0] == "Z",
            cmdline,
        ));
    }
    let mut ours = vec![std::process::id()];
    loop {
        let before = ours.len();
        for (pid, ppid, _, _) in &all {
            if ours.contains(ppid) && !ours.contains(pid) {
                ours.push(*pid);
            }
        }
        if ours.len() == before {
            break;
        }
    }
    all.into_iter()
        .filter(|(pid, _, zombie, _)| *pid != std::process::id() && ours.contains(pid) && !zombie)
        .map(|(pid, _, _, cmdline)| (pid, cmdline))
        .collect()
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
