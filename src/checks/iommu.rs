//! `iommu.firmware`, `iommu.kernel`, `iommu.mode`: the IOMMU verdict, layer by layer.
//!
//! DAOS itself only asks "is `/sys/class/iommu` non-empty" (src/control/lib/hardware/
//! sysfs/provider.go `IsIOMMUEnabled`) and fails late with `code.ServerIommuDisabled`
//! when a non-root `daos_server` has real NVMe. We look at each layer so the failure
//! names the one that is wrong: firmware (BIOS), kernel (command line / build default),
//! and the resulting mode (translated, passthrough, or VFIO's unsafe no-IOMMU mode).

use super::{Check, Context, Finding};
use crate::facts::Facts;

/// DAOS fault code `code.ServerIommuDisabled` (src/control/fault/code/codes.go).
pub const FAULT_IOMMU_DISABLED: &str = "code.ServerIommuDisabled";

/// Which vendor's IOMMU the host has, from the firmware table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    /// DMAR: Intel VT-d.
    Intel,
    /// IVRS: AMD-Vi.
    Amd,
}

impl Vendor {
    fn of(facts: &Facts) -> Option<Vendor> {
        match facts.iommu.firmware_table.as_deref() {
            Some("DMAR") => Some(Vendor::Intel),
            Some("IVRS") => Some(Vendor::Amd),
            _ => None,
        }
    }

    fn bios_name(self) -> &'static str {
        match self {
            Vendor::Intel => "Intel VT-d (Virtualization Technology for Directed I/O)",
            Vendor::Amd => "AMD-Vi (AMD I/O Virtualization, \"IOMMU\")",
        }
    }
}

/// The kernel's IOMMU is active: DAOS's own rule, `/sys/class/iommu` non-empty.
pub fn kernel_iommu_active(facts: &Facts) -> bool {
    !facts.iommu.units.is_empty()
}

fn cmdline_value<'a>(facts: &'a Facts, key: &str) -> Option<Option<&'a str>> {
    // the kernel takes the last occurrence of a parameter
    facts
        .kernel
        .cmdline_args
        .iter()
        .rev()
        .find(|a| a.key == key)
        .map(|a| a.value.as_deref())
}

/// What the kernel build does without command-line flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelDefault {
    /// The IOMMU driver is enabled by default (`…DEFAULT_ON`, `…DEFAULT_ON_INTGPU_OFF`).
    On,
    /// Built in but off unless `intel_iommu=on` (EL8).
    Off,
    /// The driver is not built at all.
    NotBuilt,
    /// No kernel config is readable: we don't know.
    Unknown,
}

/// The Intel IOMMU default of the running kernel's build.
pub fn intel_default(facts: &Facts) -> KernelDefault {
    let o = &facts.kernel.config.options;
    if facts.kernel.config.source.is_none() {
        return KernelDefault::Unknown;
    }
    if !o.contains_key("CONFIG_INTEL_IOMMU") {
        return KernelDefault::NotBuilt;
    }
    if o.contains_key("CONFIG_INTEL_IOMMU_DEFAULT_ON")
        || o.contains_key("CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF")
    {
        KernelDefault::On
    } else {
        KernelDefault::Off
    }
}

fn grubby(args: &str) -> String {
    format!(
        "grubby --update-kernel=ALL --args=\"{args}\"   # EL8/EL9; elsewhere add it to GRUB_CMDLINE_LINUX in /etc/default/grub and run grub2-mkconfig -o /boot/grub2/grub.cfg"
    )
}

/// `iommu.firmware`
pub struct Firmware;

