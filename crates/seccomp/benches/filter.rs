//! What seccomp costs a container: compiling Docker's default profile (once per host), reading
//! it back from the disk cache (once per process), the in-process lookup each start makes, and
//! loading the compiled filter in a forked child against a plain fork as the baseline.

use criterion::{criterion_group, criterion_main, Criterion};
use nix::libc;
use xcompose_seccomp::{compiled, Filter, Profile};

const CAPS: [caps::Capability; 3] = [caps::Capability::CAP_CHOWN, caps::Capability::CAP_KILL, caps::Capability::CAP_SETUID];

/// Forks a child that optionally loads `filter`, exits, and is reaped.
fn fork_child(filter: Option<&Filter>) {
    // SAFETY: the child only loads the filter and leaves with _exit.
    match unsafe { libc::fork() } {
        0 => {
            let code = filter.map_or(0, |f| i32::from(f.load().is_err()));
            // SAFETY: leaving the forked child.
            unsafe { libc::_exit(code) }
        }
        pid => {
            let mut status = 0;
            // SAFETY: reaping our own child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            assert_eq!(status, 0, "the child failed to load the filter");
        }
    }
}

fn bench(c: &mut Criterion) {
    let profile = Profile::docker_default();
    c.bench_function("compile default profile", |b| b.iter(|| Filter::compile(&profile, &CAPS).unwrap()));
    let dir = tempfile::tempdir().unwrap();
    Filter::cached(&profile, &CAPS, dir.path()).unwrap();
    c.bench_function("read from the disk cache", |b| b.iter(|| Filter::cached(&profile, &CAPS, dir.path()).unwrap()));
    let filter = compiled(&profile, &CAPS).unwrap();
    c.bench_function("cached lookup", |b| b.iter(|| compiled(&profile, &CAPS).unwrap()));
    c.bench_function("fork+exit (baseline)", |b| b.iter(|| fork_child(None)));
    c.bench_function("fork+load filter+exit", |b| b.iter(|| fork_child(Some(&filter))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
