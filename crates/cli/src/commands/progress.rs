//! Progress of a project command, as compose shows it: on a terminal, one line per resource with
//! a spinner and its elapsed time, ticked off when done; otherwise (CI logs) one plain line per
//! event, ` Container p-web-1  Started`.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

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

/// The reporter for the stack: a function of (kind, name, status); `prefix` starts every line
/// (compose's dry-run prefix, or nothing).
pub fn reporter(prefix: &'static str) -> Box<xcompose_stack::Progress> {
    if !std::io::stderr().is_terminal() {
        // Download progress is for terminals: compose's plain output leaves it out.
        return Box::new(move |kind, name, status| {
            if !status.starts_with("Downloading") {
                eprintln!("{prefix} {}  {status}", resource(kind, name, status));
            }
        });
    }
    let bars = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
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
    use super::resource;

    #[test]
    fn resources_named_as_compose_names_them() {
        assert_eq!(resource("Volume", "p_data", "Created"), "Volume \"p_data\"");
        assert_eq!(resource("Volume", "p_data", "Removed"), "Volume p_data");
        assert_eq!(resource("Network", "p_default", "Created"), "Network p_default");
        assert_eq!(resource("Container", "p-web-1", "Started"), "Container p-web-1");
        assert_eq!(resource("", "4f4fb700ef54", "Pull complete"), "4f4fb700ef54");
    }
}
