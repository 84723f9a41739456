//! [`Sandbox`]: a fresh network + mount + UTS namespace with its own state root and an uplink to a
//! peer namespace, torn down on drop.

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use nix::sched::CloneFlags;

use crate::exec;
use crate::names::SandboxId;
use crate::procs::{self, NsId, PinnedNs};
use crate::watchdog::{self, MARK_VAR};

mod reboot;

/// The sandbox's address on the uplink (TEST-NET-2).
const UPLINK_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The peer's address on the uplink (TEST-NET-2).
const PEER_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
/// Prefix length of the uplink's subnet, 198.51.100.0/24.
const UPLINK_PREFIX: u8 = 24;
/// Kinds of namespace a holder has of its own.
const KINDS: [&str; 3] = ["net", "mnt", "uts"];
/// How long a drop waits for the watchdog's teardown before finishing the job itself.
const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Setup run in both holders' namespaces: loopback up, a private tmpfs on /run, a sysfs view of
/// this network namespace on /sys/class/net and /sys/devices/virtual/net (the rest of /sys,
/// cgroups included, stays the host's), and a hostname (`$1`).
const COMMON_SETUP: &str = r#"
set -eu
ip link set lo up
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mkdir -m 1777 /run/lock
mkdir /run/.xtk-sysfs
mount -t sysfs sysfs /run/.xtk-sysfs
mount --bind /run/.xtk-sysfs/class/net /sys/class/net
if [ -d /sys/devices/virtual/net ]; then
  mount --bind /run/.xtk-sysfs/devices/virtual/net /sys/devices/virtual/net
fi
umount -l /run/.xtk-sysfs
rmdir /run/.xtk-sysfs
echo "$1" >/proc/sys/kernel/hostname
"#;

/// A fresh network + mount (+ UTS) namespace with its own state root, torn down on drop.
///
/// - **Isolation.** A holder process (`unshare --net --mount --uts --propagation private sleep
///   infinity`) owns the namespaces; [`Sandbox::run`] and [`Sandbox::command`] enter them with
///   `nsenter`. Mount propagation is private, so mounts made inside never reach the host; /run is a
///   fresh tmpfs, and /sys/class/net shows the sandbox's own interfaces. Loopback is up.
/// - **State root.** [`Sandbox::root`] is an empty directory in a private temporary directory on
///   the host's file system, visible from the test process and from inside the sandbox.
/// - **Uplink.** A veth pair links the sandbox (198.51.100.1/24, [`Sandbox::uplink_addr`]) to a
///   second namespace, the *peer* (198.51.100.2/24, [`Sandbox::peer_addr`]), a stand-in for
///   another machine on the LAN: [`Sandbox::run_in_peer`] checks what is reachable from there.
/// - **Names.** Everything it names is unique per sandbox (test pid + counter, see
///   [`Sandbox::id`]) and fits IFNAMSIZ; the links are created inside the sandbox, never on the host.
/// - **Teardown.** Dropping it kills every process in its namespaces, every process started
///   through it (marked by `XTK_SANDBOX` in its environment, even if it left the namespaces), and
///   all their descendants (such as containers with namespaces of their own), frees the namespaces with all their links and
///   mounts, and removes the temporary directory. A watchdog process does the same if the test
///   process dies without dropping it, even by `kill -9`.
///
/// Everything from the test process's point of view lives in the host's pid namespace: pids printed
/// inside the sandbox are valid outside it.
pub struct Sandbox {
    id: SandboxId,
    /// Value of [`MARK_VAR`] for everything started inside: the temporary directory's unique name.
    mark: String,
    temp_dir: Option<tempfile::TempDir>,
    root: PathBuf,
    watchdog: Option<Child>,
    lifeline: Option<OwnedFd>,
    holder: u32,
    peer: u32,
    /// The sandbox's net, mnt and uts namespaces, then the peer's.
    pins: Vec<PinnedNs>,
    /// The namespaces the sandbox had before each [`Sandbox::reboot`], swept at drop too.
    retired: Vec<PinnedNs>,
    uplink_ifname: String,
    peer_ifname: String,
}

