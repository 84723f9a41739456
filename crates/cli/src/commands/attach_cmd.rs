//! `xcompose attach SERVICE`: the output of a running service container from now on, its
//! stdout to stdout and its stderr to stderr, until it stops; exits with its exit code, as
//! `docker compose attach` does. Its standard input goes to the container's when the container
//! keeps one open (`stdin_open`), unless `--no-stdin`. As `docker attach`: for a `tty`
//! container the user's terminal is set raw and the detach sequence (`--detach-keys`, default
//! ctrl-p,ctrl-q) ends `attach` leaving the container running; signals this command receives go
//! to a container without a tty (`--sig-proxy`, on by default).

use std::io::{IsTerminal, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use nix::sys::signal::Signal;

use super::attach::{has_stopped, Follower, Style};
use super::detach_keys::{self, Detacher, Input};
use super::terminal::RawInput;
use crate::Cli;

/// `attach`'s flags.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Override the key sequence for detaching from a container.
    #[arg(long)]
    pub detach_keys: Option<String>,
    /// index of the container if service has multiple replicas.
    #[arg(long, default_value_t = 0)]
    pub index: u32,
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "true|false")]
    pub sig_proxy: bool,
    /// The service.
    pub service: String,
}

/// The last signal received and not yet passed on (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: nix::libc::c_int) {
    RECEIVED.store(signal, Ordering::SeqCst);
}

/// Signals to pass on to the container rather than be ended by.
fn proxy_signals() -> Result<()> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet};
    let action = SigAction::new(SigHandler::Handler(on_signal), SaFlags::empty(), SigSet::empty());
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGUSR1, Signal::SIGUSR2] {
        // SAFETY: the handler only stores to an atomic.
        unsafe { sigaction(signal, &action) }?;
    }
    Ok(())
}

/// Runs `attach`.
pub fn run(cli: &Cli, args: &AttachArgs) -> Result<ExitCode> {
    let detacher = Detacher::parse(args.detach_keys.as_deref().unwrap_or(detach_keys::DEFAULT))?;
    let stack = super::project::open(cli, &[])?;
    let service = &args.service;
    let container = super::project::running_container(&stack, service, args.index)?;
    let id = container.id.clone();
    let tty = stack.runtime().find(&id)?.supervisor.spec.tty;
    // As docker attach: a terminal's signals are keys typed into it, not proxied.
    if args.sig_proxy && !tty {
        proxy_signals()?;
    }
    let already = stack.log_lines(&container)?.len();
    let detached = Arc::new(AtomicBool::new(false));
    let stdin = if args.no_stdin { None } else { stack.runtime().attach_stdin(&id)? };
    // Restores the user's terminal when `attach` ends, however it ends.
    let _raw = match stdin {
        Some(connection) => {
            let raw = (tty && std::io::stdin().is_terminal()).then(RawInput::enable).transpose()?;
            forward_stdin(connection, tty.then_some(detacher), detached.clone());
            raw
        }
        None => None,
    };
    let style = Style { prefix: false, timestamps: false, split_streams: true, color: false };
    let mut follower = Follower::new(vec![container], Some(vec![already]), style);
    loop {
        follower.poll(&stack)?;
        let state = follower.states(&stack)?.remove(0);
        if has_stopped(&state) {
            follower.poll(&stack)?;
            return Ok(ExitCode::from(u8::try_from(state.exit_code.unwrap_or(0)).unwrap_or(1)));
        }
        if detached.load(Ordering::SeqCst) {
            // docker attach's words when its escape sequence is read.
            eprintln!("read escape sequence");
            return Ok(ExitCode::SUCCESS);
        }
        let signal = RECEIVED.swap(0, Ordering::SeqCst);
        if signal != 0 {
            stack.runtime().kill(&id, Signal::try_from(signal)?)?;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Passes our stdin on to the container's through `connection` until it ends; through the
/// `detacher` (a terminal container's) it stops at the detach sequence and sets `detached`.
/// The container's stdin stays open when ours ends, as with Docker (unless it is `stdin_once`).
fn forward_stdin(mut connection: UnixStream, mut detacher: Option<Detacher>, detached: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut stdin = std::io::stdin().lock();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 {
                return;
            }
            let (bytes, detach) = match detacher.as_mut().map(|d| d.feed(&buf[..n])) {
                Some(Input::Forward(bytes)) => (bytes, false),
                Some(Input::Detach(bytes)) => (bytes, true),
                None => (buf[..n].to_vec(), false),
            };
            if connection.write_all(&bytes).is_err() {
                return;
            }
            if detach {
                detached.store(true, Ordering::SeqCst);
                return;
            }
        }
    });
}
