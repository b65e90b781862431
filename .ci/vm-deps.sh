#!/usr/bin/env bash
# Installs what the QEMU integration tests (tests/vm.rs) need: an emulator, a real
# Debian kernel with its modules, a static busybox for the guest userland, and the
# musl target for the static daos-preflight binary. Idempotent: installs only what is
# missing, so a warm machine spends no time here. Called by .ci/run.
set -euo pipefail

packages=(
  qemu-system-x86   # qemu-system-x86_64 (q35, intel-iommu, amd-iommu, nvme, virtio)
  linux-image-amd64 # /boot/vmlinuz-*, /boot/config-* and /lib/modules/<ver>/
  busybox-static    # /bin/busybox: the guest's shell, insmod, ip, su, poweroff
  xz-utils          # unxz for .ko.xz modules (decompressed on the host side)
  zstd              # unzstd for .ko.zst modules (newer Debian kernels)
  file              # `file` on the built binary (static-pie check)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
  else
    sudo=
  fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if command -v rustup >/dev/null 2>&1; then
  rustup target list --installed | grep -qx x86_64-unknown-linux-musl ||
    rustup target add x86_64-unknown-linux-musl
fi

# Report what the tests will use (one line each; a missing piece fails loudly here).
qemu-system-x86_64 --version | sed -n 1p
ls /boot/vmlinuz-* | tail -n 1
busybox | sed -n 1p
