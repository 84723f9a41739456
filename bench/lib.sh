# Helpers shared by bench/fleet.sh, bench/run.sh and bench/ci.sh (sourced, not run): entering a
# private network + mount + PID namespace, a private state root for xcompose, a private dockerd
# with docker compose v2 as the reference, timing, medians, and the memory of a set of processes.
# bench/stack.sh and bench/rootless.sh take bench_enter, time_ms, median and bench_up_noop_down
# from here too.

bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
xc=${XCOMPOSE:-$bench_root/target/release/xcompose}

# Builds the release binary (unless XCOMPOSE names one to use instead), then runs the calling
# script again inside private namespaces (nothing touches the machine's network, mounts or
# processes); returns inside them.
bench_enter() {
  if [ -z "${XC_BENCH_INSIDE:-}" ]; then
    [ -n "${XCOMPOSE:-}" ] || cargo build --release --locked --manifest-path "$bench_root/Cargo.toml" -p xcompose-cli >&2
    exec env XC_BENCH_INSIDE=1 unshare --net --mount --pid --fork --mount-proc --propagation private "$0" "$@"
  fi
  ip link set lo up
  # A /run of its own: the firewall record and locks of this namespace do not land in the host's /run.
  mount -t tmpfs tmpfs /run
}

# Makes the work directory ($work), the busybox image tar ($image_tar) imported into xcompose's
# private state root, and starts the reference (a private dockerd, extra arguments passed to it,
# and docker compose); sets $have_docker to 1 when the reference runs.
bench_setup() {
  work=$(mktemp -d /tmp/xc-bench.XXXXXX)
  trap bench_cleanup EXIT
  image_tar="$work/busybox.tar"
  "$bench_root/tests/images/build-busybox-rootfs.sh" "$image_tar" >&2
  export XCOMPOSE_ROOT="$work/xcompose"
  "$xc" image import "$image_tar" busybox:latest >/dev/null
  have_docker=0
  reference=$(bash "$bench_root/tests/reference-compose.sh" 2>/dev/null | tail -1 || true)
  if command -v dockerd >/dev/null && [ -x "$reference" ]; then
    mkdir -p "$work/docker"
    dockerd --data-root "$work/docker/data" --exec-root "$work/docker/exec" --pidfile "$work/docker/pid" \
      -H "unix://$work/docker/sock" "$@" >"$work/docker/log" 2>&1 &
    dockerd_pid=$!
    export DOCKER_HOST="unix://$work/docker/sock"
    for _ in $(seq 100); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
    if docker import "$image_tar" busybox:latest >/dev/null 2>&1; then
      have_docker=1
    else
      echo "docker compose: skipped (dockerd did not start, see $work/docker/log)" >&2
    fi
  fi
}

bench_cleanup() {
  [ -n "${dockerd_pid:-}" ] && kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null || true
  awk -v dir="$work/" 'index($5, dir) == 1 { print $5 }' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}

# Milliseconds one command takes; a failure aborts the benchmark with the end of its output.
time_ms() {
  local start end
  start=${EPOCHREALTIME/./}
  "$@" >"$work/command.log" 2>&1 || { echo "failed: $*" >&2; tail -n 3 "$work/command.log" >&2; exit 1; }
  end=${EPOCHREALTIME/./}
  echo $(((end - start) / 1000))
}

# Times cold `up -d`, no-op `up -d` and `down -v` with run_TOOL of every TOOL given after the
# number of rounds, the tools alternating round by round; the milliseconds go to the array
# `samples` (samples[TOOL,cold|noop|down], separated by spaces).
declare -A samples
bench_up_noop_down() {
  local rounds=$1 round tool
  shift
  for round in $(seq "$rounds"); do
    for tool in "$@"; do
      samples[$tool,cold]+="$(time_ms "run_$tool" up -d) "
      samples[$tool,noop]+="$(time_ms "run_$tool" up -d) "
      samples[$tool,down]+="$(time_ms "run_$tool" down -v) "
    done
    echo "round $round/$rounds done" >&2
  done
}

# The median of the numbers on stdin (separated by spaces or newlines).
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }

# "A UNIT (xR)": a figure and its ratio to the baseline figure B ("" when it is the baseline).
with_ratio() {
  local a=$1 b=$2 unit=$3
  if [ "$a" = "$b" ] && [ "${4:-}" = base ]; then echo "$a $unit"; return; fi
  awk -v a="$a" -v b="$b" -v u="$unit" 'BEGIN {printf "%s %s (x%.2f)", a, u, (b>0 ? a/b : 0)}'
}

# Sets $side to the side a process of this namespace belongs to, by the name in its status file:
# "xcompose" for xcompose's commands and helpers, "docker" for dockerd, containerd, its shims,
# docker-proxy, runc and the compose CLI, "" for the rest. Processes inside containers (in a
# second pid namespace: their NSpid line has two ids) belong to no side: the containers are the
# same on both. No subshell: the fleet's sampler calls it for every process, often.
process_side() {
  local key value rest name="" nested=0
  side=""
  { while read -r key value rest; do
      case $key in
        Name:) name=$value ;;
        NSpid:) [ -n "$rest" ] && nested=1 ;;
      esac
    done <"$1"; } 2>/dev/null || return 0
  [ "$nested" = 1 ] && return 0
  case $name in
    xcompose*) side=xcompose ;;
    dockerd | containerd | containerd-shim* | docker-proxy | runc | docker-compose | docker) side=docker ;;
  esac
}

# Sets $mem_rss, $mem_pss (KiB) and $mem_count, summed over the processes of side $1 (see
# process_side) running now.
side_memory() {
  local dir key value rest
  mem_rss=0 mem_pss=0 mem_count=0
  for dir in /proc/[0-9]*; do
    process_side "$dir/status"
    [ "$side" = "$1" ] || continue
    { while read -r key value rest; do
        case $key in
          Rss:) mem_rss=$((mem_rss + value)) ;;
          Pss:) mem_pss=$((mem_pss + value)) ;;
        esac
      done <"$dir/smaps_rollup"; } 2>/dev/null || continue
    mem_count=$((mem_count + 1))
  done
}
