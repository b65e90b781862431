//! `fix --persistent` proven across a reboot (issue 14 item 3): two boots of one machine
//! sharing one disk, the second with the kernel command line the first one wrote.
//!
//! The guest's root is an initramfs, lost at power-off, so the machine gets a small
//! virtio disk (a raw image this test creates; busybox `mke2fs` formats it in boot 1).
//! Before anything runs, init copies /etc onto it and bind-mounts it over /etc, and
//! does the same for /var/lib (where the journal lives); boot 2 mounts them again. So
//! what `fix` writes there (`/etc/default/grub` and its backup, sysctl.d, modules-load.d,
//! the journal) is what boot 2 finds.
//!
//! Boot 1 (`intel_iommu=off`, as the grub file says): `fix --persistent` edits
//! GRUB_CMDLINE_LINUX, calls `grubby` (a stand-in that logs its arguments on the disk:
//! Debian, whose kernel the guest runs, has no grubby, an EL tool), writes sysctl.d and
//! modules-load.d. Boot 2 boots the GRUB_CMDLINE_LINUX read back from boot 1's console;
//! its init applies /etc/modules-load.d and /etc/sysctl.d as systemd-modules-load and
//! systemd-sysctl would (busybox `modprobe`, `sysctl -p`: the guest has no systemd).
//! Then `check` passes what the fix promised, and `fix --undo` restores the grub file
//! byte for byte and calls grubby with `--remove-args` of exactly what it added (and
//! `--args=intel_iommu=off`, what the boot entry had before).

use std::path::Path;

use serde_json::Value;

use super::harness::{
    GUEST_BINARY, GuestRun, IommuDevice, NicModel, PciSlot, Scenario, vm_assert, vm_assert_eq,
    work_dir,
};
use super::{
    DAOS_SERVER_UNIT, FIX_DAOS_VERSION, FIX_NODES, NIC_SLOT, NVME_MIB, NVME_SLOT, assert_status,
    fix_server_yml, nic_up, with_server_config,
};

/// An EL8 `/etc/default/grub` (as anaconda writes it, trimmed of what the Debian kernel
/// would not take), booted with the IOMMU off by the command line.
const DEFAULT_GRUB: &str = "\
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=\"$(sed 's, release .*$,,g' /etc/system-release)\"
GRUB_DEFAULT=saved
GRUB_DISABLE_SUBMENU=true
GRUB_TERMINAL_OUTPUT=\"console\"
GRUB_CMDLINE_LINUX=\"intel_iommu=off\"
GRUB_DISABLE_RECOVERY=\"true\"
GRUB_ENABLE_BLSCFG=true
";

/// What the running kernel was booted with in boot 1 (what the grub file says).
const BOOT1_ARGS: &str = "intel_iommu=off";

/// The BLS entry of the installed kernel, as grubby maintains them on EL8 (what grubby
/// would edit; the stand-in leaves it alone, the planner reads it).
const BLS_ENTRY: &str = "\
title AlmaLinux (4.18.0-513.5.1.el8_9.x86_64) 8.9
version 4.18.0-513.5.1.el8_9.x86_64
linux /vmlinuz-4.18.0-513.5.1.el8_9.x86_64
initrd /initramfs-4.18.0-513.5.1.el8_9.x86_64.img
options intel_iommu=off
id almalinux-20231113
";

/// A stand-in for grubby: Debian has no grubby (EL8/EL9's boot entry tool), so this one
/// only records each call on the persistent disk, one line per call, each argument in
/// `<>`, and succeeds.
const GRUBBY: &str = "#!/bin/sh
# grubby stand-in (tests/vm/reboot.rs): records its arguments, changes nothing
for a in \"$@\"; do printf '<%s>' \"$a\"; done >>/mnt/disk/grubby.log
echo >>/mnt/disk/grubby.log
";

/// The disk's block device in the guest and where it is mounted.
const DISK: &str = "/dev/vda";
const DISK_SLOT: PciSlot = PciSlot::Root(5);

/// Mounts the disk and puts its /etc and /var/lib over the initramfs's.
const MOUNT_DISK: &str = "mkdir -p /mnt/disk /var/lib && mount -t ext2 /dev/vda /mnt/disk \
     && mount -o bind /mnt/disk/etc /etc && mount -o bind /mnt/disk/var-lib /var/lib";

