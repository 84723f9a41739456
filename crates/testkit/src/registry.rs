//! [`Registry`]: Debian's `docker-registry` (distribution 2.8) running inside a [`Sandbox`] on
//! 127.0.0.1 (or the sandbox's uplink address), with its own configuration, storage and, as asked, TLS, client certificates,
//! htpasswd basic auth or token auth with a [`TokenServer`]; killed on drop.
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! let sb = xcompose_testkit::Sandbox::new()?;
//! let registry = xcompose_testkit::Registry::builder().tls().htpasswd("alice", "s3cret").start(&sb)?;
//! let reference = registry.reference("library/redis:alpine"); // 127.0.0.1:PORT/library/redis:alpine
//! # let _ = reference;
//! # Ok(())
//! # }
//! ```

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::exec;
use crate::oci_layout::{OciLayout, TestImage, WrittenImage, WrittenIndex};
use crate::tls::TestCa;
use crate::token_server::{TokenPolicy, TokenServer, TOKEN_ISSUER, TOKEN_SERVICE};
use crate::Sandbox;

/// The registry program (Debian package docker-registry).
const REGISTRY_PROGRAM: &str = "docker-registry";
/// How long the registry may take to answer `/v2/`.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The realm htpasswd mode names in its challenges.
const BASIC_REALM: &str = "xcompose-test-registry";

/// How clients must authenticate.
#[derive(Clone, Debug, Default)]
enum Auth {
    /// Anyone may pull and push.
    #[default]
    None,
    /// `auth: htpasswd` with one user (bcrypt, `htpasswd -B`).
    Htpasswd { user: String, password: String },
    /// `auth: token` with a [`TokenServer`].
    Token(TokenPolicy),
}

/// How to start a [`Registry`]: plain HTTP and no auth unless asked otherwise.
#[derive(Clone, Debug, Default)]
pub struct RegistryBuilder {
    on_uplink: bool,
    tls: bool,
    client_certs: bool,
    schema1: bool,
    auth: Auth,
}

impl RegistryBuilder {
    /// Serve HTTPS with a leaf for 127.0.0.1/localhost signed by a fresh test CA
    /// ([`Registry::ca_cert`]).
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Serve HTTPS and require a client certificate signed by the test CA (`http.tls.clientcas`);
    /// [`Registry::certs_dir`] holds one as `client.cert` / `client.key`.
    pub fn client_certs(mut self) -> Self {
        self.tls = true;
        self.client_certs = true;
        self
    }

    /// Listen on the sandbox's uplink address ([`Sandbox::uplink_addr`], 198.51.100.1) instead of
    /// 127.0.0.1. Docker treats registries on 127.0.0.0/8 as insecure (it accepts any
    /// certificate there), so a test of TLS trust needs a registry elsewhere.
    pub fn on_uplink(mut self) -> Self {
        self.on_uplink = true;
        self
    }

    /// Require basic auth for `user` / `password` (htpasswd file, bcrypt).
    pub fn htpasswd(mut self, user: &str, password: &str) -> Self {
        self.auth = Auth::Htpasswd {
            user: user.into(),
            password: password.into(),
        };
        self
    }

    /// Require bearer tokens from a [`TokenServer`] that knows `user` / `password` and gives
    /// anonymous callers `pull` when `anonymous_pull` (like Docker Hub's public repositories).
    pub fn token(mut self, user: &str, password: &str, anonymous_pull: bool) -> Self {
        self.auth = Auth::Token(TokenPolicy {
            user: user.into(),
            password: password.into(),
            anonymous_pull,
        });
        self
    }

    /// Accept and serve schema 1 manifests (`compatibility.schema1.enabled`), so a test can push
    /// one (`skopeo copy --format v2s1`) and see a client refuse it.
    pub fn schema1(mut self) -> Self {
        self.schema1 = true;
        self
    }

    /// Starts the registry inside `sb` and waits until `/v2/` answers.
    pub fn start(self, sb: &Sandbox) -> anyhow::Result<Registry> {
        Registry::start(sb, self)
    }
}

