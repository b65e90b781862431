//! Boots daos-preflight on a real Linux kernel in QEMU and brings back what it printed.
//!
//! One [`Scenario`] is one QEMU machine (IOMMU, NUMA nodes, NVMe drives, NICs), one
//! kernel command line and one guest script; [`Scenario::boot`] runs it and returns a
//! [`GuestRun`]: the binary's JSON (`check`, `facts`), an independent view of sysfs made
//! by busybox ([`SysfsView`]), any extra capture, and the full console log.
//!
//! The pieces (design.md §7): the kernel and modules of Debian's `linux-image-amd64`,
//! `busybox-static` as the userland, the static musl build of daos-preflight, and an
//! initramfs written here ([`cpio`](super::cpio)). The base initramfs is built once per
//! test process and shared; each scenario adds a small overlay archive. QEMU runs are
//! serialised (the machines have 2 cores) and each has a deadline; a guest that hangs,
//! panics or never reaches the end of its script fails the test with its console log.
//!
//! Everything a run produced stays in `target/tmp/vm/<scenario>/`: `console.log`,
//! `qemu.sh` (the exact command, runnable by hand), `initramfs.cpio` and one file per
//! capture. Environment knobs: `DAOS_PREFLIGHT_VM_BINARY` (use this static binary
//! instead of building one), `DAOS_PREFLIGHT_VM_KERNEL` (a kernel version under /boot
//! and /lib/modules), `DAOS_PREFLIGHT_VM_TIMEOUT` (seconds per boot, default 120).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Display, Write as _};
use std::fs;
use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::cpio::Cpio;

mod build;
mod machine;
mod output;
mod run;
mod sysfs;
pub use build::*;
pub use machine::*;
pub use output::*;
pub use run::*;
pub use sysfs::*;

/// The musl target the shipped binary is built for (design.md §1).
pub const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";

/// Kernel modules the scenarios need, by name; their dependencies come from modules.dep.
pub const GUEST_MODULES: &[&str] = &[
    "nvme",
    "vfio-pci",
    "vfio_iommu_type1",
    "uio_pci_generic",
    "virtio_pci",
    "virtio_net",
    "e1000e",
    // the persistent disk of a scenario that reboots (Scenario::disk)
    "virtio_blk",
    // mounts the ext2 filesystem a scenario makes with busybox mke2fs
    // (CONFIG_EXT4_USE_FOR_EXT2=y, Debian has no ext2 module); ext4 asks the crypto API
    // for crc32c at mount time, which is a module too (nothing would autoload it: the
    // guest has no /sbin/modprobe for the kernel to call)
    "crc32c_generic",
    "ext4",
];

/// Guest memory, MiB, of a machine without NUMA nodes (with nodes: their sum): small
/// enough for 2 shared cores, enough for 2 nodes.
pub const GUEST_MEMORY_MIB: u32 = 1024;
/// Guest CPUs.
pub const GUEST_CPUS: u32 = 2;

/// Kernel parameters of every boot: serial console, reboot (= QEMU exits, -no-reboot)
/// at once on panic, and only warnings on the console.
pub(super) const BASE_CMDLINE: &str = "console=ttyS0 panic=-1 quiet";

/// The non-root user the guest knows (`/etc/passwd`), as DAOS's own service user.
pub const GUEST_USER: &str = "daos_server";
/// Its uid and gid.
pub const GUEST_USER_ID: u32 = 1000;

/// Guest script files, kept as real files so they can be read and shellchecked.
pub(super) const INIT_SH: &str = include_str!("../init.sh");
pub(super) const SYSFS_LISTING_SH: &str = include_str!("../sysfs-listing.sh");