/// systemd-modules-load and systemd-sysctl, as far as these files go: each module named
/// in /etc/modules-load.d/*.conf loaded, each /etc/sysctl.d/*.conf applied in name
/// order (the guest has no systemd). Logged to /tmp/boot-apply.log.
const APPLY_BOOT_CONFIG: &str = "for f in /etc/modules-load.d/*.conf; do [ -e \"$f\" ] || continue; \
     grep -v '^[#;]' \"$f\" | while read -r m; do [ -n \"$m\" ] && modprobe \"$m\" \
     && echo \"modprobe $m\"; done; done >>/tmp/boot-apply.log 2>&1; \
     for f in /etc/sysctl.d/*.conf; do [ -e \"$f\" ] && sysctl -p \"$f\"; done >>/tmp/boot-apply.log 2>&1";

/// Everything written under /etc, then flushed and unmounted (poweroff -f follows).
const UNMOUNT: &str =
    "cd / && sync && umount /var/lib && umount /etc && umount /mnt/disk && echo unmounted";

/// The machine of both boots: the fix scenarios' (VT-d, the NVMe on node 1, a
/// daos_server.yml using it), the disk, the grub file and the grubby stand-in.
fn machine(name: &str, args: &str, disk: &Path) -> Scenario {
    let s = Scenario::new(name)
        .iommu(IommuDevice::Intel)
        .kernel_args(args)
        .numa(FIX_NODES)
        .nvme(NVME_SLOT, "dpf-nvme-0", NVME_MIB)
        .nic(nic_up(NicModel::Virtio, NIC_SLOT))
        .disk(DISK_SLOT, disk)
        .defer_module("vfio-pci")
        .check_args(&format!("--daos-version {FIX_DAOS_VERSION}"))
        .file(
            "/usr/lib/systemd/system/daos_server.service",
            0o644,
            DAOS_SERVER_UNIT.as_bytes(),
        )
        .file("/etc/default/grub", 0o644, DEFAULT_GRUB.as_bytes())
        .file(
            "/boot/loader/entries/0123456789abcdef-4.18.0-513.5.1.el8_9.x86_64.conf",
            0o644,
            BLS_ENTRY.as_bytes(),
        )
        .file("/usr/sbin/grubby", 0o755, GRUBBY.as_bytes());
    with_server_config(s, &fix_server_yml(), &[NIC_SLOT.address()])
}

/// The value of the last `GRUB_CMDLINE_LINUX=` of a grub file, unquoted.
#[track_caller]
fn grub_cmdline(run: &GuestRun, text: &str) -> String {
    text.lines()
        .filter_map(|l| l.strip_prefix("GRUB_CMDLINE_LINUX="))
        .next_back()
        .map(|v| v.trim_matches(['"', '\'']).to_string())
        .unwrap_or_else(|| run.fail(format!("no GRUB_CMDLINE_LINUX in {text:?}")))
}

/// One grubby call of the stand-in's log: its arguments.
fn grubby_calls(log: &str) -> Vec<Vec<String>> {
    log.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.trim_start_matches('<')
                .trim_end_matches('>')
                .split("><")
                .map(str::to_string)
                .collect()
        })
        .collect()
}

fn bin(args: &str) -> String {
    format!("{GUEST_BINARY} {args} --daos-version {FIX_DAOS_VERSION}")
}

const SYSCTLS: [(&str, &str); 3] = [
    ("net/core/rmem_max", "1048576"),
    ("net/core/rmem_default", "1048576"),
    ("vm/max_map_count", "1000000"),
];

