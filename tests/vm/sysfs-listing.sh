#!/bin/sh
# An independent view of the guest, made with busybox alone, one fact per line
# (`<kind> <name> key=value ...`), parsed by tests/vm/harness.rs (SysfsView). The tests
# compare daos-preflight's facts with it. A raw `ls -l` of the same places follows, as
# `# ` comment lines, for the person reading a console log.

echo "cmdline $(cat /proc/cmdline)"
echo "euid $(id -u)"

for t in /sys/firmware/acpi/tables/*; do
  [ -f "$t" ] && echo "acpi_table $(basename "$t") mode=$(stat -c %A "$t") size=$(stat -c %s "$t")"
done

for u in /sys/class/iommu/*; do
  [ -e "$u" ] && echo "iommu_unit $(basename "$u")"
done

if [ -d /sys/kernel/iommu_groups ]; then
  echo "iommu_groups_dir present"
  for g in /sys/kernel/iommu_groups/*; do
    [ -d "$g" ] || continue
    echo "iommu_group $(basename "$g") type=$(cat "$g/type") devices=$(ls "$g/devices" | tr '\n' ',')"
  done
fi

for n in /sys/devices/system/node/node*; do
  [ -d "$n" ] || continue
  line="node ${n##*node} cpulist=$(cat "$n/cpulist") memtotal_kib=$(awk '/MemTotal/ {print $4}' "$n/meminfo")"
  for h in "$n"/hugepages/hugepages-*; do
    [ -d "$h" ] || continue
    size=${h##*hugepages-}
    line="$line hugepages_${size%kB}=$(cat "$h/nr_hugepages")"
  done
  echo "$line"
done

for d in /sys/bus/pci/devices/*; do
  [ -e "$d" ] || continue
  drv=
  [ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
  grp=
  [ -e "$d/iommu_group" ] && grp=$(basename "$(readlink "$d/iommu_group")")
  echo "pci $(basename "$d") class=$(cat "$d/class") numa=$(cat "$d/numa_node") driver=$drv group=$grp"
done

for i in /sys/class/net/*; do
  [ -e "$i" ] || continue
  echo "net $(basename "$i") operstate=$(cat "$i/operstate") carrier=$(cat "$i/carrier" 2>/dev/null) device=$(readlink -f "$i/device" 2>/dev/null)"
done

for b in /sys/class/block/*; do
  [ -e "$b" ] || continue
  echo "block $(basename "$b") sectors=$(cat "$b/size")"
done

for p in /sys/class/iommu /sys/kernel/iommu_groups /sys/firmware/acpi/tables /sys/bus/pci/devices /sys/class/net; do
  ls -l "$p" 2>&1 | sed 's/^/# /'
done
for f in /sys/devices/system/node/node*/cpulist /sys/devices/system/node/node*/meminfo; do
  echo "# $f:"
  sed 's/^/#   /' "$f"
done
ip addr | sed 's/^/# /'
exit 0
