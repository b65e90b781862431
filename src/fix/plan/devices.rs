//! Devices: configured NVMe controllers bound to the driver DAOS uses (with every
//! refusal that protects the host), and emulated-NVMe `file` bdevs created sparse.

use super::{
    Action, FixInputs, MODULES_FILE, ManualStep, Plan, PlanOptions, Step, files::push_file,
    service_owner,
};
use crate::daos::config::ServerConfig;
use crate::facts::Facts;
use crate::report::CheckResult;

/// VMD controllers (Intel Volume Management Device) are handed to SPDK by DAOS's own
/// VMD support, not bound like an NVMe drive.
fn is_vmd(dev: &crate::facts::PciDevice) -> bool {
    dev.vendor.as_deref() == Some("8086")
        && matches!(
            dev.device.as_deref(),
            Some("201d") | Some("28c0") | Some("467f") | Some("4c3d") | Some("9a0b")
        )
}

/// Plans binding every configured NVMe controller to the driver DAOS uses, refusing
/// anything that could hurt the host: a device that is not an NVMe controller (a wrong
/// address in bdev_list could name the NIC that carries the default route), a namespace
/// that is mounted, swap, or held by LVM/MD/dm, an IOMMU group shared with devices on
/// other drivers, and vfio-pci without an IOMMU.
pub(super) fn plan_nvme(
    p: &mut Plan,
    facts: &Facts,
    cfg: &ServerConfig,
    inputs: &FixInputs,
    check: &str,
    opts: PlanOptions,
) {
    let target = if cfg.disable_vfio {
        "uio_pci_generic"
    } else {
        "vfio-pci"
    };
    // the same device list nvme.present/nvme.driver judge (bdev_exclude removed,
    // addresses normalized as SPDK parses them); VMD-backed SSDs are DAOS's to prepare
    let configured = crate::daos::requirements::configured_nvme(cfg);
    let mut wanted: Vec<String> = configured
        .iter()
        .filter_map(|c| match &c.address {
            crate::daos::requirements::NvmeAddress::Pci { address } => Some(address.clone()),
            _ => None,
        })
        .collect();
    wanted.sort();
    wanted.dedup();
    let owner = service_owner(facts);
    let iommu_on = !facts.iommu.units.is_empty() || facts.iommu.noiommu_mode == Some(true);
    let refuse = |p: &mut Plan, why: String| {
        p.manual.push(ManualStep {
            check: check.to_string(),
            reason: format!("refused: {why}"),
            actions: vec![],
        })
    };
    let mut binds = Vec::new();
    // devices refused only because the IOMMU is off now: with --persistent the driver is
    // still set to load at boot, since the IOMMU may come on with the reboot (the
    // command line fix of iommu.kernel, or the BIOS), and the bind then needs it loaded
    let mut waiting_for_iommu = false;
    for addr in &wanted {
        let Some(dev) = facts.pci.devices.iter().find(|d| &d.address == addr) else {
            refuse(
                p,
                format!("{addr} is not a PCI device on this host (see nvme.present)"),
            );
            continue;
        };
        if dev.driver.as_deref() == Some(target) {
            continue;
        }
        if is_vmd(dev) {
            refuse(
                p,
                format!(
                    "{addr} is a VMD controller: set enable_vmd/disable_vmd in daos_server.yml, DAOS prepares it"
                ),
            );
            continue;
        }
        if !dev.class.as_deref().is_some_and(|c| c.starts_with("0108")) {
            refuse(
                p,
                format!(
                    "{addr} is not an NVMe controller (class {}, driver {}): check bdev_list",
                    dev.class.as_deref().unwrap_or("?"),
                    dev.driver.as_deref().unwrap_or("none")
                ),
            );
            continue;
        }
        let busy: Vec<String> = dev
            .nvme
            .iter()
            .flat_map(|n| &n.namespaces)
            .filter(|ns| ns.in_use())
            .map(|ns| {
                let mut why = Vec::new();
                if !ns.mountpoints.is_empty() {
                    why.push(format!("mounted on {}", ns.mountpoints.join(", ")));
                }
                if !ns.holders.is_empty() {
                    why.push(format!("held by {} (LVM/MD/dm)", ns.holders.join(", ")));
                }
                if ns.swap {
                    why.push("active swap".to_string());
                }
                format!("{} {}", ns.name, why.join(", "))
            })
            .collect();
        if !busy.is_empty() {
            refuse(p, format!("{addr} is in use: {}", busy.join("; ")));
            continue;
        }
        if target == "vfio-pci" && !iommu_on {
            let after = if opts.persistent {
                format!(
                    "; {target} is set to load at boot ({MODULES_FILE}): run fix again once the IOMMU is on"
                )
            } else {
                String::new()
            };
            refuse(
                p,
                format!("{addr}: vfio-pci needs an active IOMMU (see iommu.kernel){after}"),
            );
            waiting_for_iommu = true;
            continue;
        }
        if let Some(g) = dev.iommu_group {
            let blockers: Vec<String> = facts
                .pci
                .devices
                .iter()
                .filter(|d| {
                    d.iommu_group == Some(g) && d.address != *addr && !wanted.contains(&d.address)
                })
                .filter(|d| {
                    !matches!(
                        d.driver.as_deref(),
                        None | Some("vfio-pci") | Some("pcieport")
                    )
                })
                .map(|d| format!("{} ({})", d.address, d.driver.as_deref().unwrap_or("")))
                .collect();
            if !blockers.is_empty() {
                refuse(
                    p,
                    format!(
                        "{addr}: IOMMU group {g} also holds {} on other drivers, so the group can't be given to VFIO",
                        blockers.join(", ")
                    ),
                );
                continue;
            }
        }
        binds.push(Step {
            check: check.to_string(),
            reason: format!("DAOS (SPDK) drives {addr} through {target}"),
            action: Action::BindDriver {
                address: addr.clone(),
                driver: target.to_string(),
                current: dev.driver.clone(),
                iommu_group: dev.iommu_group,
                owner: owner.clone().filter(|_| target == "vfio-pci"),
            },
            reboot_required: false,
        });
    }
    if binds.is_empty() && !(opts.persistent && waiting_for_iommu) {
        return;
    }
    let module = target.replace('-', "_");
    if opts.persistent {
        push_file(
            p,
            inputs,
            check,
            &format!("load {target} at every boot"),
            MODULES_FILE,
            format!(
                "# Written by daos-preflight fix --persistent: DAOS (SPDK) drives NVMe through it.\n{target}\n"
            ),
            false,
        );
    }
    if binds.is_empty() {
        return;
    }
    if !facts.kernel.sys_modules.contains(&module) {
        p.actions.push(Step {
            check: check.to_string(),
            reason: format!("{target} must be loaded before devices can bind to it"),
            action: Action::LoadModule {
                module: target.to_string(),
            },
            reboot_required: false,
        });
    }
    p.actions.extend(binds);
}

