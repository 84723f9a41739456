//! How xcompose prints: `--ansi` (`COMPOSE_ANSI`), `--progress` (`COMPOSE_PROGRESS`) and
//! `COMPOSE_STATUS_STDOUT`, resolved once as compose's PersistentPreRun resolves them.

use anyhow::{bail, Result};

/// When to print ANSI control characters (colours, the live progress display).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Ansi {
    /// Never.
    Never,
    /// Always, even into a file or a pipe.
    Always,
    /// On a terminal.
    #[default]
    Auto,
}

/// How a command's progress is shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProgressMode {
    /// A live display on a terminal, one plain line per event otherwise.
    #[default]
    Auto,
    /// The live display, one line per resource with a spinner.
    Tty,
    /// One plain line per event: ` Container p-web-1  Started`.
    Plain,
    /// One JSON object per event, compose's jsonMessage: `{"id":"Container p-web-1","text":"Started"}`.
    Json,
    /// Nothing.
    Quiet,
}

/// The output settings of this run of xcompose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Output {
    /// `--ansi`.
    pub ansi: Ansi,
    /// `--progress`, settled against `--ansi` (`Auto` only when the terminal decides).
    pub progress: ProgressMode,
    /// `COMPOSE_STATUS_STDOUT`: progress to stdout instead of stderr.
    pub status_to_stdout: bool,
}

impl Output {
    /// The settings from the `--ansi` and `--progress` flags, else the `COMPOSE_ANSI` and
    /// `COMPOSE_PROGRESS` variables of `env`; one line naming the bad value otherwise.
    pub fn resolve(ansi_flag: Option<&str>, progress_flag: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let ansi_text = ansi_flag.map(str::to_string).or_else(|| env("COMPOSE_ANSI")).unwrap_or_default();
        let ansi = match ansi_text.as_str() {
            "never" => Ansi::Never,
            "always" => Ansi::Always,
            "auto" | "" => Ansi::Auto,
            other => bail!("unsupported --ansi value {other:?}: use never, always or auto"),
        };
        let progress_text = progress_flag.map(str::to_string).or_else(|| env("COMPOSE_PROGRESS")).unwrap_or_default();
        let progress = match progress_text.as_str() {
            "auto" | "" if ansi == Ansi::Never => ProgressMode::Plain,
            "auto" | "" => ProgressMode::Auto,
            "tty" if ansi == Ansi::Never => bail!("can't use --progress tty while ANSI support is disabled"),
            "tty" => ProgressMode::Tty,
            "plain" if ansi == Ansi::Always => bail!("can't use --progress plain while ANSI support is forced"),
            "plain" => ProgressMode::Plain,
            "json" => ProgressMode::Json,
            "quiet" | "none" => ProgressMode::Quiet,
            other => bail!("unsupported --progress value {other:?}: use auto, tty, plain, json or quiet"),
        };
        // strconv.ParseBool's true spellings; anything else keeps stderr, as compose ignores it.
        let status_to_stdout = env("COMPOSE_STATUS_STDOUT").is_some_and(|v| matches!(v.as_str(), "1" | "t" | "T" | "true" | "TRUE" | "True"));
        Ok(Self { ansi, progress, status_to_stdout })
    }

    /// Whether a stream that is (`is_terminal`) or is not a terminal gets colours.
    pub fn colors(&self, is_terminal: bool) -> bool {
        match self.ansi {
            Ansi::Never => false,
            Ansi::Always => true,
            Ansi::Auto => is_terminal,
        }
    }
}

/// `--parallel`, else `COMPOSE_PARALLEL_LIMIT`: how many container actions may run at once
/// (`None`: no limit, compose's -1 and 0).
pub fn parallel_limit(flag: Option<i64>, env: impl Fn(&str) -> Option<String>) -> Result<Option<usize>> {
    let limit = match flag {
        Some(n) => n,
        None => match env("COMPOSE_PARALLEL_LIMIT") {
            Some(text) => match text.trim().parse::<i64>() {
                Ok(n) => n,
                Err(_) => bail!("COMPOSE_PARALLEL_LIMIT must be an integer (found: {text:?})"),
            },
            None => -1,
        },
    };
    Ok(usize::try_from(limit).ok().filter(|n| *n > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn flags_win_over_the_environment() {
        let vars = [("COMPOSE_ANSI", "always"), ("COMPOSE_PROGRESS", "quiet"), ("COMPOSE_STATUS_STDOUT", "true")];
        let from_env = Output::resolve(None, None, env(&vars)).unwrap();
        assert_eq!(from_env, Output { ansi: Ansi::Always, progress: ProgressMode::Quiet, status_to_stdout: true });
        let from_flags = Output::resolve(Some("never"), Some("json"), env(&vars)).unwrap();
        assert_eq!((from_flags.ansi, from_flags.progress), (Ansi::Never, ProgressMode::Json));
        assert_eq!(Output::resolve(None, None, env(&[])).unwrap(), Output::default());
    }

    #[test]
    fn ansi_settles_auto_progress_and_refuses_what_contradicts_it() {
        assert_eq!(Output::resolve(Some("never"), None, env(&[])).unwrap().progress, ProgressMode::Plain);
        let refused = |ansi, progress| Output::resolve(Some(ansi), Some(progress), env(&[])).unwrap_err().to_string();
        assert_eq!(refused("never", "tty"), "can't use --progress tty while ANSI support is disabled");
        assert_eq!(refused("always", "plain"), "can't use --progress plain while ANSI support is forced");
        assert_eq!(refused("auto", "fancy"), "unsupported --progress value \"fancy\": use auto, tty, plain, json or quiet");
        assert_eq!(refused("sometimes", "plain"), "unsupported --ansi value \"sometimes\": use never, always or auto");
    }

    #[test]
    fn colours_follow_ansi() {
        let with = |ansi| Output { ansi, ..Output::default() };
        assert!(!with(Ansi::Never).colors(true));
        assert!(with(Ansi::Always).colors(false));
        assert!(with(Ansi::Auto).colors(true) && !with(Ansi::Auto).colors(false));
    }

    #[test]
    fn parallel_limit_from_flag_or_environment() {
        assert_eq!(parallel_limit(Some(2), env(&[("COMPOSE_PARALLEL_LIMIT", "5")])).unwrap(), Some(2));
        assert_eq!(parallel_limit(None, env(&[("COMPOSE_PARALLEL_LIMIT", "5")])).unwrap(), Some(5));
        assert_eq!(parallel_limit(Some(-1), env(&[])).unwrap(), None);
        assert_eq!(parallel_limit(None, env(&[])).unwrap(), None);
        let bad = parallel_limit(None, env(&[("COMPOSE_PARALLEL_LIMIT", "many")])).unwrap_err().to_string();
        assert_eq!(bad, "COMPOSE_PARALLEL_LIMIT must be an integer (found: \"many\")");
    }
}
