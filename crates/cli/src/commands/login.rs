//! `xcompose login` / `logout`: Docker's, writing Docker's config.json.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;

/// `login`'s flags.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The registry (Docker Hub when omitted).
    pub server: Option<String>,
    /// Username.
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password.
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin.
    #[arg(long, conflicts_with = "password")]
    pub password_stdin: bool,
}

/// `logout`'s arguments.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry (Docker Hub when omitted).
    pub server: Option<String>,
}

/// Runs `login`.
pub fn login(args: &LoginArgs) -> Result<ExitCode> {
    let interactive = std::io::stdin().is_terminal();
    let username = match &args.username {
        Some(u) => u.clone(),
        None if args.password_stdin => bail!("Must provide --username with --password-stdin"),
        None if interactive => prompt("Username: ")?,
        None => bail!("Error: Cannot perform an interactive login from a non TTY device"),
    };
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_string()
    } else {
        match &args.password {
            Some(p) => {
                eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
                p.clone()
            }
            None if interactive => prompt_hidden("Password: ")?,
            None => bail!("Error: Cannot perform an interactive login from a non TTY device"),
        }
    };
    if username.is_empty() || password.is_empty() {
        bail!("Error: Username and password required");
    }
    let lines = xcompose_registry::login(args.server.as_deref(), &username, &password).map_err(|e| anyhow::anyhow!("Error response from daemon: {e}"))?;
    for line in lines {
        if line.starts_with("WARNING!") {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `logout`.
pub fn logout(args: &LogoutArgs) -> Result<ExitCode> {
    println!("{}", xcompose_registry::logout(args.server.as_deref())?);
    Ok(ExitCode::SUCCESS)
}

fn prompt(label: &str) -> Result<String> {
    print!("{label}");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_string())
}

/// Reads a line from the terminal without echoing it.
fn prompt_hidden(label: &str) -> Result<String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let stdin = std::io::stdin();
    let saved = tcgetattr(&stdin)?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet)?;
    let line = prompt(label);
    tcsetattr(&stdin, SetArg::TCSANOW, &saved)?;
    println!();
    line
}
