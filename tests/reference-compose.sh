#!/usr/bin/env bash
# Prints the path of the reference docker-compose binary installed by install-deps.sh.
set -euo pipefail
REF_VENV=${XCOMPOSE_REF_VENV:-/opt/xcompose-ref}
"$REF_VENV/bin/python" -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))'