impl Sandbox {
    /// Creates the sandbox: a holder process in new net+mount+uts namespaces (mount propagation
    /// private), loopback up, a private tmpfs on /run, a private state root, and an uplink: a veth
    /// pair to the peer namespace with 198.51.100.1 (sandbox) and 198.51.100.2 (peer).
    ///
    /// Fails, with what is missing, unless [`crate::require_root`] is satisfied.
    pub fn new() -> anyhow::Result<Sandbox> {
        crate::require_root()?;
        let id = SandboxId::next();
        let temp_dir = tempfile::Builder::new()
            .prefix(&format!("xtk-{}-", id.as_str()))
            .tempdir()
            .context("creating the sandbox's temporary directory")?;
        let root = temp_dir.path().join("root");
        std::fs::create_dir(&root).with_context(|| format!("creating {}", root.display()))?;
        let mark = temp_dir
            .path()
            .file_name()
            .and_then(|name| name.to_str())
            .context("the temporary directory's name is not UTF-8")?
            .to_string();
        let (child, lifeline, ready) = watchdog::spawn(temp_dir.path(), &mark)?;
        let mut sandbox = Sandbox {
            uplink_ifname: id.ifname("xu"),
            peer_ifname: id.ifname("xp"),
            id,
            mark,
            temp_dir: Some(temp_dir),
            root,
            watchdog: Some(child),
            lifeline: Some(lifeline),
            holder: 0,
            peer: 0,
            pins: Vec::new(),
            retired: Vec::new(),
        };
        // From here on, an error drops `sandbox`, which tears down whatever was made.
        let (holder, peer) = ready?;
        sandbox.holder = holder;
        sandbox.peer = peer;
        sandbox.pin_namespaces()?;
        sandbox.check_private_mounts()?;
        sandbox.set_up()?;
        Ok(sandbox)
    }

    /// Opens the holders' namespace files and checks they are new namespaces, distinct from this
    /// process's and from each other's, before anything is done inside them.
    fn pin_namespaces(&mut self) -> anyhow::Result<()> {
        for pid in [self.holder, self.peer] {
            for kind in KINDS {
                let pinned = PinnedNs::open(pid, kind).with_context(|| {
                    format!("opening /proc/{pid}/ns/{kind} of a sandbox holder")
                })?;
                anyhow::ensure!(
                    pinned.id != NsId::own(kind)?,
                    "sandbox holder {pid} is in this process's {kind} namespace"
                );
                self.pins.push(pinned);
            }
        }
        for (sandbox_ns, peer_ns) in self.pins[..3].iter().zip(&self.pins[3..]) {
            anyhow::ensure!(
                sandbox_ns.id != peer_ns.id,
                "the sandbox and its peer share a {} namespace",
                sandbox_ns.kind
            );
        }
        Ok(())
    }

