//! `xcompose exec`: run a command in a running container of a service.

use std::io::IsTerminal;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use xcompose_container::Stdio;
use xcompose_runtime::ExecRequest;

use super::terminal::Terminal;
use crate::Cli;

/// `exec`'s flags.
#[derive(Debug, Args)]
#[command(trailing_var_arg = true)]
pub struct ExecArgs {
    /// Detached mode: run the command in the background.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Set environment variables.
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Run the command as this user.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Path to workdir directory for this command.
    #[arg(short = 'w', long)]
    pub workdir: Option<std::path::PathBuf>,
    /// Disable pseudo-TTY allocation. By default `xcompose exec` allocates a TTY when its input is a terminal.
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Index of the container if the service has multiple replicas.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// The service.
    pub service: String,
    /// The command and its arguments.
    #[arg(required = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

fn inherited(fd: i32) -> Result<OwnedFd> {
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    borrowed.try_clone_to_owned().context("duplicating standard I/O")
}

/// Runs `exec`; exits with the command's exit code.
pub fn run(cli: &Cli, args: &ExecArgs) -> Result<ExitCode> {
    let stack = super::project::open(cli, &[])?;
    let container = stack
        .containers()?
        .into_iter()
        .find(|c| !c.oneoff && c.service == args.service && c.labels.get("com.docker.compose.container-number") == Some(&args.index.to_string()))
        .ok_or_else(|| anyhow!("service {:?} is not running", args.service))?;
    let env = args
        .env
        .iter()
        .map(|e| if e.contains('=') { e.clone() } else { format!("{e}={}", std::env::var(e).unwrap_or_default()) })
        .collect();
    let tty = !args.no_tty && !args.detach && std::io::stdin().is_terminal();
    let request = ExecRequest { args: args.command.clone(), user: args.user.clone(), env, workdir: args.workdir.clone(), tty, privileged: false };
    let (terminal, stdio) = if args.detach {
        (None, Stdio { stdin: None, stdout: None, stderr: None })
    } else if tty {
        let pid = container.state.pid.ok_or_else(|| anyhow!("service {:?} is not running", args.service))?;
        let (terminal, stdio) = Terminal::open(Path::new(&format!("/proc/{pid}/root")))?;
        (Some(terminal), stdio)
    } else {
        (None, Stdio { stdin: Some(inherited(0)?), stdout: Some(inherited(1)?), stderr: Some(inherited(2)?) })
    };
    let process = stack.runtime().exec(&container.id, &request, stdio)?;
    if args.detach {
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(terminal) = &terminal {
        terminal.relay()?;
    }
    let code = process.wait()?;
    drop(terminal);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}
