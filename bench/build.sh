#!/usr/bin/env bash
# Times building bench/build/Dockerfile (3 stages, COPY and RUN steps, busybox only) with
# `xcompose build`, `buildah bud --layers` (Debian's buildah 1.28, vfs storage, chroot isolation)
# and `docker build` (dockerd from Debian's docker.io; its classic builder, as Debian has no
# buildx): a cold build (no cache, only the base image), a no-op rebuild, and a rebuild after one
# source file changed. The tools alternate round by round in one session; prints the medians and
# their ratio to docker build.
#
# Usage (as root): bench/build.sh [ROUNDS]   (default 10; TOOLS="buildah docker" picks tools)
# Everything runs in a private network + mount + PID namespace with private state for every tool.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-10}
if [ -z "${XC_BENCH_INSIDE:-}" ]; then
  case " ${TOOLS:-xcompose} " in
    *" xcompose "*) cargo build --release --locked --manifest-path "$root/Cargo.toml" -p xcompose-cli >&2 ;;
  esac
  exec env XC_BENCH_INSIDE=1 unshare --net --mount --pid --fork --mount-proc --propagation private "$0" "$@"
fi
read -r -a tools <<<"${TOOLS:-xcompose buildah docker}"
for tool in "${tools[@]}"; do
  case $tool in
    xcompose) ;;
    buildah) command -v buildah >/dev/null || { echo "buildah not found: run tests/install-deps.sh" >&2; exit 1; } ;;
    docker) command -v dockerd >/dev/null || { echo "dockerd not found: run tests/install-deps.sh" >&2; exit 1; } ;;
    *) echo "unknown tool $tool (xcompose, buildah, docker)" >&2; exit 2 ;;
  esac
done
ip link set lo up
# A /run of its own: the firewall record and locks of this namespace do not land in the host's /run.
mount -t tmpfs tmpfs /run
mount -t tmpfs -o mode=0755 tmpfs /run
work=$(mktemp -d /tmp/xc-build-bench.XXXXXX)
cleanup() {
  [ -n "${dockerd_pid:-}" ] && kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null || true
  umount -R "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The base image, the same layer and config for every tool: the busybox test rootfs as a
# docker-archive tagged busybox:latest.
mkdir -p "$work/base"
"$root/tests/images/build-busybox-rootfs.sh" "$work/base/layer.tar" >&2
diff_id=$(sha256sum "$work/base/layer.tar" | cut -d' ' -f1)
cat >"$work/base/config.json" <<JSON
{"architecture":"amd64","os":"linux","created":"2000-01-01T00:00:00Z",
 "config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},
 "rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},"history":[{"created":"2000-01-01T00:00:00Z"}]}
JSON
echo '[{"Config":"config.json","RepoTags":["busybox:latest"],"Layers":["layer.tar"]}]' >"$work/base/manifest.json"
base="$work/base.tar"
tar -C "$work/base" -cf "$base" manifest.json config.json layer.tar

# The project is copied, so a changed source file never touches the repository.
project="$work/project"
cp -r "$root/bench/build" "$project"
changed="$project/src/unit1.c"

xc="$root/target/release/xcompose"
buildah_cmd=(buildah --root "$work/buildah/root" --runroot "$work/buildah/runroot" --storage-driver vfs)
export TMPDIR="$work/tmp" BUILDAH_ISOLATION=chroot
mkdir -p "$TMPDIR"
if [[ " ${tools[*]} " == *" docker "* ]]; then
  # buildah reads DOCKER_CONFIG's config.json for credentials too: it must exist.
  mkdir -p "$work/docker/config" && echo '{}' >"$work/docker/config/config.json"
  dockerd --data-root "$work/docker/data" --exec-root "$work/docker/exec" --pidfile "$work/docker/pid" \
    -H "unix://$work/docker/sock" --bridge=none --iptables=false >"$work/docker/log" 2>&1 &
  dockerd_pid=$!
  export DOCKER_HOST="unix://$work/docker/sock" DOCKER_CONFIG="$work/docker/config" DOCKER_BUILDKIT=0
  for _ in $(seq 100); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
  docker version >/dev/null 2>&1 || { echo "dockerd did not start: $(tail -5 "$work/docker/log")" >&2; exit 1; }
fi

# Starts TOOL from nothing but the base image (untimed).
forget() {
  case $1 in
    xcompose) rm -rf "$work/xc" && "$xc" --root "$work/xc" image load -q -i "$base" >/dev/null ;;
    buildah) rm -rf "$work/buildah" "$TMPDIR" && mkdir -p "$TMPDIR" \
      && "${buildah_cmd[@]}" pull -q "docker-archive:$base" >/dev/null ;;
    docker) docker rmi -f bench-build:latest >/dev/null 2>&1 || true
      docker image prune -af >/dev/null 2>&1 || true
      docker load -q -i "$base" >/dev/null ;;
  esac
}
build_command() {
  case $1 in
    xcompose) cmd=("$xc" --root "$work/xc" -f "$project/compose.yaml" build) ;;
    buildah) cmd=("${buildah_cmd[@]}" bud --layers --isolation chroot --format docker --pull-never \
      -t bench-build:latest "$project") ;;
    docker) cmd=(docker build -q -t bench-build:latest "$project") ;;
  esac
}
# Sets ms: wall-clock milliseconds of TOOL's build; a failure aborts.
measure() {
  local start end cmd
  build_command "$1"
  start=${EPOCHREALTIME/./}
  "${cmd[@]}" >"$work/out" 2>&1 || { echo "failed: ${cmd[*]}" >&2; tail -20 "$work/out" >&2; exit 1; }
  end=${EPOCHREALTIME/./}
  ms=$(((end - start) / 1000))
}

declare -A samples
original=$(cat "$changed")
for round in $(seq "$rounds"); do
  for tool in "${tools[@]}"; do
    printf '%s\n' "$original" >"$changed"
    forget "$tool"
    measure "$tool"; samples[$tool,cold]+="$ms "
    measure "$tool"; samples[$tool,noop]+="$ms "
    printf '%s\n// round %s\n' "$original" "$round" >"$changed"
    measure "$tool"; samples[$tool,one]+="$ms "
  done
  echo "round $round/$rounds done" >&2
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
ratio() { # ratio of TOOL's median to docker's for SCENARIO, when docker ran
  [[ " ${tools[*]} " == *" docker "* ]] || return 0
  awk -v a="$2" -v b="$(echo "${samples[docker,$1]}" | median)" 'BEGIN {printf " (%.2fx docker)", (b>0 ? a/b : 0)}'
}
printf '%-10s %-28s %-28s %-28s\n' tool "cold build" "no-op rebuild" "one source file changed"
for tool in "${tools[@]}"; do
  row=()
  for scenario in cold noop one; do
    value=$(echo "${samples[$tool,$scenario]}" | median)
    row+=("$value ms$(ratio "$scenario" "$value")")
  done
  printf '%-10s %-28s %-28s %-28s\n' "$tool" "${row[@]}"
done
