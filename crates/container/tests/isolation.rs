//! Real containers from the busybox test image. Each test runs in a forked sandbox (fresh mount
//! and network namespaces, private mounts, see `xcompose_testkit::in_forked_sandbox`), so nothing
//! it does can reach the host's mounts or network; the container then gets namespaces of its own.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::unistd::pipe;
use xcompose_cgroups::{Cgroup, Resources};
use xcompose_container::{spawn, ContainerSpec, Mount, MountKind, RootFs, Stdio};
use xcompose_testkit::in_forked_sandbox;

/// A fresh overlay over the busybox rootfs, and the scratch dir holding it.
fn busybox_overlay() -> (RootFs, tempfile::TempDir) {
    let scratch = tempfile::tempdir().unwrap();
    let o = xcompose_testkit::busybox_overlay(scratch.path()).expect("busybox test image");
    (RootFs::Overlay { lower: vec![o.lower], upper: o.upper, work: o.work, merged: o.merged }, scratch)
}

/// Runs a shell script in a container built from `spec`, returning (exit code, stdout+stderr).
fn run_script(mut spec: ContainerSpec, script: &str, cgroup: Option<&Cgroup>) -> Result<(i32, String), String> {
    spec.process.args = vec!["/bin/sh".into(), "-c".into(), script.into()];
    let (read, write): (OwnedFd, OwnedFd) = pipe().map_err(|e| e.to_string())?;
    let err = write.try_clone().map_err(|e| e.to_string())?;
    let pending = spawn(&spec, Stdio { stdin: None, stdout: Some(write), stderr: Some(err) }).map_err(|e| e.to_string())?;
    if let Some(cg) = cgroup {
        cg.add_process(pending.pid()).map_err(|e| e.to_string())?;
    }
    let running = pending.start().map_err(|e| e.to_string())?;
    let mut out = String::new();
    std::fs::File::from(read).read_to_string(&mut out).map_err(|e| e.to_string())?;
    let code = running.wait().map_err(|e| e.to_string())?;
    Ok((code, out))
}

fn expect(cond: bool, what: &str, out: &str) -> Result<(), String> {
    if cond { Ok(()) } else { Err(format!("{what}; container output:\n{out}")) }
}

#[test]
fn a_container_is_isolated_like_a_docker_container() {
    let (rootfs, _scratch) = busybox_overlay();
    in_forked_sandbox(move || {
        let mut spec = ContainerSpec::new(rootfs, vec![]);
        spec.hostname = "box".into();
        let (code, out) = run_script(
            spec,
            "echo pid=$$; echo host=$(hostname); grep CapEff /proc/self/status; cut -d' ' -f2 /proc/mounts | tr '\\n' ' '; echo; \
             echo keys=$(wc -c < /proc/keys); (echo 1 > /proc/sysrq-trigger) 2>/dev/null && echo sysrq=writable || echo sysrq=readonly; \
             (touch /sys/x) 2>/dev/null && echo sys=writable || echo sys=readonly; ls /dev | tr '\\n' ' '",
            None,
        )?;
        expect(code == 0, "exit code 0", &out)?;
        expect(out.contains("pid=1\n"), "the command is PID 1", &out)?;
        expect(out.contains("host=box\n"), "hostname is set", &out)?;
        // Docker's default capability set, as the kernel reports it.
        expect(out.contains("CapEff:\t00000000a80425fb"), "Docker's default capabilities", &out)?;
        expect(!out.contains("/work") && !out.contains(" /root/") && !out.contains("/boot"), "no host mount is visible", &out)?;
        expect(out.contains("keys=0"), "/proc/keys reads empty", &out)?;
        for masked in xcompose_container::DEFAULT_MASKED_PATHS.iter().filter(|p| Path::new(p).exists()) {
            expect(out.contains(&format!(" {masked} ")), &format!("{masked} is masked"), &out)?;
        }
        expect(out.contains("sysrq=readonly") && out.contains("sys=readonly"), "/proc/sysrq-trigger and /sys are read-only", &out)?;
        for dev in ["null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "ptmx"] {
            expect(out.contains(dev), &format!("/dev/{dev} exists"), &out)?;
        }
        Ok(())
    });
}

