//! Teardown is certain: after a drop, a panic, a killed holder or watchdog, or a `kill -9` of the
//! test process itself, no holder, process, namespace or temporary directory is left.
//!
//! The tests here look at every descendant of the test process, so they take a lock and run one at
//! a time (this file is its own test binary, so other files' sandboxes are not descendants).

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use common::{host_links, link_names, live_descendants, parent_of, wait_until, Proc};
use xcompose_testkit::Sandbox;

static SERIAL: Mutex<()> = Mutex::new(());
const TIMEOUT: Duration = Duration::from_secs(15);

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Live descendants of this process still running `sleep infinity` (the holders).
fn leftover_holders() -> Vec<(u32, String)> {
    live_descendants()
        .into_iter()
        .filter(|(_, cmd)| cmd == "sleep infinity")
        .collect()
}

fn assert_nothing_left(what: &[Proc], temp_dir: &std::path::Path) {
    assert!(
        wait_until(TIMEOUT, || what.iter().all(|p| !p.alive())),
        "still running: {:?}",
        what.iter().filter(|p| p.alive()).collect::<Vec<_>>()
    );
    assert!(!temp_dir.exists(), "{} left behind", temp_dir.display());
    assert_eq!(
        leftover_holders(),
        vec![],
        "holders left among this process's descendants"
    );
}

#[test]
fn drop_kills_processes_started_inside_and_their_descendants() {
    let _serial = serial();
    xcompose_testkit::require_root().unwrap();
    let sb = Sandbox::new().unwrap();
    let holders = [Proc::of(sb.pid()), Proc::of(sb.peer_pid())];
    let watchdog = Proc::of(parent_of(sb.pid()));
    assert_eq!(leftover_holders().len(), 2, "{:?}", live_descendants());
    let mut server = sb.command("sleep").arg("1000").spawn().unwrap();
    let server_proc = Proc::of(server.id());
    // A daemon that left its parent (re-parented to init) and has a network namespace of its
    // own: found through the sandbox's mount namespace.
    let daemon_pid = sb
        .run_ok(
            "unshare",
            &[
                "--net",
                "sh",
                "-c",
                "sleep 1000 </dev/null >/dev/null 2>&1 & echo $!",
            ],
        )
        .unwrap();
    let daemon = Proc::of(daemon_pid.trim().parse().unwrap());
    assert_eq!(
        parent_of(daemon.pid),
        1,
        "the daemon should have been re-parented to init"
    );
    // A "container": net, mount and uts namespaces all of its own, a child of a process in the
    // sandbox: found as a descendant.
    let mut runtime = sb
        .command("unshare")
        .args(["--net", "--mount", "--uts", "--fork", "sleep", "1000"])
        .spawn()
        .unwrap();
    let children = format!("/proc/{0}/task/{0}/children", runtime.id());
    let mut container_pid = String::new();
    assert!(wait_until(TIMEOUT, || {
        container_pid = std::fs::read_to_string(&children)
            .unwrap_or_default()
            .trim()
            .to_string();
        !container_pid.is_empty()
    }));
    let container = Proc::of(container_pid.parse().unwrap());
    assert!(
        wait_until(TIMEOUT, || {
            let ns =
                |pid: u32, kind: &str| std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok();
            ["net", "mnt", "uts"]
                .iter()
                .all(|k| ns(container.pid, k).is_some() && ns(container.pid, k) != ns(sb.pid(), k))
        }),
        "the container did not get namespaces of its own"
    );
    let mut peer_process = sb.peer_command("sleep").arg("1000").spawn().unwrap();
    let peer_proc = Proc::of(peer_process.id());
    let temp_dir = sb.temp_dir().to_path_buf();
    drop(sb);
    for (what, process) in [
        ("server", server_proc),
        ("peer process", peer_proc),
        ("daemon", daemon),
        ("container", container),
    ] {
        assert!(!process.alive(), "the {what} started inside still runs");
    }
    assert!(
        server.try_wait().unwrap().is_some(),
        "the server started inside still runs"
    );
    assert!(
        runtime.try_wait().unwrap().is_some(),
        "the runtime started inside still runs"
    );
    assert!(
        peer_process.try_wait().unwrap().is_some(),
        "the peer's process still runs"
    );
    let mut all = holders.to_vec();
    all.extend([watchdog, server_proc, peer_proc, daemon, container]);
    assert_nothing_left(&all, &temp_dir);
}

#[test]
fn drop_after_the_holder_was_killed_leaves_nothing() {
    let _serial = serial();
    xcompose_testkit::require_root().unwrap();
    let sb = Sandbox::new().unwrap();
    let holders = [Proc::of(sb.pid()), Proc::of(sb.peer_pid())];
    let watchdog = Proc::of(parent_of(sb.pid()));
    let mut server = sb.command("sleep").arg("1000").spawn().unwrap();
    let server_proc = Proc::of(server.id());
    let temp_dir = sb.temp_dir().to_path_buf();
    // Something outside kills the sandbox's holder; the server keeps the namespaces alive.
    Command::new("kill")
        .args(["-9", &sb.pid().to_string()])
        .status()
        .unwrap();
    assert!(wait_until(TIMEOUT, || !holders[0].alive()));
    drop(sb);
    assert!(
        server.try_wait().unwrap().is_some(),
        "the server started inside still runs"
    );
    let mut all = holders.to_vec();
    all.extend([watchdog, server_proc]);
    assert_nothing_left(&all, &temp_dir);
}

