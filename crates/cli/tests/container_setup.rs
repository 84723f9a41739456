//! What a container is given besides its image, as Docker gives it: /etc/hosts, /etc/hostname
//! and /etc/resolv.conf readable by any user and holding what the service asks for, the service's
//! ulimits for `exec`'d processes too, and named volumes seeded from the image while empty.

use anyhow::{ensure, Result};
use xcompose_testkit::{Layer, OciLayout, TestImage};

mod common;
use common::{project, sandbox_with_busybox, xcompose, XCOMPOSE};

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

/// /etc/hosts names the container as `hostname.domainname hostname`; on the host's network it is
/// the host's /etc/hosts with `extra_hosts` added; without a network, resolv.conf carries
/// `dns`, `dns_search` and `dns_opt` (there is no resolver to answer for them).
#[test]
fn hosts_and_resolv_conf_follow_the_service_in_every_network_mode() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let dir = project(
        &sb,
        "etc",
        r#"
services:
  named:
    image: busybox:latest
    init: true
    command: [sleep, "1000"]
    hostname: box
    domainname: example.org
  hosted:
    image: busybox:latest
    init: true
    command: [sleep, "1000"]
    network_mode: host
    extra_hosts: ["db.local:10.1.2.3"]
  alone:
    image: busybox:latest
    init: true
    command: [sleep, "1000"]
    network_mode: none
    dns: [10.9.9.9]
    dns_search: [svc.example]
    dns_opt: ["timeout:2"]
"#,
    )?;
    xcompose(&sb, &dir, &["up", "-d"])?;
    let hosts = xcompose(&sb, &dir, &["exec", "-T", "named", "cat", "/etc/hosts"])?;
    let address = xcompose(&sb, &dir, &["exec", "-T", "named", "hostname", "-i"])?;
    ensure!(hosts.lines().last() == Some(&format!("{}\tbox.example.org box", address.trim())), "hostname.domainname: {hosts}");
    let hosted = xcompose(&sb, &dir, &["exec", "-T", "hosted", "cat", "/etc/hosts"])?;
    ensure!(hosted.lines().any(|l| l == "10.1.2.3\tdb.local"), "extra_hosts with network_mode host: {hosted}");
    let resolv = xcompose(&sb, &dir, &["exec", "-T", "alone", "cat", "/etc/resolv.conf"])?;
    ensure!(resolv == "nameserver 10.9.9.9\nsearch svc.example\noptions timeout:2\n", "dns settings without a network: {resolv}");
    xcompose(&sb, &dir, &["down"])?;
    Ok(())
}

/// A named volume is seeded from the image of whichever container is created with it while it is
/// still empty: two services sharing it, one whose image has an empty directory there and one
/// whose image has files, give the same volume in either creation order.
#[test]
fn a_shared_volume_is_seeded_whichever_service_comes_first() -> Result<()> {
    let sb = sandbox_with_busybox()?;
    let layout = OciLayout::create(&sb.temp_dir().join("layout"))?;
    let image = TestImage::busybox()?.layer(Layer::gzip().file("home/app/seed.txt", "from the image\n", 0o644));
    layout.add_image(&image, "xtk/seeded:1")?;
    let archive = sb.temp_dir().join("seeded.tar");
    sb.run_ok("tar", &["-C", layout.dir().to_str().unwrap(), "-cf", archive.to_str().unwrap(), "."])?;
    sb.run_ok(XCOMPOSE, &["--root", sb.root().to_str().unwrap(), "image", "load", "-i", archive.to_str().unwrap()])?;
    for (n, order) in [["plain", "seeded"], ["seeded", "plain"]].iter().enumerate() {
        // busybox has /home/app, empty; xtk/seeded:1 has /home/app/seed.txt.
        let dir = project(
            &sb,
            &format!("share{n}"),
            "services:\n  plain:\n    image: busybox:latest\n    init: true\n    command: [sleep, \"1000\"]\n    volumes: [shared:/home/app]\n  seeded:\n    image: xtk/seeded:1\n    init: true\n    command: [sleep, \"1000\"]\n    volumes: [shared:/home/app]\nvolumes:\n  shared:\n",
        )?;
        for service in order {
            xcompose(&sb, &dir, &["up", "-d", service])?;
        }
        for service in order {
            let seen = xcompose(&sb, &dir, &["exec", "-T", service, "cat", "/home/app/seed.txt"])?;
            ensure!(seen == "from the image\n", "{order:?}: {service} sees {seen:?}");
        }
        xcompose(&sb, &dir, &["down", "-v"])?;
    }
    Ok(())
}
