#!/usr/bin/env bash
# Installs what is needed, builds xcompose and runs the example stack (as root, on Debian).
#
# The container runtime (issue 3), networking (issue 4) and `up` (issue 5) are not built yet, so
# for now the "stack" step loads and validates the example with `xcompose config`; once `up`
# exists this script runs `xcompose up -d` on it instead.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tests/install-deps.sh"
cargo build --release --locked --manifest-path "$root/Cargo.toml"
xcompose="$root/target/release/xcompose"
stack=${1:-web-stack}
"$xcompose" -f "$root/examples/$stack/compose.yaml" config
echo "example stack '$stack' loaded; services: $("$xcompose" -f "$root/examples/$stack/compose.yaml" config --services | tr '\n' ' ')"
