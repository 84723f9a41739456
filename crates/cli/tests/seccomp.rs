//! `security_opt` seccomp end to end in a sandbox: what the processes of a service may do,
//! probed from inside the busybox container (the system-call-level verdicts of the default
//! profile are asserted in crates/seccomp's tests).

use std::path::Path;

use anyhow::{ensure, Result};
use xcompose_testkit::Sandbox;

mod common;
use common::{project, sandbox_with_busybox, xcompose, XCOMPOSE};

/// The probe each service runs: its seccomp mode, whether it may make a mount namespace, make
/// a directory, and fork and run a program.
const PROBE: &str = "grep Seccomp: /proc/self/status; \
    unshare -m true 2>&1 && echo unshare=allowed; \
    mkdir /made 2>&1 && echo mkdir=allowed; \
    echo fork=$(echo ok)";

/// The probe's output in a one-off container of `service`.
fn probe(sb: &Sandbox, dir: &Path, service: &str) -> Result<String> {
    xcompose(sb, dir, &["run", "--rm", "-T", service, "sh", "-c", PROBE])
}

fn compose(services: &[(&str, &str)]) -> String {
    let mut text = String::from("services:\n");
    for (name, extra) in services {
        text.push_str(&format!("  {name}:\n    image: busybox:latest\n    init: true\n    command: [sleep, '1000']\n{extra}"));
    }
    text
}

#[test]
fn default_profile_and_its_exceptions() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(
        &sb,
        "filtered",
        &compose(&[
            ("plain", ""),
            ("admin", "    cap_add: [SYS_ADMIN]\n"),
            ("unconfined", "    security_opt: [\"seccomp=unconfined\"]\n"),
            ("privileged", "    privileged: true\n"),
            ("nomkdir", "    security_opt: [\"seccomp=profiles/nomkdir.json\", \"no-new-privileges:true\"]\n"),
        ]),
    )?;
    std::fs::create_dir_all(dir.join("profiles"))?;
    std::fs::write(
        dir.join("profiles/nomkdir.json"),
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}"#,
    )?;

    let plain = probe(&sb, &dir, "plain")?;
    ensure!(plain.contains("Seccomp:\t2"), "default filter not in place: {plain}");
    ensure!(plain.contains("Operation not permitted") && !plain.contains("unshare=allowed"), "unshare not denied: {plain}");
    ensure!(plain.contains("mkdir=allowed") && plain.contains("fork=ok"), "ordinary calls denied: {plain}");

    let admin = probe(&sb, &dir, "admin")?;
    ensure!(admin.contains("Seccomp:\t2") && admin.contains("unshare=allowed"), "cap_add SYS_ADMIN does not re-allow unshare: {admin}");

    for service in ["unconfined", "privileged"] {
        let out = probe(&sb, &dir, service)?;
        ensure!(out.contains("Seccomp:\t0"), "{service} is filtered: {out}");
    }

    let nomkdir = probe(&sb, &dir, "nomkdir")?;
    // Docker's default profile allows mkdir: its denial is the custom profile's rule (loaded
    // last here, under no-new-privileges).
    ensure!(nomkdir.contains("Seccomp:\t2") && nomkdir.contains("fork=ok"), "custom profile not loaded: {nomkdir}");
    ensure!(nomkdir.contains("can't create directory '/made': Operation not permitted"), "custom profile's mkdir rule ignored: {nomkdir}");

    // A process exec'd into a running container gets the container's filter too.
    xcompose(&sb, &dir, &["up", "-d", "plain"])?;
    let exec = xcompose(&sb, &dir, &["exec", "-T", "plain", "sh", "-c", PROBE])?;
    ensure!(exec.contains("Seccomp:\t2") && !exec.contains("unshare=allowed"), "exec runs unfiltered: {exec}");
    xcompose(&sb, &dir, &["down", "-t", "0"])?;
    Ok(())
}

#[test]
fn bad_security_options_are_refused_before_anything_starts() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    for (name, option, expected) in [
        ("missing", "seccomp=nope.json", "service \"a\": security_opt \"seccomp=nope.json\": reading seccomp profile"),
        ("apparmor", "apparmor=docker-default", "security_opt \"apparmor=docker-default\": AppArmor"),
        ("selinux", "label=level:s0:c100,c200", "security_opt \"label=level:s0:c100,c200\": SELinux"),
        ("unknown", "bogus", "security_opt \"bogus\": unknown option"),
    ] {
        let dir = project(&sb, name, &compose(&[("a", &format!("    security_opt: [\"{option}\"]\n"))]))?;
        for args in [&["up", "-d"][..], &["run", "--rm", "a", "true"][..]] {
            let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(args).output()?;
            let stderr = String::from_utf8_lossy(&out.stderr);
            ensure!(out.status.code() == Some(1) && stderr.contains(expected), "{option} {args:?}: expected {expected:?}, got {stderr}");
        }
        let ps = xcompose(&sb, &dir, &["ps", "-a", "-q"])?;
        ensure!(ps.trim().is_empty(), "{option}: containers left behind: {ps}");
    }
    Ok(())
}

/// The probe's verdicts under Docker Engine (Debian's dockerd, the busybox image imported) and
/// under xcompose are the same, service by service.
#[test]
fn the_same_verdicts_as_docker() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dockerd = xcompose_testkit::Dockerd::start(&sb)?;
    let image = xcompose_testkit::busybox_image_tar()?;
    dockerd.run_ok(&sb, &["import", "--change", "CMD [\"sh\"]", image.to_str().unwrap(), "busybox:latest"])?;
    let dir = project(
        &sb,
        "parity",
        &compose(&[("plain", ""), ("admin", "    cap_add: [SYS_ADMIN]\n"), ("unconfined", "    security_opt: [\"seccomp=unconfined\"]\n")]),
    )?;
    for (service, docker_flags) in [("plain", &[][..]), ("admin", &["--cap-add", "SYS_ADMIN"][..]), ("unconfined", &["--security-opt", "seccomp=unconfined"][..])] {
        let mut args = vec!["run", "--rm", "--network", "none"];
        args.extend_from_slice(docker_flags);
        args.extend_from_slice(&["busybox:latest", "sh", "-c", PROBE]);
        let docker = dockerd.run_ok(&sb, &args)?;
        let ours = probe(&sb, &dir, service)?;
        ensure!(ours == docker, "{service}: xcompose says\n{ours}\nDocker says\n{docker}");
    }
    Ok(())
}
