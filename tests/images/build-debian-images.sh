#!/usr/bin/env bash
# Builds xcompose's real-daemon test images, redis and nginx on Debian, as one image archive:
#
#   tests/images/build-debian-images.sh OUT.tar
#   xcompose image load -i OUT.tar        # redis:debian-test, nginx:debian-test
#
# The Debian layer is `debootstrap --variant=minbase` of the release apt is configured with, from
# the mirror apt uses (read from /etc/apt/sources.list and /etc/apt/sources.list.d/; override with
# DEBIAN_MIRROR and DEBIAN_SUITE), then redis-server, nginx and busybox (wget, nc: a probe) installed
# with apt-get in a chroot (/proc mounted, a policy-rc.d that keeps services from starting, no docs,
# apt's caches and lists removed). Two images share that layer, each with a small top layer and
# the config its official Docker Hub image has:
#
#   redis:debian-test  CMD ["redis-server", "--protected-mode", "no"], VOLUME /data, WORKDIR /data,
#                      EXPOSE 6379/tcp (the official image runs redis-server as user redis through
#                      an entrypoint; this one runs it as root, without one)
#   nginx:debian-test  CMD ["nginx", "-g", "daemon off;"], STOPSIGNAL SIGQUIT, EXPOSE 80/tcp, and
#                      its logs linked to /dev/stdout and /dev/stderr as in the official image
#
# The Debian layer keeps the device nodes debootstrap makes in /dev (/dev/null, /dev/full, ...),
# as an image made from a debootstrap tree has them. OUT.tar is a `docker save` archive
# (manifest.json, <config digest>.json, <diff_id>/layer.tar) and is replaced atomically.
# Needs root (debootstrap, chroot) and Debian's package mirror.
set -euo pipefail