/// A running `docker-registry` inside a sandbox, on `127.0.0.1:PORT` (or the uplink's
/// address); killed on drop.
///
/// Its files live in a directory of the sandbox's temporary directory ([`Registry::dir`]): the
/// configuration, the storage, the log, and for TLS `certs/` ([`Registry::certs_dir`]) laid out
/// as Docker's `certs.d/HOST:PORT/` (`ca.crt`, and `client.cert` / `client.key` with client
/// certificates).
pub struct Registry {
    child: Child,
    addr: IpAddr,
    port: u16,
    dir: PathBuf,
    tls: bool,
    credentials: Option<(String, String)>,
    token_server: Option<TokenServer>,
}

impl Registry {
    /// How to start one: `Registry::builder().tls().htpasswd(..).start(&sb)`.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder::default()
    }

    /// A plain-HTTP registry without auth inside `sb`.
    pub fn plain(sb: &Sandbox) -> anyhow::Result<Registry> {
        Registry::builder().start(sb)
    }

    fn start(sb: &Sandbox, options: RegistryBuilder) -> anyhow::Result<Registry> {
        anyhow::ensure!(
            exec::find_in_path(REGISTRY_PROGRAM).is_some(),
            "{REGISTRY_PROGRAM} not found: apt-get install docker-registry (tests/install-deps.sh does it)"
        );
        let addr = if options.on_uplink {
            IpAddr::V4(sb.uplink_addr())
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        };
        let port = free_port(sb, addr)?;
        let dir = sb.temp_dir().join(format!("registry-{port}"));
        std::fs::create_dir_all(dir.join("storage"))
            .with_context(|| format!("creating {}", dir.display()))?;
        let mut config = RegistryConfig::new(&dir, addr, port);
        if options.tls {
            config.tls = Some(write_tls(&dir, addr, options.client_certs)?);
        }
        if options.schema1 {
            config.schema1 = true;
        }
        let mut credentials = None;
        let mut token_server = None;
        match &options.auth {
            Auth::None => {}
            Auth::Htpasswd { user, password } => {
                let path = dir.join("htpasswd");
                write_htpasswd(&path, user, password)?;
                config.auth = AuthConfig::Htpasswd(path);
                credentials = Some((user.clone(), password.clone()));
            }
            Auth::Token(policy) => {
                let signer = TestCa::new("xcompose test token signer")?;
                let bundle = dir.join("token-signer.crt");
                std::fs::write(&bundle, signer.cert_pem())?;
                let server = TokenServer::start(sb, policy.clone(), &signer)?;
                config.auth = AuthConfig::Token {
                    realm: server.realm(),
                    bundle,
                };
                credentials = Some((policy.user.clone(), policy.password.clone()));
                token_server = Some(server);
            }
        }
        let config_path = dir.join("config.yml");
        std::fs::write(&config_path, config.to_yaml())
            .with_context(|| format!("writing {}", config_path.display()))?;
        let log = std::fs::File::create(dir.join("registry.log"))?;
        let child = sb
            .command(REGISTRY_PROGRAM)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting docker-registry in the sandbox")?;
        let mut registry = Registry {
            child,
            addr,
            port,
            dir,
            tls: options.tls,
            credentials,
            token_server,
        };
        registry.wait_ready(sb)?;
        Ok(registry)
    }

    /// Polls `/v2/` with curl inside the sandbox until it answers 200 or 401.
    fn wait_ready(&mut self, sb: &Sandbox) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!(
                    "docker-registry exited ({status}) before answering:\n{}",
                    self.log()
                );
            }
            let output = self
                .curl(sb)
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
                .arg(format!("{}/v2/", self.url()))
                .output()
                .context("running curl in the sandbox (apt-get install curl)")?;
            let code = String::from_utf8_lossy(&output.stdout);
            if code == "200" || code == "401" {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "docker-registry did not answer {}/v2/ within {START_TIMEOUT:?} (last: {code:?}):\n{}",
                self.url(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `curl` inside the sandbox, trusting the registry's CA and presenting its client
    /// certificate when it has them.
    pub fn curl(&self, sb: &Sandbox) -> Command {
        let mut command = sb.command("curl");
        if self.tls {
            let certs = self.certs_dir();
            command.arg("--cacert").arg(certs.join("ca.crt"));
            if certs.join("client.cert").exists() {
                command
                    .arg("--cert")
                    .arg(certs.join("client.cert"))
                    .arg("--key")
                    .arg(certs.join("client.key"));
            }
        }
        command
    }

    /// `127.0.0.1:PORT` (or the uplink's address), the registry's host as image references
    /// name it.
    pub fn host(&self) -> String {
        format!("{}:{}", self.addr, self.port)
    }

    /// The port it listens on (inside the sandbox).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` or `https://...`.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.host())
    }

    /// `HOST:PORT/NAME`: `name` (`repo:tag`, `repo@sha256:..`) on this registry.
    pub fn reference(&self, name: &str) -> String {
        format!("{}/{name}", self.host())
    }

    /// Whether it serves HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The user and password it accepts, in htpasswd and token modes.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(user, password)| (user.as_str(), password.as_str()))
    }

    /// The token server, in token mode.
    pub fn token_server(&self) -> Option<&TokenServer> {
        self.token_server.as_ref()
    }

    /// The registry's own directory in the sandbox's temporary directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The TLS material clients need, laid out as `certs.d/HOST:PORT/` (`ca.crt`, and with
    /// client certificates `client.cert` and `client.key`). Only meaningful with TLS.
    pub fn certs_dir(&self) -> PathBuf {
        self.dir.join("certs")
    }

    /// The CA certificate that signed the server's certificate (TLS only).
    pub fn ca_cert(&self) -> PathBuf {
        self.certs_dir().join("ca.crt")
    }

    /// Copies [`Registry::certs_dir`] to `certs_d/HOST:PORT/`, as Docker's
    /// `/etc/docker/certs.d` wants it, and returns that directory.
    pub fn install_certs_d(&self, certs_d: &Path) -> anyhow::Result<PathBuf> {
        let target = certs_d.join(self.host());
        std::fs::create_dir_all(&target)
            .with_context(|| format!("creating {}", target.display()))?;
        for entry in std::fs::read_dir(self.certs_dir())? {
            let entry = entry?;
            std::fs::copy(entry.path(), target.join(entry.file_name()))?;
        }
        Ok(target)
    }

    /// Makes the registry's certificates Docker's for this sandbox: bind-mounts a directory of
    /// the sandbox's temporary directory over `/etc/docker` inside the sandbox (once; the host's
    /// stays untouched) and installs them in its `certs.d/HOST:PORT/`, where dockerd, and
    /// xcompose as Docker does, look. Returns that directory as the test process sees it.
    pub fn install_docker_certs(&self, sb: &Sandbox) -> anyhow::Result<PathBuf> {
        let etc_docker = sb.temp_dir().join("etc-docker");
        if !etc_docker.exists() {
            std::fs::create_dir_all(etc_docker.join("certs.d"))?;
            let etc = etc_docker.to_string_lossy();
            sb.run_ok(
                "sh",
                &[
                    "-c",
                    "mkdir -p /etc/docker && mount --bind \"$1\" /etc/docker",
                    "sh",
                    &etc,
                ],
            )
            .context("bind-mounting the sandbox's /etc/docker")?;
        }
        self.install_certs_d(&etc_docker.join("certs.d"))
    }

    /// Where the registry stores the blob `sha256:HEX` (`.../blobs/sha256/HE/HEX/data`), for
    /// tests that corrupt what it serves.
    pub fn blob_path(&self, digest: &str) -> anyhow::Result<PathBuf> {
        let hex = digest
            .strip_prefix("sha256:")
            .with_context(|| format!("{digest} is not a sha256 digest"))?;
        anyhow::ensure!(hex.len() == 64, "{digest} is not a sha256 digest");
        Ok(self
            .dir
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data"))
    }

    /// Writes `image` into a fresh OCI layout in the registry's directory and pushes it as
    /// `name` (`repo:tag`); returns its digests.
    pub fn push_image(
        &self,
        sb: &Sandbox,
        image: &TestImage,
        name: &str,
    ) -> anyhow::Result<WrittenImage> {
        let layout = self.scratch_layout()?;
        let written = layout.add_image(image, "push")?;
        self.push_oci(sb, layout.dir(), "push", name)?;
        Ok(written)
    }

    /// Writes `images` and an index of them (one per platform) into a fresh OCI layout and
    /// pushes it as `name`; returns the digests.
    pub fn push_index(
        &self,
        sb: &Sandbox,
        images: &[TestImage],
        name: &str,
    ) -> anyhow::Result<WrittenIndex> {
        let layout = self.scratch_layout()?;
        let written = layout.add_index(images, "push")?;
        self.push_oci(sb, layout.dir(), "push", name)?;
        Ok(written)
    }

    /// A new, empty OCI layout under the registry's directory.
    fn scratch_layout(&self) -> anyhow::Result<OciLayout> {
        let dir = tempfile::Builder::new()
            .prefix("layout-")
            .tempdir_in(&self.dir)?
            .keep();
        OciLayout::create(&dir)
    }

    /// Pushes the image (or index, with all its platforms) tagged `tag` in the OCI layout
    /// `layout` to `name` (`repo:tag`) on this registry with `skopeo copy --all
    /// --preserve-digests`, so what the registry serves has exactly the layout's digests.
    pub fn push_oci(
        &self,
        sb: &Sandbox,
        layout: &Path,
        tag: &str,
        name: &str,
    ) -> anyhow::Result<()> {
        let source = format!("oci:{}:{tag}", layout.display());
        self.skopeo_copy(
            sb,
            &["--all", "--preserve-digests"],
            &source,
            &self.docker_ref(name),
            "--dest-",
        )
    }

    /// Pushes like [`Registry::push_oci`] but converted to a signed schema 1 manifest
    /// (`skopeo copy --format v2s1`); needs [`RegistryBuilder::schema1`].
    pub fn push_oci_schema1(
        &self,
        sb: &Sandbox,
        layout: &Path,
        tag: &str,
        name: &str,
    ) -> anyhow::Result<()> {
        let source = format!("oci:{}:{tag}", layout.display());
        self.skopeo_copy(
            sb,
            &["--format", "v2s1"],
            &source,
            &self.docker_ref(name),
            "--dest-",
        )
    }

    /// Pulls `name` from this registry into the OCI layout `layout` as `tag` with `skopeo copy`
    /// (the reference client the tests compare xcompose with); `extra` goes before the
    /// references (e.g. `--override-arch arm64`).
    pub fn pull_oci(
        &self,
        sb: &Sandbox,
        name: &str,
        layout: &Path,
        tag: &str,
        extra: &[&str],
    ) -> anyhow::Result<()> {
        std::fs::create_dir_all(layout)
            .with_context(|| format!("creating {}", layout.display()))?;
        let dest = format!("oci:{}:{tag}", layout.display());
        self.skopeo_copy(sb, extra, &self.docker_ref(name), &dest, "--src-")
    }

    /// `skopeo inspect --raw` (`raw`) or `skopeo inspect` of `name` on this registry: the
    /// manifest as stored, or skopeo's summary (digest, layers, architecture, ...), as JSON.
    pub fn skopeo_inspect(
        &self,
        sb: &Sandbox,
        name: &str,
        raw: bool,
    ) -> anyhow::Result<serde_json::Value> {
        let mut args: Vec<String> = vec!["inspect".into()];
        if raw {
            args.push("--raw".into());
        }
        args.extend(self.skopeo_access("--"));
        args.push(self.docker_ref(name));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = sb.run_ok("skopeo", &args)?;
        serde_json::from_str(&out).with_context(|| format!("skopeo inspect printed {out}"))
    }

    fn docker_ref(&self, name: &str) -> String {
        format!("docker://{}", self.reference(name))
    }

    /// `skopeo copy` with this registry's access options under `prefix` (`--src-`, `--dest-`).
    fn skopeo_copy(
        &self,
        sb: &Sandbox,
        extra: &[&str],
        source: &str,
        dest: &str,
        prefix: &str,
    ) -> anyhow::Result<()> {
        let mut args: Vec<String> = vec!["copy".into(), "--quiet".into()];
        args.extend(self.skopeo_access(prefix));
        args.extend(extra.iter().map(|arg| arg.to_string()));
        args.push(source.into());
        args.push(dest.into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        sb.run_ok("skopeo", &args)?;
        Ok(())
    }

    /// skopeo's options to reach this registry: certificates or no TLS verification, and
    /// credentials; `prefix` is `--src-`, `--dest-` or `--` (`inspect`).
    fn skopeo_access(&self, prefix: &str) -> Vec<String> {
        let mut args = Vec::new();
        if self.tls {
            args.push(format!("{prefix}cert-dir={}", self.certs_dir().display()));
        } else {
            args.push(format!("{prefix}tls-verify=false"));
        }
        if let Some((user, password)) = self.credentials() {
            args.push(format!("{prefix}creds={user}:{password}"));
        }
        args
    }

    /// The registry's log so far (errors, including every 404 it answered).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free on `addr` in the sandbox's network namespace (nothing else binds there).
fn free_port(sb: &Sandbox, addr: IpAddr) -> anyhow::Result<u16> {
    let port = sb.in_net(|| TcpListener::bind((addr, 0)).and_then(|l| l.local_addr()))??;
    Ok(port.port())
}

/// Writes a CA, a server leaf (and with `client_certs` a client leaf) into `dir/certs` and
/// `dir/server.{crt,key}`; returns the server's paths.
fn write_tls(dir: &Path, addr: IpAddr, client_certs: bool) -> anyhow::Result<TlsConfig> {
    let ca = TestCa::new("xcompose test registry CA")?;
    let certs = dir.join("certs");
    std::fs::create_dir_all(&certs)?;
    std::fs::write(certs.join("ca.crt"), ca.cert_pem())?;
    let server = TlsConfig {
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
        client_ca: client_certs.then(|| certs.join("ca.crt")),
    };
    ca.server_leaf(&[&addr.to_string()])?
        .write(&server.cert, &server.key)?;
    if client_certs {
        ca.client_leaf()?
            .write(&certs.join("client.cert"), &certs.join("client.key"))?;
    }
    Ok(server)
}

/// Writes an htpasswd file with `user`'s bcrypt hash (`htpasswd -B`, the only hash
/// distribution accepts).
fn write_htpasswd(path: &Path, user: &str, password: &str) -> anyhow::Result<()> {
    let output = Command::new("htpasswd")
        .args(["-Bbn", user, password])
        .output()
        .context("running htpasswd (apt-get install apache2-utils)")?;
    let line = exec::check(
        output,
        "the test process",
        "htpasswd",
        &["-Bbn", user, "***"],
    )?;
    std::fs::write(path, line).with_context(|| format!("writing {}", path.display()))
}

/// The server's certificate, key, and the CA client certificates must chain to.
struct TlsConfig {
    cert: PathBuf,
    key: PathBuf,
    client_ca: Option<PathBuf>,
}

/// The `auth:` section.
enum AuthConfig {
    None,
    Htpasswd(PathBuf),
    Token { realm: String, bundle: PathBuf },
}

/// What goes into the registry's `config.yml`.
struct RegistryConfig {
    storage: PathBuf,
    addr: IpAddr,
    port: u16,
    tls: Option<TlsConfig>,
    auth: AuthConfig,
    schema1: bool,
}

impl RegistryConfig {
    fn new(dir: &Path, addr: IpAddr, port: u16) -> RegistryConfig {
        RegistryConfig {
            storage: dir.join("storage"),
            addr,
            port,
            tls: None,
            auth: AuthConfig::None,
            schema1: false,
        }
    }

    /// The configuration as YAML (paths quoted as JSON strings, which YAML reads as they are).
    fn to_yaml(&self) -> String {
        let q = |path: &Path| serde_json::to_string(&path.to_string_lossy()).expect("a string");
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: error\n  formatter: text\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: {}:{}\n  secret: xcompose-test-secret\n",
            q(&self.storage),
            self.addr,
            self.port
        );
        if let Some(tls) = &self.tls {
            yaml += &format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                q(&tls.cert),
                q(&tls.key)
            );
            if let Some(ca) = &tls.client_ca {
                yaml += &format!("    clientcas:\n      - {}\n", q(ca));
            }
        }
        match &self.auth {
            AuthConfig::None => {}
            AuthConfig::Htpasswd(path) => {
                yaml += &format!(
                    "auth:\n  htpasswd:\n    realm: {BASIC_REALM}\n    path: {}\n",
                    q(path)
                );
            }
            AuthConfig::Token { realm, bundle } => {
                yaml += &format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
                    q(bundle)
                );
            }
        }
        if self.schema1 {
            yaml += "compatibility:\n  schema1:\n    enabled: true\n";
        }
        yaml
    }
}
