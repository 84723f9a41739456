//! `xcompose`: a daemonless, drop-in replacement for `docker compose`.

mod commands;
mod compose_yaml;
mod go_format;
mod output;
mod sizes;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Global options, as `docker compose` takes them before the command.
#[derive(Debug, Parser)]
#[command(name = "xcompose", version, about = "Define and run multi-container applications, without a daemon")]
pub struct Cli {
    /// Compose configuration files.
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
    /// Project name.
    #[arg(short = 'p', long = "project-name")]
    pub project_name: Option<String>,
    /// Specify a profile to enable.
    #[arg(long = "profile")]
    pub profiles: Vec<String>,
    /// Specify an alternate environment file.
    #[arg(long = "env-file")]
    pub env_files: Vec<PathBuf>,
    /// Specify an alternate working directory (default: the path of the first compose file).
    #[arg(long = "project-directory")]
    pub project_directory: Option<PathBuf>,
    /// Execute command in dry run mode: print what would change, change nothing. Accepted before
    /// or after the command, as compose takes it.
    #[arg(long = "dry-run", global = true)]
    pub dry_run: bool,
    /// Control when to print ANSI control characters ("never"|"always"|"auto") (default "auto";
    /// COMPOSE_ANSI when not given).
    #[arg(long, value_name = "string")]
    pub ansi: Option<String>,
    /// Set type of progress output (auto, tty, plain, json, quiet) (COMPOSE_PROGRESS when not
    /// given).
    #[arg(long, value_name = "string")]
    pub progress: Option<String>,
    /// Control max parallelism, -1 for unlimited (default -1; COMPOSE_PARALLEL_LIMIT when not
    /// given).
    #[arg(long, value_name = "int", allow_negative_numbers = true)]
    pub parallel: Option<i64>,
    /// The output settings `--ansi`, `--progress` and the COMPOSE_* variables resolve to.
    #[arg(skip)]
    pub output: output::Output,
    /// The limit on concurrent container actions `--parallel` or COMPOSE_PARALLEL_LIMIT set.
    #[arg(skip)]
    pub parallel_limit: Option<usize>,
    /// Where xcompose keeps its state (images, containers, networks).
    #[arg(long = "root", env = "XCOMPOSE_ROOT", default_value = "/var/lib/xcompose")]
    pub root: PathBuf,
    /// Give every container a user namespace whose root is the first subordinate id of USER
    /// (`default`: the `dockremap` user, made with its ranges if missing), as dockerd's
    /// `--userns-remap default|USER[:GROUP]`. The state root records it and keeps it.
    #[arg(long = "userns-remap", env = "XCOMPOSE_USERNS_REMAP", value_name = "default|USER[:GROUP]")]
    pub userns_remap: Option<String>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse, resolve and render the compose file in canonical format.
    Config(commands::config::ConfigArgs),
    /// Converts the compose file to the platform's canonical format (alias of `config`), or
    /// with `--format kubernetes` to Kubernetes manifests.
    Convert(commands::convert::ConvertArgs),
    /// Deploy the project to a Docker Swarm (`--swarm`), or remove it (`--swarm --rm`).
    Deploy(commands::deploy::DeployArgs),
    /// Manage images.
    #[command(subcommand)]
    Image(commands::image::ImageCommand),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(commands::volume::VolumeCommand),
    /// Manage xcompose on this machine (`system boot`: at the machine's start).
    #[command(subcommand)]
    System(commands::system::SystemCommand),
    /// Create and start containers.
    Up(commands::up::UpArgs),
    /// Build or rebuild services.
    Build(commands::build::BuildArgs),
    /// Manage the build cache.
    #[command(subcommand)]
    Builder(commands::build::BuilderCommand),
    /// Pull service images.
    Pull(commands::pull::PullArgs),
    /// Push service images.
    Push(commands::pull::PushArgs),
    /// Log in to a registry.
    Login(commands::login::LoginArgs),
    /// Log out from a registry.
    Logout(commands::login::LogoutArgs),
    /// Stop and remove containers, networks.
    Down(commands::down::DownArgs),
    /// List containers.
    Ps(commands::ps::PsArgs),
    /// View output from containers.
    Logs(commands::logs::LogsArgs),
    /// Execute a command in a running container.
    Exec(commands::exec::ExecArgs),
    /// Run a one-off command on a service.
    Run(commands::run::RunArgs),
    /// Start services.
    Start(commands::lifecycle::StartArgs),
    /// Stop services.
    Stop(commands::lifecycle::StopArgs),
    /// Restart service containers.
    Restart(commands::lifecycle::RestartArgs),
    /// Removes stopped service containers.
    Rm(commands::lifecycle::RmArgs),
    /// Creates containers for a service.
    Create(commands::up::UpArgs),
    /// Pause services.
    Pause(commands::control::ServicesArgs),
    /// Unpause services.
    Unpause(commands::control::ServicesArgs),
    /// Force stop service containers.
    Kill(commands::control::KillArgs),
    /// Display the running processes.
    Top(commands::control::ServicesArgs),
    /// List images used by the created containers.
    Images(commands::control::ImagesArgs),
    /// List running compose projects.
    Ls(commands::control::LsArgs),
    /// Print the public port for a port binding.
    Port(commands::control::PortArgs),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(commands::stats::StatsArgs),
    /// Watch build context for service and rebuild/refresh containers when files are updated.
    Watch(commands::watch::WatchArgs),
    /// Copy files/folders between a service container and the local filesystem.
    Cp(commands::cp::CpArgs),
    /// List volumes.
    Volumes(commands::volumes::VolumesArgs),
    /// Block until containers of all (or specified) services stop.
    Wait(commands::wait::WaitArgs),
    /// Create a new image from a service container's changes.
    Commit(commands::commit::CommitArgs),
    /// Export a service container's filesystem as a tar archive.
    Export(commands::export::ExportArgs),
    /// Scale services.
    Scale(commands::scale::ScaleArgs),
    /// Attach local standard input, output, and error streams to a service's running container.
    Attach(commands::attach_cmd::AttachArgs),
    /// Receive real time events from containers.
    Events(commands::events::EventsArgs),
    /// Show the xcompose version information.
    Version(commands::control::VersionArgs),
    /// Internal: supervise one container, detached from the command that started it.
    #[command(name = "__supervise", hide = true)]
    Supervise {
        /// The supervisor's JSON config.
        config: PathBuf,
        /// Supervise, in this process; without it, run a keeper that applies the container's
        /// restart policy if this supervisor is killed.
        #[arg(long)]
        serve: bool,
    },
    /// Internal: resolve names for one project's containers, detached from the command that
    /// started it.
    /// Internal: the rootless port agent, forwarding published ports from the host's addresses
    /// into the user's network namespace until its holder is gone.
    #[command(name = "__rootless-ports", hide = true)]
    RootlessPorts {
        /// The unix socket it takes requests on.
        socket: PathBuf,
        /// The pid of the namespace holder.
        holder: u32,
    },
    #[command(name = "__dns", hide = true)]
    Dns {
        /// The resolver's JSON config.
        config: PathBuf,
        /// Serve, in this process; without it, run a keeper that starts `__dns --serve` again
        /// whenever it is killed.
        #[arg(long)]
        serve: bool,
    },
    /// Internal: forward one container's ports published on IPv6 loopback (the userland
    /// proxy), detached from the command that started it.
    #[command(name = "__proxy", hide = true)]
    Proxy {
        /// The proxy's JSON config.
        config: PathBuf,
        /// Forward, in this process; without it, run a keeper that starts `__proxy --serve`
        /// again whenever it is killed.
        #[arg(long)]
        serve: bool,
    },
}

