//! The supervision loop: start the container, copy its output into the log, run its healthcheck,
//! record its state, and restart it by its policy until it is stopped for good.

use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use chrono::Utc;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use xcompose_cgroups::Cgroup;
use xcompose_container::{capture_output, exec, spawn, spawn_with_terminal, ContainerSpec, ExecSpec, Namespace, Stdio};
use xcompose_events::Source;

use crate::health::{Health, HealthConfig, HealthStatus};
use crate::log::{LogOptions, LogWriter, Stream};
use crate::restart::{Backoff, RestartPolicy};
use crate::state::{ContainerState, Status};
use crate::stdin::{StdinConfig, StdinTarget};

/// How to supervise one container.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SupervisorConfig {
    /// The container to run.
    pub spec: ContainerSpec,
    /// Its restart policy.
    pub restart: RestartPolicy,
    /// Its healthcheck: the probe command (already in exec form) and its timing.
    pub healthcheck: Option<(Vec<String>, HealthConfig)>,
    /// The JSON log file.
    pub log_path: PathBuf,
    /// How its output is kept: rotation, compression, or not at all.
    #[serde(default)]
    pub log: LogOptions,
    /// Where the state is recorded.
    pub state_path: PathBuf,
    /// Where its events go (start, die, oom, health_status, pause, kill, stop), if anywhere.
    #[serde(default)]
    pub events: Option<Source>,
    /// Namespaces taken from other containers each time it starts (`pid` / `ipc: service:x`).
    #[serde(default)]
    pub shared_namespaces: Vec<SharedNamespace>,
    /// Where a tmpfs is mounted (in the supervisor's mount namespace) while it runs, to be its
    /// `/dev/shm` and that of the containers joining its IPC namespace (`ipc: shareable`).
    #[serde(default)]
    pub shm_dir: Option<PathBuf>,
    /// The socket its stdin is fed through (`stdin_open`), if any.
    #[serde(default)]
    pub stdin: Option<StdinConfig>,
}

/// Which namespace of another container a container joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SharedKind {
    /// Its process ids (`pid: service:x`).
    Pid,
    /// Its IPC (`ipc: service:x`).
    Ipc,
}

/// A namespace joined from another container, found when the container starts (the other's
/// processes change when it restarts).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SharedNamespace {
    /// Which namespace.
    pub kind: SharedKind,
    /// The other container's name, for errors.
    pub container: String,
    /// Its state file, holding the pid of its PID 1 while it runs.
    pub state_path: PathBuf,
}

impl SharedNamespace {
    /// The namespace file of the other container's current run; an error naming it if it does
    /// not run (Docker: "container x is not running").
    fn path(&self) -> Result<PathBuf> {
        let state = ContainerState::load(&self.state_path).ok();
        let pid = state.filter(|s| s.status == Status::Running).and_then(|s| s.pid);
        let Some(pid) = pid else { return Err(format!("cannot join the {} namespace of container {}: container {} is not running", self.kind.name(), self.container, self.container)) };
        Ok(PathBuf::from(format!("/proc/{pid}/ns/{}", self.kind.name())))
    }
}

impl SharedKind {
    /// The kernel's name of the namespace (`/proc/PID/ns/NAME`).
    fn name(self) -> &'static str {
        match self {
            SharedKind::Pid => "pid",
            SharedKind::Ipc => "ipc",
        }
    }
}

/// A supervisor, shared between the loop and whoever asks it to stop.
#[derive(Debug)]
pub struct Supervisor {
    config: SupervisorConfig,
    cgroup: Option<Cgroup>,
    state: Mutex<ContainerState>,
    stopping: AtomicBool,
    current_pid: Mutex<Option<u32>>,
    stdin: StdinTarget,
    /// Where to tell whoever started this supervisor that its container's first run is
    /// recorded as running (see [`Supervisor::notify_start_to`]).
    start_notice: Mutex<Option<std::fs::File>>,
}

type Result<T> = std::result::Result<T, String>;

impl Supervisor {
    /// A supervisor for `config` whose container runs in `cgroup`, recorded as created.
    pub fn new(config: SupervisorConfig, cgroup: Option<Cgroup>) -> Result<Arc<Self>> {
        let state = ContainerState::created();
        state.save(&config.state_path).map_err(|e| format!("writing {}: {e}", config.state_path.display()))?;
        Ok(Arc::new(Self { config, cgroup, state: Mutex::new(state), stopping: AtomicBool::new(false), current_pid: Mutex::new(None), stdin: StdinTarget::default(), start_notice: Mutex::new(None) }))
    }

