//! Persistent memory from the libnvdimm bus, `/sys/bus/nd/devices`: regions (interleave
//! sets), namespaces (their mode and block device) and where pmem block devices are
//! mounted.
//!
//! Layout as the kernel documents it (Documentation/driver-api/nvdimm/nvdimm.rst, the
//! "LIBNVDIMM/LIBNDCTL: Region" and "Namespace" sections, and
//! Documentation/ABI/testing/sysfs-bus-nd): `regionN/` with `size`, `mappings` (how many
//! DIMMs the interleave set spans; `mappingK` names each), `devtype` (`nd_pmem`),
//! `numa_node`, `persistence_domain`; `namespaceN.M/` with `mode` (`raw`, `sector`,
//! `fsdax` — `memory` before 4.13 —, `devdax` — `dax` before 4.13), `devtype`, `size`,
//! `holder` (the btt/pfn/dax device that claims it) and `block/pmemX` when the namespace
//! itself is the disk; in fsdax mode the disk hangs off the claiming `pfnN.M/block/`.

use procfs_core::{FromBufRead, MountEntry};
use serde::{Deserialize, Serialize};

use super::{CollectionError, note};
use crate::host::Host;

const ND_DIR: &str = "/sys/bus/nd/devices";

/// The libnvdimm view of the host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema, Default)]
pub struct Pmem {
    /// Regions (`regionN`).
    pub regions: Vec<PmemRegion>,
    /// Namespaces (`namespaceN.M`), zero-size seed namespaces left out.
    pub namespaces: Vec<PmemNamespace>,
    /// Mounts of pmem block devices (`/proc/mounts`).
    pub mounts: Vec<PmemMount>,
}

/// One region (an interleave set of DIMMs).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct PmemRegion {
    /// `region0`.
    pub name: String,
    /// `devtype` (`nd_pmem`; `nd_blk` for block-window regions).
    pub devtype: Option<String>,
    /// `size`, bytes.
    pub size_bytes: Option<u64>,
    /// `mappings`: DIMMs in the interleave set (1: not interleaved).
    pub mappings: Option<u32>,
    /// `numa_node`; `null` when −1 or absent.
    pub numa_node: Option<u32>,
    /// `persistence_domain` (`memory_controller`, `cpu_cache`), when the kernel has it.
    pub persistence_domain: Option<String>,
}

/// One namespace.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct PmemNamespace {
    /// `namespace0.0`.
    pub name: String,
    /// The region it belongs to (`region0`, from the name).
    pub region: String,
    /// `mode` as written (`fsdax`, `memory`, `devdax`, `sector`, `raw`).
    pub mode: Option<String>,
    /// `size`, bytes.
    pub size_bytes: Option<u64>,
    /// `numa_node`; `null` when −1 or absent.
    pub numa_node: Option<u32>,
    /// The block device (`pmem0`): its own `block/`, else its holder's.
    pub blockdev: Option<String>,
}

/// A mounted pmem block device.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct PmemMount {
    /// `/dev/pmem0`.
    pub device: String,
    /// Mount point.
    pub mountpoint: String,
    /// File system type.
    pub fstype: String,
    /// Mounted with DAX (`dax` or `dax=always`).
    pub dax: bool,
}

/// `0`, `-1` → a node or `None`.
fn node(v: Option<String>) -> Option<u32> {
    v?.parse::<i64>().ok().and_then(|n| u32::try_from(n).ok())
}

fn num<T: std::str::FromStr>(v: Option<String>) -> Option<T> {
    v?.parse().ok()
}

/// Collects the nd bus; `None` when the kernel has no libnvdimm bus.
pub fn collect(host: &Host, errors: &mut Vec<CollectionError>) -> Option<Pmem> {
    let names = host.list_dir(ND_DIR).ok()?;
    let attr = |dev: &str, a: &str| host.read_attr_opt(&format!("{ND_DIR}/{dev}/{a}"));
    let block_of = |dev: &str| {
        host.list_dir(&format!("{ND_DIR}/{dev}/block"))
            .ok()
            .and_then(|v| v.into_iter().next())
    };
    let mut pmem = Pmem::default();
    for n in &names {
        if n.starts_with("region") {
            pmem.regions.push(PmemRegion {
                name: n.clone(),
                devtype: attr(n, "devtype"),
                size_bytes: num(attr(n, "size")),
                mappings: num(attr(n, "mappings")),
                numa_node: node(attr(n, "numa_node")),
                persistence_domain: attr(n, "persistence_domain").filter(|v| !v.is_empty()),
            });
        } else if let Some(id) = n.strip_prefix("namespace") {
            let size_bytes: Option<u64> = num(attr(n, "size"));
            if size_bytes == Some(0) {
                continue; // the idle seed namespace every region offers
            }
            let blockdev = block_of(n).or_else(|| {
                attr(n, "holder")
                    .filter(|h| !h.is_empty())
                    .and_then(|h| block_of(&h))
            });
            pmem.namespaces.push(PmemNamespace {
                name: n.clone(),
                region: format!("region{}", id.split('.').next().unwrap_or("")),
                mode: attr(n, "mode"),
                size_bytes,
                numa_node: node(attr(n, "numa_node")),
                blockdev,
            });
        }
    }
    pmem.regions.sort_by(|a, b| a.name.cmp(&b.name));
    pmem.namespaces.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(text) = note(errors, host.read_bytes("/proc/mounts")) {
        pmem.mounts = Vec::<MountEntry>::from_buf_read(&text[..])
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.fs_spec.starts_with("/dev/pmem"))
            .map(|m| PmemMount {
                dax: m
                    .fs_mntops
                    .get("dax")
                    .is_some_and(|v| v.as_deref().is_none_or(|v| v == "always")),
                device: m.fs_spec,
                mountpoint: m.fs_file,
                fstype: m.fs_vfstype,
            })
            .collect();
    }
    Some(pmem)
}
