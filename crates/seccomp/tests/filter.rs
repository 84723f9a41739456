//! The compiled filters' verdicts on real system calls: each probe runs in a forked child that
//! loads the filter (the tests run as root, so no `no_new_privs` is needed) and reports the
//! errno it got as its exit code (0 for success).

use std::sync::Arc;

use caps::Capability;
use nix::libc;
use xcompose_seccomp::{compiled, Filter, Profile, SeccompError};

/// Docker's default capabilities (what a container gets without cap_add / cap_drop): the
/// container crate's, which is what the filter is resolved against at a container's start.
const DOCKER_CAPS: [Capability; 14] = xcompose_container::DEFAULT_CAPABILITIES;

/// The errno `probe` gets under `filter` (0: it succeeded). The child only loads the filter and
/// makes raw system calls: nothing that takes a lock another test thread could hold at fork.
fn verdict(filter: &Filter, probe: fn() -> libc::c_long) -> i32 {
    run_probe(filter, || errno_of(probe()))
}

/// 0 for a call that succeeded, else its errno.
fn errno_of(rc: libc::c_long) -> i32 {
    if rc < 0 {
        // SAFETY: reading this thread's errno.
        unsafe { *libc::__errno_location() }
    } else {
        0
    }
}

/// The exit code of `probe` run under `filter` in a forked child.
fn run_probe(filter: &Filter, probe: impl Fn() -> i32) -> i32 {
    // SAFETY: the child makes only raw system calls and leaves with _exit.
    match unsafe { libc::fork() } {
        0 => {
            let code = match filter.load() {
                Err(_) => 255,
                Ok(()) => probe(),
            };
            // SAFETY: leaving the forked child.
            unsafe { libc::_exit(code) }
        }
        pid => {
            assert!(pid > 0, "fork failed");
            let mut status = 0;
            // SAFETY: waiting for our own child.
            assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
            assert!(libc::WIFEXITED(status), "probe child died: status {status}");
            let code = libc::WEXITSTATUS(status);
            assert_ne!(code, 255, "loading the filter failed");
            code
        }
    }
}

fn default_filter(caps: &[Capability]) -> Arc<Filter> {
    compiled(&Profile::docker_default(), caps).unwrap()
}

/// A forked copy of the probe (clone or clone3 that succeeded) leaves at once.
fn leave_if_child(rc: libc::c_long) -> libc::c_long {
    if rc == 0 {
        // SAFETY: leaving the forked grandchild.
        unsafe { libc::_exit(0) }
    }
    if rc > 0 {
        // SAFETY: reaping the grandchild made by the probe.
        unsafe { libc::waitpid(rc as i32, std::ptr::null_mut(), 0) };
    }
    rc
}

fn unshare_mount_ns() -> libc::c_long {
    // SAFETY: raw system call with plain flags.
    unsafe { libc::syscall(libc::SYS_unshare, libc::CLONE_NEWNS) }
}

fn mount_nothing() -> libc::c_long {
    // SAFETY: paths are NUL-terminated literals; the mount fails on the missing source.
    unsafe { libc::syscall(libc::SYS_mount, c"/nonexistent-src".as_ptr(), c"/nonexistent-dst".as_ptr(), c"none".as_ptr(), 0, 0) }
}

fn keyctl_session() -> libc::c_long {
    // SAFETY: KEYCTL_GET_KEYRING_ID of the session keyring, no memory passed.
    unsafe { libc::syscall(libc::SYS_keyctl, 0, -3i64, 0) }
}

fn bpf_map_create() -> libc::c_long {
    // SAFETY: a null attribute with size 0: EFAULT/EINVAL unless filtered.
    unsafe { libc::syscall(libc::SYS_bpf, 0, 0, 0) }
}

fn clone_new_user_ns() -> libc::c_long {
    // SAFETY: fork-like clone (no new stack); the copy leaves at once.
    leave_if_child(unsafe { libc::syscall(libc::SYS_clone, (libc::CLONE_NEWUSER | libc::SIGCHLD) as libc::c_ulong, 0, 0, 0, 0) })
}

fn plain_fork() -> libc::c_long {
    // SAFETY: fork-like clone; the copy leaves at once.
    leave_if_child(unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_ulong, 0, 0, 0, 0) })
}

fn clone3_null() -> libc::c_long {
    // SAFETY: null arguments: EINVAL/EFAULT from the kernel unless filtered.
    unsafe { libc::syscall(libc::SYS_clone3, 0, 0) }
}

fn seccomp_mode() -> i32 {
    // SAFETY: PR_GET_SECCOMP takes no memory.
    unsafe { libc::prctl(libc::PR_GET_SECCOMP) }
}

fn mkdir_tmp() -> libc::c_long {
    // SAFETY: NUL-terminated literal path.
    unsafe { libc::syscall(libc::SYS_mkdirat, libc::AT_FDCWD, c"/nonexistent-dir/x".as_ptr(), 0o755) }
}

#[test]
fn default_profile_denies_what_docker_denies() {
    let filter = default_filter(&DOCKER_CAPS);
    assert_eq!(verdict(&filter, unshare_mount_ns), libc::EPERM, "unshare");
    assert_eq!(verdict(&filter, mount_nothing), libc::EPERM, "mount");
    assert_eq!(verdict(&filter, keyctl_session), libc::EPERM, "keyctl");
    assert_eq!(verdict(&filter, bpf_map_create), libc::EPERM, "bpf");
    assert_eq!(verdict(&filter, clone_new_user_ns), libc::EPERM, "clone with namespace flags");
    assert_eq!(verdict(&filter, clone3_null), libc::ENOSYS, "clone3");
}

