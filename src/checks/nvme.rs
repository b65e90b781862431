//! `nvme.present`, `nvme.driver`, `nvme.iommu-group`: the block devices of
//! `bdev_list` exist, are bound (or bindable) to the driver SPDK needs, and their IOMMU
//! groups can be handed to VFIO whole.
//!
//! Sources: server/server_utils.go `prepBdevStorage` (non-root + real NVMe needs VFIO
//! and an IOMMU: code.ServerVfioDisabled, code.ServerIommuDisabled; VMD is not enabled
//! without VFIO or IOMMU), storage/faults.go `FaultBdevNotFound`, storage/bdev/
//! backend_class.go `createAioFile` (AIO files are fallocated to `bdev_size` by
//! `dmg storage format`), SPDK `spdk_pci_addr_parse` for the address formats.

use super::config::server_for_requirements;
use super::service::server_user;
use super::{Check, Context, Finding};
use crate::daos::config::{ServerConfig, StorageClass};
use crate::daos::requirements::{
    ConfiguredNvme, GIB, NvmeAddress, configured_emulated_bdevs, configured_nvme,
};
use crate::facts::{Facts, PathFact, PciDevice};

/// The PCI device at `addr`.
pub(crate) fn pci<'a>(f: &'a Facts, addr: &str) -> Option<&'a PciDevice> {
    f.pci.devices.iter().find(|d| d.address == addr)
}

/// The examined path `p` (facts.files).
pub(crate) fn path_fact<'a>(f: &'a Facts, p: &str) -> Option<&'a PathFact> {
    f.files.iter().find(|x| x.path == p)
}

/// An Intel VMD controller: class RAID (0104xx), vendor Intel.
pub(crate) fn is_vmd(d: &PciDevice) -> bool {
    d.class.as_deref().is_some_and(|c| c.starts_with("0104")) && d.vendor.as_deref() == Some("8086")
}

fn is_nvme(d: &PciDevice) -> bool {
    d.class
        .as_deref()
        .is_some_and(crate::facts::pci::is_nvme_class)
}

fn is_bridge(d: &PciDevice) -> bool {
    d.class.as_deref().is_some_and(|c| c.starts_with("0604"))
        || d.driver.as_deref() == Some("pcieport")
}

fn label(n: &ConfiguredNvme) -> String {
    format!("engine {} {}", n.engine, n.written)
}

/// Why VMD won't be enabled (server_utils.go `prepBdevStorage`), if it won't.
fn vmd_disabled_reason(cfg: &ServerConfig, f: &Facts) -> Option<&'static str> {
    if cfg.disable_vmd == Some(true) {
        Some("disable_vmd: true")
    } else if cfg.disable_vfio {
        Some("VFIO is disabled (disable_vfio: true)")
    } else if f.iommu.units.is_empty() {
        Some("the IOMMU is disabled on this host")
    } else if !configured_emulated_bdevs(cfg).is_empty() {
        Some("emulated NVMe (file/kdev) is configured too")
    } else {
        None
    }
}

/// `nvme.present`
pub struct Present;