#[test]
fn writes_go_to_the_upper_layer_and_the_image_stays_untouched() {
    let (rootfs, scratch) = busybox_overlay();
    let dir = scratch.path().to_path_buf();
    in_forked_sandbox(move || {
        let (code, out) = run_script(ContainerSpec::new(rootfs, vec![]), "echo hi > /created && rm /etc/group && echo done", None)?;
        expect(code == 0 && out.contains("done"), "the script ran", &out)?;
        expect(dir.join("upper/created").exists(), "the new file is in the upper dir", &out)?;
        expect(dir.join("lower/etc/group").exists(), "the image layer keeps /etc/group", &out)?;
        Ok(())
    });
    assert!(!Path::new(&scratch.path().join("merged/bin")).exists(), "the overlay stayed inside the container's namespace");
}

#[test]
fn user_switching_read_only_root_and_tmpfs() {
    let (rootfs, _scratch) = busybox_overlay();
    in_forked_sandbox(move || {
        let mut spec = ContainerSpec::new(rootfs, vec![]);
        spec.process.uid = 1000;
        spec.process.gid = 1000;
        spec.read_only_rootfs = true;
        spec.mounts.push(Mount { target: PathBuf::from("/scratch"), kind: MountKind::Tmpfs { size: Some(1 << 20), mode: None }, read_only: false });
        spec.rlimits.push(xcompose_container::Rlimit { name: "nofile".into(), soft: 100, hard: 200 });
        let (code, out) = run_script(
            spec,
            "echo uid=$(id -u) gid=$(id -g) nofile=$(ulimit -n); grep CapEff /proc/self/status; (touch /x) 2>/dev/null && echo root=writable || echo root=readonly; \
             touch /scratch/ok && echo tmpfs=writable",
            None,
        )?;
        expect(code == 0, "exit code 0", &out)?;
        expect(out.contains("uid=1000 gid=1000 nofile=100"), "runs as 1000:1000 with its ulimit", &out)?;
        expect(out.contains("CapEff:\t0000000000000000"), "a non-root user has no effective capabilities", &out)?;
        expect(out.contains("root=readonly"), "the root filesystem is read-only", &out)?;
        expect(out.contains("tmpfs=writable"), "the tmpfs is writable", &out)?;
        Ok(())
    });
}

#[test]
fn exit_codes_and_setup_errors_come_back() {
    let (rootfs, _scratch) = busybox_overlay();
    in_forked_sandbox(move || {
        let (code, _) = run_script(ContainerSpec::new(rootfs.clone(), vec![]), "exit 7", None)?;
        expect(code == 7, "exit code 7", "")?;
        // PID 1 ignores SIGKILL from inside its namespace, so the kill comes from the host.
        let mut spec = ContainerSpec::new(rootfs.clone(), vec!["sleep".into(), "30".into()]);
        spec.hostname = "k".into();
        let running = spawn(&spec, Stdio::default()).map_err(|e| e.to_string())?.start().map_err(|e| e.to_string())?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(running.pid as i32), nix::sys::signal::Signal::SIGKILL).map_err(|e| e.to_string())?;
        let code = running.wait().map_err(|e| e.to_string())?;
        expect(code == 137, "killed by SIGKILL is 137", "")?;
        let spec = ContainerSpec::new(rootfs, vec!["no-such-command".into()]);
        let err = spawn(&spec, Stdio::default()).map_err(|e| e.to_string())?.start().expect_err("setup must fail").to_string();
        expect(err.contains("executable file not found"), "a missing command is a setup error", &err)?;
        Ok(())
    });
}

#[test]
fn a_memory_limit_kills_the_container_with_137_and_counts_the_oom() {
    let (rootfs, _scratch) = busybox_overlay();
    in_forked_sandbox(move || {
        let name = format!("container-test-{}", std::process::id());
        let cg = Cgroup::create(&name, &Resources { memory_limit: Some(16 << 20), memory_swap_limit: Some(16 << 20), ..Default::default() }).map_err(|e| e.to_string())?;
        let result = run_script(ContainerSpec::new(rootfs, vec![]), "tail /dev/zero", Some(&cg));
        let oom = cg.stats().map(|s| s.oom_kills).unwrap_or(0);
        cg.destroy().map_err(|e| e.to_string())?;
        let (code, out) = result?;
        expect(code == 137, "exit code 137", &out)?;
        expect(oom >= 1, "the OOM kill is counted", &out)?;
        Ok(())
    });
}

