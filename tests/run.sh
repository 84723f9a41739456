#!/usr/bin/env bash
# The whole test suite: installs what it needs, then runs every crate's tests (unit, property,
# conformance against Docker Compose, and the root-only sandboxed integration tests).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/install-deps.sh"
XCOMPOSE_REFERENCE_COMPOSE=$("$here/reference-compose.sh")
export XCOMPOSE_REFERENCE_COMPOSE
cd "$here/.."
cargo test --workspace --locked "$@"
