//! Rootless xcompose end to end: an ordinary user (made with useradd in the sandbox's private
//! copy of /etc, with subordinate ids) runs examples/web-stack, and what rootless mode cannot do
//! on this cgroup v1 host is refused with the fix named.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{ensure, Context, Result};
use xcompose_testkit::Sandbox;

/// The binary under test.
const XCOMPOSE: &str = env!("CARGO_BIN_EXE_xcompose");
/// The ordinary user the tests run xcompose as.
const USER: &str = "xcrootless";
/// The first of the user's 65536 subordinate ids, where useradd does not give a range itself.
const SUBORDINATE_START: u32 = 300000;

/// A sandbox with the ordinary user [`USER`] (home under the sandbox's temporary directory,
/// subordinate uid and gid ranges), made in a private copy of /etc so the host's stays as it is.
struct RootlessUser {
    sb: Sandbox,
    home: PathBuf,
    uid: u32,
    /// The first id of the user's subordinate range.
    subordinate: u32,
    /// The outbound driver the user's commands name in `XCOMPOSE_ROOTLESS_NET`, if any.
    net: Option<&'static str>,
}

impl RootlessUser {
    /// The user, with /dev/net/tun usable by ordinary users (0666, as Debian ships it).
    fn new() -> Result<Self> {
        Self::setup("0666", None)
    }

    /// The user, with the sandbox's /dev/net/tun of mode `tun_mode`.
    fn with_tun_mode(tun_mode: &str) -> Result<Self> {
        Self::setup(tun_mode, None)
    }

    /// The user, its commands choosing the outbound driver `net`.
    fn with_net(net: &'static str) -> Result<Self> {
        Self::setup("0666", Some(net))
    }

    /// The user, with the sandbox's /dev/net/tun of mode `tun_mode` (a node of its own on a
    /// tmpfs bound over the host's, whose mode stays as it is), its commands choosing the
    /// outbound driver `net` (the default where `None`). The sandbox routes through its peer by
    /// default, as a host routes through its LAN's gateway (pasta copies the host's routes).
    fn setup(tun_mode: &str, net: Option<&'static str>) -> Result<Self> {
        let sb = Sandbox::new()?;
        let temp = sb.temp_dir().to_path_buf();
        let home = temp.join("home");
        let script = r#"
set -eu
cp -a /etc "$1/etc"
mount --bind "$1/etc" /etc
# A host resolving through systemd-resolved's stub, unreachable from the user's namespace.
rm -f /etc/resolv.conf
printf 'nameserver 127.0.0.53\nsearch example.test\n' >/etc/resolv.conf
chmod 0755 "$1"
mkdir "$1/dev"
mount -t tmpfs -o mode=0755 tmpfs "$1/dev"
mknod -m "$5" "$1/dev/tun" c 10 200
mount --bind "$1/dev/tun" /dev/net/tun
# A host where root has run iptables and xcompose: their locks and records in /run are root's.
touch /run/xtables.lock /run/xcompose-firewall.lock
mkdir -p /run/xcompose-firewall
ip route add default via "$6"
useradd --create-home --home-dir "$2" --shell /bin/sh "$3"
# useradd gives a range where login.defs says so (SUB_UID_COUNT): one is added where it did not.
grep -q "^$3:" /etc/subuid || usermod --add-subuids "$4-$(($4 + 65535))" "$3"
grep -q "^$3:" /etc/subgid || usermod --add-subgids "$4-$(($4 + 65535))" "$3"
echo "$(id -u "$3") $(grep "^$3:" /etc/subuid | cut -d: -f2)"
"#;
        let peer = sb.peer_addr().to_string();
        let out = sb.run_ok("sh", &["-c", script, "setup", temp.to_str().unwrap(), home.to_str().unwrap(), USER, &SUBORDINATE_START.to_string(), tun_mode, &peer])?;
        let (uid, subordinate) = out.trim().split_once(' ').context("useradd's uid and range")?;
        let (uid, subordinate) = (uid.parse().context("useradd's uid")?, subordinate.parse().context("the user's subordinate range")?);
        let image = xcompose_testkit::busybox_image_tar()?;
        std::fs::copy(&image, home.join("busybox.tar"))?;
        sb.run_ok("chown", &[&format!("{USER}:{USER}"), home.join("busybox.tar").to_str().unwrap()])?;
        let user = Self { sb, home, uid, subordinate, net };
        if tun_mode == "0666" {
            user.xcompose_ok(&user.home, &["image", "import", "busybox.tar", "busybox:latest"])?;
        }
        Ok(user)
    }

