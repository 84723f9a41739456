//! A listing of an image's unpacked tree, made by the image's own busybox, so a container's root
//! (xcompose) and a reference unpacking (umoci, in a chroot) are listed by the same program.

use std::path::Path;

use crate::Sandbox;

/// A busybox shell script printing one line per path under `/` (sorted): name, mode, owner,
/// type, link count (not for directories: overlayfs counts 1 for a merged one), the first 16 hex
/// digits of a regular file's sha256, a symlink's target. Leaves out what a container runtime
/// adds (`/proc`, `/sys`, `/dev`, `/run`, `/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`,
/// `/etc/mtab`) and mtimes (overlay and unpackers differ on directories').
pub const TREE_LISTING: &str = r#"
cd / || exit 1
find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./run \) -prune -o -print \
  | grep -v -x -e . -e ./etc/hosts -e ./etc/hostname -e ./etc/resolv.conf -e ./etc/mtab \
  | LC_ALL=C sort \
  | while IFS= read -r path; do
      sum=-
      if [ -f "$path" ] && [ ! -L "$path" ]; then sum=$(sha256sum <"$path" | cut -c1-16); fi
      link=-
      if [ -L "$path" ]; then link=$(readlink "$path"); fi
      links=-
      if [ ! -d "$path" ] || [ -L "$path" ]; then links=$(stat -c %h "$path"); fi
      echo "$(stat -c '%n %a %u:%g %F' "$path") $links $sum $link"
    done
"#;

/// [`TREE_LISTING`] of an unpacked root filesystem on disk, run by its own `/bin/busybox` in a
/// chroot inside the sandbox.
pub fn rootfs_listing(sb: &Sandbox, rootfs: &Path) -> anyhow::Result<String> {
    let root = rootfs
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("{} is not UTF-8", rootfs.display()))?;
    sb.run_ok("chroot", &[root, "/bin/busybox", "sh", "-c", TREE_LISTING])
}