impl Command {
    /// Whether the command changes anything it has no dry run for: run with `--dry-run`, it is
    /// refused rather than carried out for real.
    fn changes_without_dry_run(&self) -> bool {
        !matches!(
            self,
            Command::Up(_)
                | Command::Create(_)
                | Command::Config(_)
                | Command::Convert(_)
                | Command::Ps(_)
                | Command::Logs(_)
                | Command::Top(_)
                | Command::Images(_)
                | Command::Ls(_)
                | Command::Port(_)
                | Command::Stats(_)
                | Command::Events(_)
                | Command::Volumes(_)
                | Command::Commit(_)
                | Command::Version(_)
        )
    }
}

impl Command {
    /// Whether the command works on the state root's containers, images or volumes (the
    /// `--userns-remap` setting is applied to the root first); the internal supervisor and
    /// resolver take their state root from their config instead.
    fn uses_state_root(&self) -> bool {
        !matches!(
            self,
            Command::Config(_) | Command::Convert(_) | Command::Deploy(_) | Command::Login(_) | Command::Logout(_) | Command::Version(_) | Command::Supervise { .. } | Command::Dns { .. }
        )
    }
}

impl Cli {
    /// Loader options from the global flags and the process environment.
    pub fn project_options(&self) -> xcompose_loader::ProjectOptions {
        let mut opts = xcompose_loader::ProjectOptions::from_process();
        opts.files = self.files.clone();
        opts.project_name = self.project_name.clone();
        opts.profiles = self.profiles.clone();
        opts.env_files = self.env_files.clone();
        opts.project_directory = self.project_directory.clone();
        opts
    }
}