impl Check for Present {
    fn id(&self) -> &'static str {
        "nvme.present"
    }
    fn title(&self) -> &'static str {
        "Every bdev_list device exists"
    }
    fn explain(&self) -> &'static str {
        "For every engine's bdev tiers: class nvme entries must be PCI addresses SPDK can parse \
(dddd:bb:dd.f, bb:dd.f, or the VMD notation 5d0505:03:00.0 for an SSD behind VMD controller \
0000:5d:05.5) of an NVMe controller (class 0108xx) or of an Intel VMD controller (class 0104xx, \
used when VMD is enabled; DAOS does not enable VMD with disable_vmd, disable_vfio, no IOMMU, or \
emulated bdevs). Missing devices are DAOS's code.BdevNotFound, unparsable ones \
code.BdevBadPCIAddress. class file entries are AIO files that `dmg storage format` allocates to \
bdev_size GiB (storage/bdev/backend_class.go createAioFile): the file should exist with that \
size, or its directory must exist with the space free. class kdev entries must be block \
devices.\n\
pass: everything found. warn: a file bdev not yet allocated, or smaller than bdev_size. fail: \
a device missing or of the wrong kind. skip: no bdevs configured."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let cfg = match server_for_requirements(ctx) {
            Ok(c) => c,
            Err(f) => return f,
        };
        let f = ctx.facts;
        let nvme = configured_nvme(cfg);
        let emulated = configured_emulated_bdevs(cfg);
        if nvme.is_empty() && emulated.is_empty() {
            return Finding::skip("no bdev_list entries: the engines have no NVMe tier");
        }
        let mut ok: Vec<String> = Vec::new();
        let mut warns: Vec<String> = Vec::new();
        let mut fails: Vec<String> = Vec::new();
        let mut actions: Vec<String> = Vec::new();
        let mut fault: Option<&str> = None;
        if !nvme.is_empty() && !f.source.sysfs {
            return Finding::skip("no sysfs visible: PCI devices can't be looked up");
        }
        for n in &nvme {
            let l = label(n);
            let vmd_addr = match &n.address {
                NvmeAddress::Invalid => {
                    fails.push(format!(
                        "{l}: not a PCI address SPDK can parse (dddd:bb:dd.f)"
                    ));
                    fault.get_or_insert("code.BdevBadPCIAddress");
                    continue;
                }
                NvmeAddress::Pci { address } => address.clone(),
                NvmeAddress::VmdBacking { vmd, .. } => vmd.clone(),
            };
            let Some(d) = pci(f, &vmd_addr) else {
                fails.push(format!("{l}: no PCI device {vmd_addr} on this host"));
                fault.get_or_insert("code.BdevNotFound");
                actions.push(format!(
                    "lspci -D -d ::0108   # list the NVMe controllers; fix bdev_list entry {}",
                    n.written
                ));
                continue;
            };
            let class = d.class.clone().unwrap_or_else(|| "unknown".into());
            if is_vmd(d) {
                if let Some(why) = vmd_disabled_reason(cfg, f) {
                    fails.push(format!(
                        "{l}: {vmd_addr} is a VMD controller, but DAOS will not enable VMD because {why}: SPDK won't find the SSDs behind it"
                    ));
                    fault.get_or_insert("code.BdevNotFound");
                } else {
                    ok.push(format!(
                        "{l}: VMD controller {vmd_addr} (SPDK drives the SSDs behind it)"
                    ));
                }
            } else if matches!(n.address, NvmeAddress::VmdBacking { .. }) {
                fails.push(format!(
                    "{l}: {vmd_addr} (the VMD controller this address implies) is class {class}, not a VMD controller"
                ));
                fault.get_or_insert("code.BdevNotFound");
            } else if is_nvme(d) {
                ok.push(format!(
                    "{l}: NVMe {}:{} ({})",
                    d.vendor.as_deref().unwrap_or("?"),
                    d.device.as_deref().unwrap_or("?"),
                    d.driver.as_deref().unwrap_or("no driver")
                ));
            } else {
                fails.push(format!(
                    "{l}: {vmd_addr} is PCI class {class}, not an NVMe controller (0108xx)"
                ));
                fault.get_or_insert("code.BdevNotFound");
            }
        }
        for b in &emulated {
            let l = format!("engine {} {} {}", b.engine, b.class.as_str(), b.path);
            let fact = path_fact(f, &b.path);
            match b.class {
                StorageClass::File => {
                    let want = b.size_gib.filter(|g| *g > 0).map(|g| g as u64 * GIB);
                    let want_s = b
                        .size_gib
                        .map_or("bdev_size unset".into(), |g| format!("{g} GiB"));
                    match fact {
                        Some(p) if p.exists == Some(true) => {
                            if p.kind.as_deref() != Some("file") {
                                fails.push(format!(
                                    "{l}: is a {}, not a regular file",
                                    p.kind.as_deref().unwrap_or("?")
                                ));
                            } else {
                                let have = p.size_bytes.unwrap_or(0);
                                match want {
                                    Some(w) if have < w => {
                                        warns.push(format!(
                                            "{l}: {} < bdev_size {want_s}; `dmg storage format` re-allocates it",
                                            super::memory::gib(have)
                                        ));
                                    }
                                    _ => ok.push(format!(
                                        "{l}: {} (bdev_size {want_s})",
                                        super::memory::gib(have)
                                    )),
                                }
                            }
                        }
                        Some(p) if p.exists == Some(false) => {
                            let parent = crate::daos::requirements::parent_dir(&b.path)
                                .unwrap_or_else(|| "/".into());
                            match path_fact(f, &parent) {
                                Some(d) if d.kind.as_deref() == Some("directory") => {
                                    match (want, d.free_bytes) {
                                        (Some(w), Some(free)) if free < w => {
                                            fails.push(format!(
                                                "{l}: not allocated yet and {parent} has {} free, less than bdev_size {want_s}: format would fail",
                                                super::memory::gib(free)
                                            ));
                                        }
                                        _ => {
                                            warns.push(format!(
                                                "{l}: not allocated yet; `dmg storage format` creates it ({want_s}) in {parent}"
                                            ));
                                            if let Some(g) = b.size_gib {
                                                actions.push(format!(
                                                    "fallocate -l {g}G {}   # optional: allocate now to reserve the space",
                                                    b.path
                                                ));
                                            }
                                        }
                                    }
                                }
                                _ => {
                                    fails.push(format!(
                                        "{l}: neither the file nor its directory {parent} exists: format can't create it"
                                    ));
                                    actions.push(format!("mkdir -p {parent}"));
                                }
                            }
                        }
                        Some(p) => fails.push(format!(
                            "{l}: can't be examined: {}",
                            p.error.as_deref().unwrap_or("unknown error")
                        )),
                        None => warns.push(format!(
                            "{l}: not examined (facts collected without the configuration)"
                        )),
                    }
                }
                _ => {
                    let name = b.path.rsplit('/').next().unwrap_or_default();
                    let sys = path_fact(f, &format!("/sys/class/block/{name}"));
                    match fact {
                        Some(p) if p.kind.as_deref() == Some("block") => {
                            ok.push(format!("{l}: block device"))
                        }
                        Some(p) if p.exists == Some(true) => fails.push(format!(
                            "{l}: is a {}, not a block device",
                            p.kind.as_deref().unwrap_or("?")
                        )),
                        _ if sys.is_some_and(|s| s.exists == Some(true)) => {
                            ok.push(format!("{l}: block device {name} in /sys/class/block"))
                        }
                        _ => fails.push(format!("{l}: no such block device")),
                    }
                }
            }
        }
        let all: Vec<String> = fails.iter().chain(&warns).chain(&ok).cloned().collect();
        let finding = if !fails.is_empty() {
            let mut fd = Finding::fail(fails.join("; ")).fix(
                "correct bdev_list in daos_server.yml, or install/enable the device",
                &actions,
                false,
            );
            if let Some(c) = fault {
                fd = fd.fault(c);
            }
            fd
        } else if !warns.is_empty() {
            Finding::warn(warns.join("; ")).fix(
                "run `dmg storage format` after daos_server starts, or allocate the files now",
                &actions,
                false,
            )
        } else {
            Finding::pass(format!("{} bdev(s) found: {}", ok.len(), ok.join("; ")))
        };
        finding
            .detail("nvme", &nvme)
            .detail("emulated", &emulated)
            .detail("devices", &all)
    }
}

