#!/usr/bin/env bash
# Installs what building, testing and the lab need on a fresh Debian machine (as root), then the npm
# dependencies from the lock file. Safe to run again: apt and `npm ci` are idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  iproute2 nftables conntrack iputils-ping tcpdump socat openssl    # kernel objects, traffic, captures
  mosquitto mosquitto-clients                                        # the broker telemetry tests talk to
  charon-systemd strongswan-swanctl libcharon-extra-plugins          # IKEv2 daemons the tunnel tests start
  libstrongswan-standard-plugins libstrongswan-extra-plugins
  qemu-system-x86 busybox-static cpio zstd xz-utils                  # the VM lab (Debian kernel under TCG)
  g++ make python3                                                   # node-gyp: the probe I/O addon
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian enables the strongswan-starter/charon units; the tests start their own charons in namespaces.
systemctl disable --now strongswan-starter strongswan 2>/dev/null || true
systemctl disable --now mosquitto 2>/dev/null || true

npm ci --no-audit --no-fund
