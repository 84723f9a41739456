#!/usr/bin/env bash
# Times a one-off container of `/bin/true`: `xcompose run --rm` of a service of a stack (one on
# the project's network, one with `network_mode: none`), `runc run` of the same busybox rootfs as
# an OCI bundle (runc's default spec: its own namespaces, a cgroup, no network), `crun run` of
# that bundle when crun can run here, and `docker compose run --rm` of the same services; the
# tools alternating round by round in one session. Prints medians and ratios to `runc run`.
#
# Usage (as root): bench/run.sh [ROUNDS]   (default 20)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
rounds=${1:-20}
bench_enter "$@"
bench_setup

stack="$work/run/compose.yaml"
mkdir -p "$work/run"
cat >"$stack" <<'EOF'
services:
  net:
    image: busybox:latest
  bare:
    image: busybox:latest
    network_mode: none
EOF

bundle="$work/bundle"
mkdir -p "$bundle/rootfs"
tar -xf "$image_tar" -C "$bundle/rootfs"
(cd "$bundle" && runc spec)
# runc's default spec runs `sh` on a terminal; this one runs /bin/true without one.
sed -i -e 's/"terminal": true/"terminal": false/' -e 's/"sh"$/"\/bin\/true"/' "$bundle/config.json"
grep -q '"/bin/true"' "$bundle/config.json" || { echo "could not set the bundle's command" >&2; exit 1; }

tools=(runc)
run_runc() { runc --root "$work/runc" run --bundle "$bundle" "bench-$RANDOM"; }
if command -v crun >/dev/null; then
  if crun --root "$work/crun" run --bundle "$bundle" bench-crun-probe >"$work/crun.log" 2>&1; then
    tools+=(crun)
  else
    echo "crun: skipped, it cannot run the bundle here: $(tail -1 "$work/crun.log")" >&2
  fi
fi
run_crun() { crun --root "$work/crun" run --bundle "$bundle" "bench-$RANDOM"; }
run_xcompose_net() { "$xc" -f "$stack" -p run run --rm net /bin/true; }
run_xcompose_bare() { "$xc" -f "$stack" -p run run --rm bare /bin/true; }
tools+=(xcompose_net xcompose_bare)
if [ "$have_docker" = 1 ]; then
  run_docker_net() { "$reference" -f "$stack" -p run run --rm net /bin/true; }
  run_docker_bare() { "$reference" -f "$stack" -p run run --rm bare /bin/true; }
  tools+=(docker_net docker_bare)
fi

# One untimed run each: the project's network is made by the first `run` and then kept (by
# both tools), as in a stack that is already up.
for tool in "${tools[@]}"; do time_ms "run_$tool" >/dev/null; done

declare -A samples
for round in $(seq "$rounds"); do
  for tool in "${tools[@]}"; do
    samples[$tool]+="$(time_ms "run_$tool") "
  done
  ((round % 5)) || echo "round $round/$rounds done" >&2
done

echo "one-off /bin/true, medians of $rounds rounds (ratio to runc run)"
b=$(echo "${samples[runc]}" | median)
for tool in "${tools[@]}"; do
  m=$(echo "${samples[$tool]}" | median)
  printf '%-16s %s\n' "$tool" "$(with_ratio "$m" "$b" ms $([ "$tool" = runc ] && echo base))"
done
