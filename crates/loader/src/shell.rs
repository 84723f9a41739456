//! Splitting a command string into words, as compose does for `command: echo "a b"`.

/// Splits `text` into shell words (quotes and backslash escapes, no expansion).
pub fn split(text: &str) -> Result<Vec<String>, String> {
    shlex::split(text).ok_or_else(|| format!("invalid command line string: {text:?}"))
}
