//! The test images the registry tests push: busybox plus layers that exercise one feature each.
//! Every file they add is named here, so tests can check the unpacked tree.

use crate::layer::{Compression, Layer};
use crate::oci_layout::TestImage;

/// Contents of `/etc/xtk-layer` in [`multi_layer`]'s second layer.
pub const MULTI_LAYER_MARK: &str = "second layer\n";

/// busybox plus two layers: a gzip one adding `/etc/xtk-layer`, `/srv/app/` and a file owned by
/// app (1000:1000), and an uncompressed one adding `/srv/app/config.txt` and a symlink.
pub fn multi_layer() -> anyhow::Result<TestImage> {
    Ok(TestImage::busybox()?
        .layer(
            Layer::gzip()
                .file("etc/xtk-layer", MULTI_LAYER_MARK, 0o644)
                .dir("srv/app", 0o755)
                .owned_file("srv/app/owned", "app's\n", 0o600, 1000, 1000),
        )
        .layer(
            Layer::new(Compression::None)
                .file("srv/app/config.txt", "port=80\n", 0o644)
                .symlink("srv/app/current", "config.txt"),
        )
        .cmd(&["sleep", "infinity"]))
}

/// busybox, a layer with `/data/{keep,gone}`, `/cache/{a,b}` and `/etc/gone.conf`, and a layer
/// that whites out `/data/gone` and `/etc/gone.conf`, makes `/cache` opaque and adds
/// `/cache/fresh`. The result: `/data/keep`, `/cache/fresh` only, no `/etc/gone.conf`.
pub fn whiteouts() -> anyhow::Result<TestImage> {
    Ok(TestImage::busybox()?
        .layer(
            Layer::gzip()
                .dir("data", 0o755)
                .file("data/keep", "keep\n", 0o644)
                .file("data/gone", "gone\n", 0o644)
                .dir("cache", 0o755)
                .file("cache/a", "a\n", 0o644)
                .file("cache/b", "b\n", 0o644)
                .file("etc/gone.conf", "gone\n", 0o644),
        )
        .layer(
            Layer::gzip()
                .whiteout("data/gone")
                .whiteout("etc/gone.conf")
                .opaque("cache")
                .file("cache/fresh", "fresh\n", 0o644),
        ))
}

/// busybox and a layer with `/srv/links/original` and two hard links to it, `/srv/links/second`
/// and `/srv/links/third` (one inode, link count 3 once unpacked).
pub fn hard_links() -> anyhow::Result<TestImage> {
    Ok(TestImage::busybox()?.layer(
        Layer::gzip()
            .dir("srv/links", 0o755)
            .file("srv/links/original", "linked\n", 0o644)
            .hard_link("srv/links/second", "srv/links/original")
            .hard_link("srv/links/third", "srv/links/original"),
    ))
}

/// Contents of `/etc/xtk-zstd` in [`zstd`]'s zstd layer.
pub const ZSTD_MARK: &str = "from a zstd layer\n";

/// busybox and a zstd-compressed layer adding `/etc/xtk-zstd`.
pub fn zstd() -> anyhow::Result<TestImage> {
    Ok(TestImage::busybox()?.layer(Layer::zstd().file("etc/xtk-zstd", ZSTD_MARK, 0o644)))
}

/// The images of a two-platform index: linux/amd64 and linux/arm64/v8, each busybox plus a layer
/// whose `/etc/xtk-platform` names its platform (`amd64`, `arm64/v8`). The arm64 one carries
/// the amd64 busybox binary: it is told apart by that file, not run.
pub fn two_platforms() -> anyhow::Result<Vec<TestImage>> {
    let amd64 =
        TestImage::busybox()?.layer(Layer::gzip().file("etc/xtk-platform", "amd64\n", 0o644));
    let arm64 = TestImage::busybox()?
        .platform("arm64", Some("v8"))
        .layer(Layer::gzip().file("etc/xtk-platform", "arm64/v8\n", 0o644));
    Ok(vec![amd64, arm64])
}

/// busybox and `layers` gzip layers of one incompressible file of `layer_size` bytes each
/// (`/data/layer-N`), for throughput and memory measurements.
pub fn big(layers: usize, layer_size: u64) -> anyhow::Result<TestImage> {
    let mut image = TestImage::busybox()?;
    for n in 0..layers {
        image = image.layer(Layer::gzip().random_file(
            &format!("data/layer-{n}"),
            layer_size,
            n as u64,
        ));
    }
    Ok(image)
}
