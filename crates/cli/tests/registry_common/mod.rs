//! What the registry tests share: xcompose run in the sandbox with a home of its own (where
//! `login` writes `.docker/config.json`), its failures checked to be one line with exit code 1,
//! and `image inspect`.

use std::process::Output;

use serde_json::Value;
use xcompose_testkit::Sandbox;

/// The binary under test.
pub const XCOMPOSE: &str = env!("CARGO_BIN_EXE_xcompose");

/// The home directory xcompose runs with (`$HOME/.docker/config.json` holds logins).
pub fn home(sb: &Sandbox) -> std::path::PathBuf {
    let home = sb.temp_dir().join("home");
    std::fs::create_dir_all(&home).unwrap();
    home
}

/// Runs `xcompose --root ROOT ARGS...` in the sandbox with `env` added, and `stdin` as input.
pub fn xc_with(sb: &Sandbox, env: &[(&str, &str)], stdin: &str, args: &[&str]) -> Output {
    use std::io::Write as _;
    let mut command = sb.command(XCOMPOSE);
    command
        .env("HOME", home(sb))
        .envs(env.iter().copied())
        .arg("--root")
        .arg(sb.root())
        .args(args);
    command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Runs `xcompose --root ROOT ARGS...` in the sandbox.
pub fn xc(sb: &Sandbox, args: &[&str]) -> Output {
    xc_with(sb, &[], "", args)
}

/// Fails the test unless `out` is a success; its stdout.
pub fn ok(out: Output, args: &[&str]) -> String {
    assert!(
        out.status.success(),
        "xcompose {args:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Fails the test unless `out` is a failure with exit code 1 and a one-line error; that line.
pub fn err(out: Output, args: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "xcompose {args:?} succeeded:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(out.status.code(), Some(1), "xcompose {args:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "xcompose {args:?}: not one line:\n{stderr}");
    lines[0].to_string()
}

/// `xcompose ARGS...`, which must succeed; its stdout.
pub fn xc_ok(sb: &Sandbox, args: &[&str]) -> String {
    ok(xc(sb, args), args)
}

/// `xcompose ARGS...`, which must fail with a one-line error; that line.
pub fn xc_err(sb: &Sandbox, args: &[&str]) -> String {
    err(xc(sb, args), args)
}

/// `xcompose image inspect REF`'s one object.
pub fn inspect(sb: &Sandbox, reference: &str) -> Value {
    let out: Value = serde_json::from_str(&xc_ok(sb, &["image", "inspect", reference])).unwrap();
    out[0].clone()
}
