//! The one-time cost of user namespace remapping without idmapped mounts: copying an image's
//! layers with their owners shifted into a range (`ImageStore::shifted_layers`), for the busybox
//! test image (one small layer) and the Debian redis test image (a debootstrap base layer and
//! Debian's redis packages: what a real image weighs). Every run starts without copies.
//!
//! Run as root (the copies are chowned): `cargo bench -p xcompose-images --bench shift`. The
//! store is in a temporary directory under `$TMPDIR` (else /tmp): the file system there decides
//! whether contents are copied or their extents shared (`copy_file_range`).

use std::path::Path;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use xcompose_images::{IdShift, ImageStore};

const SHIFT: IdShift = IdShift { uid: 100000, uids: 65536, gid: 100000, gids: 65536 };

/// Bytes and files under `dir`.
fn size(dir: &Path) -> (u64, u64) {
    let meta = std::fs::symlink_metadata(dir).unwrap();
    if !meta.is_dir() {
        return (if meta.is_file() { meta.len() } else { 0 }, 1);
    }
    std::fs::read_dir(dir).unwrap().flatten().map(|e| size(&e.path())).fold((0, 1), |(b, n), (eb, en)| (b + eb, n + en))
}

fn bench_image(c: &mut Criterion, name: &str, store: &ImageStore, root: &Path, reference: &str) {
    let image = store.resolve(reference).unwrap();
    let (bytes, files) = image.layer_dirs.iter().map(|d| size(d)).fold((0, 0), |(b, n), (lb, ln)| (b + lb, n + ln));
    eprintln!("{name}: {} layer(s), {:.1} MB in {files} files", image.layer_dirs.len(), bytes as f64 / 1e6);
    let shifted = root.join("images/shifted");
    c.bench_function(name, |b| {
        b.iter_batched(
            || {
                let _ = std::fs::remove_dir_all(&shifted);
            },
            |()| store.shifted_layers(&image, &SHIFT).unwrap(),
            BatchSize::PerIteration,
        )
    });
}

fn bench(c: &mut Criterion) {
    let root = tempfile::tempdir().unwrap();
    let store = ImageStore::open(root.path()).unwrap();
    let busybox = std::fs::File::open(xcompose_testkit::busybox_image_tar().expect("busybox test image")).unwrap();
    store.import(busybox, "busybox").unwrap();
    let debian = std::fs::File::open(xcompose_testkit::debian_images_tar().expect("Debian test images")).unwrap();
    store.load(debian, &mut |_, _| {}).unwrap();
    bench_image(c, "busybox", &store, root.path(), "busybox");
    bench_image(c, "debian redis", &store, root.path(), xcompose_testkit::DEBIAN_REDIS_IMAGE);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
