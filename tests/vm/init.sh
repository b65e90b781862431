#!/bin/busybox sh
# PID 1 of the test guest (tests/vm.rs). Mounts the pseudo filesystems, loads the kernel
# modules the harness packed (in dependency order), runs the scenario script the harness
# wrote (/etc/dpf/scenario.sh: setup, then captures), dumps the kernel log and powers off.
#
# Protocol on the serial console (parsed by tests/vm/harness.rs):
#   @@DPF-BOOTED <release>@@            init started
#   @@DPF-INSMOD-FAILED <module>@@      a module did not load (fails the test)
#   @@DPF-WAIT-TIMEOUT <what>@@         a device did not show up in time (fails the test)
#   @@DPF-BEGIN <name>@@ ... @@DPF-END <name> rc=<exit code>@@   one capture
#   @@DPF-DONE@@                        everything ran; poweroff follows
# Kernel messages are muted (printk level 1) while captures run so they can't interleave
# with the output; the `dmesg` capture at the end has them all.

/bin/busybox mkdir -p /proc /sys /dev /tmp /run /root
/bin/busybox --install -s /bin
export PATH=/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
chmod 1777 /tmp
hostname -F /etc/hostname
echo "@@DPF-BOOTED $(cat /proc/sys/kernel/osrelease)@@"

while read -r m; do
  [ -n "$m" ] || continue
  insmod "/lib/modules/$(uname -r)/$m" || echo "@@DPF-INSMOD-FAILED $m@@"
done </etc/dpf/modules.order

# Runs "$@" between markers; a blank line first, so the end marker is always on its own line.
capture() {
  name=$1
  shift
  echo "@@DPF-BEGIN $name@@"
  "$@"
  rc=$?
  echo
  echo "@@DPF-END $name rc=$rc@@"
}

# Waits up to 20 s for a shell condition.
wait_for() {
  n=0
  while ! eval "$1" >/dev/null 2>&1; do
    n=$((n + 1))
    if [ $n -gt 200 ]; then
      echo "@@DPF-WAIT-TIMEOUT $1@@"
      return 1
    fi
    usleep 100000
  done
}

# The network interface of a PCI function (virtio NICs hang theirs under virtioN/).
iface_of() {
  for n in /sys/bus/pci/devices/"$1"/net/* /sys/bus/pci/devices/"$1"/*/net/*; do
    [ -e "$n" ] && basename "$n" && return 0
  done
  return 1
}

ip link set lo up
. /etc/dpf/scenario.sh

echo "@@DPF-DONE@@"
poweroff -f
