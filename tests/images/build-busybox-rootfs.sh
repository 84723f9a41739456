#!/usr/bin/env bash
# Builds the rootfs of xcompose's busybox test image as a tar:
#
#   tests/images/build-busybox-rootfs.sh OUT.tar
#   xcompose image import OUT.tar busybox:latest
#
# The rootfs is Debian's statically linked busybox (package busybox-static) with its applets
# installed as symlinks (/bin/sh, /bin/ls, /sbin/ip...), an /etc/passwd and /etc/group with
# root (0), nobody/nogroup (65534) and app (1000), /root, /home/app (owned by app), /tmp (1777)
# and empty mount points (/proc, /sys, /dev, /run).
#
# The tar is deterministic: entries sorted by name, numeric owners, one fixed mtime
# (SOURCE_DATE_EPOCH, default 2000-01-01), GNU format without atime/ctime. Running it twice gives
# the same bytes; OUT.tar is replaced atomically. Needs root (chroot, ownership of /home/app).
set -euo pipefail

usage() { echo "usage: $0 OUT.tar" >&2; exit 2; }
[ $# -eq 1 ] || usage
out=$1
[ -n "$out" ] || usage

busybox=${BUSYBOX:-/bin/busybox}  # overridable for the harness's own tests
if [ ! -x "$busybox" ] || ! "$busybox" true 2>/dev/null; then
  echo "error: $busybox not found: run 'apt-get install busybox-static' (tests/install-deps.sh does it)" >&2
  exit 1
fi
# A dynamically linked busybox (Debian's package "busybox") cannot run in a rootfs without libc.
if LC_ALL=C ldd "$busybox" >/dev/null 2>&1; then
  echo "error: $busybox is dynamically linked: run 'apt-get install busybox-static' (it replaces package busybox)" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "error: $0 must run as root (it uses chroot and sets file owners)" >&2
  exit 1
fi
for tool in chroot tar; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found" >&2; exit 1; }
done

umask 022
out_dir=$(dirname -- "$out")
mkdir -p -- "$out_dir"
work=$(mktemp -d "${TMPDIR:-/tmp}/xcompose-busybox-rootfs.XXXXXX")
tmp_out="$out_dir/.$(basename -- "$out").tmp.$$"
cleanup() { rm -rf -- "$work"; rm -f -- "$tmp_out"; }
trap cleanup EXIT

rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,root,home/app,tmp,proc,sys,dev,run,var}
cp -- "$busybox" "$rootfs/bin/busybox"
chmod 0755 "$rootfs/bin/busybox"
# busybox resolves its own path from argv[0] when /proc is not mounted, so links point to /bin/busybox.
chroot "$rootfs" /bin/busybox --install -s
[ -L "$rootfs/bin/sh" ] || { echo "error: busybox --install -s did not create /bin/sh" >&2; exit 1; }

cat >"$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
PASSWD
cat >"$rootfs/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
app:x:1000:
GROUP
chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group"
chmod 1777 "$rootfs/tmp"
chmod 0700 "$rootfs/root"
chown 1000:1000 "$rootfs/home/app"
chmod 0755 "$rootfs/home/app"

mtime=${SOURCE_DATE_EPOCH:-946684800}
# Top-level names in a fixed order (no "./" prefix, like `docker export`); --sort=name orders the rest.
mapfile -t top < <(cd "$rootfs" && LC_ALL=C ls -A | LC_ALL=C sort)
LC_ALL=C tar --create --file="$tmp_out" --directory="$rootfs" \
  --format=gnu --sort=name --numeric-owner --mtime="@$mtime" \
  -- "${top[@]}"
mv -f -- "$tmp_out" "$out"
