#!/usr/bin/env bash
# Times pulling an image from a local registry (Debian's docker-registry on 127.0.0.1) with
# xcompose, `docker pull` (dockerd from Debian's docker.io) and `skopeo copy` into an OCI layout:
# a cold pull (nothing local), and a re-pull of the unchanged image; with the peak RSS of the
# pulling process (/usr/bin/time; dockerd pulls inside a long-running daemon, so it has none of
# its own). The tools alternate round by round in one session; prints the medians.
#
# Usage (as root): bench/pull.sh [ROUNDS] [LAYERS] [LAYER_MB]   (default 10 rounds; the image is
# busybox plus 3 layers of 33 MB of incompressible data: 4 layers, ~100 MB)
# Everything runs in a private network + mount + PID namespace with private state for every tool.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-10}
layers=${2:-3}
layer_mb=${3:-33}
if [ -z "${XC_BENCH_INSIDE:-}" ]; then
  cargo build --release --locked --manifest-path "$root/Cargo.toml" -p xcompose-cli >&2
  cargo build --release --locked --manifest-path "$root/Cargo.toml" -p xcompose-testkit --example write_test_image >&2
  exec env XC_BENCH_INSIDE=1 unshare --net --mount --pid --fork --mount-proc --propagation private "$0" "$@"
fi
for tool in docker-registry skopeo /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "$tool not found: run tests/install-deps.sh" >&2; exit 1; }
done
ip link set lo up
mount -t tmpfs -o mode=0755 tmpfs /run
work=$(mktemp -d /tmp/xc-pull-bench.XXXXXX)
cleanup() {
  [ -n "${dockerd_pid:-}" ] && kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null || true
  # A registry killed by SIGTERM exits non-zero: `|| true`, or `set -e` would end this trap
  # before the work directory (over 600 MB) is removed.
  [ -n "${registry_pid:-}" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null || true
  umount -R "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=5000
cat >"$work/registry.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: "$work/registry"}}
http: {addr: "127.0.0.1:$port", secret: bench}
YAML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done

"$root/target/release/examples/write_test_image" "$work/layout" bench "$layers" $((layer_mb * 1024 * 1024)) >/dev/null
ref="127.0.0.1:$port/bench/big:1"
skopeo copy --quiet --dest-tls-verify=false --preserve-digests "oci:$work/layout:bench" "docker://$ref"
size_mb=$(du -sm "$work/layout/blobs" | cut -f1)
echo "image: $ref, $((layers + 1)) layers, ${size_mb} MB compressed" >&2

xc="$root/target/release/xcompose"
tools=(xcompose skopeo)
if command -v dockerd >/dev/null; then
  mkdir -p "$work/docker"
  dockerd --data-root "$work/docker/data" --exec-root "$work/docker/exec" --pidfile "$work/docker/pid" \
    -H "unix://$work/docker/sock" --bridge=none --iptables=false >"$work/docker/log" 2>&1 &
  dockerd_pid=$!
  export DOCKER_HOST="unix://$work/docker/sock" DOCKER_CONFIG="$work/docker/config"
  for _ in $(seq 100); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
  if docker version >/dev/null 2>&1; then tools+=(docker); else echo "docker: skipped (see $work/docker/log)" >&2; fi
fi

# Each tool's cold pull starts from nothing local; its re-pull follows with everything there.
forget() {
  case $1 in
    xcompose) rm -rf "$work/xc" ;;
    skopeo) rm -rf "$work/skopeo" && mkdir -p "$work/skopeo" ;;
    docker) docker rmi -f "$ref" >/dev/null 2>&1 || true; docker image prune -f >/dev/null 2>&1 || true ;;
  esac
}
# The pull command of a tool, run directly under /usr/bin/time so its RSS is the tool's.
pull_command() {
  case $1 in
    xcompose) cmd=("$xc" --root "$work/xc" image pull "$ref") ;;
    skopeo) cmd=(skopeo copy --quiet --src-tls-verify=false "docker://$ref" "oci:$work/skopeo:big") ;;
    docker) cmd=(docker pull -q "$ref") ;;
  esac
}

# Sets ms and kb: wall-clock milliseconds and peak RSS (kB) of TOOL's pull; a failure aborts.
measure() {
  local start end cmd
  pull_command "$1"
  start=${EPOCHREALTIME/./}
  /usr/bin/time -f %M -o "$work/rss" "${cmd[@]}" >/dev/null 2>"$work/stderr" || { echo "failed: ${cmd[*]}" >&2; cat "$work/stderr" >&2; exit 1; }
  end=${EPOCHREALTIME/./}
  ms=$(((end - start) / 1000))
  kb=$(tail -1 "$work/rss")
}

declare -A samples
for round in $(seq "$rounds"); do
  for tool in "${tools[@]}"; do
    forget "$tool"
    measure "$tool"
    samples[$tool,cold]+="$ms "
    samples[$tool,rss]+="$kb "
    measure "$tool"
    samples[$tool,again]+="$ms "
  done
  echo "round $round/$rounds done" >&2
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
cold_xc=$(echo "${samples[xcompose,cold]}" | median)
printf '%-10s %-20s %-16s %-18s\n' tool "cold pull" "re-pull" "peak RSS of pull"
for tool in "${tools[@]}"; do
  cold=$(echo "${samples[$tool,cold]}" | median)
  again=$(echo "${samples[$tool,again]}" | median)
  rss=$(echo "${samples[$tool,rss]}" | median)
  ratio=$( [ "$tool" = xcompose ] || awk -v a="$cold" -v b="$cold_xc" 'BEGIN {printf "x%.1f", (b>0 ? a/b : 0)}')
  if [ "$tool" = docker ]; then rss_text="— (in dockerd)"; else rss_text="$((rss / 1024)) MB"; fi
  printf '%-10s %-20s %-16s %-18s\n' "$tool" "$cold ms $ratio" "$again ms" "$rss_text"
done
