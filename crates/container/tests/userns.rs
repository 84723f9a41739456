//! Containers in a user namespace of their own (user namespace remapping), from the busybox
//! test image, each in a forked sandbox (see `xcompose_testkit::in_forked_sandbox`), each test
//! run both ways the image's files get the range's ids: an idmapped mount of the layers, and
//! layers copied with their owners shifted (where idmapped mounts are missing).

use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use nix::unistd::pipe;
use xcompose_container::{spawn, ContainerSpec, IdMap, Mount, MountKind, RootFs, Stdio};
use xcompose_images::{IdShift, ImageStore};
use xcompose_testkit::in_forked_sandbox;

/// The range the tests map the container's ids to.
const FIRST: u32 = 100000;

/// How the container's files get the range's ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shift {
    /// Idmapped mounts of the layers as unpacked.
    Idmap,
    /// Layers copied with shifted owners, a writable layer owned by the range.
    Copy,
}

const SHIFTS: [Shift; 2] = [Shift::Idmap, Shift::Copy];

fn remapped_busybox(shift: Shift) -> (ContainerSpec, tempfile::TempDir) {
    let scratch = tempfile::tempdir().unwrap();
    let o = xcompose_testkit::busybox_overlay(scratch.path()).expect("busybox test image");
    let map = IdMap::range(FIRST, FIRST, 65536);
    let lower = match shift {
        Shift::Idmap => vec![o.lower],
        Shift::Copy => {
            let store = ImageStore::open(&scratch.path().join("store")).unwrap();
            let tar = std::fs::File::open(xcompose_testkit::busybox_image_tar().unwrap()).unwrap();
            store.import(tar, "busybox").unwrap();
            let image = store.resolve("busybox").unwrap();
            let lower = store.shifted_layers(&image, &IdShift { uid: FIRST, uids: 65536, gid: FIRST, gids: 65536 }).unwrap();
            let bin = std::fs::metadata(lower[0].join("bin/busybox")).unwrap();
            assert_eq!((bin.uid(), bin.gid()), (FIRST, FIRST), "the copied layer is stored with the range's ids");
            for dir in [&o.upper, &o.work] {
                xcompose_container::userns::give_to_mapped_root(dir, &map).unwrap();
            }
            lower
        }
    };
    let mut spec = ContainerSpec::new(RootFs::Overlay { lower, upper: o.upper, work: o.work, merged: o.merged }, vec![]);
    spec.user_namespace = Some(map);
    spec.rootfs_ids_shifted = shift == Shift::Copy;
    (spec, scratch)
}

/// Runs a shell script in a container built from `spec`: (exit code, stdout+stderr).
fn run_script(mut spec: ContainerSpec, script: &str) -> Result<(i32, String), String> {
    spec.process.args = vec!["/bin/sh".into(), "-c".into(), script.into()];
    let (read, write): (OwnedFd, OwnedFd) = pipe().map_err(|e| e.to_string())?;
    let err = write.try_clone().map_err(|e| e.to_string())?;
    let running = spawn(&spec, Stdio { stdin: None, stdout: Some(write), stderr: Some(err) }).map_err(|e| e.to_string())?.start().map_err(|e| e.to_string())?;
    let mut out = String::new();
    std::fs::File::from(read).read_to_string(&mut out).map_err(|e| e.to_string())?;
    Ok((running.wait().map_err(|e| e.to_string())?, out))
}

fn expect(cond: bool, what: &str, out: &str) -> Result<(), String> {
    if cond { Ok(()) } else { Err(format!("{what}; container output:\n{out}")) }
}

#[test]
fn a_remapped_root_owns_its_image_but_nothing_of_the_host() {
    for shift in SHIFTS {
        remapped_root_owns_its_image_but_nothing_of_the_host(shift);
    }
}

