#!/usr/bin/env bash
# Installs what tests/probe_netns.rs and benches/probe.sh need: ip (iproute2) for the
# network namespaces, nft (nftables) for the drop/reject rules, unshare (util-linux).
# Idempotent. Called by .ci/run.
set -euo pipefail
missing=()
for p in iproute2 nftables util-linux; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  sudo=; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
ip -V
nft --version