/// What a configured device is used for on the host (mounted, swap, held), if anything.
fn in_use(d: &PciDevice) -> Option<String> {
    let info = d.nvme.as_ref()?;
    let mut uses = Vec::new();
    for ns in &info.namespaces {
        if !ns.mountpoints.is_empty() {
            uses.push(format!(
                "{} mounted at {}",
                ns.name,
                ns.mountpoints.join(", ")
            ));
        }
        if ns.swap {
            uses.push(format!("{} is active swap", ns.name));
        }
        if !ns.holders.is_empty() {
            uses.push(format!(
                "{} held by {} (LVM, MD RAID or dm-crypt)",
                ns.name,
                ns.holders.join(", ")
            ));
        }
    }
    (!uses.is_empty()).then(|| uses.join(", "))
}

fn module_available(f: &Facts, module: &str, config: &str) -> bool {
    f.kernel
        .modules
        .as_ref()
        .is_some_and(|m| m.iter().any(|x| x == module))
        || f.kernel.sys_modules.iter().any(|x| x == module)
        || f.kernel.config.options.contains_key(config)
}

/// `nvme.driver`
pub struct Driver;

impl Check for Driver {
    fn id(&self) -> &'static str {
        "nvme.driver"
    }
    fn title(&self) -> &'static str {
        "NVMe bound to vfio-pci (or usable for the service user)"
    }
    fn explain(&self) -> &'static str {
        "SPDK drives the configured NVMe from user space through vfio-pci (or, with \
disable_vfio: true, uio_pci_generic, which fails on EL8 and later kernels). daos_server binds \
the devices of bdev_list when it starts (server_utils.go prepBdevStorage, through \
daos_server_helper), so a device still on the kernel nvme driver is only 'to be prepared' — \
unless the host uses it: a mounted namespace, active swap, or an LVM/MD/dm-crypt holder \
makes the rebind fail or destroys data. A non-root daos_server (User= of \
daos_server.service and its drop-ins; the DAOS unit says daos_server) with real NVMe also \
needs VFIO (code.ServerVfioDisabled when disable_vfio is set) and a kernel IOMMU \
(code.ServerIommuDisabled when /sys/class/iommu is empty).\n\
pass: every device on the driver SPDK will use. warn: devices to be prepared, or \
uio_pci_generic chosen. fail: a device in use by the host, or the non-root rule broken. \
skip: no class nvme bdevs (file/kdev need no binding)."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let cfg = match server_for_requirements(ctx) {
            Ok(c) => c,
            Err(f) => return f,
        };
        let f = ctx.facts;
        let nvme = configured_nvme(cfg);
        if nvme.is_empty() {
            return Finding::skip(
                "no class nvme bdevs: emulated bdevs (file, kdev) need no driver binding",
            );
        }
        let user = server_user(f);
        let wanted = if cfg.disable_vfio {
            "uio_pci_generic"
        } else {
            "vfio-pci"
        };
        let mut ok = Vec::new();
        let mut warns = Vec::new();
        let mut fails = Vec::new();
        let mut actions = Vec::new();
        let mut fault = None;
        if !user.is_root() {
            if cfg.disable_vfio {
                fails.push(format!(
                    "daos_server runs as {} ({}) with real NVMe, but disable_vfio: true: DAOS refuses to start",
                    user.user, user.origin
                ));
                fault = Some("code.ServerVfioDisabled");
                actions.push(
                    "set disable_vfio: false in daos_server.yml (or run daos_server as root)"
                        .to_string(),
                );
            } else if f.iommu.units.is_empty() {
                fails.push(format!(
                    "daos_server runs as {} ({}) with real NVMe, but no IOMMU is enabled (/sys/class/iommu is empty): DAOS refuses to start",
                    user.user, user.origin
                ));
                fault = Some("code.ServerIommuDisabled");
                actions.push("enable the IOMMU: see iommu.kernel (intel_iommu=on / amd_iommu=on, then reboot)".to_string());
            }
        }
        if cfg.disable_vfio {
            warns.push(
                "disable_vfio: true makes SPDK use uio_pci_generic, which fails for NVMe on EL8 and later kernels; prefer vfio-pci with an IOMMU".to_string(),
            );
        }
        let (module, option) = if cfg.disable_vfio {
            ("uio_pci_generic", "CONFIG_UIO_PCI_GENERIC")
        } else {
            ("vfio_pci", "CONFIG_VFIO_PCI")
        };
        if !module_available(f, module, option) && f.kernel.config.source.is_some() {
            fails.push(format!(
                "the kernel has no {module} ({option} not set, module not loaded): SPDK can't take the devices"
            ));
        }
        let mut to_prepare = false;
        for n in &nvme {
            let Some(addr) = n.sysfs_address() else {
                continue; // nvme.present reports it
            };
            let l = label(n);
            let Some(d) = pci(f, addr) else { continue };
            if let Some(uses) = in_use(d) {
                fails.push(format!("{l}: in use by the host: {uses}"));
                actions.push(format!(
                    "stop using {addr} (umount / swapoff / vgremove or mdadm --stop), or remove it from bdev_list and add it to bdev_exclude"
                ));
                continue;
            }
            let drv = d.driver.as_deref();
            match drv {
                Some(x) if x == wanted => ok.push(format!("{l}: {x}")),
                Some("vfio-pci") => {
                    warns.push(format!(
                        "{l}: on vfio-pci, but disable_vfio: true: daos_server will rebind it to uio_pci_generic"
                    ));
                    to_prepare = true;
                }
                other => {
                    warns.push(format!(
                        "{l}: on {}, to be prepared: daos_server binds it to {wanted} at start",
                        other.unwrap_or("no driver")
                    ));
                    to_prepare = true;
                }
            }
            if let Some(o) = &d.driver_override
                && o != wanted
            {
                warns.push(format!(
                    "{l}: driver_override is {o}: the kernel will only bind {o} to it"
                ));
                actions.push(format!(
                    "echo > /sys/bus/pci/devices/{addr}/driver_override   # or: driverctl unset-override {addr}"
                ));
            }
        }
        if to_prepare {
            actions.push(format!(
                "daos-preflight fix --only nvme.driver   # or: daos_server nvme prepare --target-user {}",
                user.user
            ));
        }
        let finding = if !fails.is_empty() {
            let mut fd = Finding::fail(fails.join("; ")).fix(
                "free the devices and meet DAOS's VFIO/IOMMU rule for a non-root daos_server",
                &actions,
                false,
            );
            if let Some(c) = fault {
                fd = fd.fault(c);
            }
            fd
        } else if !warns.is_empty() {
            Finding::warn(warns.join("; ")).fix(
                format!("bind the configured NVMe to {wanted} (daos_server does it at start)"),
                &actions,
                false,
            )
        } else {
            Finding::pass(format!(
                "{} configured NVMe device(s) on {wanted}; daos_server runs as {}",
                ok.len(),
                user.user
            ))
        };
        finding
            .detail("service_user", &user)
            .detail("wanted_driver", wanted)
            .detail("devices", ok)
    }
}