    /// `program` run as the user (setpriv, supplementary groups from /etc/group), in `dir`, with
    /// the user's HOME, its runtime directory and no XDG data directory of the test's own.
    fn as_user(&self, dir: &Path, program: &str) -> Command {
        let mut command = self.sb.command("setpriv");
        command
            // The sandbox's nsenter starts at /: the shell moves to `dir` first.
            .args(["--reuid", USER, "--regid", USER, "--init-groups", "--", "sh", "-c", "cd \"$0\" && exec \"$@\""])
            .arg(dir)
            .arg(program)
            .env("HOME", &self.home)
            .env("USER", USER)
            // An ordinary Debian user's PATH, without the sbin directories of iptables and ip.
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/games")
            // A runtime directory per sandbox: the users of parallel tests share a uid.
            .env("XDG_RUNTIME_DIR", self.home.join("run"))
            .env_remove("XDG_DATA_HOME")
            .env_remove("XCOMPOSE_ROOT")
            .env_remove("XCOMPOSE_ROOTLESS_NET");
        if let Some(net) = self.net {
            command.env("XCOMPOSE_ROOTLESS_NET", net);
        }
        command
    }

    /// xcompose run as the user in `dir`.
    fn xcompose(&self, dir: &Path, args: &[&str]) -> Result<Output> {
        Ok(self.as_user(dir, XCOMPOSE).args(args).output()?)
    }

    /// xcompose run as the user in `dir`; its stdout, failing unless it exits 0.
    fn xcompose_ok(&self, dir: &Path, args: &[&str]) -> Result<String> {
        let out = self.xcompose(dir, args)?;
        ensure!(out.status.success(), "xcompose {args:?} as {USER} failed ({}):\n{}{}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        Ok(String::from_utf8(out.stdout)?)
    }

    /// A project directory `name` in the user's home with `compose.yaml` holding `text`.
    fn project(&self, name: &str, text: &str) -> Result<PathBuf> {
        let dir = self.home.join(name);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("compose.yaml"), text)?;
        self.sb.run_ok("chown", &["-R", &format!("{USER}:{USER}"), dir.to_str().unwrap()])?;
        Ok(dir)
    }

    /// The user's namespace holder (its pid file in the runtime directory).
    fn holder(&self) -> Result<u32> {
        let text = std::fs::read_to_string(self.home.join("run/xcompose/holder.pid"))?;
        Ok(text.split_whitespace().next().context("an empty pid file")?.parse()?)
    }

    /// The live processes (zombies excepted) of this sandbox's user, as `pid stat command`
    /// lines: the holder and what runs in its user namespace (parallel tests' users share a uid).
    fn processes(&self) -> Result<Vec<String>> {
        let holder = self.holder()?;
        let user_ns = std::fs::read_link(format!("/proc/{holder}/ns/user"))?;
        let out = self.sb.run_ok("ps", &["-e", "-o", "pid=,stat=,args="])?;
        Ok(out
            .lines()
            .map(str::trim)
            .filter(|l| !l.split_whitespace().nth(1).unwrap_or("").starts_with('Z'))
            .filter(|l| {
                let pid = l.split_whitespace().next().unwrap_or("");
                pid == holder.to_string() || std::fs::read_link(format!("/proc/{pid}/ns/user")).is_ok_and(|ns| ns == user_ns)
            })
            .map(String::from)
            .collect())
    }

    /// The user's processes (before any holder), as `pid command` lines. Users of parallel
    /// tests share a uid: only those started in this sandbox (its temporary directory in their
    /// environment) count.
    fn processes_of_uid(&self) -> Result<Vec<String>> {
        let out = self.sb.run_ok("ps", &["-e", "-o", "uid=,pid=,args="])?;
        let mark = self.sb.temp_dir().to_string_lossy().to_string();
        let uid = self.uid.to_string();
        Ok(out
            .lines()
            .filter_map(|l| l.trim().strip_prefix(uid.as_str()).filter(|rest| rest.starts_with(' ')))
            .map(str::trim)
            .filter(|l| {
                let pid = l.split_whitespace().next().unwrap_or("");
                std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| String::from_utf8_lossy(&env).contains(&mark))
            })
            .map(String::from)
            .collect())
    }

    /// The user's state root.
    fn state_root(&self) -> PathBuf {
        self.home.join(".local/share/xcompose")
    }
}