#[test]
fn drop_after_the_watchdog_was_killed_leaves_nothing() {
    let _serial = serial();
    xcompose_testkit::require_root().unwrap();
    let sb = Sandbox::new().unwrap();
    let holders = [Proc::of(sb.pid()), Proc::of(sb.peer_pid())];
    let watchdog = Proc::of(parent_of(sb.pid()));
    let mut server = sb.command("sleep").arg("1000").spawn().unwrap();
    let server_proc = Proc::of(server.id());
    let temp_dir = sb.temp_dir().to_path_buf();
    Command::new("kill")
        .args(["-9", &watchdog.pid.to_string()])
        .status()
        .unwrap();
    // The holders die with their watchdog (parent-death signal).
    assert!(
        wait_until(TIMEOUT, || holders.iter().all(|h| !h.alive())),
        "holders outlived the watchdog"
    );
    drop(sb);
    assert!(
        server.try_wait().unwrap().is_some(),
        "the server started inside still runs"
    );
    let mut all = holders.to_vec();
    all.extend([watchdog, server_proc]);
    assert_nothing_left(&all, &temp_dir);
}

#[test]
fn a_panicking_test_still_tears_its_sandbox_down() {
    let _serial = serial();
    xcompose_testkit::require_root().unwrap();
    let mut seen = None;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let sb = Sandbox::new().unwrap();
        sb.run_ok("ip", &["link", "add", "xtkbr0", "type", "bridge"])
            .unwrap();
        seen = Some((
            Proc::of(sb.pid()),
            Proc::of(sb.peer_pid()),
            sb.temp_dir().to_path_buf(),
        ));
        panic!("test failure inside the sandbox");
    }));
    assert!(result.is_err());
    let (holder, peer, temp_dir) = seen.unwrap();
    assert_nothing_left(&[holder, peer], &temp_dir);
}

#[test]
#[ignore = "helper process for killing_the_test_process_leaves_nothing"]
#[allow(clippy::zombie_processes)] // this process is killed with `inner` still running
fn helper_make_a_sandbox_and_wait_to_be_killed() {
    let Ok(report) = std::env::var("XTK_HELPER_REPORT") else {
        return;
    };
    let observer = std::env::var("XTK_HELPER_OBSERVER").unwrap();
    let sb = Sandbox::new().unwrap();
    sb.run_ok(
        "ip",
        &[
            "link", "add", "xtkka", "type", "veth", "peer", "name", "xtkkb", "netns", &observer,
        ],
    )
    .unwrap();
    let inner = sb.command("sleep").arg("1000").spawn().unwrap();
    let line = format!(
        "{} {} {} {} {}\n",
        sb.pid(),
        sb.peer_pid(),
        parent_of(sb.pid()),
        inner.id(),
        sb.temp_dir().display()
    );
    std::fs::write(format!("{report}.tmp"), line).unwrap();
    std::fs::rename(format!("{report}.tmp"), &report).unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn killing_the_test_process_leaves_nothing() {
    let _serial = serial();
    xcompose_testkit::require_root().unwrap();
    let links_before = host_links();
    let observer = Sandbox::new().unwrap();
    let report = observer.temp_dir().join("report");
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args([
            "helper_make_a_sandbox_and_wait_to_be_killed",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env("XTK_HELPER_REPORT", &report)
        .env("XTK_HELPER_OBSERVER", observer.pid().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if !wait_until(Duration::from_secs(30), || report.exists()) {
        let _ = helper.kill();
        let mut stderr = String::new();
        let _ = helper.stderr.take().unwrap().read_to_string(&mut stderr);
        panic!("the helper never reported its sandbox:\n{stderr}");
    }
    let line = std::fs::read_to_string(&report).unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    let procs: Vec<Proc> = words[..4]
        .iter()
        .map(|pid| Proc::of(pid.parse().unwrap()))
        .collect();
    let temp_dir = PathBuf::from(words[4]);
    assert!(temp_dir.is_dir());
    let observed = || link_names(&observer.run_ok("ip", &["-o", "link"]).unwrap());
    assert!(observed().contains("xtkkb"));

    // kill -9: no destructor runs; the kernel closes the lifeline and the watchdog takes over.
    Command::new("kill")
        .args(["-9", &helper.id().to_string()])
        .status()
        .unwrap();
    helper.wait().unwrap();

    assert!(
        wait_until(TIMEOUT, || procs.iter().all(|p| !p.alive())),
        "left running after kill -9 of the test process: {:?}",
        procs.iter().filter(|p| p.alive()).collect::<Vec<_>>()
    );
    assert!(
        wait_until(TIMEOUT, || !temp_dir.exists()),
        "{} left behind",
        temp_dir.display()
    );
    assert!(
        wait_until(TIMEOUT, || !observed().contains("xtkkb")),
        "the killed test's network namespace still exists"
    );
    drop(observer);
    assert_eq!(host_links(), links_before);
    assert_eq!(leftover_holders(), vec![]);
}
