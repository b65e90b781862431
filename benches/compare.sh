#!/usr/bin/env bash
# Times `daos-preflight check` against the tools people run today on the same host:
#   virt-host-validate qemu   (libvirt-clients: IOMMU/cgroup/KVM readiness)
#   lstopo-no-graphics        (hwloc: NUMA/PCI topology)
# and reports peak memory (max RSS) of one run of each. Needs hyperfine, libvirt-clients,
# hwloc (installed below if missing). Usage: bash benches/compare.sh [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${2:-30}
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v virt-host-validate >/dev/null || need+=(libvirt-clients)
command -v lstopo-no-graphics >/dev/null || need+=(hwloc-nox)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
cargo build --release --target x86_64-unknown-linux-musl -q
bin=target/x86_64-unknown-linux-musl/release/daos-preflight
echo "binary: $(stat -c %s "$bin") bytes, $(file -b "$bin" | cut -d, -f1-2)"
hyperfine -N --warmup 3 --runs "$runs" --ignore-failure \
    --export-markdown target/bench.md \
    "$bin check --format json" \
    "$bin check" \
    "virt-host-validate qemu" \
    "lstopo-no-graphics --whole-io" \
    "lstopo-no-graphics"
echo
echo "peak RSS (KiB), one run each:"
for cmd in "$bin check --format json" "virt-host-validate qemu" "lstopo-no-graphics --whole-io"; do
    /usr/bin/time -f '%M' -o target/rss.txt $cmd >/dev/null 2>&1 || true
    printf '  %-40s %s\n' "$cmd" "$(tail -1 target/rss.txt)"
done

# The same on a captured 2-socket server with 137 PCI devices (hwloc's test tree):
# daos-preflight reads it with --root, lstopo with --input (HWLOC_FSROOT).
tree=$(mktemp -d)
tar -xjf ../shared/corpus/sysfs/hwloc/tarballs/linux_32em64t-2n8c+dax+nvme+mic+dimms.tar.bz2 -C "$tree"
root=$(find "$tree" -mindepth 1 -maxdepth 1 -type d | head -n1)
echo
echo "captured tree: $root"
hyperfine -N --warmup 3 --runs "$runs" --ignore-failure \
    --export-markdown target/bench-tree.md \
    "$bin check --format json --root $root" \
    "$bin facts --format json --root $root" \
    "lstopo-no-graphics --whole-io --input $root"
rm -rf "$tree"