/// Lets a write to a closed pipe end the process silently, as it ends every Unix tool and docker
/// compose itself (Go dies of SIGPIPE on stdout and stderr): `xcompose ps | head` must neither
/// panic (Rust ignores SIGPIPE, so `println!` would panic on EPIPE) nor print "Broken pipe".
/// Daemons keep SIGPIPE ignored: a client gone from their socket must not end them.
fn die_on_broken_pipe() {
    // SAFETY: setting a signal's disposition to its default has no handler to be unsafe.
    unsafe { nix::sys::signal::signal(nix::sys::signal::Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl) }
        .expect("SIGPIPE is a valid signal");
}

/// An ordinary user's xcompose (rootless): joins the user's namespace holder, starting it if
/// needed, so the rest runs the normal code path as root of the user's namespace; the state root
/// defaults to the user's XDG data directory. Runs before any thread starts (`setns` into a user
/// namespace needs a single-threaded process). Root's xcompose is left as it is.
fn enter_rootless(cli: &mut Cli, matches: &clap::ArgMatches) -> Result<(), xcompose_rootless::RootlessError> {
    // Commands that never touch containers work without the namespaces (and without subordinate
    // ids or /dev/net/tun): `config` in a CI lint step, registry logins, swarm deploys.
    let needs_namespaces = !matches!(
        cli.command,
        Command::Config(_) | Command::Convert(_) | Command::Version(_) | Command::Login(_) | Command::Logout(_) | Command::Deploy(_)
    );
    if nix::unistd::geteuid().is_root() || !needs_namespaces {
        return Ok(());
    }
    if matches.value_source("root") == Some(clap::parser::ValueSource::DefaultValue) {
        cli.root = xcompose_rootless::paths::state_root()?;
    }
    xcompose_rootless::holder::enter(&xcompose_rootless::paths::runtime_dir()?)
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    let env = |name: &str| std::env::var(name).ok();
    let settings = output::Output::resolve(cli.ansi.as_deref(), cli.progress.as_deref(), env)
        .and_then(|output| Ok((output, output::parallel_limit(cli.parallel, env)?)));
    match settings {
        Ok((output, limit)) => (cli.output, cli.parallel_limit) = (output, limit),
        Err(err) => {
            eprintln!("{}", error_line(&err));
            return ExitCode::FAILURE;
        }
    }
    if let Err(e) = enter_rootless(&mut cli, &matches) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    if !matches!(cli.command, Command::Supervise { .. } | Command::Dns { .. } | Command::Proxy { .. } | Command::RootlessPorts { .. }) {
        die_on_broken_pipe();
    }
    if cli.dry_run && cli.command.changes_without_dry_run() {
        let name = matches.subcommand_name().unwrap_or_default();
        eprintln!("--dry-run is not supported by `xcompose {name}` yet: run it without --dry-run; nothing was changed");
        return ExitCode::FAILURE;
    }
    if let (Some(setting), true, false) = (&cli.userns_remap, cli.command.uses_state_root(), cli.dry_run) {
        if let Err(err) = xcompose_runtime::remap::configure(&cli.root, setting) {
            eprintln!("{err}");
            return ExitCode::FAILURE;
        }
    }
    let result = match &cli.command {
        Command::Config(args) => commands::config::run(&cli, args),
        Command::Convert(args) => commands::convert::run(&cli, args),
        Command::Deploy(args) => commands::deploy::run(&cli, args),
        Command::Image(cmd) => commands::image::run(&cli, cmd),
        Command::Volume(cmd) => commands::volume::run(&cli, cmd),
        Command::System(cmd) => commands::system::run(&cli, cmd),
        Command::Up(args) => commands::up::run(&cli, args),
        Command::Build(args) => commands::build::run(&cli, args),
        Command::Builder(cmd) => commands::build::builder(&cli, cmd),
        Command::Pull(args) => commands::pull::pull(&cli, args),
        Command::Push(args) => commands::pull::push(&cli, args),
        Command::Login(args) => commands::login::login(args),
        Command::Logout(args) => commands::login::logout(args),
        Command::Down(args) => commands::down::run(&cli, args),
        Command::Ps(args) => commands::ps::run(&cli, args),
        Command::Logs(args) => commands::logs::run(&cli, args),
        Command::Exec(args) => commands::exec::run(&cli, args),
        Command::Run(args) => commands::run::run(&cli, args),
        Command::Start(args) => commands::lifecycle::start(&cli, args),
        Command::Stop(args) => commands::lifecycle::stop(&cli, args),
        Command::Restart(args) => commands::lifecycle::restart(&cli, args),
        Command::Rm(args) => commands::lifecycle::rm(&cli, args),
        Command::Create(args) => commands::up::create(&cli, args),
        Command::Pause(args) => commands::control::pause(&cli, args, true),
        Command::Unpause(args) => commands::control::pause(&cli, args, false),
        Command::Kill(args) => commands::control::kill(&cli, args),
        Command::Top(args) => commands::control::top(&cli, args),
        Command::Images(args) => commands::control::images(&cli, args),
        Command::Ls(args) => commands::control::ls(&cli, args),
        Command::Port(args) => commands::control::port(&cli, args),
        Command::Events(args) => commands::events::run(&cli, args),
        Command::Cp(args) => commands::cp::run(&cli, args),
        Command::Volumes(args) => commands::volumes::run(&cli, args),
        Command::Wait(args) => commands::wait::run(&cli, args),
        Command::Commit(args) => commands::commit::run(&cli, args),
        Command::Export(args) => commands::export::run(&cli, args),
        Command::Scale(args) => commands::scale::run(&cli, args),
        Command::Attach(args) => commands::attach_cmd::run(&cli, args),
        Command::Watch(args) => commands::watch::run(&cli, args),
        Command::Stats(args) => commands::stats::run(&cli, args),
        Command::Version(args) => commands::control::version(args),
        Command::Supervise { config, serve: true } => xcompose_supervisor::daemon::main(config)
            .map(|code| ExitCode::from(u8::try_from(code).unwrap_or(1)))
            .map_err(anyhow::Error::msg),
        Command::Supervise { config, serve: false } => xcompose_supervisor::keeper::main(config)
            .map(|code| ExitCode::from(u8::try_from(code).unwrap_or(1)))
            .map_err(anyhow::Error::msg),
        Command::RootlessPorts { socket, holder } => xcompose_rootless::ports::serve(socket, *holder).map(|()| ExitCode::SUCCESS).map_err(anyhow::Error::msg),
        Command::Dns { config, serve: true } => xcompose_dns::daemon::main(config)
            .map(|code| ExitCode::from(u8::try_from(code).unwrap_or(1)))
            .map_err(anyhow::Error::msg),
        Command::Dns { config, serve: false } => xcompose_dns::keeper::main(config)
            .map(|code| ExitCode::from(u8::try_from(code).unwrap_or(1)))
            .map_err(anyhow::Error::msg),
        Command::Proxy { config, serve: true } => xcompose_proxy::forward::main(config)
            .map(|code| ExitCode::from(u8::try_from(code).unwrap_or(1)))
            .map_err(anyhow::Error::msg),
        Command::Proxy { config, serve: false } => xcompose_proxy::keeper::main(config)
            .map(|code| ExitCode::from(u8::try_from(code).unwrap_or(1)))
            .map_err(anyhow::Error::msg),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("{}", error_line(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, `what: why: cause`, as anyhow's `{:#}` prints them,
/// except that a cause whose text ends the line already is not repeated: errors that print their
/// source themselves (`#[error("{0}")]` over a `#[from]`) gave "exec: x: exec: x".
pub(crate) fn error_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::error_line;

    /// An error that prints its source in its own message.
    #[derive(Debug)]
    struct Repeating(std::io::Error);

    impl std::fmt::Display for Repeating {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "container setup failed: {}", self.0)
        }
    }

    impl std::error::Error for Repeating {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn causes_are_printed_once() {
        let inner = || std::io::Error::other("exec: nope: no such file");
        let err = anyhow::Error::new(Repeating(inner())).context("service web");
        assert_eq!(error_line(&err), "service web: container setup failed: exec: nope: no such file");
        let err = anyhow::Error::new(inner()).context("reading compose.yaml");
        assert_eq!(error_line(&err), "reading compose.yaml: exec: nope: no such file");
    }
}
