//! What a container is given besides its image, as Docker gives it: /etc/hosts, /etc/hostname
//! and /etc/resolv.conf readable by any user and holding what the service asks for, the service's
//! ulimits for `exec`'d processes too, and named volumes seeded from the image while empty.

use anyhow::{ensure, Result};

mod common;
use common::{project, sandbox_with_busybox, xcompose};

/// `exec` processes run under the service's ulimits, not those of the caller.
#[test]
fn exec_processes_get_the_service_ulimits() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "limits", "services:\n  app:\n    image: busybox:latest\n    init: true\n    command: [sleep, \"1000\"]\n    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 300}\n")?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let limits = xcompose(&sb, &dir, &["exec", "-T", "app", "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u"])?;
    ensure!(limits == "1024\n2048\n300\n", "exec's ulimits: {limits:?}");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

/// /etc/hosts, /etc/hostname and /etc/resolv.conf are 0644, as Docker writes them: a service
/// running as another user than root reads them (and so resolves names).
#[test]
fn etc_files_are_readable_by_a_non_root_user() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(&sb, "modes", "services:\n  app:\n    image: busybox:latest\n    init: true\n    user: \"1000\"\n    command: [sleep, \"1000\"]\n  peer:\n    image: busybox:latest\n    init: true\n    command: [sleep, \"1000\"]\n")?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let modes = xcompose(&sb, &dir, &["exec", "-T", "app", "stat", "-c", "%a %n", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf"])?;
    ensure!(modes == "644 /etc/hosts\n644 /etc/hostname\n644 /etc/resolv.conf\n", "modes: {modes:?}");
    let read = xcompose(&sb, &dir, &["exec", "-T", "app", "sh", "-c", "id -u; cat /etc/hosts /etc/hostname /etc/resolv.conf >/dev/null && echo read"])?;
    ensure!(read == "1000\nread\n", "{read:?}");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}
