#!/usr/bin/env bash
# Installs what is needed, builds xcompose and runs the example stack (as root, on Debian).
#
# The busybox image the examples use is built from Debian's busybox-static and imported into the
# local image store; then the stack (web-stack by default, or the one named: workers, dev-watch)
# is brought up with `xcompose up -d --wait`, listed, and asked for a page. It keeps running:
# `target/release/xcompose -f examples/<stack>/compose.yaml down -v` takes it down.
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
compose=("$xcompose" -f "$root/examples/$stack/compose.yaml")
"${compose[@]}" up -d --wait
"${compose[@]}" ps
if [ "$stack" = web-stack ]; then
  echo "--- the page web serves (fetched from inside the web container):"
  "${compose[@]}" exec -T web wget -qO- http://localhost/
fi
echo "example stack '$stack' is up; take it down with: ${compose[*]} down -v"
