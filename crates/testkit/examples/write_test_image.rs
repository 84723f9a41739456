//! Writes a test image into an OCI layout, for scripts (bench/pull.sh):
//!
//!     write_test_image LAYOUT_DIR TAG LAYERS LAYER_BYTES
//!
//! The image is busybox plus LAYERS gzip layers of LAYER_BYTES incompressible bytes each
//! (`xcompose_testkit::test_images::big`); prints its manifest digest.

use anyhow::Context as _;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, tag, layers, bytes] = args.as_slice() else {
        anyhow::bail!("usage: write_test_image LAYOUT_DIR TAG LAYERS LAYER_BYTES");
    };
    let layers: usize = layers
        .parse()
        .with_context(|| format!("LAYERS: {layers:?} is not a number"))?;
    let bytes: u64 = bytes
        .parse()
        .with_context(|| format!("LAYER_BYTES: {bytes:?} is not a number"))?;
    let layout = xcompose_testkit::OciLayout::create(std::path::Path::new(dir))?;
    let written = layout.add_image(&xcompose_testkit::test_images::big(layers, bytes)?, tag)?;
    println!("{}", written.manifest_digest);
    Ok(())
}
