//! `xcompose`: a daemonless, drop-in replacement for `docker compose`.

mod commands;
mod sizes;
mod yaml_out;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Execute command in dry run mode: print what would change, change nothing.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Where xcompose keeps its state (images, containers, networks).
    #[arg(long = "root", env = "XCOMPOSE_ROOT", default_value = "/var/lib/xcompose")]
    pub root: PathBuf,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse, resolve and render the compose file in canonical format.
    Config(commands::config::ConfigArgs),
    /// Manage images.
    #[command(subcommand)]
    Image(commands::image::ImageCommand),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(commands::volume::VolumeCommand),
    /// Create and start containers.
    Up(commands::up::UpArgs),
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
    Restart(commands::lifecycle::StopArgs),
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
    Images(commands::control::ServicesArgs),
    /// List running compose projects.
    Ls(commands::control::LsArgs),
    /// Print the public port for a port binding.
    Port(commands::control::PortArgs),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(commands::stats::StatsArgs),
    /// Watch build context for service and rebuild/refresh containers when files are updated.
    Watch(commands::watch::WatchArgs),
    /// Receive real time events from containers.
    Events(commands::events::EventsArgs),
    /// Show the xcompose version information.
    Version,
    /// Internal: supervise one container, detached from the command that started it.
    #[command(name = "__supervise", hide = true)]
    Supervise {
        /// The supervisor's JSON config.
        config: PathBuf,
    },
    /// Internal: resolve names for one project's containers, detached from the command that
    /// started it.
    #[command(name = "__dns", hide = true)]
    Dns {
        /// The resolver's JSON config.
        config: PathBuf,
    },
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Config(args) => commands::config::run(&cli, args),
        Command::Image(cmd) => commands::image::run(&cli, cmd),
        Command::Volume(cmd) => commands::volume::run(&cli, cmd),
        Command::Up(args) => commands::up::run(&cli, args),
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
        Command::Watch(args) => commands::watch::run(&cli, args),
        Command::Stats(args) => commands::stats::run(&cli, args),
        Command::Version => commands::control::version(),
        Command::Supervise { config } => xcompose_supervisor::daemon::main(config)
            .map(|code| ExitCode::from(u8::try_from(code).unwrap_or(1)))
            .map_err(anyhow::Error::msg),
        Command::Dns { config } => xcompose_dns::daemon::main(config)
            .map(|code| ExitCode::from(u8::try_from(code).unwrap_or(1)))
            .map_err(anyhow::Error::msg),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("{err:#}");
            ExitCode::FAILURE
        }
    }
}