/// The static binary's path inside the guest.
pub const GUEST_BINARY: &str = "/bin/daos-preflight";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_order_puts_dependencies_first() {
        let dep = "\
kernel/drivers/nvme/host/nvme.ko.xz: kernel/drivers/nvme/host/nvme-core.ko.xz kernel/lib/crc64.ko.xz
kernel/drivers/nvme/host/nvme-core.ko.xz: kernel/lib/crc64.ko.xz
kernel/lib/crc64.ko.xz:
kernel/drivers/vfio/pci/vfio-pci.ko.zst: kernel/drivers/vfio/vfio.ko.zst
kernel/drivers/vfio/vfio.ko.zst:
";
        let db = ModuleDb::parse(dep, "kernel/drivers/virtio/virtio_pci.ko\n");
        let order = db
            .load_order(&["nvme", "vfio_pci", "virtio-pci", "vfio"])
            .unwrap();
        assert_eq!(
            order,
            [
                "kernel/lib/crc64.ko.xz",
                "kernel/drivers/nvme/host/nvme-core.ko.xz",
                "kernel/drivers/nvme/host/nvme.ko.xz",
                "kernel/drivers/vfio/vfio.ko.zst",
                "kernel/drivers/vfio/pci/vfio-pci.ko.zst",
            ]
        );
        // the guest's modules.dep: what busybox modprobe reads, uncompressed names
        let mut zst = db.load_order(&["vfio-pci"]).unwrap();
        assert_eq!(
            db.guest_modules_dep(&zst),
            "kernel/drivers/vfio/vfio.ko: \nkernel/drivers/vfio/pci/vfio-pci.ko: kernel/drivers/vfio/vfio.ko\n"
        );
        zst.clear();
        assert_eq!(db.guest_modules_dep(&zst), "");
        assert!(db.load_order(&["nope"]).is_err());
        assert_eq!(uncompressed_name("a/b.ko.zst"), "a/b.ko");
    }

    #[test]
    fn console_loses_escapes_and_carriage_returns() {
        let raw = "\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS\r\nBooting\r\n\x1bc\x1b[?7l\x1b[2J@@DPF-BOOTED 6.1@@\r\n";
        assert_eq!(clean_console(raw), "SeaBIOS\nBooting\n@@DPF-BOOTED 6.1@@\n");
    }

    #[test]
    fn sections_survive_noise_and_crlf() {
        let console = "SeaBIOS\r\n@@DPF-BEGIN check@@\r\n{\"a\": 1}\r\n\r\n@@DPF-END check rc=1@@\r\n[    3.1] noise\r\n@@DPF-BEGIN empty@@\n\n@@DPF-END empty rc=0@@\n@@DPF-BEGIN cut@@\nno end\n"
            .replace('\r', "");
        let s = parse_sections(&console);
        assert_eq!(
            s["check"],
            Section {
                rc: 1,
                text: "{\"a\": 1}\n".into()
            }
        );
        assert_eq!(s["empty"].text, "");
        assert!(!s.contains_key("cut"));
    }

    #[test]
    fn sysfs_view_parses_the_listing() {
        let text = "\
cmdline console=ttyS0 intel_iommu=on
euid 0
acpi_table DMAR mode=-r-------- size=128
iommu_unit dmar0
iommu_groups_dir present
iommu_group 3 type=DMA-FQ devices=0000:00:04.0,
node 1 cpulist=1-2 memtotal_kib=470000 hugepages_2048=32 hugepages_1048576=0
pci 0000:00:04.0 class=0x010802 numa=-1 driver=nvme group=3
pci 0000:00:1f.0 class=0x060100 numa=-1 driver= group=
net eth0 operstate=down carrier= device=/sys/devices/pci0000:00/0000:00:03.0/virtio0
block nvme0n1 sectors=131072
# ls -l noise
";
        let v = SysfsView::parse(text).unwrap();
        assert_eq!(v.cmdline, "console=ttyS0 intel_iommu=on");
        assert_eq!(v.acpi_tables["DMAR"], ("-r--------".to_string(), 128));
        assert_eq!(v.iommu_groups[&3].devices, ["0000:00:04.0"]);
        assert_eq!(v.nodes[&1].cpus, [1, 2]);
        assert_eq!(v.nodes[&1].hugepages[&2048], 32);
        assert_eq!(v.pci["0000:00:04.0"].group, Some(3));
        assert_eq!(v.pci["0000:00:1f.0"].driver, None);
        assert_eq!(v.iface_of("0000:00:03.0").unwrap().1.carrier, None);
        assert_eq!(v.block["nvme0n1"], 64 << 20);
    }

    #[test]
    fn static_check_reads_program_headers() {
        let me = fs::read("/proc/self/exe").unwrap();
        // This test binary is dynamic on glibc targets, static on musl.
        assert_eq!(elf_is_static(&me).unwrap(), cfg!(target_env = "musl"));
        assert!(
            elf_is_static(b"not an elf at all, but long enough to have a header..........")
                .is_err()
        );
    }

    #[test]
    fn rtc_base_is_the_utc_calendar_date() {
        // `date -u -d @N +%FT%T` for each
        assert_eq!(utc_datetime(0), "1970-01-01T00:00:00");
        assert_eq!(utc_datetime(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(utc_datetime(1_798_761_599), "2026-12-31T23:59:59");
        assert_eq!(utc_datetime(4_107_542_400), "2100-03-01T00:00:00");
    }

    #[test]
    fn pci_slots_have_predictable_addresses() {
        assert_eq!(PciSlot::Root(4).address(), "0000:00:04.0");
        assert_eq!(
            PciSlot::NumaBridge {
                node: 1,
                bus_nr: 0x80
            }
            .address(),
            "0000:81:00.0"
        );
    }
}