    /// Checks that no mount in the holders' mount namespaces propagates to a peer group (which
    /// could carry a mount made inside back to the host).
    fn check_private_mounts(&self) -> anyhow::Result<()> {
        for pid in [self.holder, self.peer] {
            let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))?;
            for line in mountinfo.lines() {
                let optional = line.split(" - ").next().unwrap_or_default();
                anyhow::ensure!(
                    !optional
                        .split(' ')
                        .skip(6)
                        .any(|field| field.starts_with("shared:")),
                    "a mount in sandbox holder {pid}'s namespace is shared: {line}"
                );
            }
        }
        Ok(())
    }

    /// /run, /sys/class/net, loopback, hostnames and the uplink.
    fn set_up(&self) -> anyhow::Result<()> {
        let peer_pid = self.peer.to_string();
        let hostname = format!("xtk-{}", self.id.as_str());
        let peer_hostname = format!("{hostname}-peer");
        let uplink = format!("{UPLINK_ADDR}/{UPLINK_PREFIX}");
        let peer = format!("{PEER_ADDR}/{UPLINK_PREFIX}");
        let sandbox_script = format!(
            "{COMMON_SETUP}\nip link add \"$2\" type veth peer name \"$3\" netns \"$4\"\n\
             ip addr add \"$5\" dev \"$2\"\nip link set \"$2\" up\n"
        );
        self.run_ok(
            "sh",
            &[
                "-c",
                &sandbox_script,
                "xtk-setup",
                &hostname,
                &self.uplink_ifname,
                &self.peer_ifname,
                &peer_pid,
                &uplink,
            ],
        )
        .context("setting up the sandbox")?;
        let peer_script =
            format!("{COMMON_SETUP}\nip addr add \"$3\" dev \"$2\"\nip link set \"$2\" up\n");
        self.run_in_peer_ok(
            "sh",
            &[
                "-c",
                &peer_script,
                "xtk-setup",
                &peer_hostname,
                &self.peer_ifname,
                &peer,
            ],
        )
        .context("setting up the sandbox's peer")?;
        Ok(())
    }

    /// The sandbox's unique id, `<test pid in hex>x<counter in hex>`; its hostname is `xtk-<id>`
    /// (the peer's `xtk-<id>-peer`).
    pub fn id(&self) -> &str {
        self.id.as_str()
    }

    /// State root for `xcompose --root` inside this sandbox: an empty directory, private to the
    /// sandbox, at the same path inside it and in the test process. Removed on drop.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The sandbox's private temporary directory on the host (the parent of [`Sandbox::root`]), for
    /// scratch files such as compose projects. Removed on drop.
    pub fn temp_dir(&self) -> &Path {
        self.root
            .parent()
            .expect("the root is inside the temporary directory")
    }

    /// Pid of the sandbox's namespace holder (`nsenter --target` it to get inside).
    pub fn pid(&self) -> u32 {
        self.holder
    }

    /// Pid of the peer's namespace holder.
    pub fn peer_pid(&self) -> u32 {
        self.peer
    }

    /// Runs a program inside the sandbox's namespaces (`nsenter --net --mount --uts -t <holder>`)
    /// and returns its output, whatever its exit status.
    pub fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<Output> {
        output(self.command(program).args(args), program)
    }

    /// Like [`Sandbox::run`], but fails with a readable error (command, status, stdout, stderr)
    /// unless the program exits 0; returns its stdout.
    pub fn run_ok(&self, program: &str, args: &[&str]) -> anyhow::Result<String> {
        let place = format!("sandbox {}", self.id());
        exec::check(self.run(program, args)?, &place, program, args)
    }

    /// A [`Command`] pre-set to run `program` inside the sandbox, for long-running processes,
    /// environment variables or a working directory. Killing the spawned child kills the program
    /// (`nsenter` execs it); whatever is still running at drop is killed then. Its environment
    /// holds `XTK_SANDBOX=<mark>`, by which teardown also finds descendants that left the
    /// sandbox's namespaces (keep it when clearing the environment: `env_clear` drops it).
    pub fn command(&self, program: &str) -> Command {
        exec::nsenter(self.holder, (MARK_VAR, &self.mark), program)
    }

    /// Runs a program inside the peer's namespaces ("the other machine"), returning its output.
    pub fn run_in_peer(&self, program: &str, args: &[&str]) -> anyhow::Result<Output> {
        output(self.peer_command(program).args(args), program)
    }

    /// Like [`Sandbox::run_in_peer`], but fails with a readable error unless the program exits 0;
    /// returns its stdout.
    pub fn run_in_peer_ok(&self, program: &str, args: &[&str]) -> anyhow::Result<String> {
        let place = format!("the peer of sandbox {}", self.id());
        exec::check(self.run_in_peer(program, args)?, &place, program, args)
    }

    /// A [`Command`] pre-set to run `program` inside the peer's namespaces.
    pub fn peer_command(&self, program: &str) -> Command {
        exec::nsenter(self.peer, (MARK_VAR, &self.mark), program)
    }

    /// Runs `f` on a new thread that has entered the sandbox's network namespace, and returns its
    /// result. Sockets made there stay in the sandbox's namespace, so a test can, for instance,
    /// bind a `TcpListener` inside the sandbox and use it from any thread. A panic in `f` is
    /// passed on.
    pub fn in_net<R: Send>(&self, f: impl FnOnce() -> R + Send) -> anyhow::Result<R> {
        in_net_namespace(&self.pins[0].file, f)
    }

    /// Like [`Sandbox::in_net`], in the peer's network namespace.
    pub fn in_peer_net<R: Send>(&self, f: impl FnOnce() -> R + Send) -> anyhow::Result<R> {
        in_net_namespace(&self.pins[3].file, f)
    }

    /// The sandbox's address on the uplink: 198.51.100.1.
    pub fn uplink_addr(&self) -> Ipv4Addr {
        UPLINK_ADDR
    }

    /// The peer's address on the uplink: 198.51.100.2.
    pub fn peer_addr(&self) -> Ipv4Addr {
        PEER_ADDR
    }

    /// Name of the sandbox's end of the uplink veth (`xu<id>`).
    pub fn uplink_ifname(&self) -> &str {
        &self.uplink_ifname
    }

    /// Name of the peer's end of the uplink veth (`xp<id>`).
    pub fn peer_ifname(&self) -> &str {
        &self.peer_ifname
    }
}

