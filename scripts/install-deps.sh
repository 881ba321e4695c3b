#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine. Idempotent: packages already present
# are left alone, and apt is only asked when something is missing.
# Usage: scripts/install-deps.sh            (etcd, containerd, runc, the CNI plugins, busybox-static, nftables, iproute2, docker.io;
#                                            dnsperf and nsd for the cluster DNS benchmark)
#        PACKAGES="containerd runc" scripts/install-deps.sh   (more, as later work needs them)
set -euo pipefail

packages=(etcd-server etcd-client containerd runc containernetworking-plugins busybox-static gcc libc6-dev nftables iproute2 docker.io dnsperf nsd ${PACKAGES:-})
missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all present (${packages[*]})"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}; run this script as root to install them" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Debian's policy-rc.d keeps the packaged daemons from starting: the project starts its own.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