    /// Writes one byte to `notice` once the container's next run is recorded as running, and
    /// closes it: whoever started the supervisor waits on it instead of polling the state file.
    pub fn notify_start_to(&self, notice: std::fs::File) {
        *self.start_notice.lock().expect("notice lock") = Some(notice);
    }

    /// The recorded state.
    pub fn state(&self) -> ContainerState {
        self.state.lock().expect("state lock").clone()
    }

    fn emit(&self, action: &str, extra: &[(&str, String)]) {
        if let Some(events) = &self.config.events {
            events.emit(action, extra);
        }
    }

    fn update(&self, f: impl FnOnce(&mut ContainerState)) {
        let mut state = self.state.lock().expect("state lock");
        f(&mut state);
        // A failed state write is retried on the next change; the loop must go on regardless.
        let _ = state.save(&self.config.state_path);
    }

    /// Runs the container until it exits and its policy says not to restart, or it is stopped.
    /// Returns the last exit code.
    pub fn run(self: &Arc<Self>) -> Result<i32> {
        let options = &self.config.log;
        let log = if options.discard {
            None
        } else {
            let writer = LogWriter::open(&self.config.log_path, options.max_size, options.max_files)
                .map_err(|e| format!("opening log {}: {e}", self.config.log_path.display()))?;
            Some(Arc::new(Mutex::new(writer.compressing(options.compress))))
        };
        if let Some(stdin) = &self.config.stdin {
            crate::stdin::serve(stdin, self.stdin.clone()).map_err(|e| format!("listening on {}: {e}", stdin.socket.display()))?;
        }
        let mut backoff = Backoff::default();
        loop {
            let started = Instant::now();
            let exit_code = self.run_once(&log)?;
            if self.stopping.load(Ordering::SeqCst) {
                // Stopped after the exit was recorded as restarting: it stays exited.
                self.update(|s| {
                    if s.status == Status::Restarting {
                        let _ = s.transition(Status::Exited);
                    }
                });
                self.emit("stop", &[]);
                return Ok(exit_code);
            }
            if self.state().status != Status::Restarting {
                return Ok(exit_code);
            }
            let delay = backoff.next_delay(started.elapsed());
            let deadline = Instant::now() + delay;
            while Instant::now() < deadline {
                if self.stopping.load(Ordering::SeqCst) {
                    self.update(|s| {
                        let _ = s.transition(Status::Exited);
                    });
                    return Ok(exit_code);
                }
                thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// One run of the container: start, pump output, probe health, wait, record the exit (and
    /// whether its policy restarts it).
    fn run_once(self: &Arc<Self>, log: &Option<Arc<Mutex<LogWriter>>>) -> Result<i32> {
        let spec = self.spec_for_this_run()?;
        let (pending, outputs, stdin) = if spec.tty {
            // Its terminal, made in the container; all its output comes on the master, as stdout
            // (Docker's logs of a tty container), and the master keeps its input open.
            let (ours, theirs) = xcompose_container::console::console_socket()?;
            (spawn_with_terminal(&spec, theirs).map_err(|e| e.to_string())?, Outputs::Terminal(ours), None)
        } else {
            let (out_read, stdio_out) = pipe_pair()?;
            let (err_read, stdio_err) = pipe_pair()?;
            // stdin_open: a pipe whose writing end is held until the container ends, written by
            // the clients of the stdin socket.
            let (stdin, held) = if spec.stdin_open { pipe_pair().map(|(r, w)| (Some(r), Some(w)))? } else { (None, None) };
            (spawn(&spec, Stdio { stdin, stdout: Some(stdio_out), stderr: Some(stdio_err) }).map_err(|e| e.to_string())?, Outputs::Pipes(out_read, err_read), held)
        };
        if let Some(cg) = &self.cgroup {
            cg.add_process(pending.pid()).map_err(|e| e.to_string())?;
        }
        let oom_before = self.oom_kills();
        let running = pending.start().map_err(|e| e.to_string())?;
        let pumps = match outputs {
            Outputs::Pipes(out_read, err_read) => vec![pump(out_read, Stream::Stdout, log.clone()), pump(err_read, Stream::Stderr, log.clone())],
            Outputs::Terminal(socket) => match xcompose_container::console::receive_terminal(&socket)? {
                Some(master) => {
                    // What is typed into its terminal is written to the master.
                    self.stdin.set(master.try_clone().map_err(|e| format!("duplicating the terminal: {e}"))?);
                    vec![pump(master, Stream::Stdout, log.clone())]
                }
                None => Vec::new(),
            },
        };
        if let Some(stdin) = stdin {
            self.stdin.set(stdin);
        }
        *self.current_pid.lock().expect("pid lock") = Some(running.pid);
        let started_at = Instant::now();
        self.update(|s| {
            let _ = s.transition(Status::Running);
            s.pid = Some(running.pid);
            s.started_at = Some(Utc::now());
            s.exit_code = None;
            s.oom_killed = false;
            s.health = self.config.healthcheck.as_ref().map(|_| Health::default());
        });
        if let Some(mut notice) = self.start_notice.lock().expect("notice lock").take() {
            // Its reader may be gone (it gave up waiting): nothing to tell then.
            let _ = std::io::Write::write_all(&mut notice, b"\n");
        }
        self.emit("start", &[]);
        let done = Arc::new(AtomicBool::new(false));
        let prober = self.config.healthcheck.clone().map(|(cmd, cfg)| {
            let me = self.clone();
            let done = done.clone();
            thread::spawn(move || me.probe_loop(running.pid, &cmd, &cfg, started_at, &done))
        });
        let exit_code = running.wait().map_err(|e| e.to_string())?;
        done.store(true, Ordering::SeqCst);
        self.stdin.clear();
        *self.current_pid.lock().expect("pid lock") = None;
        // The container ends with its main process, as with Docker: what it left running (in a
        // pid namespace it shares, or exec'd processes) is killed before its output is drained.
        self.kill_leftovers();
        for p in pumps {
            let _ = p.join();
        }
        if let Some(p) = prober {
            let _ = p.join();
        }
        let oom = self.oom_kills() > oom_before;
        self.update(|s| {
            // As Docker: a container its policy restarts is recorded restarting at once, never
            // showing `exited` in between (the two transitions make one write).
            let restarting = !self.stopping.load(Ordering::SeqCst) && self.config.restart.should_restart(exit_code, s.restart_count, s.stopped_by_user);
            let _ = s.transition(Status::Exited);
            if restarting {
                let _ = s.transition(Status::Restarting);
                s.restart_count += 1;
            }
            s.pid = None;
            s.exit_code = Some(exit_code);
            s.oom_killed = oom;
            s.finished_at = Some(Utc::now());
            // Docker marks the health unhealthy when its monitor stops with the process
            // (moby's CloseMonitorChannel), so whoever waits for a healthy container that
            // crash-loops learns it at its first exit; the next run starts `starting` again.
            if let Some(h) = s.health.as_mut() {
                h.status = HealthStatus::Unhealthy;
            }
        });
        if oom {
            self.emit("oom", &[]);
        }
        self.emit("die", &[("exitCode", exit_code.to_string())]);
        Ok(exit_code)
    }

    /// The spec with the namespaces of the other containers it shares as they are now.
    fn spec_for_this_run(&self) -> Result<ContainerSpec> {
        let mut spec = self.config.spec.clone();
        for shared in &self.config.shared_namespaces {
            let path = Namespace::Join(shared.path()?);
            match shared.kind {
                SharedKind::Pid => spec.namespaces.pid = path,
                SharedKind::Ipc => spec.namespaces.ipc = path,
            }
        }
        Ok(spec)
    }

    fn oom_kills(&self) -> u64 {
        self.cgroup.as_ref().and_then(|c| c.stats().ok()).map(|s| s.oom_kills).unwrap_or(0)
    }

    fn probe_loop(&self, pid: u32, cmd: &[String], cfg: &HealthConfig, started: Instant, done: &AtomicBool) {
        let mut next = started + self.state().health.unwrap_or_default().next_probe_in(cfg, Duration::ZERO);
        while !done.load(Ordering::SeqCst) {
            if Instant::now() < next {
                thread::sleep(Duration::from_millis(10));
                continue;
            }
            let (code, output) = self.probe(pid, cmd, cfg.timeout);
            if done.load(Ordering::SeqCst) {
                return;
            }
            let since = started.elapsed();
            let mut wait = cfg.interval;
            let mut changed = None;
            self.update(|s| {
                if let Some(h) = s.health.as_mut() {
                    let before = h.status;
                    h.record(cfg, code, &output, since);
                    wait = h.next_probe_in(cfg, since);
                    changed = (h.status != before).then_some(h.status);
                }
            });
            if let Some(status) = changed {
                self.emit(&format!("health_status: {}", status.as_str()), &[]);
            }
            next = Instant::now() + wait;
        }
    }

    /// Runs the probe command in the container, killing it past `timeout` (exit code -1).
    fn probe(&self, pid: u32, cmd: &[String], timeout: Duration) -> (i32, String) {
        let spec = &self.config.spec;
        let Ok((read, stdio)) = capture_output() else { return (-1, "cannot create a pipe".into()) };
        let exec_spec = ExecSpec {
            cgroup_procs: self.cgroup.as_ref().map(|c| c.paths().iter().map(|p| p.join("cgroup.procs")).collect()).unwrap_or_default(),
            ..ExecSpec::in_container(spec, pid, cmd.to_vec())
        };
        let process = match exec(&exec_spec, stdio) {
            Ok(p) => p,
            Err(e) => return (-1, e.to_string()),
        };
        let reader = thread::spawn(move || {
            let mut out = String::new();
            let _ = std::io::Read::read_to_string(&mut std::fs::File::from(read), &mut out);
            out
        });
        let relay = process.pid();
        let watchdog_done = Arc::new(AtomicBool::new(false));
        let flag = watchdog_done.clone();
        let watchdog = thread::spawn(move || {
            let deadline = Instant::now() + timeout;
            while !flag.load(Ordering::SeqCst) {
                if Instant::now() >= deadline {
                    let _ = kill(Pid::from_raw(relay as i32), Signal::SIGKILL);
                    return true;
                }
                thread::sleep(Duration::from_millis(10));
            }
            false
        });
        let code = process.wait().unwrap_or(-1);
        watchdog_done.store(true, Ordering::SeqCst);
        let timed_out = watchdog.join().unwrap_or(false);
        let output = reader.join().unwrap_or_default();
        if timed_out {
            (-1, format!("Health check exceeded timeout ({timeout:?})"))
        } else {
            (code, output)
        }
    }

    /// Stops the container: signal number `signal` (a real-time one too, as systemd images'
    /// `STOPSIGNAL SIGRTMIN+3`), then SIGKILL after `grace`; no restart follows.
    pub fn stop(&self, signal: i32, grace: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        self.update(|s| s.stopped_by_user = true);
        let Some(pid) = *self.current_pid.lock().expect("pid lock") else { return };
        let pid = Pid::from_raw(pid as i32);
        self.emit("kill", &[("signal", signal.to_string())]);
        // nix's `Signal` has no real-time signals: kill(2) with the number itself.
        // SAFETY: kill(2) takes any pid and signal number; a bad one is only an error return.
        unsafe { nix::libc::kill(pid.as_raw(), signal) };
        // A frozen container cannot act on any signal: thaw it, as Docker does on stop.
        if self.state().status == Status::Paused {
            let _ = self.set_paused(false);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.current_pid.lock().expect("pid lock").is_none() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        self.emit("kill", &[("signal", (Signal::SIGKILL as i32).to_string())]);
        let _ = kill(pid, Signal::SIGKILL);
        self.kill_leftovers();
    }

    /// Kills every process left in the container's cgroup.
    fn kill_leftovers(&self) {
        if let Some(cgroup) = &self.cgroup {
            if let Err(e) = cgroup.kill_all() {
                eprintln!("killing the container's processes: {e}");
            }
        }
    }

    /// Freezes (`true`) or thaws (`false`) every process of the container through its cgroup's
    /// freezer, recording `paused` / `running`.
    pub fn set_paused(&self, paused: bool) -> Result<()> {
        let cgroup = self.cgroup.as_ref().ok_or("pausing needs the container to have a cgroup")?;
        let (from, to) = if paused { (Status::Running, Status::Paused) } else { (Status::Paused, Status::Running) };
        let status = self.state().status;
        if status != from {
            return Err(format!("container is {status:?}, not {from:?}"));
        }
        cgroup.set_frozen(paused).map_err(|e| e.to_string())?;
        self.update(|s| {
            let _ = s.transition(to);
        });
        self.emit(if paused { "pause" } else { "unpause" }, &[]);
        Ok(())
    }

    /// The current health status, if the container has a healthcheck.
    pub fn health(&self) -> Option<HealthStatus> {
        self.state().health.map(|h| h.status)
    }
}

/// Where a run's output comes from: its stdout and stderr pipes, or the socket its terminal's
/// master arrives on.
enum Outputs {
    Pipes(OwnedFd, OwnedFd),
    Terminal(OwnedFd),
}

fn pipe_pair() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))
}

/// Copies a stream into the log, line by line, until the container closes it; without a log
/// (the `none` driver), the output is read and dropped.
fn pump(read: OwnedFd, stream: Stream, log: Option<Arc<Mutex<LogWriter>>>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(std::fs::File::from(read));
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).map(|n| n > 0).unwrap_or(false) {
            if let Some(Ok(mut w)) = log.as_ref().map(|l| l.lock()) {
                let _ = w.write(stream, &String::from_utf8_lossy(&line), Utc::now());
            }
            line.clear();
        }
    })
}
