//! `xcompose pause`, `unpause`, `kill`, `top`, `images`, `ls` and `version`.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::{anyhow, Result};
use clap::Args;
use nix::sys::signal::Signal;

use crate::go_format::Format;
use crate::Cli;

/// Services to act on.
#[derive(Debug, Args)]
pub struct ServicesArgs {
    /// Services (default: all).
    pub services: Vec<String>,
}

/// `kill`'s flags.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// SIGNAL to send to the container.
    #[arg(short = 's', long, default_value = "SIGKILL")]
    pub signal: String,
    /// Services (default: all).
    pub services: Vec<String>,
}

/// `images`' flags.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Only display IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Format the output: table, json, or a Go template (`{{.Repository}}:{{.Tag}}`).
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Services (default: all).
    pub services: Vec<String>,
}

/// `version`'s flags.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Format the output: pretty, json, or a Go template (`{{.Version}}`).
    #[arg(short = 'f', long, default_value = "pretty")]
    pub format: String,
    /// Shows only the version number.
    #[arg(long)]
    pub short: bool,
}

/// `ls`'s flags.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Format the output: table, json, or a Go template (`{{.Name}}`).
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Show all stopped Compose projects.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display project names.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// Runs `pause` (`paused`) or `unpause`.
pub fn pause(cli: &Cli, args: &ServicesArgs, paused: bool) -> Result<ExitCode> {
    super::project::open(cli, &[])?.set_paused(&args.services, paused)?;
    Ok(ExitCode::SUCCESS)
}

/// A signal by name (`SIGHUP`, `HUP`) or number.
fn parse_signal(text: &str) -> Result<Signal> {
    if let Ok(n) = text.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| anyhow!("invalid signal: {text}"));
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    Signal::from_str(&name).map_err(|_| anyhow!("invalid signal: {text}"))
}

