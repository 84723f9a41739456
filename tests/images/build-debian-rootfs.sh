#!/usr/bin/env bash
# Builds the rootfs of xcompose's Debian test image as a tar, real daemons included:
#
#   tests/images/build-debian-rootfs.sh OUT.tar
#   xcompose image import OUT.tar debian-daemons:latest   (or `image load` with a config)
#
# debootstrap --variant=minbase of Debian bookworm (from DEBIAN_MIRROR, default deb.debian.org,
# the package archive apt uses), then `apt-get install` of redis-server and nginx-light inside
# it, with no service started while installing; apt's lists and package cache are removed. The
# tree keeps debootstrap's device nodes (/dev/null, /dev/full, ...), as an image made from a
# debootstrap tree has them. OUT.tar is replaced atomically. Needs root and debootstrap
# (tests/install-deps.sh installs it); downloads ~60 MB the first time.
set -euo pipefail

usage() { echo "usage: $0 OUT.tar" >&2; exit 2; }
[ $# -eq 1 ] || usage
out=$1
[ -n "$out" ] || usage
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${DEBIAN_SUITE:-bookworm}

if [ "$(id -u)" != 0 ]; then
  echo "error: $0 must run as root (debootstrap, chroot)" >&2
  exit 1
fi
for tool in debootstrap chroot unshare tar; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found: run tests/install-deps.sh" >&2; exit 1; }
done

umask 022
out_dir=$(dirname -- "$out")
mkdir -p -- "$out_dir"
work=$(mktemp -d "${TMPDIR:-/tmp}/xcompose-debian-rootfs.XXXXXX")
tmp_out="$out_dir/.$(basename -- "$out").tmp.$$"
cleanup() { rm -rf -- "$work"; rm -f -- "$tmp_out"; }
trap cleanup EXIT

rootfs=$work/rootfs
if ! debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -n 20 "$work/debootstrap.log" >&2
  echo "error: debootstrap of $suite from $mirror failed (log above)" >&2
  exit 1
fi
# No daemon starts while its package installs.
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
# Maintainer scripts want /proc: mounted in a mount namespace of their own, gone with it.
if ! unshare --mount --propagation private sh -c '
  mount -t proc proc "$1/proc" &&
  DEBIAN_FRONTEND=noninteractive chroot "$1" apt-get install -y -qq --no-install-recommends redis-server nginx-light
' sh "$rootfs" >"$work/apt.log" 2>&1; then
  tail -n 20 "$work/apt.log" >&2
  echo "error: apt-get install of redis-server and nginx-light in the image failed (log above)" >&2
  exit 1
fi
rm -f "$rootfs/usr/sbin/policy-rc.d"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb

mapfile -t top < <(cd "$rootfs" && LC_ALL=C ls -A | LC_ALL=C sort)
LC_ALL=C tar --create --file="$tmp_out" --directory="$rootfs" \
  --format=gnu --sort=name --numeric-owner -- "${top[@]}"
mv -f -- "$tmp_out" "$out"