impl Check for Firmware {
    fn id(&self) -> &'static str {
        "iommu.firmware"
    }
    fn title(&self) -> &'static str {
        "Firmware IOMMU table (DMAR/IVRS)"
    }
    fn explain(&self) -> &'static str {
        "Looks for the ACPI table through which the firmware announces DMA remapping \
hardware: DMAR (Intel VT-d) or IVRS (AMD-Vi), in /sys/firmware/acpi/tables. Without it no \
kernel flag can enable an IOMMU: the BIOS setting is off (or the platform has none). DAOS \
needs an IOMMU to run daos_server as a non-root user with NVMe through VFIO.\n\
The table itself is decoded (checksum, remapping units DRHD/IVHD, RMRR reserved regions, \
RHSA NUMA affinity, the platform opt-in flag): no other tool reads it.\n\
pass: a valid table with at least one remapping unit. warn: wrong checksum, or a configured \
NVMe device is covered by an RMRR (VFIO can't take it cleanly). fail: no table (enable \
VT-d/AMD-Vi in the BIOS), a malformed table, or no remapping unit. error: present but \
unreadable (mode 0400: run as root). skip: the ACPI tables are not visible (container, \
non-ACPI platform, captured tree without them)."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let f = ctx.facts;
        if !f.iommu.acpi_tables_visible {
            return Finding::skip(
                "/sys/firmware/acpi/tables is not visible (container, non-ACPI platform or a tree without it)",
            );
        }
        let tables = &f.iommu.tables;
        let (Some(v), Some(t)) = (Vendor::of(f), tables.iter().find(|t| t.present)) else {
            return Finding::fail("no DMAR or IVRS table: the firmware announces no IOMMU (VT-d/AMD-Vi is off in the BIOS, or absent)")
                .detail("tables", tables)
                .fix(
                    "enable Intel VT-d (or AMD-Vi/IOMMU) in the BIOS/UEFI setup, then reboot",
                    &[
                        "BIOS/UEFI setup: enable \"Intel VT-d\" / \"Virtualization Technology for Directed I/O\" (AMD: \"IOMMU\"/\"AMD-Vi\")".to_string(),
                        "after reboot: ls /sys/firmware/acpi/tables/DMAR (or IVRS) must exist".to_string(),
                    ],
                    true,
                )
                .fault(FAULT_IOMMU_DISABLED);
        };
        let base = |fd: Finding| {
            fd.detail("table", &t.name)
                .detail("size", t.size)
                .detail("readable", t.readable)
        };
        let Some(fw) = &f.iommu.firmware else {
            // present but not decoded: mode 0400 and we are not root
            return base(Finding::error(format!(
                "{} table present ({} bytes) but unreadable: run as root to validate it",
                t.name,
                t.size.unwrap_or(0)
            )))
            .fix(
                "run daos-preflight as root (ACPI tables are mode 0400)",
                &["sudo daos-preflight check --only iommu".to_string()],
                false,
            );
        };
        let base = |fd: Finding| {
            base(fd)
                .detail("checksum_valid", fw.checksum_valid)
                .detail("host_address_width_bits", fw.host_address_width_bits)
                .detail("intr_remap", fw.intr_remap)
                .detail("dma_ctrl_platform_opt_in", fw.dma_ctrl_platform_opt_in)
                .detail("units", &fw.units)
                .detail("reserved_regions", &fw.reserved_regions)
        };
        let unit_word = if t.name == "DMAR" { "DRHD" } else { "IVHD" };
        let bios_update = [
            "update the system firmware (BIOS/UEFI): the table is the vendor's".to_string(),
            format!(
                "daos-preflight acpi {} --format json   # the decoding, for a vendor case",
                t.name.to_lowercase()
            ),
        ];
        if let Some(err) = &fw.parse_error {
            return base(Finding::fail(format!(
                "{} table is malformed ({err}); the kernel may ignore it",
                t.name
            )))
            .fix(
                "the firmware's table is broken: update the BIOS",
                &bios_update,
                true,
            );
        }
        if fw.units.is_empty() {
            return base(Finding::fail(format!(
                "{} table declares no remapping unit ({unit_word}): no device can be isolated",
                t.name
            )))
            .fix(
                "update the BIOS and check that VT-d/AMD-Vi is fully enabled",
                &bios_update,
                true,
            )
            .fault(FAULT_IOMMU_DISABLED);
        }
        let what = format!(
            "{} valid: {} remapping unit(s), {}-bit DMA addresses{}{} ({})",
            t.name,
            fw.units.len(),
            fw.host_address_width_bits
                .map(|b| b.to_string())
                .unwrap_or_else(|| "?".into()),
            if fw.intr_remap == Some(true) {
                ", interrupt remapping"
            } else {
                ""
            },
            if fw.dma_ctrl_platform_opt_in == Some(true) {
                ", platform opt-in"
            } else {
                ""
            },
            v.bios_name()
        );
        // An RMRR names memory the firmware keeps DMAing to on behalf of a device; VFIO
        // refuses (or can't cleanly isolate) such a device (kernel: "Device is ineligible
        // for IOMMU domain attach due to platform RMRR requirement").
        let configured = configured_nvme(ctx);
        let covered: Vec<String> = fw
            .reserved_regions
            .iter()
            .flat_map(|r| {
                r.devices
                    .iter()
                    .filter(|d| configured.contains(d))
                    .map(move |d| format!("{d} ({}–{})", r.base_address, r.end_address))
            })
            .collect();
        if !covered.is_empty() {
            return base(Finding::warn(format!(
                "{what}; but configured NVMe device(s) are covered by a firmware RMRR and can't be handed to VFIO cleanly: {}",
                covered.join(", ")
            )))
            .fix(
                "use other NVMe devices for DAOS, or ask the vendor for a BIOS without the RMRR on them",
                &[],
                false,
            );
        }
        let fd = if fw.checksum_valid {
            Finding::pass(what)
        } else {
            Finding::warn(format!(
                "{what}; but its ACPI checksum is wrong (the kernel only warns; a firmware bug)"
            ))
            .fix("update the BIOS", &bios_update, false)
        };
        base(fd)
    }
}

