//! The Debian test images with real daemons (`redis:debian-test`, `nginx:debian-test`):
//! `tests/images/build-debian-images.sh`, and its archive built once per machine.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context as _;
use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest, Sha256};

/// The redis image in [`debian_images_tar`]: redis-server (and redis-cli) on Debian, configured
/// like Docker Hub's `redis` (CMD `redis-server --protected-mode no`, VOLUME and WORKDIR `/data`,
/// EXPOSE 6379).
pub const DEBIAN_REDIS_IMAGE: &str = "redis:debian-test";

/// The nginx image in [`debian_images_tar`]: nginx on Debian, configured like Docker Hub's
/// `nginx` (CMD `nginx -g 'daemon off;'`, STOPSIGNAL SIGQUIT, EXPOSE 80, logs to stdout/stderr).
pub const DEBIAN_NGINX_IMAGE: &str = "nginx:debian-test";

/// Where the archive is cached unless `XCOMPOSE_TEST_IMAGE_CACHE` names another directory: outside
/// any target directory, so `cargo clean` keeps it.
const DEFAULT_CACHE_DIR: &str = "/var/cache/xcompose-test-images";

/// Names of the archives in the cache directory: `debian-images-<script hash>.tar`.
const ARCHIVE_PREFIX: &str = "debian-images-";

/// Path of the script that builds the Debian test images
/// (`tests/images/build-debian-images.sh` at the workspace root).
pub fn debian_images_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/images/build-debian-images.sh")
}

/// Builds the Debian test images as a `docker save` archive at `out` (see the script for what is
/// in it). Fails with the script's message and the end of its log if it cannot.
pub fn build_debian_images(out: &Path) -> anyhow::Result<()> {
    crate::image::run_image_script(&debian_images_script(), out)
}

/// The Debian test images as one archive, ready for `xcompose image load -i TAR`
/// ([`DEBIAN_REDIS_IMAGE`] and [`DEBIAN_NGINX_IMAGE`]).
///
/// Built once per machine (a minute or so: debootstrap and apt-get from Debian's mirror) into
/// `/var/cache/xcompose-test-images/` (or `$XCOMPOSE_TEST_IMAGE_CACHE`), named after the
/// script's hash, so it is rebuilt when the script changes and archives of older scripts are
/// removed. Parallel tests and processes wait on a file lock for the one that builds; later calls
/// in the same process return the same path.
pub fn debian_images_tar() -> anyhow::Result<PathBuf> {
    static TAR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    TAR.get_or_init(|| build_cached().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

fn build_cached() -> anyhow::Result<PathBuf> {
    let cache = std::env::var_os("XCOMPOSE_TEST_IMAGE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CACHE_DIR));
    fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
    let script = debian_images_script();
    let text = fs::read(&script).with_context(|| format!("reading {}", script.display()))?;
    let name = format!(
        "{ARCHIVE_PREFIX}{}.tar",
        &hex::encode(Sha256::digest(&text))[..16]
    );
    let tar = cache.join(&name);

    let lock_path = cache.join("debian-images.lock");
    let lock_file =
        File::create(&lock_path).with_context(|| format!("creating {}", lock_path.display()))?;
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive)
        .map_err(|(_, errno)| errno)
        .with_context(|| format!("locking {}", lock_path.display()))?;
    if !tar.exists() {
        build_debian_images(&tar)?;
        remove_stale(&cache, &name)?;
    }
    Ok(tar)
}

/// Removes the archives of other versions of the script from `cache`, and temporary files a
/// killed build left (the caller holds the lock, so no build is running).
fn remove_stale(cache: &Path, current: &str) -> anyhow::Result<()> {
    for entry in fs::read_dir(cache).with_context(|| format!("listing {}", cache.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours =
            name.starts_with(ARCHIVE_PREFIX) || name.starts_with(&format!(".{ARCHIVE_PREFIX}"));
        if ours && name != current {
            fs::remove_file(entry.path())
                .with_context(|| format!("removing {}", entry.path().display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_archives_and_temporary_files_are_removed_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "debian-images-aaaa.tar",
            "debian-images-bbbb.tar",
            ".debian-images-aaaa.tar.tmp.42",
            "debian-images.lock",
            "busybox.tar",
        ] {
            fs::write(dir.path().join(name), b"").unwrap();
        }
        remove_stale(dir.path(), "debian-images-bbbb.tar").unwrap();
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "busybox.tar",
                "debian-images-bbbb.tar",
                "debian-images.lock"
            ]
        );
    }
}
