//! Progress of a project command, as compose shows it (`--progress`): on a terminal, one line
//! per resource with a spinner and its elapsed time, ticked off when done; otherwise (CI logs)
//! one plain line per event, ` Container p-web-1  Started`; with `json`, one JSON object per
//! event; with `quiet`, nothing. On stderr, or on stdout with `COMPOSE_STATUS_STDOUT`.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::output::{Output, ProgressMode};
use super::dry_run::PREFIX;

/// Statuses after which a resource has nothing left to do in this command.
const FINAL: [&str; 18] = [
    "Copied", "Exported", "Created", "Started", "Removed", "Healthy", "Exited", "Stopped", "Running", "Recreated", "Restarted", "Pulled", "Pull complete", "Already exists",
    "Pushed", "Layer already exists", "Skipped", "Error",
];

/// A resource as compose names it in its progress lines: `Container p-web-1`, `Network
/// p_default`, and a volume being created quoted (`Volume "p_data"`, compose's
/// `fmt.Sprintf("Volume %q", name)`; it removes them unquoted).
/// A pull's own lines have no kind (` redis Pulling`, ` 4f4fb700ef54 Pull complete`).
fn resource(kind: &str, name: &str, status: &str) -> String {
    if kind == "Volume" && matches!(status, "Creating" | "Created") {
        format!("{kind} \"{name}\"")
    } else {
        [kind, name].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ")
    }
}

/// The reporter for the stack: a function of (kind, name, status), printing as `output` says;
/// in a dry run every line starts with compose's dry-run prefix (JSON lines say `"dry-run":true`).
pub fn reporter(output: &Output, dry_run: bool) -> Box<xcompose_stack::Progress> {
    let prefix = if dry_run { PREFIX } else { "" };
    let to_stdout = output.status_to_stdout;
    let terminal = if to_stdout { std::io::stdout().is_terminal() } else { std::io::stderr().is_terminal() };
    match output.progress {
        ProgressMode::Quiet => Box::new(|_, _, _| {}),
        ProgressMode::Json => Box::new(move |kind, name, status| emit(to_stdout, &json_line(kind, name, status, dry_run))),
        ProgressMode::Tty => live(prefix, to_stdout, !terminal),
        ProgressMode::Auto if terminal => live(prefix, to_stdout, false),
        ProgressMode::Plain | ProgressMode::Auto => {
            // Download progress is for terminals: compose's plain output leaves it out.
            Box::new(move |kind, name, status| {
                if !status.starts_with("Downloading") {
                    emit(to_stdout, &format!("{prefix} {}  {status}", resource(kind, name, status)));
                }
            })
        }
    }
}

/// Prints one progress line on stdout or stderr.
fn emit(to_stdout: bool, line: &str) {
    // A progress line that cannot be written is not worth failing the command for.
    let _ = if to_stdout { writeln!(std::io::stdout(), "{line}") } else { writeln!(std::io::stderr(), "{line}") };
}

/// Compose's jsonMessage for one event: the resource as `id`, the status as `text`, empty
/// fields left out (Go's omitempty).
fn json_line(kind: &str, name: &str, status: &str, dry_run: bool) -> String {
    let mut message = serde_json::Map::new();
    if dry_run {
        message.insert("dry-run".into(), true.into());
    }
    message.insert("id".into(), resource(kind, name, status).into());
    message.insert("text".into(), status.into());
    serde_json::Value::Object(message).to_string()
}

/// The live display: a spinner line per resource, ticked off when it is done; `forced` draws
/// it into a file or pipe too (`--progress tty`), which indicatif's own targets leave blank.
fn live(prefix: &'static str, to_stdout: bool, forced: bool) -> Box<xcompose_stack::Progress> {
    let term = if to_stdout { console::Term::stdout() } else { console::Term::stderr() };
    let target = if forced { ProgressDrawTarget::term_like_with_hz(Box::new(term), 20) } else { ProgressDrawTarget::term(term, 20) };
    let bars = MultiProgress::with_draw_target(target);
    let lines: Mutex<HashMap<String, ProgressBar>> = Mutex::new(HashMap::new());
    let seconds = |state: &ProgressState, out: &mut dyn std::fmt::Write| {
        let _ = write!(out, "{:.1}s", state.elapsed().as_secs_f64());
    };
    let working = ProgressStyle::with_template(" {spinner} {msg} {seconds:.dim}").expect("a valid template").with_key("seconds", seconds);
    let done = ProgressStyle::with_template(" ✔ {msg} {seconds:.dim}").expect("a valid template").with_key("seconds", seconds);
    Box::new(move |kind, name, status| {
        let mut lines = lines.lock().unwrap_or_else(|p| p.into_inner());
        let key = resource(kind, name, "");
        let shown = resource(kind, name, status);
        let bar = lines.entry(key.clone()).or_insert_with(|| {
            let bar = bars.add(ProgressBar::new_spinner().with_style(working.clone()));
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        bar.set_message(format!("{}{shown}  {status}", prefix.trim_start()));
        if FINAL.contains(&status) || status.starts_with("Skipped") || status.starts_with("Mounted from") {
            bar.set_style(done.clone());
            bar.finish();
        } else {
            bar.set_style(working.clone());
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{json_line, resource};

    #[test]
    fn resources_named_as_compose_names_them() {
        assert_eq!(resource("Volume", "p_data", "Created"), "Volume \"p_data\"");
        assert_eq!(resource("Volume", "p_data", "Removed"), "Volume p_data");
        assert_eq!(resource("Network", "p_default", "Created"), "Network p_default");
        assert_eq!(resource("Container", "p-web-1", "Started"), "Container p-web-1");
        assert_eq!(resource("", "4f4fb700ef54", "Pull complete"), "4f4fb700ef54");
    }

    #[test]
    fn json_lines_as_compose_marshals_them() {
        assert_eq!(json_line("Container", "p-web-1", "Started", false), r#"{"id":"Container p-web-1","text":"Started"}"#);
        assert_eq!(json_line("Volume", "p_data", "Creating", true), r#"{"dry-run":true,"id":"Volume \"p_data\"","text":"Creating"}"#);
    }
}