fn sysctl_view() -> String {
    SYSCTLS
        .iter()
        .map(|(s, _)| format!("echo {s} $(cat /proc/sys/{s})"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
#[ignore = "boots QEMU: run with --ignored (CI does)"]
fn persistent_fix_across_a_reboot() {
    // The disk outlives the scenario directories (each boot wipes its own).
    let dir = work_dir().join("persistent_fix_disk");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("disk dir");
    let disk = dir.join("disk.img");
    std::fs::File::create(&disk)
        .and_then(|f| f.set_len(32 << 20))
        .unwrap_or_else(|e| panic!("{}: {e}", disk.display()));

    // Boot 1: the IOMMU off by the command line; fix --persistent.
    let one = machine("persistent_fix_boot1", BOOT1_ARGS, &disk)
        .setup(&format!("mke2fs -q {DISK}"))
        .setup(
            "mkdir -p /mnt/disk && mount -t ext2 /dev/vda /mnt/disk \
             && mkdir -p /mnt/disk/etc /mnt/disk/var-lib && cp -a /etc/. /mnt/disk/etc/",
        )
        .setup("umount /mnt/disk")
        .setup(MOUNT_DISK)
        .capture("mounts", "grep -E ' /(etc|var/lib) ' /proc/mounts")
        .capture("fix", &bin("fix --persistent --format json"))
        .capture("grub", "cat /etc/default/grub")
        .capture("grubby-log", "cat /mnt/disk/grubby.log")
        .capture(
            "boot-files",
            "cat /etc/sysctl.d/90-daos-preflight.conf /etc/modules-load.d/90-daos-preflight.conf",
        )
        .capture("unmount", UNMOUNT)
        .boot();
    vm_assert_eq!(one, one.sysfs().cmdline, one.cmdline, "boot 1 command line");
    vm_assert_eq!(
        one,
        one.section("mounts").text.lines().count(),
        2,
        "/etc and /var/lib come from the disk: {}",
        one.section("mounts").text
    );
    assert_status(&one, "iommu.kernel", "fail");
    for id in ["hugepages.thp", "sysctl.daos"] {
        let status = one.check(id)["status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        vm_assert!(
            one,
            status != "pass",
            "{id} has something to fix in boot 1: {status}"
        );
    }
    vm_assert_eq!(
        one,
        one.check("iommu.kernel")["details"]["cause"],
        "cmdline",
        "cause"
    );
    let fix = one.json("fix");
    let rc = one.section("fix").rc;
    vm_assert_eq!(
        one,
        rc,
        4,
        "fix --persistent applied everything, reboot needed: {fix}"
    );
    let refusal = fix["manual"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["check"] == "nvme.driver"))
        .unwrap_or_else(|| one.fail(format!("no nvme.driver refusal: {fix}")));
    vm_assert!(
        one,
        refusal["reason"]
            .as_str()
            .is_some_and(|r| r.contains("needs an active IOMMU")
                && r.contains("/etc/modules-load.d/90-daos-preflight.conf")),
        "no bind without the IOMMU, but vfio-pci is set to load at boot: {refusal}"
    );
    let written = &one.section("grub").text;
    let args = grub_cmdline(&one, written);
    for want in ["intel_iommu=on", "iommu=pt", "transparent_hugepage=never"] {
        vm_assert!(
            one,
            args.split_whitespace().any(|a| a == want),
            "GRUB_CMDLINE_LINUX has {want}: {args:?}"
        );
    }
    vm_assert!(
        one,
        !args.contains("intel_iommu=off"),
        "the off flag is gone: {args:?}"
    );
    let calls = grubby_calls(&one.section("grubby-log").text);
    vm_assert_eq!(
        one,
        calls,
        vec![vec![
            "--update-kernel=ALL".to_string(),
            format!("--args={args}")
        ]],
        "grubby was called once, with the same arguments"
    );
    let boot_files = &one.section("boot-files").text;
    vm_assert!(
        one,
        boot_files.lines().any(|l| l == "vfio-pci")
            && SYSCTLS
                .iter()
                .all(|(s, v)| boot_files.contains(&format!("{} = {v}", s.replace('/', ".")))),
        "sysctl.d and modules-load.d: {boot_files}"
    );
    vm_assert_eq!(
        one,
        one.section("unmount").text.trim(),
        "unmounted",
        "the disk is clean"
    );

    // Boot 2: the command line boot 1 wrote, the same disk.
    let two = machine("persistent_fix_boot2", &args, &disk)
        .setup(MOUNT_DISK)
        .setup(APPLY_BOOT_CONFIG)
        .capture("boot-apply", "cat /tmp/boot-apply.log")
        .capture("modules", "ls -d /sys/module/vfio_pci && lsmod")
        .capture("sysctls", &sysctl_view())
        .capture("thp", "cat /sys/kernel/mm/transparent_hugepage/enabled")
        .capture("undo", &format!("{GUEST_BINARY} fix --undo"))
        .capture("grub-undone", "cat /etc/default/grub")
        .capture("grub-sha", "sha256sum /etc/default/grub")
        .capture("grubby-log", "cat /mnt/disk/grubby.log")
        .capture(
            "boot-files-undone",
            "ls /etc/sysctl.d /etc/modules-load.d /etc/default",
        )
        .capture("journal-undone", "cat /var/lib/daos-preflight/journal.json")
        .capture("unmount", UNMOUNT)
        .boot();
    let cmdline = &two.sysfs().cmdline;
    vm_assert_eq!(two, cmdline, &two.cmdline, "boot 2 command line");
    vm_assert!(
        two,
        cmdline.ends_with(&args),
        "boot 2 runs the grub file's {args:?}: {cmdline}"
    );
    // What fix promised, as the kernel shows it.
    vm_assert!(
        two,
        two.section("modules").rc == 0
            && two
                .section("modules")
                .text
                .lines()
                .any(|l| l.starts_with("vfio_pci ")),
        "vfio-pci loaded at boot from modules-load.d: {}",
        two.section("modules").text
    );
    vm_assert!(
        two,
        two.section("thp").text.contains("[never]"),
        "THP never from the command line: {}",
        two.section("thp").text
    );
    for (s, v) in SYSCTLS {
        vm_assert!(
            two,
            two.section("sysctls")
                .text
                .lines()
                .any(|l| l == format!("{s} {v}")),
            "{s} = {v} from sysctl.d: {}",
            two.section("sysctls").text
        );
    }
    vm_assert!(
        two,
        !two.sysfs().iommu_units.is_empty(),
        "the kernel's IOMMU is on: {:?}",
        two.sysfs().iommu_units
    );
    // ... and check agrees.
    for id in ["iommu.kernel", "hugepages.thp", "sysctl.daos"] {
        assert_status(&two, id, "pass");
    }
    vm_assert!(
        two,
        two.facts()["kernel"]["sys_modules"]
            .as_array()
            .is_some_and(|m| m.iter().any(|x| x == "vfio_pci")),
        "facts see vfio_pci loaded: {}",
        two.facts()["kernel"]
    );

    // fix --undo: the grub file byte for byte, grubby --remove-args of what it added.
    let undo = two.section("undo");
    vm_assert_eq!(two, undo.rc, 0, "undo: {}", undo.text);
    vm_assert_eq!(
        two,
        two.section("grub-undone").text,
        DEFAULT_GRUB,
        "/etc/default/grub restored"
    );
    let sha = sha256_hex(DEFAULT_GRUB.as_bytes());
    vm_assert!(
        two,
        two.section("grub-sha").text.starts_with(&sha),
        "the restored file's SHA-256 is the original's {sha}: {}",
        two.section("grub-sha").text
    );
    let calls = grubby_calls(&two.section("grubby-log").text);
    // what the entry did not have goes; what it had another value for gets it back
    let key = |a: &str| a.split('=').next().unwrap_or(a).to_string();
    let had: Vec<&str> = BOOT1_ARGS.split_whitespace().collect();
    let remove = format!(
        "--remove-args={}",
        args.split_whitespace()
            .filter(|a| had.iter().all(|b| key(b) != key(a)))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let restore = format!(
        "--args={}",
        had.iter()
            .filter(|b| args.split_whitespace().any(|a| key(a) == key(b)))
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    );
    vm_assert_eq!(
        two,
        calls,
        vec![
            vec!["--update-kernel=ALL".to_string(), format!("--args={args}")],
            vec!["--update-kernel=ALL".to_string(), remove, restore],
        ],
        "undo calls grubby once more, removing exactly the arguments it added and giving the entry back the intel_iommu it had"
    );
    let left = &two.section("boot-files-undone").text;
    vm_assert!(
        two,
        !left.contains("90-daos-preflight.conf") && !left.contains(".daos-preflight"),
        "no sysctl.d/modules-load.d file or backup left: {left}"
    );
    let journal: Value = two.json("journal-undone");
    vm_assert_eq!(
        two,
        journal["entries"],
        Value::Array(vec![]),
        "the journal is empty"
    );
    vm_assert_eq!(
        two,
        two.section("unmount").text.trim(),
        "unmounted",
        "the disk is clean"
    );
}

/// SHA-256, hex (sha256sum's digest).
fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