/// examples/web-stack copied into the user's home.
fn web_stack(user: &RootlessUser) -> Result<PathBuf> {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/web-stack");
    let dir = user.project("web-stack", &std::fs::read_to_string(example.join("compose.yaml"))?)?;
    std::fs::create_dir_all(dir.join("site"))?;
    std::fs::copy(example.join("site/index.html"), dir.join("site/index.html"))?;
    user.sb.run_ok("chown", &["-R", &format!("{USER}:{USER}"), dir.to_str().unwrap()])?;
    Ok(dir)
}

/// Files (not directories, not lock files) under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if !path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".lock")) {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn the_example_stack_runs_as_an_ordinary_user_and_down_leaves_nothing() -> Result<()> {
    let user = RootlessUser::new()?;
    let dir = web_stack(&user)?;
    user.xcompose_ok(&dir, &["up", "-d", "--wait"])?;

    // Containers run in a user namespace mapping root to the user and the rest to its range.
    let holder = user.holder()?;
    let map = std::fs::read_to_string(format!("/proc/{holder}/uid_map"))?;
    let map: Vec<Vec<&str>> = map.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(map, [vec!["0", &user.uid.to_string(), "1"], vec!["1", &user.subordinate.to_string(), "65536"]]);
    assert_eq!(user.xcompose_ok(&dir, &["exec", "-T", "web", "id", "-u"])?.trim(), "0");

    // Services reach each other by name over the project's networks.
    let counter = user.xcompose_ok(&dir, &["exec", "-T", "web", "sh", "-c", "nc db 5000 </dev/null"])?;
    assert_eq!(counter.trim(), "0");

    // The published port answers on the host's 127.0.0.1 (through the port agent), and on
    // 127.0.0.1 of the user's network namespace.
    let page = user.sb.run_ok("busybox", &["wget", "-q", "-O", "-", "http://127.0.0.1:8080/"])?;
    assert!(page.contains("Served by busybox httpd"), "{page}");
    let inside = user.sb.run_ok("nsenter", &["-t", &holder.to_string(), "-n", "busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/"])?;
    assert_eq!(inside, page);

    // Everything made by the user belongs to the user on the host.
    let meta = std::fs::metadata(user.state_root().join("containers"))?;
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), user.uid);

    // What reads a container's cgroup is refused with the reason.
    let top = user.xcompose(&dir, &["top", "web"])?;
    let err = String::from_utf8_lossy(&top.stderr);
    assert!(!top.status.success() && err.contains("cgroup limits need cgroup v2 delegation; this host has cgroup v1"), "{err}");

    user.xcompose_ok(&dir, &["down", "-v"])?;
    assert_eq!(user.xcompose_ok(&dir, &["ps", "-a", "-q"])?.trim(), "");
    let processes = user.processes()?;
    assert_eq!(processes.len(), 2, "only the holder and its port agent are left: {processes:?}");
    assert!(processes.iter().any(|p| p.starts_with(&format!("{holder} ")) && p.ends_with("sleep infinity")), "{processes:?}");
    assert!(processes.iter().any(|p| p.contains(" __rootless-ports ")), "{processes:?}");
    let after = user.sb.run("busybox", &["wget", "-q", "-O", "-", "http://127.0.0.1:8080/"])?;
    assert!(!after.status.success(), "the port still answers after down");
    for records in ["containers", "volumes", "networks", "endpoints", "ports", "ipam", "projects"] {
        let left = files_under(&user.state_root().join(records));
        assert!(left.is_empty(), "down -v left {left:?}");
    }
    Ok(())
}