usage() { echo "usage: $0 OUT.tar" >&2; exit 2; }
[ $# -eq 1 ] || usage
out=$1
[ -n "$out" ] || usage

if [ "$(id -u)" != 0 ]; then
  echo "error: $0 must run as root (debootstrap and chroot need it)" >&2
  exit 1
fi
for tool in debootstrap chroot unshare tar sha256sum dpkg; do
  command -v "$tool" >/dev/null || {
    echo "error: $tool not found: run 'apt-get install debootstrap' (tests/install-deps.sh does it)" >&2
    exit 1
  }
done

# The Debian mirror and release of the first apt source that has a plain release (not -updates or
# -security), deb822 (*.sources) or one-line (*.list) style.
apt_source() {
  local files=() f
  [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  ((${#files[@]})) || return 0
  awk '
    function emit(uri, suite) { if (suite !~ /-/) { print uri, suite; found = 1; exit } }
    function flush(  n, u, s, i, j) {
      if (deb && uris != "" && suites != "") {
        n = split(uris, u, " "); split(suites, s, " ")
        for (i = 1; i <= n; i++) for (j in s) emit(u[i], s[j])
      }
      deb = 0; uris = ""; suites = ""
    }
    FNR == 1 { flush() }
    FILENAME ~ /\.sources$/ {
      if ($0 ~ /^[[:space:]]*$/) { flush(); next }
      if ($1 == "Types:" && $0 ~ /[[:space:]]deb([[:space:]]|$)/) deb = 1
      if ($1 == "URIs:") { $1 = ""; uris = $0 }
      if ($1 == "Suites:") { $1 = ""; suites = $0 }
      next
    }
    $1 == "deb" {
      i = 2
      if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
      emit($i, $(i + 1))
    }
    END { if (!found) flush() }
  ' "${files[@]}"
}

read -r found_mirror found_suite < <(apt_source) || true
mirror=${DEBIAN_MIRROR:-${found_mirror:-}}
suite=${DEBIAN_SUITE:-${found_suite:-}}
if [ -z "$mirror" ] || [ -z "$suite" ]; then
  echo "error: no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d/: set DEBIAN_MIRROR and DEBIAN_SUITE" >&2
  exit 1
fi
arch=$(dpkg --print-architecture)

umask 022
out_dir=$(dirname -- "$out")
mkdir -p -- "$out_dir"
work=$(mktemp -d "${TMPDIR:-/var/tmp}/xcompose-debian-images.XXXXXX")
tmp_out="$out_dir/.$(basename -- "$out").tmp.$$"
rootfs=$work/rootfs
cleanup() { rm -rf -- "$work"; rm -f -- "$tmp_out"; }
trap cleanup EXIT

echo "debootstrap --variant=minbase $suite from $mirror ($arch)" >&2
debootstrap --variant=minbase --arch="$arch" "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  echo "error: debootstrap of $suite from $mirror failed (log above)" >&2
  exit 1
}

# Debian's own image leaves documentation out in the same way (dpkg path excludes).
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/excludes" <<'EXCLUDES'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EXCLUDES
printf '#!/bin/sh\n# Services are not started while the image is built (Debian images ship this too).\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod 0755 "$rootfs/usr/sbin/policy-rc.d"

# Maintainer scripts want /proc: mounted in a mount namespace of its own, so it goes with it
# even if the build is killed.
unshare --mount --propagation private sh -ec '
  root=$1
  mount -t proc proc "$root/proc"
  in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
  in_root apt-get update -qq
  in_root apt-get install -y -qq --no-install-recommends redis-server nginx busybox
  in_root apt-get clean
' sh "$rootfs" >"$work/apt.log" 2>&1 || {
  tail -n 30 "$work/apt.log" >&2
  echo "error: apt-get install in the $suite chroot failed (log above)" >&2
  exit 1
}

# What the build left that an image should not carry: apt's lists and caches, logs, the build
# host's resolver and name (the runtime provides both), documentation installed before the excludes.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/debconf/*-old \
  "$rootfs"/var/lib/dpkg/*-old "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* \
  "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
: >"$rootfs/etc/resolv.conf"
: >"$rootfs/etc/hostname"

# Layer tars: sorted entries and numeric owners, named by their diff_id.
layer() { # DIR -> prints the diff_id's hex after writing $work/archive/<hex>/layer.tar
  local dir=$1 tmp=$work/layer.tar hex
  mapfile -t top < <(cd "$dir" && LC_ALL=C ls -A | LC_ALL=C sort)
  LC_ALL=C tar --create --file="$tmp" --directory="$dir" --format=gnu --sort=name --numeric-owner -- "${top[@]}"
  hex=$(sha256sum "$tmp" | cut -d' ' -f1)
  mkdir -p "$work/archive/$hex"
  mv "$tmp" "$work/archive/$hex/layer.tar"
  echo "$hex"
}
# Creates PATH's parent directories in the top layer DIR with the owners and modes they have in
# the Debian layer, so the top layer does not change them.
parents() { # DIR PATH
  local dir=$1 path=$2 sofar=""
  local IFS=/
  for part in $(dirname -- "$path"); do
    [ -n "$part" ] || continue
    sofar="$sofar/$part"
    mkdir -p "$dir$sofar"
    chown --reference="$rootfs$sofar" "$dir$sofar"
    chmod --reference="$rootfs$sofar" "$dir$sofar"
  done
}

base=$(layer "$rootfs")

redis_top=$work/redis-top
redis_uid=$(awk -F: '$1 == "redis" { print $3 ":" $4 }' "$rootfs/etc/passwd")
mkdir -p "$redis_top/data"
chown "$redis_uid" "$redis_top/data"
redis_layer=$(layer "$redis_top")

nginx_top=$work/nginx-top
parents "$nginx_top" /var/log/nginx/access.log
ln -s /dev/stdout "$nginx_top/var/log/nginx/access.log"
ln -s /dev/stderr "$nginx_top/var/log/nginx/error.log"
nginx_layer=$(layer "$nginx_top")

# Writes an image config (its "config" object is $2) and prints its digest's hex.
config() { # TOP_LAYER_HEX CONFIG_JSON
  local tmp=$work/config.json hex
  cat >"$tmp" <<CONFIG
{"architecture":"$arch","os":"linux","created":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","config":$2,"rootfs":{"type":"layers","diff_ids":["sha256:$base","sha256:$1"]}}
CONFIG
  hex=$(sha256sum "$tmp" | cut -d' ' -f1)
  mv "$tmp" "$work/archive/$hex.json"
  echo "$hex"
}
path_env='"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]'
redis_config=$(config "$redis_layer" "{$path_env,\"Cmd\":[\"redis-server\",\"--protected-mode\",\"no\"],\"WorkingDir\":\"/data\",\"Volumes\":{\"/data\":{}},\"ExposedPorts\":{\"6379/tcp\":{}}}")
nginx_config=$(config "$nginx_layer" "{$path_env,\"Cmd\":[\"nginx\",\"-g\",\"daemon off;\"],\"StopSignal\":\"SIGQUIT\",\"ExposedPorts\":{\"80/tcp\":{}}}")

cat >"$work/archive/manifest.json" <<MANIFEST
[{"Config":"$redis_config.json","RepoTags":["redis:debian-test"],"Layers":["$base/layer.tar","$redis_layer/layer.tar"]},
 {"Config":"$nginx_config.json","RepoTags":["nginx:debian-test"],"Layers":["$base/layer.tar","$nginx_layer/layer.tar"]}]
MANIFEST

LC_ALL=C tar --create --file="$tmp_out" --directory="$work/archive" --format=gnu --sort=name --numeric-owner \
  -- manifest.json "$redis_config.json" "$nginx_config.json" "$base" "$redis_layer" "$nginx_layer"
mv -f -- "$tmp_out" "$out"
