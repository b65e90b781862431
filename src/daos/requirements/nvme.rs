//! How the server configuration names its NVMe and emulated devices.

use serde::{Deserialize, Serialize};

use crate::daos::config::{ServerConfig, StorageClass};

/// How a `bdev_list` entry of class nvme names its device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum NvmeAddress {
    /// A PCI function, normalized to `dddd:bb:dd.f` (lowercase hex): an NVMe controller,
    /// or a VMD controller (`0000:5d:05.5`) whose backing SSDs SPDK drives.
    Pci {
        /// The normalized address.
        address: String,
    },
    /// An SSD behind a VMD controller, in SPDK's VMD notation: the domain is the VMD
    /// controller's bus, device and function (`5d0505:03:00.0` sits behind
    /// `0000:5d:05.5`). The kernel names such devices differently (domain ≥ `10000`), so
    /// only the VMD controller can be looked up in sysfs.
    VmdBacking {
        /// The backing device as written, lowercased.
        address: String,
        /// The VMD controller, `dddd:bb:dd.f`.
        vmd: String,
    },
    /// Not a PCI address SPDK can parse (`code.BdevBadPCIAddress`).
    Invalid,
}

/// One NVMe device a server configuration asks SPDK to drive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfiguredNvme {
    /// Engine index.
    pub engine: usize,
    /// Storage tier index within the engine.
    pub tier: usize,
    /// The `bdev_list` entry as written.
    pub written: String,
    /// What it names.
    pub address: NvmeAddress,
}

impl ConfiguredNvme {
    /// The PCI address to look up in sysfs: the device itself, or its VMD controller.
    pub fn sysfs_address(&self) -> Option<&str> {
        match &self.address {
            NvmeAddress::Pci { address } => Some(address),
            NvmeAddress::VmdBacking { vmd, .. } => Some(vmd),
            NvmeAddress::Invalid => None,
        }
    }
}

/// Parses a PCI address the way SPDK does (`spdk_pci_addr_parse`: `domain:bus:dev.func`
/// or `bus:dev.func`, `.` accepted for `:`, hex, domain 0 when absent) and normalizes it
/// to sysfs's `dddd:bb:dd.f`. A domain wider than 16 bits is a VMD backing device
/// ([`NvmeAddress::VmdBacking`]).
pub fn parse_nvme_address(written: &str) -> NvmeAddress {
    let w = written.trim().to_ascii_lowercase();
    let Some((head, func)) = w.rsplit_once('.') else {
        return NvmeAddress::Invalid;
    };
    let parts: Vec<&str> = head.split([':', '.']).collect();
    let (domain, bus, dev) = match parts.as_slice() {
        [d, b, v] => (*d, *b, *v),
        [b, v] => ("0", *b, *v),
        _ => return NvmeAddress::Invalid,
    };
    let hex = |s: &str, max: u32| {
        (!s.is_empty() && s.len() <= 8)
            .then(|| u32::from_str_radix(s, 16).ok())
            .flatten()
            .filter(|v| *v <= max)
    };
    let (Some(d), Some(b), Some(v), Some(f)) = (
        hex(domain, u32::MAX),
        hex(bus, 0xff),
        hex(dev, 0x1f),
        hex(func, 7),
    ) else {
        return NvmeAddress::Invalid;
    };
    if d > 0xffff {
        // SPDK/DAOS VMD notation: domain = VMD bus (8 bits), device (8), function (8)
        let (vb, vd, vf) = ((d >> 16) & 0xff, (d >> 8) & 0xff, d & 0xff);
        if d > 0xff_ffff || vd > 0x1f || vf > 7 {
            return NvmeAddress::Invalid;
        }
        return NvmeAddress::VmdBacking {
            address: format!("{d:06x}:{b:02x}:{v:02x}.{f:x}"),
            vmd: format!("0000:{vb:02x}:{vd:02x}.{vf:x}"),
        };
    }
    NvmeAddress::Pci {
        address: format!("{d:04x}:{b:02x}:{v:02x}.{f:x}"),
    }
}

/// The NVMe devices a server configuration asks for: every `bdev_list` entry of every
/// class-`nvme` tier of every engine, in engine and tier order, parsed as SPDK parses
/// PCI addresses ([`parse_nvme_address`]). This is the list daos_server hands SPDK as
/// its PCI allow-list when it prepares NVMe at start (server_utils.go `prepBdevStorage`:
/// `bdevCfgs.NVMeBdevs().Devices()`), so `nvme.present`, `nvme.driver`,
/// `nvme.iommu-group` and `fix` (binding to vfio-pci) all work from it. Entries also
/// listed in `bdev_exclude` are dropped, as SPDK's block-list wins. Emulated classes
/// (`file`, `kdev`) are not NVMe: see [`configured_emulated_bdevs`].
pub fn configured_nvme(cfg: &ServerConfig) -> Vec<ConfiguredNvme> {
    let excluded: Vec<NvmeAddress> = cfg
        .bdev_exclude
        .iter()
        .map(|a| parse_nvme_address(a))
        .collect();
    let mut out = Vec::new();
    for (ei, e) in cfg.engines.iter().enumerate() {
        for (ti, t) in e.storage.iter().enumerate() {
            if t.class != Some(StorageClass::Nvme) {
                continue;
            }
            for written in &t.bdev_list {
                let address = parse_nvme_address(written);
                if address != NvmeAddress::Invalid && excluded.contains(&address) {
                    continue;
                }
                out.push(ConfiguredNvme {
                    engine: ei,
                    tier: ti,
                    written: written.clone(),
                    address,
                });
            }
        }
    }
    out
}

/// One emulated bdev (class `file` or `kdev`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmulatedBdev {
    /// Engine index.
    pub engine: usize,
    /// Storage tier index within the engine.
    pub tier: usize,
    /// `file` or `kdev`.
    pub class: StorageClass,
    /// The path as written.
    pub path: String,
    /// `bdev_size` in GiB (class file).
    pub size_gib: Option<i64>,
}

/// The `file` and `kdev` bdevs of a server configuration.
pub fn configured_emulated_bdevs(cfg: &ServerConfig) -> Vec<EmulatedBdev> {
    let mut out = Vec::new();
    for (ei, e) in cfg.engines.iter().enumerate() {
        for (ti, t) in e.storage.iter().enumerate() {
            let Some(class @ (StorageClass::File | StorageClass::Kdev)) = t.class else {
                continue;
            };
            for p in &t.bdev_list {
                out.push(EmulatedBdev {
                    engine: ei,
                    tier: ti,
                    class,
                    path: p.clone(),
                    size_gib: t.bdev_size,
                });
            }
        }
    }
    out
}