#[test]
fn commands_started_together_share_one_holder() -> Result<()> {
    let user = RootlessUser::new()?;
    // The image import of `new` started the first holder: kill it so the next ones race.
    user.sb.run_ok("kill", &["-KILL", &user.holder()?.to_string()])?;
    let started: Vec<_> = (0..4).map(|_| user.as_user(&user.home, XCOMPOSE).args(["ls", "-a"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()).collect::<Result<_, _>>()?;
    let racing: Vec<Output> = started.into_iter().map(|child| child.wait_with_output()).collect::<Result<_, _>>()?;
    assert!(racing.iter().all(|out| out.status.success()), "{racing:?}");
    let holders: Vec<String> = user.processes_of_uid()?.into_iter().filter(|p| p.ends_with("sleep infinity")).collect();
    assert_eq!(holders.len(), 1, "{holders:?}");
    Ok(())
}

#[test]
fn what_rootless_cannot_do_here_is_refused_with_the_fix() -> Result<()> {
    let user = RootlessUser::new()?;
    let limited = user.project("limited", "services:\n  app:\n    image: busybox:latest\n    command: [sleep, '60']\n    mem_limit: 64m\n")?;
    let out = user.xcompose(&limited, &["up", "-d"])?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a memory limit was accepted: {err}");
    assert!(err.contains("cgroup limits need cgroup v2 delegation; this host has cgroup v1"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let low = user.project("low", "services:\n  app:\n    image: busybox:latest\n    command: [sleep, '60']\n    ports: ['127.0.0.1:80:80']\n")?;
    let out = user.xcompose(&low, &["up", "-d"])?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "port 80 was accepted: {err}");
    assert!(err.contains("port 80 cannot be published rootless") && err.contains("net.ipv4.ip_unprivileged_port_start"), "{err}");

    // Neither left anything behind.
    for dir in [&limited, &low] {
        assert_eq!(user.xcompose_ok(dir, &["ps", "-a", "-q"])?.trim(), "");
    }
    assert!(files_under(&user.state_root().join("containers")).is_empty());
    assert!(files_under(&user.state_root().join("networks")).is_empty());
    Ok(())
}

#[test]
fn a_killed_holder_is_started_again_and_up_recreates_the_stack() -> Result<()> {
    let user = RootlessUser::new()?;
    let dir = web_stack(&user)?;
    user.xcompose_ok(&dir, &["up", "-d", "--wait"])?;
    let first = user.holder()?;
    let first_ns = std::fs::read_link(format!("/proc/{first}/ns/user"))?;
    user.sb.run_ok("kill", &["-KILL", &first.to_string()])?;
    user.xcompose_ok(&dir, &["up", "-d", "--wait"])?;
    let second = user.holder()?;
    assert_ne!(first, second);
    // Nothing of the first holder's namespace is left (supervisors, resolver, port agent).
    let left: Vec<String> = std::fs::read_dir("/proc")?
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.parse::<u32>().is_ok()))
        .filter(|e| std::fs::read_link(e.path().join("ns/user")).is_ok_and(|ns| ns == first_ns))
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert!(left.is_empty(), "processes of the killed holder's namespace are left: {left:?}");
    let page = user.sb.run_ok("busybox", &["wget", "-q", "-O", "-", "http://127.0.0.1:8080/"])?;
    assert!(page.contains("Served by busybox httpd"), "{page}");
    let counter = user.xcompose_ok(&dir, &["exec", "-T", "web", "sh", "-c", "nc db 5000 </dev/null"])?;
    assert_eq!(counter.trim(), "0");
    user.xcompose_ok(&dir, &["down", "-v"])?;
    assert_eq!(user.xcompose_ok(&dir, &["ps", "-a", "-q"])?.trim(), "");
    Ok(())
}

#[test]
fn containers_reach_the_outside_through_slirp4netns() -> Result<()> {
    let user = RootlessUser::new()?;
    let site = user.sb.temp_dir().join("peer-site");
    std::fs::create_dir_all(&site)?;
    std::fs::write(site.join("hello"), "from the peer\n")?;
    let peer = user.sb.peer_addr();
    let _server = user.sb.peer_command("busybox").args(["httpd", "-f", "-p", &format!("{peer}:8000"), "-h", site.to_str().unwrap()]).spawn()?;
    let dir = user.project("outbound", "services:\n  client:\n    image: busybox:latest\n")?;
    let url = format!("http://{peer}:8000/hello");
    let got = user.xcompose_ok(&dir, &["run", "--rm", "-T", "client", "wget", "-q", "-O", "-", &url])?;
    assert_eq!(got, "from the peer\n");
    // The host's loopback resolver is replaced by slirp4netns's forwarder in the namespace.
    let host_net = user.project("host-net", "services:\n  probe:\n    image: busybox:latest\n    network_mode: host\n")?;
    let resolv = user.xcompose_ok(&host_net, &["run", "--rm", "-T", "probe", "cat", "/etc/resolv.conf"])?;
    assert!(resolv.contains("nameserver 10.0.2.3") && resolv.contains("search example.test") && !resolv.contains("127.0.0.53"), "{resolv}");
    user.xcompose_ok(&dir, &["down"])?;
    Ok(())
}

#[test]
fn a_tun_device_ordinary_users_cannot_open_is_refused_with_the_fix() -> Result<()> {
    let user = RootlessUser::with_tun_mode("0600")?;
    let out = user.xcompose(&user.home, &["ls"])?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("cannot open /dev/net/tun") && err.contains("chmod 0666 /dev/net/tun"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(user.processes_of_uid()?.is_empty(), "a holder was left: {:?}", user.processes_of_uid()?);
    // Commands that touch no container need no namespace, hence no tun.
    let dir = user.project("lint", "services:\n  app:\n    image: busybox:latest\n")?;
    let config = user.xcompose_ok(&dir, &["config", "--services"])?;
    assert_eq!(config, "app\n");
    Ok(())
}

#[test]
fn layers_with_whiteouts_and_opaque_directories_unpack_in_the_user_namespace() -> Result<()> {
    let user = RootlessUser::new()?;
    let layout_dir = user.sb.temp_dir().join("whiteouts-layout");
    let layout = xcompose_testkit::OciLayout::create(&layout_dir)?;
    layout.add_image(&xcompose_testkit::test_images::whiteouts()?, "whiteouts:1")?;
    let archive = user.home.join("whiteouts.tar");
    user.sb.run_ok("tar", &["-C", layout_dir.to_str().unwrap(), "-cf", archive.to_str().unwrap(), "."])?;
    user.sb.run_ok("chown", &[&format!("{USER}:{USER}"), archive.to_str().unwrap()])?;
    let loaded = user.xcompose_ok(&user.home, &["image", "load", "-i", "whiteouts.tar"])?;
    let image = loaded.trim().strip_prefix("Loaded image: ").with_context(|| format!("load said {loaded:?}"))?.to_string();
    let dir = user.project("whiteouts", &format!("services:\n  probe:\n    image: {image}\n"))?;
    let tree = user.xcompose_ok(&dir, &["run", "--rm", "-T", "probe", "sh", "-c", "ls -a /data /cache; test ! -e /etc/gone.conf && echo no-gone-conf"])?;
    assert_eq!(tree, "/cache:\n.\n..\nfresh\n\n/data:\n.\n..\nkeep\nno-gone-conf\n");
    // The layer store marks the opaque directory with the attribute overlay reads under userxattr.
    let layers = user.state_root().join("images/layers");
    let opaque = std::fs::read_dir(&layers)?.flatten().map(|l| l.path().join("cache")).find(|c| c.join("fresh").exists()).context("the upper layer")?;
    let script = "import os, sys; print(os.getxattr(sys.argv[1], 'user.overlay.opaque').decode())";
    assert_eq!(user.sb.run_ok("python3", &["-c", script, opaque.to_str().unwrap()])?.trim(), "y");
    Ok(())
}

/// A UDP echo server for a busybox container with the host's /usr and libraries: answers each
/// datagram with `echo:` and the datagram, to the address it came from.
const UDP_ECHO: &str = "import socket\n\
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nu.bind(('', 7000))\n\
while True:\n    d, p = u.recvfrom(512)\n    u.sendto(b'echo:' + d, p)\n";

/// Two clients on the sandbox's side send datagrams to 127.0.0.1:7000, each retrying (the
/// server may not listen yet) until it has its reply; prints both replies.
const UDP_CLIENTS: &str = "import socket\n\
def ask(s, text):\n    for _ in range(20):\n        s.sendto(text, ('127.0.0.1', 7000))\n        try:\n            return s.recv(512).decode()\n        except socket.timeout:\n            pass\n    return 'no reply'\n\
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nb = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
for s in (a, b):\n    s.settimeout(0.5)\n\
print(ask(a, b'from-a'), ask(b, b'from-b'), ask(a, b'again-a'))\n";

#[test]
fn udp_ports_and_ports_on_ipv6_loopback_are_forwarded_from_the_host() -> Result<()> {
    let user = RootlessUser::new()?;
    let text = format!(
        r#"
services:
  echo:
    image: busybox:latest
    init: true
    command: ["/usr/bin/python3", "-c", {UDP_ECHO:?}]
    volumes: ["/usr:/usr:ro", "/lib:/lib:ro", "/lib64:/lib64:ro"]
    ports: ["127.0.0.1:7000:7000/udp"]
  web:
    image: busybox:latest
    init: true
    command: ["sh", "-c", "mkdir /www && echo over-ipv6 >/www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["[::1]:8081:80"]
"#
    );
    let dir = user.project("ports", &text)?;
    user.xcompose_ok(&dir, &["up", "-d"])?;
    assert_eq!(user.xcompose_ok(&dir, &["port", "--protocol", "udp", "echo", "7000"])?.trim(), "127.0.0.1:7000");

    // Datagrams from the host's side get their replies, each client through a flow of its own.
    let replies = user.sb.run_ok("python3", &["-c", UDP_CLIENTS])?;
    assert_eq!(replies.trim(), "echo:from-a echo:from-b echo:again-a");

    // A port on [::1] answers on the host's IPv6 loopback.
    let page = user.sb.run_ok("busybox", &["wget", "-q", "-O", "-", "http://[::1]:8081/"])?;
    assert_eq!(page, "over-ipv6\n");

    // After down, both host ports are free again (a TCP server takes SO_REUSEADDR: the agent's
    // end of the connection above lingers in TIME_WAIT).
    user.xcompose_ok(&dir, &["down"])?;
    let free = "import socket\nfor family, kind, address in [(socket.AF_INET, socket.SOCK_DGRAM, ('127.0.0.1', 7000)), (socket.AF_INET6, socket.SOCK_STREAM, ('::1', 8081))]:\n    s = socket.socket(family, kind)\n    if kind == socket.SOCK_STREAM:\n        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n    try:\n        s.bind(address)\n        print('free', end=' ')\n    except OSError as e:\n        print(address, e, end=' ')\n";
    assert_eq!(user.sb.run_ok("python3", &["-c", free])?.trim(), "free free");
    Ok(())
}

#[test]
fn containers_reach_the_outside_through_pasta_when_it_is_chosen() -> Result<()> {
    let user = RootlessUser::with_net("pasta")?;
    // The holder's outbound driver is pasta (started by the image import of `with_net`).
    let driver = std::fs::read_to_string(user.home.join("run/xcompose/outbound.pid"))?;
    let command_line = std::fs::read(format!("/proc/{}/cmdline", driver.trim()))?;
    assert!(command_line.starts_with(b"pasta\0"), "{}", String::from_utf8_lossy(&command_line));
    let site = user.sb.temp_dir().join("peer-site");
    std::fs::create_dir_all(&site)?;
    std::fs::write(site.join("hello"), "from the peer\n")?;
    let peer = user.sb.peer_addr();
    let _server = user.sb.peer_command("busybox").args(["httpd", "-f", "-p", &format!("{peer}:8000"), "-h", site.to_str().unwrap()]).spawn()?;
    let dir = user.project("outbound", "services:\n  client:\n    image: busybox:latest\n")?;
    let got = user.xcompose_ok(&dir, &["run", "--rm", "-T", "client", "wget", "-q", "-O", "-", &format!("http://{peer}:8000/hello")])?;
    assert_eq!(got, "from the peer\n");
    // The host's loopback resolver is replaced by pasta's DNS forwarder in the namespace.
    let host_net = user.project("host-net", "services:\n  probe:\n    image: busybox:latest\n    network_mode: host\n")?;
    let resolv = user.xcompose_ok(&host_net, &["run", "--rm", "-T", "probe", "cat", "/etc/resolv.conf"])?;
    assert!(resolv.contains("nameserver 169.254.1.1") && resolv.contains("search example.test") && !resolv.contains("127.0.0.53"), "{resolv}");
    user.xcompose_ok(&dir, &["down"])?;

    // A driver xcompose does not know is refused in one line, naming the choices.
    let out = user.as_user(&dir, XCOMPOSE).args(["ps"]).env("XCOMPOSE_ROOTLESS_NET", "vpnkit").output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert_eq!(err.trim(), "rootless xcompose: XCOMPOSE_ROOTLESS_NET=\"vpnkit\" is not a rootless network driver: set it to slirp4netns (the default) or pasta");
    Ok(())
}
