//! Real cgroups on this host (run as root): limits are written and enforced, freezing stops
//! processes, an OOM kill is counted, and destroy leaves nothing behind.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use xcompose_cgroups::{Cgroup, Resources};

/// A cgroup removed when the test ends, even on panic.
struct Guard(Cgroup);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.destroy();
    }
}

fn unique_name() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("test-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

/// Starts `sh -c script` held at a `read` until released, so it can be put in the cgroup first.
fn spawn_held(script: &str) -> Child {
    Command::new("sh")
        .args(["-c", &format!("read _; {script}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn release(child: &mut Child) {
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "process did not exit in {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn limits_are_written_and_paths_removed_on_destroy() {
    let resources = Resources { memory_limit: Some(32 << 20), pids_limit: Some(20), cpus: Some(0.5), ..Default::default() };
    let cg = Cgroup::create(&unique_name(), &resources).unwrap();
    let paths = cg.paths();
    assert!(!paths.is_empty() && paths.iter().all(|p| p.is_dir()));
    assert_eq!(cg.stats().unwrap().memory_limit, Some(32 << 20));
    let reopened = Cgroup::open(&paths).unwrap();
    assert_eq!(reopened.paths(), paths);
    cg.destroy().unwrap();
    assert!(paths.iter().all(|p| !p.exists()), "{paths:?}");
    // The shared parent goes with the last container cgroup, unless another test still has one.
    let parent_left = paths.iter().any(|p| p.parent().unwrap().exists());
    let others = paths.iter().any(|p| std::fs::read_dir(p.parent().unwrap()).map(|d| d.flatten().any(|e| e.path().is_dir())).unwrap_or(false));
    assert!(!parent_left || others);
}

#[test]
fn memory_limit_is_enforced_and_the_oom_kill_counted() {
    let resources = Resources { memory_limit: Some(16 << 20), memory_swap_limit: Some(16 << 20), ..Default::default() };
    let guard = Guard(Cgroup::create(&unique_name(), &resources).unwrap());
    // tail buffers /dev/zero forever looking for a newline: it grows until the limit kills it.
    let mut child = spawn_held("exec tail /dev/zero");
    guard.0.add_process(child.id()).unwrap();
    release(&mut child);
    let status = wait_with_timeout(&mut child, Duration::from_secs(30));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "{status:?}");
    assert!(guard.0.stats().unwrap().oom_kills >= 1);
}

#[test]
fn pids_limit_stops_forks() {
    let resources = Resources { pids_limit: Some(5), ..Default::default() };
    let guard = Guard(Cgroup::create(&unique_name(), &resources).unwrap());
    let mut child = spawn_held("for i in 1 2 3 4 5 6 7 8 9 10; do sleep 2 & done; wait");
    guard.0.add_process(child.id()).unwrap();
    release(&mut child);
    std::thread::sleep(Duration::from_millis(300));
    let pids = guard.0.stats().unwrap().pids;
    assert!(pids <= 5, "pids.current = {pids}");
    assert!(guard.0.processes().unwrap().len() <= 5);
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("fork"), "the shell should report failed forks: {text}");
}

#[test]
fn freezing_stops_progress_and_thawing_resumes_it() {
    let dir = tempfile_dir();
    let file = dir.join("ticks");
    let guard = Guard(Cgroup::create(&unique_name(), &Resources::default()).unwrap());
    let mut child = spawn_held(&format!("while :; do echo x >> {}; sleep 0.02; done", file.display()));
    guard.0.add_process(child.id()).unwrap();
    release(&mut child);
    std::thread::sleep(Duration::from_millis(200));
    guard.0.set_frozen(true).unwrap();
    let frozen_len = std::fs::metadata(&file).unwrap().len();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(std::fs::metadata(&file).unwrap().len(), frozen_len, "a frozen process wrote");
    guard.0.set_frozen(false).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(std::fs::metadata(&file).unwrap().len() > frozen_len, "a thawed process did not resume");
    guard.0.destroy().unwrap();
    assert!(child.wait().is_ok());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn destroy_kills_remaining_processes() {
    let cg = Cgroup::create(&unique_name(), &Resources::default()).unwrap();
    let mut child = spawn_held("exec sleep 60");
    cg.add_process(child.id()).unwrap();
    release(&mut child);
    cg.set_frozen(true).unwrap();
    cg.destroy().unwrap();
    let status = wait_with_timeout(&mut child, Duration::from_secs(5));
    assert!(!status.success());
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(unique_name());
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
