//! `xcompose run`: a one-off command in a new container of a service; exits with its exit code.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use xcompose_stack::RunOptions;

use super::attach::{catch_interrupts, has_stopped, interrupted, Follower, Style};
use super::run_flags;
use crate::Cli;

/// `run`'s flags.
#[derive(Debug, Args)]
#[command(trailing_var_arg = true)]
pub struct RunArgs {
    /// Run container in background and print container ID.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Automatically remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Set environment variables.
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Override the entrypoint of the image.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Don't start linked services.
    #[arg(long)]
    pub no_deps: bool,
    /// Run command with all service's ports enabled and mapped to the host.
    #[arg(short = 'P', long)]
    pub service_ports: bool,
    /// Build image before starting container.
    #[arg(long)]
    pub build: bool,
    /// Run as specified username or uid.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Disable pseudo-TTY allocation (xcompose never allocates one yet).
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Publish a container's port(s) to the host.
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Bind mount a volume.
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// Add or override a label.
    #[arg(short = 'l', long = "label")]
    pub labels: Vec<String>,
    /// Add Linux capabilities.
    #[arg(long, value_delimiter = ',')]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities.
    #[arg(long, value_delimiter = ',')]
    pub cap_drop: Vec<String>,
    /// Use the service's network useAliases in the network(s) the container connects to.
    #[arg(long)]
    pub use_aliases: bool,
    /// Set environment variables from file.
    #[arg(long = "env-from-file")]
    pub env_from_file: Vec<PathBuf>,
    /// Keep STDIN open even if not attached; without -d, our standard input is the container's
    /// (closed when ours ends).
    #[arg(short = 'i', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "true|false")]
    pub interactive: bool,
    /// Don't print anything to STDOUT (no progress lines either).
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// The service.
    pub service: String,
    /// The command and its arguments (the service's command if absent).
    #[arg(allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Runs `run`.
pub fn run(cli: &Cli, args: &RunArgs) -> Result<ExitCode> {
    if args.service_ports && !args.publish.is_empty() {
        anyhow::bail!("--service-ports and --publish are incompatible");
    }
    let (working_dir, _) = xcompose_loader::project_files(&cli.project_options())?;
    let opts = RunOptions {
        command: (!args.command.is_empty()).then(|| args.command.clone()),
        entrypoint: args.entrypoint.as_ref().map(|e| shlex::split(e).unwrap_or_else(|| vec![e.clone()])),
        env: run_flags::environment(&args.env, &args.env_from_file)?,
        user: args.user.clone(),
        workdir: args.workdir.clone(),
        name: args.name.clone(),
        no_deps: args.no_deps,
        service_ports: args.service_ports,
        build: args.build,
        publish: run_flags::ports(&args.publish)?,
        volumes: run_flags::volumes(&args.volumes, &working_dir)?,
        labels: run_flags::labels(&args.labels)?,
        cap_add: args.cap_add.clone(),
        cap_drop: args.cap_drop.clone(),
        use_aliases: args.use_aliases,
        interactive: args.interactive,
        attach_stdin: args.interactive && !args.detach,
    };
    let stack = super::project::open(cli, std::slice::from_ref(&args.service))?;
    let stack = if args.quiet { stack.with_progress(Box::new(|_, _, _| {})) } else { stack };
    catch_interrupts()?;
    let id = stack.run(&args.service, &opts)?;
    if args.detach {
        println!("{id}");
        return Ok(ExitCode::SUCCESS);
    }
    if opts.attach_stdin {
        forward_stdin(&stack, &id);
    }
    let container = stack.containers()?.into_iter().find(|c| c.id == id).ok_or_else(|| anyhow::anyhow!("container {id} vanished"))?;
    let mut follower = Follower::new(vec![container], None, Style { split_streams: true, ..Style::default() });
    let code = loop {
        follower.poll(&stack)?;
        let state = follower.states(&stack)?.remove(0);
        if has_stopped(&state) {
            follower.poll(&stack)?;
            break state.exit_code.unwrap_or(0);
        }
        if interrupted() {
            stack.runtime().stop(&id, None)?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if args.rm {
        stack.remove_oneoff(&id)?;
    }
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// Passes our stdin on to the one-off's until ours ends, when the supervisor closes the
/// container's (it is `stdin_once`). A container that has already exited needs no input: a
/// failure to connect is then no error.
fn forward_stdin(stack: &xcompose_stack::Stack, id: &str) {
    let Ok(Some(mut connection)) = stack.runtime().attach_stdin(id) else { return };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut connection);
    });
}
