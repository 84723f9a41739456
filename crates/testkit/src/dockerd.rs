//! [`Dockerd`]: Debian's dockerd (package docker.io) running inside a [`Sandbox`] with private
//! state, the reference the registry tests compare `xcompose pull` with; killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::exec;
use crate::Sandbox;

/// How long dockerd may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A dockerd of its own inside a sandbox: `--data-root`, `--exec-root`, pid file and socket in
/// the sandbox's temporary directory; by default no bridge and no iptables rules (it only pulls
/// and runs containers without networking), with [`Dockerd::start_networked`] Docker's usual
/// networking. Killed (with its containerd) on drop.
///
/// Docker treats registries on 127.0.0.0/8 as insecure, so it pulls from a plain-HTTP
/// [`crate::Registry`] as is; for a TLS one, see [`crate::Registry::install_docker_certs`].
pub struct Dockerd {
    child: Child,
    dir: PathBuf,
}

impl Dockerd {
    /// Starts dockerd inside `sb` and waits until `docker version` answers.
    pub fn start(sb: &Sandbox) -> anyhow::Result<Dockerd> {
        Self::start_with(sb, &["--bridge=none", "--iptables=false", "--ip6tables=false"])
    }

    /// Starts dockerd inside `sb` with its networking as on a host of its own (default bridge,
    /// iptables rules in the sandbox's namespace): what a swarm's overlay networks and published
    /// ports need.
    pub fn start_networked(sb: &Sandbox) -> anyhow::Result<Dockerd> {
        Self::start_with(sb, &[])
    }

    fn start_with(sb: &Sandbox, network_args: &[&str]) -> anyhow::Result<Dockerd> {
        anyhow::ensure!(
            exec::find_in_path("dockerd").is_some() && exec::find_in_path("docker").is_some(),
            "dockerd not found: apt-get install docker.io (tests/install-deps.sh does it)"
        );
        let dir = sb.temp_dir().join("dockerd");
        std::fs::create_dir_all(dir.join("config"))?;
        let log = std::fs::File::create(dir.join("dockerd.log"))?;
        let child = sb
            .command("dockerd")
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", dir.join("docker.sock").display()))
            .args(network_args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting dockerd in the sandbox")?;
        let mut dockerd = Dockerd { child, dir };
        dockerd.wait_ready(sb)?;
        Ok(dockerd)
    }

    fn wait_ready(&mut self, sb: &Sandbox) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!(
                    "dockerd exited ({status}) before answering:\n{}",
                    self.log()
                );
            }
            if self.docker(sb).arg("version").output()?.status.success() {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "dockerd did not answer within {START_TIMEOUT:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The `docker` client inside the sandbox, talking to this dockerd, with its own
    /// configuration directory (`DOCKER_CONFIG`), so `docker login` writes there.
    pub fn docker(&self, sb: &Sandbox) -> Command {
        let mut command = sb.command("docker");
        command
            .env(
                "DOCKER_HOST",
                format!("unix://{}", self.dir.join("docker.sock").display()),
            )
            .env("DOCKER_CONFIG", self.config_dir());
        command
    }

    /// Runs `docker ARGS...`; its stdout, or an error with its output unless it exits 0.
    pub fn run_ok(&self, sb: &Sandbox, args: &[&str]) -> anyhow::Result<String> {
        let output = self
            .docker(sb)
            .args(args)
            .output()
            .context("running docker")?;
        exec::check(
            output,
            &format!("sandbox {} (dockerd)", sb.id()),
            "docker",
            args,
        )
    }

    /// The image ID (`sha256:...`, the config digest) of `reference` in dockerd's store.
    pub fn image_id(&self, sb: &Sandbox, reference: &str) -> anyhow::Result<String> {
        Ok(self
            .run_ok(sb, &["image", "inspect", "--format", "{{.Id}}", reference])?
            .trim()
            .to_string())
    }

    /// The diff_ids (`RootFS.Layers`) of `reference` in dockerd's store.
    pub fn diff_ids(&self, sb: &Sandbox, reference: &str) -> anyhow::Result<Vec<String>> {
        let out = self.run_ok(
            sb,
            &[
                "image",
                "inspect",
                "--format",
                "{{json .RootFS.Layers}}",
                reference,
            ],
        )?;
        serde_json::from_str(out.trim())
            .with_context(|| format!("docker image inspect printed {out}"))
    }

    /// The daemon's address for `DOCKER_HOST` or `--host`: `unix://<dir>/docker.sock`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.join("docker.sock").display())
    }

    /// The docker client's configuration directory (`DOCKER_CONFIG`).
    pub fn config_dir(&self) -> PathBuf {
        self.dir.join("config")
    }

    /// dockerd's directory (data root, exec root, socket, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// dockerd's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
    }
}

impl Drop for Dockerd {
    /// Stops dockerd with SIGTERM (so it stops its containerd and unmounts its data root), and
    /// kills it if it takes more than ten seconds.
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