/// PCI addresses of the NVMe controllers in the server configuration (as
/// `nvme.present` reads them: normalized, `bdev_exclude` removed).
fn configured_nvme(ctx: &Context) -> Vec<String> {
    let Some(cfg) = ctx.config.and_then(|c| c.server_config()) else {
        return Vec::new();
    };
    crate::daos::requirements::configured_nvme(cfg)
        .iter()
        .filter_map(|c| c.sysfs_address().map(str::to_string))
        .collect()
}

/// `iommu.kernel`
pub struct Kernel;

impl Check for Kernel {
    fn id(&self) -> &'static str {
        "iommu.kernel"
    }
    fn title(&self) -> &'static str {
        "Kernel IOMMU enabled"
    }
    fn explain(&self) -> &'static str {
        "Checks that the kernel's IOMMU driver is active: /sys/class/iommu lists remapping \
units (the signal DAOS itself uses). When it is not, names the layer that is wrong: the \
firmware table (BIOS), an explicit intel_iommu=off/amd_iommu=off on the command line, or a \
kernel whose build default is off (EL8: CONFIG_INTEL_IOMMU_DEFAULT_ON is not set, so \
intel_iommu=on is required). It never tells you to add a flag your kernel already defaults to.\n\
pass: IOMMU active. fail: inactive, with the cause. skip: no sysfs visible."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let f = ctx.facts;
        if !f.source.sysfs {
            return Finding::skip("no sysfs visible: the kernel IOMMU state can't be read");
        }
        let units: Vec<&str> = f.iommu.units.iter().map(|u| u.name.as_str()).collect();
        if kernel_iommu_active(f) {
            return Finding::pass(format!(
                "kernel IOMMU active: {} unit(s) ({}), {} group(s)",
                units.len(),
                units.join(", "),
                f.iommu.groups.unwrap_or(0)
            ))
            .detail("units", &units)
            .detail("groups", f.iommu.groups);
        }
        let vendor = Vendor::of(f);
        let intel_flag = cmdline_value(f, "intel_iommu");
        let amd_flag = cmdline_value(f, "amd_iommu");
        let base = |s: String| {
            Finding::fail(s)
                .detail("units", &units)
                .detail("firmware_table", &f.iommu.firmware_table)
                .detail("cmdline_intel_iommu", intel_flag)
                .detail("cmdline_amd_iommu", amd_flag)
                .detail("kernel_config", &f.kernel.config.source)
                .fault(FAULT_IOMMU_DISABLED)
        };
        if f.iommu.acpi_tables_visible && vendor.is_none() {
            return base(
                "kernel IOMMU inactive because the firmware publishes no DMAR/IVRS table (see iommu.firmware)".into(),
            )
            .detail("cause", "firmware")
            .fix(
                "enable VT-d/AMD-Vi in the BIOS first; no kernel flag can help without it",
                &["BIOS/UEFI setup: enable Intel VT-d (AMD: IOMMU), then reboot".to_string()],
                true,
            );
        }
        match vendor {
            Some(Vendor::Amd) => {
                if matches!(amd_flag, Some(Some("off"))) {
                    return base(
                        "kernel IOMMU inactive: amd_iommu=off on the kernel command line".into(),
                    )
                    .detail("cause", "cmdline")
                    .fix(
                        "remove amd_iommu=off from the kernel command line and reboot",
                        &[
                            "grubby --update-kernel=ALL --remove-args=\"amd_iommu=off\""
                                .to_string(),
                        ],
                        true,
                    );
                }
                let built = f.kernel.config.options.contains_key("CONFIG_AMD_IOMMU");
                if f.kernel.config.source.is_some() && !built {
                    return base(
                        "kernel IOMMU inactive: this kernel is built without CONFIG_AMD_IOMMU"
                            .into(),
                    )
                    .detail("cause", "kernel_build")
                    .fix(
                        "boot a kernel built with CONFIG_AMD_IOMMU (every distribution kernel is)",
                        &[],
                        true,
                    );
                }
                // AMD-Vi is on by default when the driver is built; check dmesg.
                base("kernel IOMMU inactive although the firmware has an IVRS table and nothing disables it".into())
                    .detail("cause", "unknown")
                    .fix(
                        "look for AMD-Vi errors in the kernel log; add iommu=pt amd_iommu=on if your kernel needs it",
                        &["dmesg | grep -i -e AMD-Vi -e IOMMU".to_string()],
                        true,
                    )
            }
            _ => {
                if matches!(intel_flag, Some(Some("off"))) {
                    return base("kernel IOMMU inactive: intel_iommu=off on the kernel command line".into())
                        .detail("cause", "cmdline")
                        .fix(
                            "replace intel_iommu=off with intel_iommu=on on the kernel command line and reboot",
                            &[
                                "grubby --update-kernel=ALL --remove-args=\"intel_iommu=off\"".to_string(),
                                grubby("intel_iommu=on"),
                            ],
                            true,
                        );
                }
                let asked_on =
                    matches!(intel_flag, Some(Some(v)) if v.split(',').any(|p| p == "on"));
                match intel_default(f) {
                    KernelDefault::NotBuilt => base(
                        "kernel IOMMU inactive: this kernel is built without CONFIG_INTEL_IOMMU".into(),
                    )
                    .detail("cause", "kernel_build")
                    .fix("boot a kernel built with CONFIG_INTEL_IOMMU (every distribution kernel is)", &[], true),
                    KernelDefault::On if !asked_on => base(
                        "kernel IOMMU inactive although this kernel enables VT-d by default and the firmware has a DMAR table".into(),
                    )
                    .detail("cause", "unknown")
                    .fix(
                        "look for DMAR errors in the kernel log (a broken table makes the kernel give up)",
                        &["dmesg | grep -i -e DMAR -e IOMMU".to_string()],
                        true,
                    ),
                    _ if asked_on => base(
                        "kernel IOMMU inactive although intel_iommu=on is set".into(),
                    )
                    .detail("cause", "unknown")
                    .fix(
                        "look for DMAR errors in the kernel log",
                        &["dmesg | grep -i -e DMAR -e IOMMU".to_string()],
                        true,
                    ),
                    default => base(format!(
                        "kernel IOMMU inactive: intel_iommu=on is not on the kernel command line{}",
                        if default == KernelDefault::Off {
                            " and this kernel's build default is off (CONFIG_INTEL_IOMMU_DEFAULT_ON not set, as on EL8)"
                        } else {
                            ""
                        }
                    ))
                    .detail("cause", "cmdline")
                    .fix(
                        "add intel_iommu=on (and iommu=pt for passthrough) to the kernel command line and reboot",
                        &[grubby("intel_iommu=on iommu=pt"), "reboot".to_string()],
                        true,
                    ),
                }
            }
        }
    }
}