#[test]
fn default_profile_lets_ordinary_programs_run() {
    let filter = default_filter(&DOCKER_CAPS);
    assert_eq!(verdict(&filter, plain_fork), 0, "fork");
    assert_eq!(verdict(&filter, mkdir_tmp), libc::ENOENT, "mkdir reaches the kernel");
    assert_eq!(run_probe(&filter, seccomp_mode), 2, "PR_GET_SECCOMP says filter mode");
}

#[test]
fn sys_admin_re_allows_its_group() {
    let mut caps = DOCKER_CAPS.to_vec();
    caps.push(Capability::CAP_SYS_ADMIN);
    let filter = default_filter(&caps);
    assert_eq!(verdict(&filter, unshare_mount_ns), 0, "unshare");
    assert_eq!(verdict(&filter, mount_nothing), libc::ENOENT, "mount reaches the kernel");
    // With CAP_SYS_ADMIN clone3 is allowed: the kernel itself refuses the null arguments.
    assert_ne!(verdict(&filter, clone3_null), libc::ENOSYS, "clone3");
    assert_eq!(verdict(&filter, keyctl_session), libc::EPERM, "keyctl stays denied");
}

#[test]
fn a_custom_profile_is_honoured() {
    let profile = Profile::from_json(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["mkdir", "mkdirat", "no_such_syscall_here"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
        ]}"#,
        "test",
    )
    .unwrap();
    let filter = compiled(&profile, &DOCKER_CAPS).unwrap();
    assert_eq!(verdict(&filter, mkdir_tmp), libc::EACCES);
    assert_eq!(verdict(&filter, unshare_mount_ns), 0, "everything else allowed");
}

#[test]
fn argument_conditions_follow_docker() {
    // Two comparisons on the same argument: either one allows (Docker adds one rule each).
    let profile = Profile::from_json(
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["unshare"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
             "args": [{"index": 0, "value": 131072, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}
        ]}"#,
        "test",
    )
    .unwrap();
    let filter = compiled(&profile, &[]).unwrap();
    assert_eq!(verdict(&filter, unshare_mount_ns), libc::EINVAL, "CLONE_NEWNS (131072) matches");
}

#[test]
fn compiled_once_per_process() {
    let a = default_filter(&DOCKER_CAPS);
    let b = default_filter(&DOCKER_CAPS.iter().rev().copied().collect::<Vec<_>>());
    assert!(Arc::ptr_eq(&a, &b));
    assert!(!Arc::ptr_eq(&a, &default_filter(&[Capability::CAP_SYS_ADMIN])));
}

#[test]
fn bad_profiles_are_refused_with_where() {
    let err = |text: &str| Profile::from_json(text, "p.json").unwrap_err().to_string();
    assert!(err(r#"{"defaultAction": "SCMP_ACT_NOPE"}"#).contains("defaultAction: unknown action \"SCMP_ACT_NOPE\""));
    assert!(err(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_WHAT"}]}]}"#)
        .contains("syscalls[0].args: unknown comparison"));
    assert!(err(r#"{"defaultAction": 3}"#).starts_with("seccomp profile p.json: at defaultAction"));
    assert!(matches!(Profile::from_file(std::path::Path::new("/nonexistent.json")), Err(SeccompError::Read { .. })));
}

/// The one cache file in `dir`.
fn cache_file(dir: &std::path::Path) -> std::path::PathBuf {
    let files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "one cache file: {files:?}");
    files.into_iter().next().unwrap()
}

#[test]
fn a_filter_from_the_disk_cache_gives_the_same_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let profile = Profile::docker_default();
    let fresh = Filter::compile(&profile, &DOCKER_CAPS).unwrap();
    let stored = Filter::cached(&profile, &DOCKER_CAPS, dir.path()).unwrap();
    let file = cache_file(dir.path());
    let modified = std::fs::metadata(&file).unwrap().modified().unwrap();
    let loaded = Filter::cached(&profile, &DOCKER_CAPS, dir.path()).unwrap();
    assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), modified, "read, not written again");
    assert!(fresh == stored && stored == loaded, "the same program compiled, stored and read back");
    assert_eq!(verdict(&loaded, unshare_mount_ns), libc::EPERM, "unshare");
    assert_eq!(verdict(&loaded, clone3_null), libc::ENOSYS, "clone3");
    assert_eq!(verdict(&loaded, plain_fork), 0, "fork");
    assert_eq!(verdict(&loaded, mkdir_tmp), libc::ENOENT, "mkdir reaches the kernel");
}

#[test]
fn a_corrupt_cache_file_is_rebuilt_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    // Allow-all: a cache file whose program were loaded as is could let anything through.
    let profile = Profile::from_json(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdirat", "mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#, "test").unwrap();
    let fresh = Filter::compile(&profile, &[]).unwrap();
    Filter::cached(&profile, &[], dir.path()).unwrap();
    let file = cache_file(dir.path());
    let whole = std::fs::read(&file).unwrap();
    let mut flipped = whole.clone();
    // The last instruction's return value: SECCOMP_RET_ALLOW becomes something else.
    let last = flipped.len() - 1;
    flipped[last] ^= 0x10;
    for damaged in [flipped, whole[..whole.len() - 5].to_vec(), Vec::new()] {
        std::fs::write(&file, &damaged).unwrap();
        let rebuilt = Filter::cached(&profile, &[], dir.path()).unwrap();
        assert!(rebuilt == fresh, "the damaged file was loaded");
        assert_eq!(std::fs::read(&file).unwrap(), whole, "the file is rewritten whole");
        assert_eq!(verdict(&rebuilt, mkdir_tmp), libc::EACCES);
    }
}