/// Runs `kill`.
pub fn kill(cli: &Cli, args: &KillArgs) -> Result<ExitCode> {
    let signal = parse_signal(&args.signal)?;
    super::project::open(cli, &[])?.kill(&args.services, signal)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `top`: the processes of each running container, from its cgroup.
pub fn top(cli: &Cli, args: &ServicesArgs) -> Result<ExitCode> {
    let stack = super::project::open(cli, &[])?;
    for c in stack.containers()?.into_iter().filter(|c| args.services.is_empty() || args.services.contains(&c.service)) {
        let Some(pids) = stack.runtime().processes(&c.id)? else { continue };
        println!("{}", c.name);
        println!("{:<8} {:<8} {:<8} CMD", "UID", "PID", "PPID");
        for pid in pids {
            let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { continue };
            let field = |key: &str| status.lines().find_map(|l| l.strip_prefix(key)).map(|v| v.split_whitespace().next().unwrap_or("").to_string()).unwrap_or_default();
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ").trim().to_string();
            println!("{:<8} {:<8} {:<8} {cmd}", field("Uid:"), pid, field("PPid:"));
        }
        println!();
    }
    Ok(ExitCode::SUCCESS)
}

/// The column title of each field an `images` template can name, as compose's.
const IMAGE_HEADERS: [(&str, &str); 7] = [
    ("ContainerName", "CONTAINER"),
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Platform", "PLATFORM"),
    ("ID", "IMAGE ID"),
    ("Size", "SIZE"),
    ("Created", "CREATED"),
];

/// Compose's `images` table, as a template.
const IMAGE_TABLE: &str = "{{.ContainerName}}\t{{.Repository}}\t{{.Tag}}\t{{.Platform}}\t{{.ID}}\t{{.Size}}\t{{.Created}}";

/// Runs `images`: the images the project's containers use, in compose's columns.
pub fn images(cli: &Cli, args: &ImagesArgs) -> Result<ExitCode> {
    let stack = super::project::open(cli, &[])?;
    let store = stack.runtime().images();
    let summaries = store.list()?;
    let now = chrono::Utc::now();
    let mut items = Vec::new();
    for c in stack.containers()?.into_iter().filter(|c| args.services.is_empty() || args.services.contains(&c.service)) {
        let reference = xcompose_images::Reference::parse(&c.image).map_err(|e| anyhow!("{e}"))?;
        let image = store.resolve(&c.image).ok();
        let id = image.as_ref().map(|i| i.id.clone()).unwrap_or_default();
        let summary = summaries.iter().find(|s| s.id == id);
        let repository = match reference.registry.as_str() {
            "docker.io" => reference.repository.trim_start_matches("library/").to_string(),
            registry => format!("{registry}/{}", reference.repository),
        };
        items.push(serde_json::json!({
            "ContainerName": c.name,
            "Repository": repository,
            "Tag": reference.tag.clone().unwrap_or_else(|| "<none>".into()),
            "Platform": image.as_ref().map(|i| format!("{}/{}", i.config.os(), i.config.architecture())).unwrap_or_default(),
            "ID": id.trim_start_matches("sha256:").chars().take(12).collect::<String>(),
            "Size": summary.map(|s| crate::sizes::decimal(s.size, 3)).unwrap_or_default(),
            "Created": summary.and_then(|s| s.created.as_deref()).map(|t| super::ps::created_text(t, now)).unwrap_or_default(),
        }));
    }
    if args.quiet {
        items.iter().for_each(|i| println!("{}", i["ID"].as_str().unwrap_or_default()));
        return Ok(ExitCode::SUCCESS);
    }
    print_items(&args.format, IMAGE_TABLE, &items, &IMAGE_HEADERS)
}

/// Prints `items` as `format` says: the command's `table` template (with `headers`, in
/// compose's own columns), JSON (compose prints one array), or the user's template.
fn print_items(format: &str, table: &str, items: &[serde_json::Value], headers: &[(&str, &str)]) -> Result<ExitCode> {
    let headers: BTreeMap<&str, &str> = headers.iter().copied().collect();
    match Format::parse(format) {
        Format::Table => print!("{}", crate::go_format::render(table, true, items, &headers, crate::table::COMPOSE_MIN_WIDTH)?),
        Format::Json => println!("{}", serde_json::Value::Array(items.to_vec())),
        Format::Template { text, table } => print!("{}", crate::go_format::render(&text, table, items, &headers, crate::table::DOCKER_MIN_WIDTH)?),
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `ls`: the projects with containers in the state root.
pub fn ls(cli: &Cli, args: &LsArgs) -> Result<ExitCode> {
    let runtime = xcompose_runtime::Runtime::open(&cli.root, &std::env::current_exe()?)?;
    let mut projects: BTreeMap<String, (BTreeMap<String, usize>, String)> = BTreeMap::new();
    for c in runtime.list()? {
        let Some(project) = c.labels.get("com.docker.compose.project") else { continue };
        let entry = projects.entry(project.clone()).or_default();
        *entry.0.entry(c.state.status.as_str().to_string()).or_insert(0) += 1;
        entry.1 = c.labels.get("com.docker.compose.project.config_files").cloned().unwrap_or_default();
    }
    let shown = projects.into_iter().filter(|(_, (states, _))| args.all || states.contains_key("running"));
    if args.quiet {
        shown.for_each(|(name, _)| println!("{name}"));
        return Ok(ExitCode::SUCCESS);
    }
    let items: Vec<serde_json::Value> = shown
        .map(|(name, (states, files))| {
            let status: Vec<String> = states.iter().map(|(s, n)| format!("{s}({n})")).collect();
            serde_json::json!({"Name": name, "Status": status.join(", "), "ConfigFiles": files})
        })
        .collect();
    print_items(&args.format, "{{.Name}}\t{{.Status}}\t{{.ConfigFiles}}", &items, &[("Name", "NAME"), ("Status", "STATUS"), ("ConfigFiles", "CONFIG FILES")])
}

/// `port`'s arguments.
#[derive(Debug, Args)]
pub struct PortArgs {
    /// tcp or udp.
    #[arg(long, default_value = "tcp")]
    pub protocol: String,
    /// Index of the container if the service has multiple replicas.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// The service.
    pub service: String,
    /// The container port.
    pub private_port: u16,
}

/// Runs `port`: where a container port is published.
pub fn port(cli: &Cli, args: &PortArgs) -> Result<ExitCode> {
    let stack = super::project::open(cli, &[])?;
    let number = args.index.to_string();
    let container = stack
        .containers()?
        .into_iter()
        .find(|c| !c.oneoff && c.service == args.service && c.labels.get("com.docker.compose.container-number") == Some(&number))
        .ok_or_else(|| anyhow!("service {:?} has no container {}", args.service, args.index))?;
    let binding = container
        .ports
        .iter()
        .find(|p| p.container_port == args.private_port && p.protocol == args.protocol)
        .ok_or_else(|| anyhow!("no port {}/{} for container {}", args.private_port, args.protocol, container.name))?;
    println!("{}", binding.host_socket());
    Ok(ExitCode::SUCCESS)
}

/// Runs `version`: `pretty` (the default), `json` (`{"version":"v0.1.0"}` as compose), or a
/// template on `{{.Version}}`.
pub fn version(args: &VersionArgs) -> Result<ExitCode> {
    let version = format!("v{}", env!("CARGO_PKG_VERSION"));
    if args.short {
        println!("{}", version.trim_start_matches('v'));
        return Ok(ExitCode::SUCCESS);
    }
    match Format::parse(&args.format) {
        Format::Json => println!("{}", serde_json::json!({"version": version})),
        Format::Template { text, table } => {
            let item = serde_json::json!({"Version": version});
            let headers = BTreeMap::from([("Version", "VERSION")]);
            print!("{}", crate::go_format::render(&text, table, &[item], &headers, crate::table::DOCKER_MIN_WIDTH)?);
        }
        Format::Table => {
            println!("xcompose version {version} (compose file format of Docker Compose {})", xcompose_orchestrator::labels::COMPOSE_VERSION)
        }
    }
    Ok(ExitCode::SUCCESS)
}