/// `nvme.iommu-group`
pub struct IommuGroup;

impl Check for IommuGroup {
    fn id(&self) -> &'static str {
        "nvme.iommu-group"
    }
    fn title(&self) -> &'static str {
        "IOMMU groups of the NVMe are bound compatibly"
    }
    fn explain(&self) -> &'static str {
        "VFIO hands an IOMMU group to user space whole: vfio-pci can only be used for a device \
when every other device in its group (/sys/kernel/iommu_groups/N/devices, here from each PCI \
device's iommu_group) is bound to vfio-pci, to no driver, or is a PCI bridge. A NIC or GPU on \
a host driver in the same group (no ACS on the slot) makes SPDK fail to open the device.\n\
pass: every group is usable. fail: a sibling on another driver (named). skip: no class nvme \
bdevs, disable_vfio (uio_pci_generic ignores groups), or no IOMMU groups (see iommu.kernel)."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let cfg = match server_for_requirements(ctx) {
            Ok(c) => c,
            Err(f) => return f,
        };
        let f = ctx.facts;
        let nvme = configured_nvme(cfg);
        if nvme.is_empty() {
            return Finding::skip("no class nvme bdevs");
        }
        if cfg.disable_vfio {
            return Finding::skip("disable_vfio: true: uio_pci_generic does not use IOMMU groups");
        }
        let configured: Vec<&str> = nvme.iter().filter_map(|n| n.sysfs_address()).collect();
        let mut lines = Vec::new();
        let mut fails = Vec::new();
        let mut actions = Vec::new();
        let mut judged = 0;
        let mut seen_groups = std::collections::BTreeSet::new();
        for n in &nvme {
            let Some(addr) = n.sysfs_address() else {
                continue;
            };
            let Some(d) = pci(f, addr) else { continue };
            let Some(g) = d.iommu_group else { continue };
            judged += 1;
            if !seen_groups.insert(g) {
                continue;
            }
            let members: Vec<&PciDevice> = f
                .pci
                .devices
                .iter()
                .filter(|m| m.iommu_group == Some(g) && m.address != addr)
                .collect();
            let bad: Vec<String> = members
                .iter()
                .filter(|m| {
                    !configured.contains(&m.address.as_str())
                        && !is_bridge(m)
                        && !matches!(m.driver.as_deref(), None | Some("vfio-pci"))
                })
                .map(|m| {
                    format!(
                        "{} (class {}, driver {})",
                        m.address,
                        m.class.as_deref().unwrap_or("?"),
                        m.driver.as_deref().unwrap_or("?")
                    )
                })
                .collect();
            if bad.is_empty() {
                lines.push(format!(
                    "{}: group {g} has {} other device(s), all compatible",
                    label(n),
                    members.len()
                ));
            } else {
                fails.push(format!(
                    "{}: IOMMU group {g} also holds {}: VFIO can't claim the group while a host driver owns a member",
                    label(n),
                    bad.join(", ")
                ));
                actions.push(format!(
                    "ls /sys/kernel/iommu_groups/{g}/devices   # move the NVMe to a slot with its own group, enable ACS in the BIOS, or unbind the siblings"
                ));
            }
        }
        if judged == 0 {
            return Finding::skip(
                "the configured NVMe have no IOMMU group (no kernel IOMMU: see iommu.kernel)",
            );
        }
        if fails.is_empty() {
            Finding::pass(lines.join("; ")).detail("groups", &lines)
        } else {
            Finding::fail(fails.join("; "))
                .fix(
                    "give each NVMe an IOMMU group without host-driven devices",
                    &actions,
                    false,
                )
                .detail("groups", &lines)
        }
    }
}