fn remapped_root_owns_its_image_but_nothing_of_the_host(shift: Shift) {
    let (mut spec, scratch) = remapped_busybox(shift);
    // Outside the container's directory, whose writable layer is seen idmapped.
    let host_dir = tempfile::tempdir().unwrap();
    let shared = host_dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::write(shared.join("host-root-file"), "x").unwrap();
    std::os::unix::fs::chown(&shared, Some(FIRST), Some(FIRST)).unwrap();
    spec.mounts.push(Mount { target: PathBuf::from("/shared"), kind: MountKind::Bind { source: shared.clone(), recursive: Default::default(), propagation: Default::default() }, read_only: false });
    spec.mounts.push(Mount { target: PathBuf::from("/scratch"), kind: MountKind::Tmpfs { size: None, mode: Some(0o755) }, read_only: false });
    let upper = scratch.path().join("upper");
    in_forked_sandbox(move || {
        let (code, out) = run_script(
            spec,
            "cat /proc/self/uid_map /proc/self/gid_map; echo id=$(id -u):$(id -g); stat -c 'bin=%u:%g' /bin/busybox; \
             echo hi > /etc/created && chown 1000:1000 /etc/created && echo chowned; \
             echo shared=$(stat -c %u /shared) host-file=$(stat -c %U /shared/host-root-file); \
             echo v > /shared/mine && echo shared-writable; (echo no >> /shared/host-root-file) 2>/dev/null || echo host-file-protected; \
             touch /scratch/t && echo tmpfs-writable; grep -E '^(CapEff|Seccomp):' /proc/self/status",
        )?;
        expect(code == 0, "exit code 0", &out)?;
        expect(out.contains("0     100000      65536\n         0     100000      65536"), "uid and gid maps start at the range", &out)?;
        expect(out.contains("id=0:0"), "the command runs as the container's root", &out)?;
        expect(out.contains("bin=0:0"), &format!("the image's files belong to the container's root ({shift:?})"), &out)?;
        expect(out.contains("chowned"), "root may chown within its range", &out)?;
        expect(out.contains("shared=0 host-file=nobody"), "a bind mount shows host ids shifted, unmapped ones as nobody", &out)?;
        expect(out.contains("shared-writable") && out.contains("host-file-protected"), "the range's files are writable, the host root's are not", &out)?;
        expect(out.contains("tmpfs-writable"), "a tmpfs belongs to the container's root", &out)?;
        expect(out.contains("CapEff:\t00000000a80425fb"), "Docker's default capabilities, within the namespace", &out)?;
        let created = std::fs::metadata(upper.join("etc/created")).map_err(|e| e.to_string())?;
        let stored = match shift {
            Shift::Idmap => 1000,
            Shift::Copy => FIRST + 1000,
        };
        expect((created.uid(), created.gid()) == (stored, stored), &format!("the writable layer stores {stored} ({shift:?})"), &out)?;
        let mine = std::fs::metadata(shared.join("mine")).map_err(|e| e.to_string())?;
        expect(mine.uid() == FIRST, "a file written to a bind mount belongs to the range on the host", &out)?;
        Ok(())
    });
    drop(host_dir);
}

#[test]
fn exec_joins_the_user_namespace() {
    for shift in SHIFTS {
        exec_joins_the_user_namespace_with(shift);
    }
}

fn exec_joins_the_user_namespace_with(shift: Shift) {
    let (mut spec, _scratch) = remapped_busybox(shift);
    spec.process.args = vec!["sleep".into(), "30".into()];
    in_forked_sandbox(move || {
        let running = spawn(&spec, Stdio::default()).map_err(|e| e.to_string())?.start().map_err(|e| e.to_string())?;
        let (read, stdio) = xcompose_container::capture_output().map_err(|e| e.to_string())?;
        let script = "cat /proc/self/uid_map; echo id=$(id -u)";
        let exec_spec = xcompose_container::ExecSpec::in_container(&spec, running.pid, vec!["sh".into(), "-c".into(), script.into()]);
        let process = xcompose_container::exec(&exec_spec, stdio).map_err(|e| e.to_string())?;
        let mut out = String::new();
        std::fs::File::from(read).read_to_string(&mut out).map_err(|e| e.to_string())?;
        let code = process.wait().map_err(|e| e.to_string())?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(running.pid as i32), nix::sys::signal::Signal::SIGKILL).map_err(|e| e.to_string())?;
        running.wait().map_err(|e| e.to_string())?;
        expect(code == 0, "exit code 0", &out)?;
        expect(out.contains("0     100000      65536") && out.contains("id=0"), "the exec runs as the container's remapped root", &out)?;
        Ok(())
    });
}

#[test]
fn idmapped_mounts_are_checked_before_remapping_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    in_forked_sandbox(move || {
        let map = IdMap::range(FIRST, FIRST, 65536);
        xcompose_container::userns::check_idmap(&path, &map).map_err(|e| format!("a local directory cannot be idmapped: {e}"))?;
        let err = xcompose_container::userns::check_idmap(std::path::Path::new("/proc"), &map).err().ok_or("procfs was idmapped")?;
        expect(err.unsupported && err.message.contains("needs Linux 5.12+ and a state root file system that supports them"), "procfs is not idmappable, and the refusal says what is needed", &err.message)?;
        expect(!std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?.contains(path.to_str().unwrap()), "the check leaves nothing mounted", "")
    });
}

#[test]
fn a_file_system_without_idmapped_mounts_is_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    in_forked_sandbox(move || {
        // ramfs has no idmapped mounts on any kernel: remapping shifts owners by copying there.
        nix::mount::mount(Some("ramfs"), &path, Some("ramfs"), nix::mount::MsFlags::empty(), None::<&str>).map_err(|e| format!("mounting ramfs: {e}"))?;
        let err = xcompose_container::userns::check_idmap(&path, &IdMap::range(FIRST, FIRST, 65536)).err().ok_or("ramfs was idmapped")?;
        expect(err.unsupported, "the check says idmapped mounts are missing", &err.message)?;
        expect(err.message.contains("XCOMPOSE_USERNS_SHIFT=copy"), "the message names the copy shift", &err.message)
    });
}