#[test]
fn exec_joins_the_running_container() {
    let (rootfs, _scratch) = busybox_overlay();
    in_forked_sandbox(move || {
        let mut spec = ContainerSpec::new(rootfs, vec!["sleep".into(), "30".into()]);
        spec.hostname = "box".into();
        let running = spawn(&spec, Stdio::default()).map_err(|e| e.to_string())?.start().map_err(|e| e.to_string())?;
        let (read, stdio) = xcompose_container::capture_output().map_err(|e| e.to_string())?;
        let script = "echo host=$(hostname) uid=$(id -u); cat /proc/1/cmdline | tr '\\0' ' '; echo; grep CapEff /proc/self/status; exit 3";
        let mut exec_spec = xcompose_container::ExecSpec::in_container(&spec, running.pid, vec!["sh".into(), "-c".into(), script.into()]);
        exec_spec.process.cwd = PathBuf::from("/tmp");
        exec_spec.process.uid = 1000;
        exec_spec.process.gid = 1000;
        let process = xcompose_container::exec(&exec_spec, stdio).map_err(|e| e.to_string())?;
        let mut out = String::new();
        std::fs::File::from(read).read_to_string(&mut out).map_err(|e| e.to_string())?;
        let code = process.wait().map_err(|e| e.to_string())?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(running.pid as i32), nix::sys::signal::Signal::SIGKILL).map_err(|e| e.to_string())?;
        running.wait().map_err(|e| e.to_string())?;
        expect(code == 3, "the exec's exit code comes back", &out)?;
        expect(out.contains("host=box uid=1000"), "it runs in the container's UTS namespace as the user", &out)?;
        expect(out.contains("sleep 30"), "it sees the container's PID 1", &out)?;
        expect(out.contains("CapEff:\t0000000000000000"), "a non-root exec has no effective capabilities", &out)?;
        let mut bad = exec_spec;
        bad.process.args = vec!["nope".into()];
        let err = xcompose_container::exec(&bad, Stdio::default());
        expect(err.is_err(), "exec into a stopped container fails", "")?;
        Ok(())
    });
}

#[test]
fn init_forwards_sigterm_and_reaps_orphans() {
    let (rootfs, _scratch) = busybox_overlay();
    in_forked_sandbox(move || {
        // Without init, busybox sh as PID 1 ignores SIGTERM; with init, the shell gets it and dies.
        let mut spec = ContainerSpec::new(rootfs.clone(), vec!["/bin/sh".into(), "-c".into(), "(sleep 0.1 &); while true; do sleep 0.05; done".into()]);
        spec.init = true;
        let running = spawn(&spec, Stdio::default()).map_err(|e| e.to_string())?.start().map_err(|e| e.to_string())?;
        std::thread::sleep(std::time::Duration::from_millis(400));
        // The orphaned `sleep 0.1` has exited by now and must have been reaped: no zombie in the container.
        let zombies = std::fs::read_dir("/proc")
            .map_err(|e| e.to_string())?
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join("status")).ok())
            .filter(|st| st.contains("State:\tZ"))
            .filter(|st| st.lines().any(|l| l == format!("PPid:\t{}", running.pid)))
            .count();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(running.pid as i32), nix::sys::signal::Signal::SIGTERM).map_err(|e| e.to_string())?;
        let code = running.wait().map_err(|e| e.to_string())?;
        expect(zombies == 0, "orphans are reaped", &format!("{zombies} zombies"))?;
        expect(code == 143, &format!("SIGTERM reached the command (exit {code})"), "")?;
        let mut bad = ContainerSpec::new(rootfs, vec!["no-such-command".into()]);
        bad.init = true;
        let err = spawn(&bad, Stdio::default()).map_err(|e| e.to_string())?.start().expect_err("must fail").to_string();
        expect(err.contains("executable file not found"), "setup errors still come back with init", &err)?;
        Ok(())
    });
}
