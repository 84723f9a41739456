//! Running programs inside a namespace holder with `nsenter`, and readable errors when they fail.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

/// The full path of `program` on `PATH`, if it is there and executable.
pub(crate) fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            candidate
                .metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// A command that runs `program` in the network, mount and UTS namespaces of process `holder`,
/// with `mark` ("NAME=value") in its environment.
///
/// `nsenter` does not fork for these namespaces: the spawned child *is* `program` once it has
/// started, so killing the child kills the program. Its working directory is resolved on the
/// host's side before the namespaces are entered.
pub(crate) fn nsenter(holder: u32, mark: (&str, &str), program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new("nsenter");
    command
        .env(mark.0, mark.1)
        .arg("--target")
        .arg(holder.to_string())
        .args(["--net", "--mount", "--uts", "--"])
        .arg(program);
    command
}

/// `Ok(stdout)` if the command exited 0, otherwise an error with the command line, where it ran,
/// its status, stdout and stderr.
pub(crate) fn check(
    output: Output,
    place: &str,
    program: &str,
    args: &[&str],
) -> anyhow::Result<String> {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    anyhow::bail!(
        "`{}` in {place} failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
        command_line(program, args),
        output.status,
        stdout.trim_end(),
        stderr.trim_end()
    )
}

/// `program arg...` with arguments quoted when they need it, for messages.
pub(crate) fn command_line(program: &str, args: &[&str]) -> String {
    std::iter::once(program)
        .chain(args.iter().copied())
        .map(|word| {
            if !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                word.to_string()
            } else {
                format!("'{}'", word.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn command_lines_quote_what_a_shell_would_split() {
        assert_eq!(
            command_line("sh", &["-c", "echo ok", "it's"]),
            r#"sh -c 'echo ok' 'it'\''s'"#
        );
        assert_eq!(command_line("ip", &["-o", "link"]), "ip -o link");
    }

    #[test]
    fn failures_carry_status_stdout_and_stderr() {
        let output = Output {
            status: std::process::ExitStatus::from_raw(3 << 8),
            stdout: b"out\n".to_vec(),
            stderr: b"err\n".to_vec(),
        };
        let message = check(output, "sandbox 1x0", "false", &["x y"])
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("`false 'x y'` in sandbox 1x0"),
            "{message}"
        );
        assert!(message.contains("exit status: 3"), "{message}");
        assert!(
            message.contains("--- stdout ---\nout\n--- stderr ---\nerr"),
            "{message}"
        );
    }

    #[test]
    fn finds_sh_on_path() {
        assert!(find_in_path("sh").is_some());
        assert!(find_in_path("no-such-program-xtk").is_none());
    }
}