/// `iommu.mode`
pub struct Mode;

impl Check for Mode {
    fn id(&self) -> &'static str {
        "iommu.mode"
    }
    fn title(&self) -> &'static str {
        "IOMMU mode"
    }
    fn explain(&self) -> &'static str {
        "Reports how devices are mapped: translated (groups of type DMA/DMA-FQ), passthrough \
(type identity: iommu=pt or iommu.passthrough=1; VFIO devices still get translation), or \
VFIO's no-IOMMU mode (enable_unsafe_noiommu_mode=Y: no isolation, root only, unsafe).\n\
pass: translated or passthrough. warn: no-IOMMU mode. skip: no kernel IOMMU (see iommu.kernel)."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let f = ctx.facts;
        if f.iommu.noiommu_mode == Some(true) {
            return Finding::warn(
                "VFIO no-IOMMU mode is enabled: devices given to VFIO have no DMA isolation (unsafe; root only)",
            )
            .detail("mode", "noiommu")
            .fix(
                "enable the IOMMU (iommu.kernel) and turn no-IOMMU mode off",
                &[
                    "echo N > /sys/module/vfio/parameters/enable_unsafe_noiommu_mode".to_string(),
                    "remove vfio.enable_unsafe_noiommu_mode=1 from the kernel command line / modprobe.d".to_string(),
                ],
                false,
            );
        }
        if !kernel_iommu_active(f) {
            return Finding::skip("no kernel IOMMU active (see iommu.kernel)");
        }
        let types = &f.iommu.group_types;
        let identity = types.get("identity").copied().unwrap_or(0);
        let translated: u32 = ["DMA", "DMA-FQ"].iter().filter_map(|t| types.get(*t)).sum();
        let mode = if identity > 0 && translated == 0 {
            "passthrough"
        } else if translated > 0 && identity == 0 {
            "translated"
        } else if identity > 0 {
            "mixed"
        } else {
            "unknown"
        };
        Finding::pass(format!(
            "IOMMU mode {mode} ({} group(s): {})",
            f.iommu.groups.unwrap_or(0),
            types
                .iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .detail("mode", mode)
        .detail("group_types", types)
        // what the command line asked for, next to what the groups show
        .detail("cmdline_iommu", cmdline_value(f, "iommu"))
        .detail(
            "cmdline_iommu_passthrough",
            cmdline_value(f, "iommu.passthrough"),
        )
        .detail(
            "kernel_default_passthrough",
            f.kernel
                .config
                .options
                .contains_key("CONFIG_IOMMU_DEFAULT_PASSTHROUGH"),
        )
    }
}
