#!/usr/bin/env bash
# Times the benchmark stack (bench/stack/compose.yaml: three services, two networks, a named
# volume, a port published on 127.0.0.1) run by root (rootful xcompose), by an ordinary user
# (rootless xcompose, with slirp4netns and, when installed, with pasta as its outbound driver) and,
# when installed, by the same user with podman-compose over rootless podman (Debian's podman and
# podman-compose): cold `up -d`, no-op `up -d`, and `down -v`, the
# tools alternating round by round in one session. Prints the median of each and its ratio to
# rootless xcompose.
#
# Usage (as root): bench/rootless.sh [ROUNDS]   (default 10)
# Everything runs in a private network + mount + PID namespace: the ordinary user is made with
# useradd (subordinate ids from usermod) in a private copy of /etc, as tests/rootless.rs makes
# it; every tool has private state under a temporary directory, so nothing touches the
# machine's network, users or existing containers. Each rootless tool keeps its per-user
# process between commands (xcompose's namespace holder, podman's pause process), started by the
# image import before the first round. Rootless networking needs /dev/net/tun usable by
# ordinary users (0666) and slirp4netns.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# bench_enter, time_ms, median and bench_up_noop_down (and $xc: XCOMPOSE or the release build),
# shared with the other bench scripts
source "$root/bench/lib.sh"
rounds=${1:-10}
bench_enter "$@"
work=$(mktemp -d /tmp/xc-rootless-bench.XXXXXX)
chmod 0755 "$work"
cleanup() {
  umount -R /etc 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The ordinary user, in a private copy of /etc.
user=xcbench
home="$work/home"
cp -a /etc "$work/etc"
mount --bind "$work/etc" /etc
useradd --create-home --home-dir "$home" --shell /bin/sh "$user"
grep -q "^$user:" /etc/subuid || usermod --add-subuids 400000-465535 "$user"
grep -q "^$user:" /etc/subgid || usermod --add-subgids 400000-465535 "$user"
# Runs a command as the user with a clean environment of its own (an ordinary Debian user's PATH),
# its home $HOME_OF (default $home).
as_user() {
  local of=${HOME_OF:-$home}
  setpriv --reuid "$user" --regid "$user" --init-groups -- \
    env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/games HOME="$of" USER="$user" LOGNAME="$user" XDG_RUNTIME_DIR="$of/run" \
    ${NET:+XCOMPOSE_ROOTLESS_NET=$NET} "$@"
}
as_user mkdir -m 0700 "$home/run"
# Rootless xcompose with pasta: the same user with a home (state, runtime files, holder) of its own.
pasta_home="$work/home-pasta"
install -d -o "$user" -g "$user" -m 0755 "$pasta_home"
HOME_OF=$pasta_home as_user mkdir -m 0700 "$pasta_home/run"

stack="$home/stack/compose.yaml"
as_user mkdir "$home/stack"
cp "$root/bench/stack/compose.yaml" "$stack"
chown "$user:$user" "$stack"
image_tar="$work/busybox.tar"
"$root/tests/images/build-busybox-rootfs.sh" "$image_tar" >&2
chmod 0644 "$image_tar"

tools=(rootful)
export XCOMPOSE_ROOT="$work/xcompose"
"$xc" image import "$image_tar" busybox:latest >/dev/null
run_rootful() { "$xc" -f "$stack" -p bench "$@"; }

tun_usable=$(as_user sh -c 'exec 3<>/dev/net/tun' 2>/dev/null && echo yes || echo no)
if [ "$tun_usable" = no ]; then
  echo "rootless xcompose and podman: skipped (/dev/net/tun is not usable by ordinary users: chmod 0666 /dev/net/tun)" >&2
elif ! command -v slirp4netns >/dev/null || ! command -v newuidmap >/dev/null; then
  echo "rootless xcompose and podman: skipped (install slirp4netns and uidmap)" >&2
else
  if as_user "$xc" image import "$image_tar" busybox:latest >/dev/null; then
    tools+=(rootless)
  else
    echo "rootless xcompose: skipped (the image import as $user failed)" >&2
  fi
  # pasta copies the host's default route: the private network namespace gets one over a veth
  # pair of its own (TEST-NET-1, leading nowhere).
  ip link add uplink type veth peer name uplink-end
  ip addr add 192.0.2.1/24 dev uplink
  ip link set uplink-end up
  ip link set uplink up
  ip route add default via 192.0.2.254
  if ! command -v pasta >/dev/null; then
    echo "rootless xcompose with pasta: skipped (install Debian's passt)" >&2
  elif HOME_OF=$pasta_home NET=pasta as_user "$xc" image import "$image_tar" busybox:latest >/dev/null; then
    tools+=(pasta)
  else
    echo "rootless xcompose with pasta: skipped (the image import as $user failed)" >&2
  fi
  if command -v podman-compose >/dev/null && command -v podman >/dev/null; then
    # cgroup v1 hosts have no delegation: cgroupfs without limits, as podman itself falls back.
    as_user mkdir -p "$home/.config/containers"
    printf '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' >"$home/.config/containers/containers.conf"
    chown "$user:$user" "$home/.config/containers/containers.conf"
    if as_user podman import "$image_tar" busybox:latest >/dev/null 2>&1 &&
      as_user podman-compose -f "$stack" -p bench up -d >/dev/null 2>&1; then
      as_user podman-compose -f "$stack" -p bench down -v >/dev/null 2>&1 || true
      tools+=(podman)
    else
      as_user podman-compose -f "$stack" -p bench down -v >/dev/null 2>&1 || true
      echo "podman-compose: skipped (rootless podman cannot run the stack here)" >&2
    fi
  else
    echo "podman-compose: skipped (install Debian's podman and podman-compose)" >&2
  fi
fi
run_rootless() { as_user "$xc" -f "$stack" -p bench "$@"; }
run_pasta() { HOME_OF=$pasta_home NET=pasta as_user "$xc" -f "$stack" -p bench "$@"; }
run_podman() { as_user podman-compose -f "$stack" -p bench "$@"; }


bench_up_noop_down "$rounds" "${tools[@]}"

baseline=rootless
[[ " ${tools[*]} " == *" rootless "* ]] || baseline=rootful
printf '%-10s %-17s %-17s %-17s (ratios to %s xcompose)\n' tool "cold up" "no-op up" "down -v" "$baseline"
for tool in "${tools[@]}"; do
  line=$(printf '%-10s' "$tool")
  for phase in cold noop down; do
    m=$(echo "${samples[$tool,$phase]}" | median)
    x=$(echo "${samples[$baseline,$phase]}" | median)
    ratio=$( [ "$tool" = "$baseline" ] || awk -v a="$m" -v b="$x" 'BEGIN {printf "x%.2f", (b>0 ? a/b : 0)}')
    line+=$(printf ' %-17s' "$m ms $ratio")
  done
  echo "$line"
done
echo "load: $(uptime)"