fn output(command: &mut Command, program: &str) -> anyhow::Result<Output> {
    command
        .output()
        .with_context(|| format!("running {program} through nsenter"))
}

fn in_net_namespace<R: Send>(ns: &File, f: impl FnOnce() -> R + Send) -> anyhow::Result<R> {
    std::thread::scope(|scope| {
        let thread = scope.spawn(move || -> anyhow::Result<R> {
            nix::sched::setns(ns, CloneFlags::CLONE_NEWNET)
                .context("entering the network namespace (setns)")?;
            Ok(f())
        });
        match thread.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Waits up to `timeout` for `child` to exit; false if it is still running.
fn wait_for(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if Instant::now() >= deadline => return false,
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

impl Drop for Sandbox {
    /// Tears the sandbox down; never panics. Closing the lifeline makes the watchdog kill every
    /// process in the sandbox (holders included), free the namespaces and remove the temporary
    /// directory. Then this checks for leftovers itself, with the namespace files it holds, and
    /// finishes the job if the watchdog could not (it was killed, or took too long).
    fn drop(&mut self) {
        drop(self.lifeline.take());
        if let Some(mut watchdog) = self.watchdog.take() {
            if !wait_for(&mut watchdog, TEARDOWN_TIMEOUT) {
                eprintln!(
                    "xcompose-testkit: sandbox {}: the watchdog did not finish its teardown in {:?}; finishing it here",
                    self.id(),
                    TEARDOWN_TIMEOUT
                );
                let _ = watchdog.kill();
                let _ = watchdog.wait();
            }
        }
        let pins: Vec<&PinnedNs> = self.pins.iter().chain(&self.retired).collect();
        let mark = format!("{MARK_VAR}={}", self.mark);
        let left = procs::sweep(&pins, &mark, Duration::from_secs(10));
        if !left.is_empty() {
            eprintln!(
                "xcompose-testkit: sandbox {}: processes still running after teardown: {left:?}",
                self.id()
            );
        }
        self.pins.clear();
        self.retired.clear();
        if let Some(temp_dir) = self.temp_dir.take() {
            if temp_dir.path().exists() {
                if let Err(e) = temp_dir.close() {
                    eprintln!(
                        "xcompose-testkit: sandbox {}: removing its temporary directory: {e}",
                        self.id()
                    );
                }
            } else {
                // Already removed by the watchdog.
                let _ = temp_dir.keep();
            }
        }
    }
}
