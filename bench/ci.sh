#!/usr/bin/env bash
# A CI fleet: N projects (copies of the bench stack, bench/stack/compose.yaml, each under its own
# project name and with its own published port) brought up and down in parallel by N separate
# processes (`up -d` then `down -v` each), under xcompose and under docker compose v2 + dockerd,
# the tools alternating round by round in one session. Prints, per tool, the median total wall
# time (the first start to the last `down` returned) and the median peak memory: the sum of the
# RSS (and PSS) of every process of the tool, sampled every 100 ms — for xcompose the commands,
# supervisors, keepers, resolvers and proxies; for docker dockerd, containerd, the shims,
# docker-proxy, runc and the compose processes. Containers' own processes are not counted.
#
# Usage (as root): bench/ci.sh [ROUNDS] [PROJECTS]   (default 3 rounds, 20 projects)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
rounds=${1:-3}
projects=${2:-20}
bench_enter "$@"
bench_setup

# Docker's default address pools (and so xcompose's) hold 31 networks and the fleet needs two per
# project: each copy gets its own subnets, as CI jobs sharing a host are given.
for ((p = 0; p < projects; p++)); do
  mkdir -p "$work/ci/p$p"
  sed -e "s/127.0.0.1:18080:80/127.0.0.1:$((18100 + p)):80/" \
    -e "s|^  front:\$|  front:\n    ipam: {config: [{subnet: 10.99.$((2 * p)).0/24}]}|" \
    -e "s|^  back:\$|  back:\n    ipam: {config: [{subnet: 10.99.$((2 * p + 1)).0/24}]}|" \
    "$bench_root/bench/stack/compose.yaml" >"$work/ci/p$p/compose.yaml"
done

tools=(xcompose)
[ "$have_docker" = 1 ] && tools+=(docker)
run_xcompose() { "$xc" -f "$work/ci/p$1/compose.yaml" -p "ci$1" "${@:2}"; }
run_docker() { "$reference" -f "$work/ci/p$1/compose.yaml" -p "ci$1" "${@:2}"; }

# Samples the memory of side $1 every 100 ms until the file $2 exists; prints the peak RSS and PSS.
sample_peak() {
  local peak_rss=0 peak_pss=0
  while [ ! -e "$2" ]; do
    side_memory "$1"
    ((mem_rss > peak_rss)) && peak_rss=$mem_rss
    ((mem_pss > peak_pss)) && peak_pss=$mem_pss
    sleep 0.1
  done
  echo "$peak_rss $peak_pss"
}

# One round of tool $1: every project up and down by a process of its own; prints
# "WALL_MS PEAK_RSS_KIB PEAK_PSS_KIB".
fleet_round() {
  local tool=$1 done_flag="$work/ci/done" start end p failed=0 pids=()
  rm -f "$done_flag"
  sample_peak "$tool" "$done_flag" >"$work/ci/peak" &
  local sampler=$!
  start=${EPOCHREALTIME/./}
  for ((p = 0; p < projects; p++)); do
    { "run_$tool" "$p" up -d && "run_$tool" "$p" down -v; } >"$work/ci/p$p/log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  end=${EPOCHREALTIME/./}
  touch "$done_flag"
  wait "$sampler"
  if [ "$failed" = 1 ]; then
    echo "failed: a $tool project (see the logs below)" >&2
    tail -n 3 "$work"/ci/p*/log >&2
    exit 1
  fi
  echo "$(((end - start) / 1000)) $(cat "$work/ci/peak")"
}

declare -A samples
for round in $(seq "$rounds"); do
  for tool in "${tools[@]}"; do
    read -r wall rss pss <<<"$(fleet_round "$tool")"
    [ -n "$pss" ] || exit 1
    samples[$tool,wall]+="$wall "
    samples[$tool,rss]+="$rss "
    samples[$tool,pss]+="$pss "
  done
  echo "round $round/$rounds done" >&2
done

base=${tools[-1]}
echo "$projects projects up -d + down -v in parallel, medians of $rounds rounds (ratio: xcompose / docker compose)"
printf '%-10s %-20s %-24s %-24s\n' tool "wall time" "peak RSS" "peak PSS"
for tool in "${tools[@]}"; do
  line=$(printf '%-10s' "$tool")
  for what in wall:ms rss:KiB pss:KiB; do
    m=$(echo "${samples[$tool,${what%:*}]}" | median)
    b=$(echo "${samples[$base,${what%:*}]}" | median)
    line+=$(printf ' %-24s' "$(with_ratio "$m" "$b" "${what#*:}" $([ "$tool" = "$base" ] && echo base))")
  done
  echo "$line"
done
