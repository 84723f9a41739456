//! `xcompose attach SERVICE`: the output of a running service container from now on, its
//! stdout to stdout and its stderr to stderr, until it stops; exits with its exit code, as
//! `docker compose attach` does. Signals this command receives go to the container
//! (`--sig-proxy`, on by default). Standard input is not attached: the containers of
//! xcompose have none to attach to (`--no-stdin` and `--detach-keys` are accepted for that).

use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use nix::sys::signal::Signal;

use super::attach::{has_stopped, Follower, Style};
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
    let stack = super::project::open(cli, &[])?;
    let service = &args.service;
    let container = super::project::running_container(&stack, service, args.index)?;
    if args.sig_proxy {
        proxy_signals()?;
    }
    let already = stack.log_lines(&container)?.len();
    let id = container.id.clone();
    let style = Style { prefix: false, timestamps: false, split_streams: true, color: false };
    let mut follower = Follower::new(vec![container], Some(vec![already]), style);
    loop {
        follower.poll(&stack)?;
        let state = follower.states(&stack)?.remove(0);
        if has_stopped(&state) {
            follower.poll(&stack)?;
            return Ok(ExitCode::from(u8::try_from(state.exit_code.unwrap_or(0)).unwrap_or(1)));
        }
        let signal = RECEIVED.swap(0, Ordering::SeqCst);
        if signal != 0 {
            stack.runtime().kill(&id, Signal::try_from(signal)?)?;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
