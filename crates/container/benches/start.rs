//! create + start + wait of `/bin/true` in a container, beside Debian's `crun` and `runc` on the
//! same root filesystem (an OCI bundle made with `crun spec`), so the README can give the ratio.
//!
//! The bench first moves itself into fresh mount and network namespaces (it runs as root), so
//! nothing it mounts or creates reaches the host. `runc`/`crun` are skipped when not installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio as ProcStdio};

use criterion::{criterion_group, criterion_main, Criterion};
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use xcompose_cgroups::{Cgroup, Resources};
use xcompose_container::{spawn, ContainerSpec, RootFs, Stdio};

fn sandbox() {
    unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET).expect("the bench needs root: unshare");
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>).expect("making mounts private");
}

/// An OCI bundle for `tool` running /bin/true in `rootfs`.
fn bundle(tool: &str, dir: &Path, rootfs: &Path) -> PathBuf {
    let bundle = dir.join(format!("bundle-{tool}"));
    std::fs::create_dir_all(&bundle).unwrap();
    let status = Command::new("crun").arg("spec").current_dir(&bundle).status().unwrap();
    assert!(status.success());
    let path = bundle.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    config["root"] = serde_json::json!({"path": rootfs, "readonly": true});
    config["process"]["args"] = serde_json::json!(["/bin/true"]);
    config["process"]["terminal"] = serde_json::json!(false);
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
    bundle
}

fn installed(tool: &str) -> bool {
    Command::new(tool).arg("--version").stdout(ProcStdio::null()).stderr(ProcStdio::null()).status().is_ok_and(|s| s.success())
}

fn bench(c: &mut Criterion) {
    sandbox();
    let dir = tempfile::tempdir().unwrap();
    let rootfs = xcompose_testkit::busybox_overlay(dir.path()).expect("busybox test image").lower;
    let scratch = dir.path().join("scratch");
    let mut group = c.benchmark_group("create_start_wait_true");
    group.sample_size(50);

    let mut n = 0u64;
    // A fresh writable layer over the image for each run.
    let mut fresh_spec = || {
        n += 1;
        let run = scratch.join(n.to_string());
        for d in ["upper", "work", "merged"] {
            std::fs::create_dir_all(run.join(d)).unwrap();
        }
        let fs = RootFs::Overlay { lower: vec![rootfs.clone()], upper: run.join("upper"), work: run.join("work"), merged: run.join("merged") };
        (n, ContainerSpec::new(fs, vec!["/bin/true".into()]))
    };
    group.bench_function("xcompose-container (overlay)", |b| {
        b.iter(|| {
            let (_, spec) = fresh_spec();
            let code = spawn(&spec, Stdio::default()).unwrap().start().unwrap().wait().unwrap();
            assert_eq!(code, 0);
        })
    });
    // The same with a cgroup (memory and pids limits) created and removed each time, as runc does.
    let limits = Resources { memory_limit: Some(64 << 20), pids_limit: Some(64), ..Default::default() };
    group.bench_function("xcompose-container (overlay + cgroup)", |b| {
        b.iter(|| {
            let (n, spec) = fresh_spec();
            let cgroup = Cgroup::create(&format!("bench-{}-{n}", std::process::id()), &limits).unwrap();
            let pending = spawn(&spec, Stdio::default()).unwrap();
            cgroup.add_process(pending.pid()).unwrap();
            let code = pending.start().unwrap().wait().unwrap();
            cgroup.destroy().unwrap();
            assert_eq!(code, 0);
        })
    });
    for tool in ["crun", "runc"] {
        if !installed(tool) || !installed("crun") {
            eprintln!("{tool}: not installed, not compared");
            continue;
        }
        let bundle = bundle(tool, dir.path(), &rootfs);
        let state = dir.path().join(format!("state-{tool}"));
        let run = |name: String| {
            Command::new(tool)
                .args(["--root", state.to_str().unwrap(), "run", "--bundle"])
                .arg(&bundle)
                .arg(name)
                .stdout(ProcStdio::null())
                .output()
                .unwrap()
        };
        // crun refuses hosts with cgroup v1 hybrid hierarchies; say so instead of failing.
        let probe = run("probe".into());
        if !probe.status.success() {
            eprintln!("{tool}: cannot run on this host ({}), not compared", String::from_utf8_lossy(&probe.stderr).trim());
            continue;
        }
        let mut i = 0u64;
        group.bench_function(format!("{tool} run (same rootfs)"), |b| {
            b.iter(|| {
                i += 1;
                assert!(run(format!("bench-{i}")).status.success());
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
