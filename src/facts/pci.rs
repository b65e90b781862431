//! PCI devices from `/sys/bus/pci/devices`, with NVMe controllers, namespaces and
//! whether anything on the host uses them.

use std::collections::BTreeSet;

use procfs_core::{FromBufRead, MountEntry};

use super::{BlockDevice, CollectionError, NvmeInfo, Pci, PciDevice, note, parse};
use crate::host::Host;

const PCI_DIR: &str = "/sys/bus/pci/devices";

/// True for the NVMe class (mass storage / non-volatile memory controller, 0x0108xx).
pub fn is_nvme_class(class: &str) -> bool {
    class.starts_with("0108")
}

/// Mounted sources and swap devices of the host, to judge whether a block device is in use.
#[derive(Debug, Default)]
pub struct BlockUse {
    /// (source device, mount point) from `/proc/mounts`.
    pub mounts: Vec<(String, String)>,
    /// Active swap devices from `/proc/swaps`.
    pub swaps: BTreeSet<String>,
}

impl BlockUse {
    /// Reads `/proc/mounts` (falling back to `/proc/self/mounts`) and `/proc/swaps`.
    pub fn collect(host: &Host, errors: &mut Vec<CollectionError>) -> Self {
        let text = note(errors, host.read_bytes("/proc/mounts"))
            .or_else(|| host.read_bytes("/proc/self/mounts").ok());
        let mounts = text
            .and_then(|t| Vec::<MountEntry>::from_buf_read(&t[..]).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|m| (m.fs_spec, m.fs_file))
            .collect();
        let swaps = note(errors, host.read_string("/proc/swaps"))
            .map(|t| parse::parse_swaps(&t).into_iter().collect())
            .unwrap_or_default();
        BlockUse { mounts, swaps }
    }

    fn mountpoints_of(&self, dev: &str) -> Vec<String> {
        let path = format!("/dev/{dev}");
        self.mounts
            .iter()
            .filter(|(src, _)| *src == path)
            .map(|(_, mp)| mp.clone())
            .collect()
    }
}

fn hex_attr(host: &Host, dir: &str, attr: &str, width: usize) -> Option<String> {
    let v = host.read_attr_opt(&format!("{dir}/{attr}"))?;
    let n = parse::parse_hex_u32(&v).ok()?;
    Some(format!("{n:0width$x}"))
}

/// Reads a block device (`/sys/class/block/<name>`) and how it is used.
pub fn block_device(host: &Host, name: &str, usage: &BlockUse) -> BlockDevice {
    let dir = format!("/sys/class/block/{name}");
    let size_bytes = host
        .read_attr_opt(&format!("{dir}/size"))
        .and_then(|s| s.parse::<u64>().ok())
        .map(|sectors| sectors * 512);
    let partitions: Vec<String> = host
        .list_dir(&dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.starts_with(name) && host.exists(&format!("{dir}/{n}/partition")))
        .collect();
    let mut mountpoints = usage.mountpoints_of(name);
    let mut holders: Vec<String> = host.list_dir(&format!("{dir}/holders")).unwrap_or_default();
    let mut swap = usage.swaps.contains(&format!("/dev/{name}"));
    for p in &partitions {
        mountpoints.extend(usage.mountpoints_of(p));
        holders.extend(
            host.list_dir(&format!("{dir}/{p}/holders"))
                .unwrap_or_default(),
        );
        swap |= usage.swaps.contains(&format!("/dev/{p}"));
    }
    holders.sort();
    holders.dedup();
    BlockDevice {
        name: name.to_string(),
        size_bytes,
        partitions,
        mountpoints,
        holders,
        swap,
    }
}

fn nvme_info(host: &Host, dir: &str, usage: &BlockUse) -> NvmeInfo {
    let mut info = NvmeInfo::default();
    let mut namespaces = BTreeSet::new();
    // Modern kernels: <dev>/nvme/nvme0/nvme0n1; hidden multipath paths (nvme0c0n1) and
    // generic char devices (ng0n1) are not block devices users mount.
    for ctrl in host.list_dir(&format!("{dir}/nvme")).unwrap_or_default() {
        for n in host
            .list_dir(&format!("{dir}/nvme/{ctrl}"))
            .unwrap_or_default()
        {
            if n.starts_with(&ctrl) && n[ctrl.len()..].starts_with('n') && !n.contains('c') {
                namespaces.insert(n);
            }
        }
        info.controllers.push(ctrl);
    }
    // Older kernels (≤ 4.x) put the namespace directly under <dev>/block.
    for n in host.list_dir(&format!("{dir}/block")).unwrap_or_default() {
        namespaces.insert(n);
    }
    info.namespaces = namespaces
        .into_iter()
        .map(|n| block_device(host, &n, usage))
        .collect();
    info
}

/// The device's local CPUs (`local_cpulist`, else the `local_cpus` hex mask; both in the
/// kernel's Documentation/ABI/testing/sysfs-bus-pci), normalized to a cpulist. An unparsable or empty value is `None`: the kernel gave no locality.
fn local_cpulist(host: &Host, dir: &str) -> Option<String> {
    let cpus = match host.read_attr_opt(&format!("{dir}/local_cpulist")) {
        Some(list) => parse::parse_cpulist(&list).ok()?,
        None => parse::parse_cpumask(&host.read_attr_opt(&format!("{dir}/local_cpus"))?).ok()?,
    };
    (!cpus.is_empty()).then(|| parse::format_cpulist(&cpus))
}

/// Collects every PCI device.
pub fn collect(host: &Host, errors: &mut Vec<CollectionError>) -> Pci {
    let Some(addrs) = note(errors, host.list_dir(PCI_DIR)) else {
        return Pci::default();
    };
    let usage = BlockUse::collect(host, errors);
    let devices = addrs
        .into_iter()
        .filter(|a| parse::is_pci_address(a))
        .map(|address| {
            let dir = format!("{PCI_DIR}/{address}");
            let class = hex_attr(host, &dir, "class", 6);
            let numa_node = host
                .read_attr_opt(&format!("{dir}/numa_node"))
                .and_then(|v| v.parse::<i64>().ok())
                .and_then(|n| u32::try_from(n).ok());
            let driver_override = host
                .read_attr_opt(&format!("{dir}/driver_override"))
                .filter(|v| !v.is_empty() && v != "(null)");
            let nvme = class
                .as_deref()
                .filter(|c| is_nvme_class(c))
                .map(|_| nvme_info(host, &dir, &usage));
            PciDevice {
                local_cpulist: local_cpulist(host, &dir),
                vendor: hex_attr(host, &dir, "vendor", 4),
                device: hex_attr(host, &dir, "device", 4),
                driver: host.link_basename(&format!("{dir}/driver")),
                driver_override,
                numa_node,
                iommu_group: host
                    .link_basename(&format!("{dir}/iommu_group"))
                    .and_then(|g| g.parse().ok()),
                nvme,
                class,
                address,
            }
        })
        .collect();
    Pci { devices }
}