/// `file` bdevs that are missing or smaller than `bdev_size`, in an existing directory:
/// created sparse at their size and given to the service user.
pub(super) fn plan_bdev_files(p: &mut Plan, facts: &Facts, cfg: &ServerConfig, r: &CheckResult) {
    use crate::daos::config::StorageClass;
    let owner = service_owner(facts);
    for b in crate::daos::requirements::configured_emulated_bdevs(cfg) {
        if b.class != StorageClass::File {
            continue;
        }
        let Some(gib) = b
            .size_gib
            .and_then(|g| u64::try_from(g).ok())
            .filter(|g| *g > 0)
        else {
            continue;
        };
        let want = gib << 30;
        let fact = facts.files.iter().find(|f| f.path == b.path);
        let have = fact
            .filter(|f| f.exists == Some(true))
            .and_then(|f| f.size_bytes);
        if have.is_some_and(|h| h >= want) {
            continue;
        }
        if fact.is_some_and(|f| f.exists == Some(true) && f.kind.as_deref() != Some("file")) {
            p.manual.push(ManualStep {
                check: r.id.clone(),
                reason: format!(
                    "{} exists and is not a regular file: refusing to touch it",
                    b.path
                ),
                actions: vec![],
            });
            continue;
        }
        let parent = crate::daos::requirements::parent_dir(&b.path);
        let parent_ok = parent
            .as_deref()
            .and_then(|d| facts.files.iter().find(|f| f.path == d))
            .is_some_and(|f| f.kind.as_deref() == Some("directory"));
        if !parent_ok {
            p.manual.push(ManualStep {
                check: r.id.clone(),
                reason: format!("{}: its directory is missing (see daos.dirs)", b.path),
                actions: vec![],
            });
            continue;
        }
        p.actions.push(Step {
            check: r.id.clone(),
            reason: format!("bdev_size {gib} GiB for the emulated NVMe {}", b.path),
            action: Action::CreateSparseFile {
                path: b.path.clone(),
                size_bytes: want,
                owner: owner.clone(),
            },
            reboot_required: false,
        });
    }
}
