#!/usr/bin/env bash
# Installs what is needed, builds xcompose and runs the example stack (as root, on Debian).
#
# The busybox image the examples use is built from Debian's busybox-static and imported into the
# local image store. `up` (issue 5) is not built yet, so for now the "stack" step loads and
# validates the example with `xcompose config`; once `up` exists this runs `xcompose up -d`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tests/install-deps.sh"
cargo build --release --locked --manifest-path "$root/Cargo.toml"
xcompose="$root/target/release/xcompose"
image_tar=$(mktemp --suffix=.tar)
trap 'rm -f "$image_tar"' EXIT
"$root/tests/images/build-busybox-rootfs.sh" "$image_tar"
"$xcompose" image import "$image_tar" busybox:latest
"$xcompose" image ls
stack=${1:-web-stack}
"$xcompose" -f "$root/examples/$stack/compose.yaml" config
echo "example stack '$stack' loaded; services: $("$xcompose" -f "$root/examples/$stack/compose.yaml" config --services | tr '\n' ' ')"
