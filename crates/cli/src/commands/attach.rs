//! Following containers' output as it is written: `logs -f`, attached `up`, and `run`.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use xcompose_stack::{ContainerInfo, LogLine, Stack};
use xcompose_supervisor::state::{ContainerState, Status};

use crate::output::Output;

/// How lines are printed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// `name | ` before each line.
    pub prefix: bool,
    /// The line's timestamp before its text.
    pub timestamps: bool,
    /// stderr lines to stderr (as `run` does), instead of everything to stdout.
    pub split_streams: bool,
    /// The prefix in each container's own colour.
    pub color: bool,
}

/// Whether output to stdout may be coloured: never with `--no-color`; else as `--ansi` says,
/// its `auto` meaning a terminal and no `NO_COLOR`.
pub fn colors_wanted(output: &Output, no_color: bool) -> bool {
    use std::io::IsTerminal;
    !no_color && output.colors(std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal())
}

/// The name compose shows for a container in its output: `web-1` for the project's own naming
/// (`<project>-web-1`), the full name for a `container_name` or a one-off container.
pub fn display_name(c: &ContainerInfo) -> &str {
    let label = |key: &str| c.labels.get(key).map(String::as_str).unwrap_or_default();
    let project = label("com.docker.compose.project");
    let default = format!("{project}-{}-{}", c.service, label("com.docker.compose.container-number"));
    if c.name == default { &c.name[project.len() + 1..] } else { &c.name }
}

/// The prefix width of `containers`' lines: their longest shown name.
pub fn name_width(containers: &[ContainerInfo]) -> usize {
    containers.iter().map(|c| display_name(c).len()).max().unwrap_or(0)
}

/// Compose's prefix colours, given to containers in turn (ANSI SGR codes).
const RAINBOW: [&str; 10] = ["36", "33", "32", "35", "34", "36;1", "33;1", "32;1", "35;1", "34;1"];

/// The containers followed and how many lines of each were printed.
pub struct Follower {
    containers: Vec<ContainerInfo>,
    printed: Vec<usize>,
    width: usize,
    style: Style,
}

impl Follower {
    /// Follows `containers`, skipping the first `already[i]` lines of container `i` (all lines if `None`).
    pub fn new(containers: Vec<ContainerInfo>, already: Option<Vec<usize>>, style: Style) -> Self {
        let width = name_width(&containers);
        let printed = already.unwrap_or_else(|| vec![0; containers.len()]);
        Self { containers, printed, width, style }
    }

    /// The containers followed.
    pub fn containers(&self) -> &[ContainerInfo] {
        &self.containers
    }

    /// Prints the lines written since the last call (none of containers that keep no logs).
    pub fn poll(&mut self, stack: &Stack) -> Result<()> {
        for (index, (c, seen)) in self.containers.iter().zip(self.printed.iter_mut()).enumerate().filter(|(_, (c, _))| !c.logs_discarded) {
            let all = stack.log_lines(c)?;
            for line in all.iter().skip(*seen) {
                print_line(self.style, c, index, line, self.width)?;
            }
            *seen = all.len().max(*seen);
        }
        Ok(())
    }

    /// The current state of each container followed.
    pub fn states(&self, stack: &Stack) -> Result<Vec<ContainerState>> {
        self.containers.iter().map(|c| Ok(stack.runtime().state(&stack.runtime().find(&c.id)?))).collect()
    }
}

/// Prints one log line of `c`, the `index`th container shown, in `style`.
pub fn print_line(style: Style, c: &ContainerInfo, index: usize, line: &LogLine, width: usize) -> std::io::Result<()> {
    let mut text = String::new();
    if style.prefix {
        // Compose pads the names to one more than the longest.
        let prefix = format!("{:<pad$} | ", display_name(c), pad = width + 1);
        if style.color {
            text.push_str(&format!("\x1b[{}m{prefix}\x1b[0m", RAINBOW[index % RAINBOW.len()]));
        } else {
            text.push_str(&prefix);
        }
    }
    if style.timestamps {
        text.push_str(&line.time);
        text.push(' ');
    }
    text.push_str(&line.log);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    if style.split_streams && line.stream == "stderr" {
        let mut err = std::io::stderr().lock();
        err.write_all(text.as_bytes())?;
        err.flush()
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()
    }
}

/// Whether a container has stopped for good (exited or dead, and not about to restart).
pub fn has_stopped(state: &ContainerState) -> bool {
    matches!(state.status, Status::Exited | Status::Dead | Status::Created)
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: nix::libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// From now on, Ctrl+C (SIGINT) and SIGTERM only set a flag, read by [`interrupted`].
pub fn catch_interrupts() -> Result<()> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let action = SigAction::new(SigHandler::Handler(on_interrupt), SaFlags::empty(), SigSet::empty());
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic.
        unsafe { sigaction(signal, &action) }?;
    }
    Ok(())
}

/// Whether Ctrl+C or SIGTERM arrived since [`catch_interrupts`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
