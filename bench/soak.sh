#!/usr/bin/env bash
# Soak: N cycles of `up -d` / `down -v` of the example stack (examples/web-stack), checking after
# every `down -v` that nothing leaked — links, firewall rules, mounts, cgroups, xcompose
# processes, files in the state root — and, while the stack is up, that the long-lived helpers
# (supervisors and the resolver, with their keepers) keep the same number of open file
# descriptors and a stable resident set. Fails at the first leak; prints a summary line.
#
# Usage (as root): bench/soak.sh [CYCLES]   (default 1000; CI passes a small count)
# XCOMPOSE=path/to/xcompose to use another build (default: the debug build, built if needed).
# Everything runs in a private network + mount + PID namespace with a private state root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cycles=${1:-1000}
if [ -z "${XC_SOAK_INSIDE:-}" ]; then
  if [ -z "${XCOMPOSE:-}" ]; then
    cargo build --locked --manifest-path "$root/Cargo.toml" -p xcompose-cli >&2
    export XCOMPOSE="$root/target/debug/xcompose"
  fi
  exec env XC_SOAK_INSIDE=1 unshare --net --mount --pid --fork --mount-proc --propagation private "$0" "$@"
fi
ip link set lo up
# A /run of its own: the firewall record and locks of this namespace do not land in the host's /run.
mount -t tmpfs tmpfs /run
work=$(mktemp -d /tmp/xc-soak.XXXXXX)
cleanup() {
  xc down -v >/dev/null 2>&1 || true
  awk -v dir="$work/" 'index($5, dir) == 1 { print $5 }' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
stack="$root/examples/web-stack/compose.yaml"
xc() { "$XCOMPOSE" --root "$work/root" -f "$stack" "$@"; }
"$root/tests/images/build-busybox-rootfs.sh" "$work/busybox.tar" >&2
"$XCOMPOSE" --root "$work/root" image import "$work/busybox.tar" busybox:latest >/dev/null

links() { ip -o link show | wc -l; }
rules() { { iptables-save; iptables-save -t nat; } | grep -c '^-A' || true; }
mounts() { wc -l </proc/self/mountinfo; }
# The cgroups of this run's containers (names recorded while up; others build in parallel).
cgroup_names() { cat "$work"/root/containers/*/supervisor.json 2>/dev/null | grep -A1 '"cgroup"' | grep -o '"[^"]*"' | grep -v '"cgroup"' || true; }
cgroups() { [ -s "$work/cgroups" ] || { echo 0; return; }; find /sys/fs/cgroup -type d -path '*/xcompose/*' 2>/dev/null | grep -c -F -f "$work/cgroups" || true; }
helpers() { pgrep -f "xcompose (__supervise|__dns)" | wc -l || true; }
files() { find "$work/root" -path "$work/root/images" -prune -o -type f -print | grep -v '\.lock$' | wc -l; }
helper_fds_once() { local n=0 f; for p in $(pgrep -f "xcompose (__supervise|__dns)"); do f=$(ls "/proc/$p/fd" 2>/dev/null | wc -l); n=$((n + f)); done; echo "$n"; }
# The least of a few readings: a healthcheck's probe, forked from its supervisor for a moment,
# is no leak (a leak raises every reading).
helper_fds() { local least=999999 n; for _ in 1 2 3 4 5; do n=$(helper_fds_once); [ "$n" -lt "$least" ] && least=$n; sleep 0.05; done; echo "$least"; }
helper_rss() { local n=0 r; for p in $(pgrep -f "xcompose (__supervise|__dns)"); do r=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null); n=$((n + ${r:-0})); done; echo "$n"; }
# Waits until the set of helpers stops changing (the one-shot migration's supervisor ends).
settle() { local last=x now; for _ in $(seq 100); do now=$(pgrep -f "xcompose (__supervise|__dns)" | sort | tr '\n' ' '); [ "$now" = "$last" ] && return; last=$now; sleep 0.1; done; }

# The first cycle makes what stays between projects (the firewall's common chains, the state
# root's own files): the baseline is taken after it.
xc up -d >/dev/null 2>&1
xc down -v >/dev/null 2>&1
base="links=$(links) rules=$(rules) mounts=$(mounts) cgroups=$(cgroups) helpers=$(helpers) files=$(files)"
fds_first= rss_first= rss_max=0
start=$(date +%s%N)
for i in $(seq "$cycles"); do
  xc up -d >/dev/null 2>"$work/up.err" || { echo "cycle $i: up failed: $(cat "$work/up.err")" >&2; exit 1; }
  cgroup_names | tr -d '"' >"$work/cgroups"
  [ -s "$work/cgroups" ] || { echo "cycle $i: no container cgroup recorded" >&2; exit 1; }
  settle
  fds=$(helper_fds) rss=$(helper_rss)
  fds_first=${fds_first:-$fds} rss_first=${rss_first:-$rss}
  [ "$rss" -gt "$rss_max" ] && rss_max=$rss
  [ "$fds" = "$fds_first" ] || { echo "cycle $i: helpers hold $fds fds (first cycle: $fds_first):" >&2; for p in $(pgrep -f "xcompose (__supervise|__dns)"); do echo "$(ls -l /proc/$p/fd | tail -n +2 | wc -l) $(tr '\0' ' ' </proc/$p/cmdline)" >&2; ls -l /proc/$p/fd >&2; done; exit 1; }
  xc down -v >/dev/null 2>"$work/down.err" || { echo "cycle $i: down failed: $(cat "$work/down.err")" >&2; exit 1; }
  now="links=$(links) rules=$(rules) mounts=$(mounts) cgroups=$(cgroups) helpers=$(helpers) files=$(files)"
  [ "$now" = "$base" ] || { echo "cycle $i: leaked: $now (baseline: $base)" >&2; exit 1; }
done
end=$(date +%s%N)
per_cycle=$(( (end - start) / cycles / 1000000 ))
echo "soak: $cycles cycles of up -d/down -v, ${per_cycle} ms per cycle, leaks: 0 ($base); helpers' fds: $fds_first every cycle; helpers' RSS: ${rss_first} KiB first, ${rss_max} KiB at most"
