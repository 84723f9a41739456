#!/usr/bin/env bash
# Times a generated 50-service stack (busybox, `init: true`, `sleep` commands, on 5 networks,
# 5 published ports and 5 named volumes) under xcompose and docker compose v2 + dockerd: cold
# `up -d`, no-op `up -d` and `down -v`, the tools alternating round by round in one session;
# prints the median of each and its ratio to docker compose. Then, with the stack up once more
# under each tool, the memory of what stays running besides the containers: xcompose's helpers
# (every supervisor, keeper, DNS resolver and proxy) and docker's dockerd, containerd, its shims
# and docker-proxy, as RSS and as PSS (from smaps_rollup: pages shared between processes, as a
# forked helper shares its parent's, are counted once in the total).
#
# Usage (as root): bench/fleet.sh [ROUNDS] [SERVICES]   (default 5 rounds, 50 services)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
rounds=${1:-5}
services=${2:-50}
bench_enter "$@"
bench_setup

# The stack: service sN on network N mod 5 (every fourth also on the next network), every tenth
# with a published port and a named volume.
stack="$work/fleet/compose.yaml"
mkdir -p "$work/fleet"
{
  echo "services:"
  for ((i = 0; i < services; i++)); do
    echo "  s$i:"
    echo "    image: busybox:latest"
    echo "    init: true"
    echo "    command: [\"sleep\", \"100000\"]"
    if ((i % 4 == 0)); then
      echo "    networks: [n$((i % 5)), n$(((i + 1) % 5))]"
    else
      echo "    networks: [n$((i % 5))]"
    fi
    if ((i % 10 == 0)); then
      echo "    ports: [\"127.0.0.1:$((19000 + i)):80\"]"
      echo "    volumes: [v$((i / 10)):/data]"
    fi
  done
  echo "networks:"
  for n in 0 1 2 3 4; do echo "  n$n:"; done
  echo "volumes:"
  for ((v = 0; v * 10 < services; v++)); do echo "  v$v:"; done
} >"$stack"

tools=(xcompose)
[ "$have_docker" = 1 ] && tools+=(docker)
run_xcompose() { "$xc" -f "$stack" -p fleet "$@"; }
run_docker() { "$reference" -f "$stack" -p fleet "$@"; }

bench_up_noop_down "$rounds" "${tools[@]}"

base=${tools[-1]}
echo "$services services on 5 networks, medians of $rounds rounds (ratio: xcompose / docker compose)"
printf '%-10s %-20s %-20s %-20s\n' tool "cold up" "no-op up" "down -v"
for tool in "${tools[@]}"; do
  line=$(printf '%-10s' "$tool")
  for phase in cold noop down; do
    m=$(echo "${samples[$tool,$phase]}" | median)
    b=$(echo "${samples[$base,$phase]}" | median)
    line+=$(printf ' %-20s' "$(with_ratio "$m" "$b" ms $([ "$tool" = "$base" ] && echo base))")
  done
  echo "$line"
done

# Memory with the stack up: a few seconds after `up -d`, once start-up allocations are over.
echo
echo "memory of what runs besides the $services containers (KiB, summed over the processes)"
printf '%-10s %-10s %-12s %-12s\n' tool processes RSS PSS
declare -A memory
for tool in "${tools[@]}"; do
  "run_$tool" up -d >/dev/null 2>&1
  sleep 3
  side_memory "$tool"
  memory[$tool]="$mem_rss $mem_pss"
  printf '%-10s %-10s %-12s %-12s\n' "$tool" "$mem_count" "$mem_rss" "$mem_pss"
  if [ "$tool" = xcompose ]; then
    # Per helper kind: a keeper is an `xcompose __X` whose parent is not one; its helper is
    # the forked child with the same command line.
    for dir in /proc/[0-9]*; do
      process_side "$dir/status"
      [ "$side" = xcompose ] || continue
      pid=${dir#/proc/}
      read -r _ _ _ ppid _ <"$dir/stat"
      kind=$(tr '\0' ' ' <"$dir/cmdline" | awk '{print $2}')
      parent_kind=$(tr '\0' ' ' <"/proc/$ppid/cmdline" 2>/dev/null | awk '{print $2}')
      role=keeper
      [ "$kind" = "$parent_kind" ] && role=helper
      awk -v k="$kind $role" '/^Rss:/ {r=$2} /^Pss:/ {p=$2} END {print k, r, p}' "$dir/smaps_rollup"
    done | awk '{n[$1" "$2]++; r[$1" "$2]+=$3; p[$1" "$2]+=$4; if ($3>max[$1" "$2]) max[$1" "$2]=$3}
      END {for (k in n) printf "  %-22s %3d processes, RSS %6d KiB (max %5d each), PSS %6d KiB\n", k, n[k], r[k], max[k], p[k]}' | sort
  else
    for dir in /proc/[0-9]*; do
      process_side "$dir/status"
      [ "$side" = docker ] || continue
      read -r name <"$dir/comm"
      awk -v k="$name" '/^Rss:/ {r=$2} /^Pss:/ {p=$2} END {print k, r, p}' "$dir/smaps_rollup"
    done | awk '{n[$1]++; r[$1]+=$2; p[$1]+=$3; if ($2>max[$1]) max[$1]=$2}
      END {for (k in n) printf "  %-22s %3d processes, RSS %6d KiB (max %5d each), PSS %6d KiB\n", k, n[k], r[k], max[k], p[k]}' | sort
  fi
  "run_$tool" down -v >/dev/null 2>&1
done
if [ "$have_docker" = 1 ]; then
  read -r xr xp <<<"${memory[xcompose]}"
  read -r dr dp <<<"${memory[docker]}"
  echo "xcompose / docker: RSS $(with_ratio "$xr" "$dr" KiB), PSS $(with_ratio "$xp" "$dp" KiB)"
fi
