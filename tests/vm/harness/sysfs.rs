//! The busybox view of the guest's sysfs, independent of the binary's facts.

use super::*;

// ---------------------------------------------------------------------------------------
// The busybox view.

/// One PCI function as sysfs shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PciView {
    /// `0x010802`.
    pub class: String,
    /// `numa_node` as printed (-1: none).
    pub numa: i64,
    /// Bound driver.
    pub driver: Option<String>,
    /// IOMMU group.
    pub group: Option<u32>,
}

/// One NUMA node as sysfs shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    /// CPUs, expanded from `cpulist`.
    pub cpus: Vec<u32>,
    /// MemTotal of the node, KiB.
    pub memtotal_kib: u64,
    /// nr_hugepages by page size (KiB).
    pub hugepages: BTreeMap<u64, u64>,
}

/// One network interface as sysfs shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetView {
    /// `operstate`.
    pub operstate: String,
    /// `carrier`; `None` when the kernel refused to say (interface down).
    pub carrier: Option<bool>,
    /// The resolved `device` link.
    pub device: String,
}

/// An IOMMU group as sysfs shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupView {
    /// Default domain type.
    pub kind: String,
    /// Member PCI addresses.
    pub devices: Vec<String>,
}

/// What tests/vm/sysfs-listing.sh printed.
#[derive(Debug, Default, Clone)]
pub struct SysfsView {
    /// `/proc/cmdline`.
    pub cmdline: String,
    /// `id -u` of the lister.
    pub euid: u32,
    /// ACPI tables: name → (`ls -l` mode, size).
    pub acpi_tables: BTreeMap<String, (String, u64)>,
    /// `/sys/class/iommu` entries.
    pub iommu_units: Vec<String>,
    /// `/sys/kernel/iommu_groups` exists.
    pub iommu_groups_dir: bool,
    /// IOMMU groups by number.
    pub iommu_groups: BTreeMap<u32, GroupView>,
    /// NUMA nodes by id.
    pub nodes: BTreeMap<u32, NodeView>,
    /// PCI functions by address.
    pub pci: BTreeMap<String, PciView>,
    /// Network interfaces by name.
    pub net: BTreeMap<String, NetView>,
    /// Block devices: name → size in bytes.
    pub block: BTreeMap<String, u64>,
}

/// Expands a kernel cpulist (`0-2,5`).
pub fn expand_cpulist(s: &str) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |x: &str| x.parse::<u32>().map_err(|e| format!("cpulist {s:?}: {e}"));
        match part.split_once('-') {
            Some((a, b)) => out.extend(num(a)?..=num(b)?),
            None => out.push(num(part)?),
        }
    }
    Ok(out)
}

impl SysfsView {
    /// Parses the listing; `#` lines are for people.
    pub fn parse(text: &str) -> Result<SysfsView, String> {
        let mut v = SysfsView::default();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
            if kind == "cmdline" {
                v.cmdline = rest.trim().to_string();
                continue;
            }
            let mut words = rest.split_whitespace();
            let name = words.next().unwrap_or_default().to_string();
            let kv: BTreeMap<&str, &str> = words.filter_map(|w| w.split_once('=')).collect();
            let get = |k: &str| kv.get(k).copied().unwrap_or_default();
            let num = |k: &str| -> Result<u64, String> {
                get(k).parse().map_err(|e| format!("{line:?}: {k}: {e}"))
            };
            match kind {
                "euid" => v.euid = name.parse().map_err(|e| format!("{line:?}: {e}"))?,
                "acpi_table" => {
                    v.acpi_tables
                        .insert(name, (get("mode").to_string(), num("size")?));
                }
                "iommu_unit" => v.iommu_units.push(name),
                "iommu_groups_dir" => v.iommu_groups_dir = true,
                "iommu_group" => {
                    let id = name.parse().map_err(|e| format!("{line:?}: {e}"))?;
                    v.iommu_groups.insert(
                        id,
                        GroupView {
                            kind: get("type").to_string(),
                            devices: get("devices")
                                .split(',')
                                .filter(|d| !d.is_empty())
                                .map(str::to_string)
                                .collect(),
                        },
                    );
                }
                "node" => {
                    let id = name.parse().map_err(|e| format!("{line:?}: {e}"))?;
                    let hugepages = kv
                        .iter()
                        .filter_map(|(k, n)| {
                            Some((k.strip_prefix("hugepages_")?.parse().ok()?, n.parse().ok()?))
                        })
                        .collect();
                    v.nodes.insert(
                        id,
                        NodeView {
                            cpus: expand_cpulist(get("cpulist"))?,
                            memtotal_kib: num("memtotal_kib")?,
                            hugepages,
                        },
                    );
                }
                "pci" => {
                    v.pci.insert(
                        name,
                        PciView {
                            class: get("class").to_string(),
                            numa: get("numa").parse().map_err(|e| format!("{line:?}: {e}"))?,
                            driver: Some(get("driver").to_string()).filter(|d| !d.is_empty()),
                            group: get("group").parse().ok(),
                        },
                    );
                }
                "net" => {
                    v.net.insert(
                        name,
                        NetView {
                            operstate: get("operstate").to_string(),
                            carrier: match get("carrier") {
                                "1" => Some(true),
                                "0" => Some(false),
                                _ => None,
                            },
                            device: get("device").to_string(),
                        },
                    );
                }
                "block" => {
                    v.block.insert(name, num("sectors")? * 512);
                }
                _ => return Err(format!("unknown line {line:?}")),
            }
        }
        Ok(v)
    }

    /// The interface whose device link resolves to (a child of) `pci_address`.
    pub fn iface_of(&self, pci_address: &str) -> Option<(&str, &NetView)> {
        self.net
            .iter()
            .find(|(_, n)| n.device.split('/').any(|c| c == pci_address))
            .map(|(name, n)| (name.as_str(), n))
    }
}

impl fmt::Display for SysfsView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:#?}")
    }
}
