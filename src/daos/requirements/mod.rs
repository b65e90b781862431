//! What a server configuration asks of the host: hugepages (in total and per NUMA node),
//! RAM-disk sizes, memory, cores. Pure functions of the configuration and a few host
//! numbers, mirroring DAOS's own arithmetic (each function cites its source).
//! Devices (`nvme`), ports (`ports`) and files and directories (`files`) are their own
//! modules, re-exported here.

use serde::{Deserialize, Serialize};

use super::DaosVersion;
use super::config::{EngineConfig, ServerConfig};

/// 1 GiB.
pub const GIB: u64 = 1 << 30;
/// Hugepage memory per target (server/storage/bdev.go `memHugepageMinPerTarget`, 1 GiB).
pub const HUGEPAGE_MEM_PER_TARGET: u64 = GIB;
/// Extra hugepages per engine that DAOS ≤2.6 requests on top (server/server_utils.go
/// `extraHugepages`, 2).
pub const EXTRA_HUGEPAGES_PER_ENGINE: u64 = 2;
/// RAM reserved per target (server/storage/scm.go `DefaultTgtMemRsvd`, 128 MiB).
pub const TARGET_MEM_RESERVED: u64 = 128 << 20;
/// Minimum RAM reserved per engine (scm.go `DefaultEngineMemRsvd`, 1 GiB).
pub const ENGINE_MEM_RESERVED_MIN: u64 = GIB;
/// Minimum RAM-disk per engine (scm.go `MinRamdiskMem`, 4 GiB).
pub const MIN_RAMDISK: u64 = 4 * GIB;
/// Share of the RAM-disks that MemAvailable must cover at engine start, percent
/// (server_utils.go `memCheckThreshold`).
pub const MEM_CHECK_THRESHOLD_PERCENT: u64 = 90;

/// `system_ram_reserved` default in GiB: scm.go `DefaultSysMemRsvd` is 16 GiB in 2.4 and
/// 2.6 and 64 GiB in 2.8 (the key does not exist before 2.4; 16 is used there).
pub fn default_system_ram_reserved_gib(version: DaosVersion) -> u64 {
    if version >= DaosVersion::V2_8 { 64 } else { 16 }
}

/// The NUMA node each engine's memory lives on, as DAOS decides it
/// (config/server.go `SetEngineAffinities`): `pinned_numa_node`, else the node of its
/// fabric interface (`detected`), else 0; in legacy `first_core` mode nothing is pinned
/// and the storage node index stays 0 for every engine.
pub fn engine_numa_nodes(
    cfg: &ServerConfig,
    detected: &dyn Fn(&EngineConfig) -> Option<u32>,
) -> Vec<u32> {
    let legacy = cfg.engines.iter().any(|e| {
        e.first_core
            .is_some_and(|c| !(c == 0 && e.pinned_numa_node.is_some()))
    });
    cfg.engines
        .iter()
        .map(|e| {
            if legacy {
                0
            } else {
                e.pinned_numa_node
                    .and_then(|n| u32::try_from(n).ok())
                    .or_else(|| detected(e))
                    .unwrap_or(0)
            }
        })
        .collect()
}

/// The hugepages DAOS will want (config/server.go `SetNrHugepages`/`getTgtCounts`,
/// storage/bdev.go `CalcMinHugepages`, server_utils.go `prepBdevStorage`/`SetHugeNodes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HugepagePlan {
    /// Hugepage size used, KiB.
    pub hugepage_size_kib: u64,
    /// Targets of the engines that have bdevs (2.8: a 1-target engine counts 2).
    pub targets: u64,
    /// Extra system xstreams: one per MD-on-SSD engine.
    pub sys_xstreams: u64,
    /// `CalcMinHugepages`: (targets + sys_xstreams) GiB / page size.
    pub min_pages: u64,
    /// `nr_hugepages` from the file (0 = automatic).
    pub configured_pages: u64,
    /// What DAOS uses: the configured count, or the minimum when automatic.
    pub pages: u64,
    /// The engines' NUMA nodes, sorted, unique.
    pub numa_nodes: Vec<u32>,
    /// Pages DAOS asks for on each of those nodes.
    pub per_node_pages: u64,
    /// Of which extra pages (≤2.6: 2 per engine, spread over the nodes).
    pub per_node_extra: u64,
    /// Pages summed over the nodes (what HugePages_Total should reach).
    pub total_pages: u64,
    /// One line of arithmetic for reports.
    pub arithmetic: String,
}

/// The hugepage plan, or `None` when no engine has bdevs (DAOS then needs none).
/// `engine_nodes` comes from [`engine_numa_nodes`].
pub fn hugepage_plan(
    cfg: &ServerConfig,
    version: DaosVersion,
    hugepage_size_kib: u64,
    engine_nodes: &[u32],
) -> Option<HugepagePlan> {
    if hugepage_size_kib == 0 {
        return None;
    }
    let mut targets = 0u64;
    let mut sys_xs = 0u64;
    for e in cfg.engines.iter().filter(|e| e.has_bdevs()) {
        let t = u64::try_from(e.targets).unwrap_or(0);
        targets += t;
        if e.is_md_on_ssd() {
            sys_xs += 1;
        } else if version >= DaosVersion::V2_8 && t == 1 {
            // 2.8 getTgtCounts: avoid DMA buffer allocation failure with one target
            targets += 1;
        }
    }
    if targets == 0 {
        return None;
    }
    let page_bytes = hugepage_size_kib * 1024;
    let min_pages = HUGEPAGE_MEM_PER_TARGET * (targets + sys_xs) / page_bytes;
    let configured = u64::try_from(cfg.nr_hugepages).unwrap_or(0);
    let pages = if configured == 0 {
        min_pages
    } else {
        configured
    };
    let mut nodes: Vec<u32> = engine_nodes.to_vec();
    nodes.sort_unstable();
    nodes.dedup();
    if nodes.is_empty() {
        nodes.push(0);
    }
    let n = nodes.len() as u64;
    let engines = cfg.engines.len() as u64;
    let per_node_extra = if version >= DaosVersion::V2_8 {
        0
    } else {
        EXTRA_HUGEPAGES_PER_ENGINE * engines / n
    };
    let per_node_pages = pages / n + per_node_extra;
    let total_pages = per_node_pages * n;
    let size = crate::units::human_kib(hugepage_size_kib);
    let mut arithmetic = format!(
        "({targets} targets{}) × 1 GiB / {size} pages = {min_pages} pages",
        if sys_xs > 0 {
            format!(" + {sys_xs} MD-on-SSD sys xstream(s)")
        } else {
            String::new()
        }
    );
    if configured != 0 {
        arithmetic.push_str(&format!("; nr_hugepages: {configured} used"));
    }
    arithmetic.push_str(&format!(
        "; over NUMA node(s) {nodes:?}: {pages} / {n}{} = {per_node_pages} per node",
        if per_node_extra > 0 {
            format!(" + {per_node_extra} extra (2 per engine)")
        } else {
            String::new()
        }
    ));
    Some(HugepagePlan {
        hugepage_size_kib,
        targets,
        sys_xstreams: sys_xs,
        min_pages,
        configured_pages: configured,
        pages,
        numa_nodes: nodes,
        per_node_pages,
        per_node_extra,
        total_pages,
        arithmetic,
    })
}

/// The RAM-disk sizing of a configuration on a host (storage/scm.go `CalcRamdiskSize`,
/// `CalcMemForRamdiskSize`; config/server.go `SetRamdiskSize`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RamdiskPlan {
    /// MemTotal, bytes.
    pub mem_total: u64,
    /// Hugepage memory (nr_hugepages × size), bytes.
    pub mem_huge: u64,
    /// `system_ram_reserved`, GiB.
    pub sys_reserved_gib: u64,
    /// True when `system_ram_reserved` is the release default.
    pub sys_reserved_is_default: bool,
    /// Engines.
    pub engines: u64,
    /// Targets of engine 0 (DAOS uses engine 0's count for all).
    pub targets: u64,
    /// Per-engine reservation: max(targets × 128 MiB, 1 GiB).
    pub engine_reserved: u64,
    /// Largest RAM-disk per engine, bytes; `None` when the reservations exceed MemTotal.
    pub max_per_engine: Option<u64>,
    /// `scm_size` of engine 0's ram tier, GiB (`None`: auto).
    pub configured_gib: Option<u64>,
    /// The size each engine gets, bytes (configured, or auto = max rounded down to GiB).
    pub per_engine: u64,
    /// MemTotal needed for `per_engine` (or the 4 GiB minimum when auto), bytes.
    pub mem_needed: u64,
}

impl RamdiskPlan {
    /// Reserved memory: hugepages + system + engines × engine reservation.
    pub fn reserved(&self) -> u64 {
        self.mem_huge + self.sys_reserved_gib * GIB + self.engines * self.engine_reserved
    }

    /// MemTotal needed for a RAM-disk of `size` bytes per engine
    /// (`CalcMemForRamdiskSize`).
    pub fn mem_for(&self, size: u64) -> u64 {
        self.reserved() + size * self.engines
    }

    /// The largest `system_ram_reserved` (GiB, ≥ 1) that fits the wanted RAM-disk, if any.
    pub fn fitting_sys_reserved_gib(&self) -> Option<u64> {
        let other =
            self.mem_huge + self.engines * self.engine_reserved + self.per_engine * self.engines;
        let room = self.mem_total.checked_sub(other)? / GIB;
        (room >= 1).then_some(room)
    }

    /// The largest `scm_size` (GiB, ≥ 4) that fits, if any.
    pub fn fitting_scm_size_gib(&self) -> Option<u64> {
        let g = self.max_per_engine? / GIB;
        (g * GIB >= MIN_RAMDISK).then_some(g)
    }

    /// True when DAOS accepts the sizing.
    pub fn fits(&self) -> bool {
        match self.max_per_engine {
            None => false,
            Some(max) => max >= MIN_RAMDISK && self.configured_gib.is_none_or(|g| g * GIB <= max),
        }
    }
}

/// The RAM-disk plan, or `None` when engine 0 has no ram SCM tier (no RAM-disk to size).
/// `hugepages` is the page count DAOS uses (`HugepagePlan::pages`, 0 without bdevs).
pub fn ramdisk_plan(
    cfg: &ServerConfig,
    version: DaosVersion,
    mem_total_kib: u64,
    hugepage_size_kib: u64,
    hugepages: u64,
) -> Option<RamdiskPlan> {
    let first = cfg.engines.first()?;
    let tier = first.ram_tier()?;
    let engines = cfg.engines.len() as u64;
    let targets = u64::try_from(first.targets).unwrap_or(0).max(1);
    let engine_reserved = (targets * TARGET_MEM_RESERVED).max(ENGINE_MEM_RESERVED_MIN);
    let (sys_reserved_gib, sys_reserved_is_default) = match cfg.system_ram_reserved {
        Some(g) if g > 0 => (g as u64, false),
        _ => (default_system_ram_reserved_gib(version), true),
    };
    let mem_total = mem_total_kib * 1024;
    let mem_huge = hugepages * hugepage_size_kib * 1024;
    let reserved = mem_huge + sys_reserved_gib * GIB + engines * engine_reserved;
    let max_per_engine = mem_total.checked_sub(reserved).map(|r| r / engines);
    let configured_gib = tier.scm_size.filter(|s| *s > 0);
    let per_engine = match (configured_gib, max_per_engine) {
        (Some(g), _) => g * GIB,
        (None, Some(max)) => (max / GIB) * GIB,
        (None, None) => 0,
    };
    let want = configured_gib.map_or(MIN_RAMDISK, |g| g * GIB);
    let mem_needed = reserved + want * engines;
    Some(RamdiskPlan {
        mem_total,
        mem_huge,
        sys_reserved_gib,
        sys_reserved_is_default,
        engines,
        targets,
        engine_reserved,
        max_per_engine,
        configured_gib,
        per_engine,
        mem_needed,
    })
}

/// MemAvailable needed at engine start: 90% of all RAM-disks, computed as DAOS does
/// ((size / 100) × 90, server_utils.go `checkMemForRamdisk`), bytes.
pub fn mem_available_needed(plan: &RamdiskPlan) -> u64 {
    let total = plan.per_engine * plan.engines;
    (total / 100) * MEM_CHECK_THRESHOLD_PERCENT
}

/// Cores an engine needs: 2 + targets + nr_xs_helpers (design.md §2: the main and
/// system xstreams, one per target, one per helper).
pub fn engine_cores_needed(e: &EngineConfig) -> u64 {
    2 + u64::try_from(e.targets).unwrap_or(0) + u64::try_from(e.nr_xs_helpers).unwrap_or(0)
}

/// The NUMA node DAOS would detect for an engine: its fabric interface's node.
pub fn detected_numa_node(
    facts: &crate::facts::Facts,
    cfg: &crate::daos::config::ServerConfig,
    e: &crate::daos::config::EngineConfig,
) -> Option<u32> {
    let iface = cfg.engine_iface(e)?;
    facts
        .net
        .interfaces
        .iter()
        .find(|i| i.name == iface)
        .and_then(|i| i.numa_node)
}

mod files;
mod nvme;
mod ports;
pub use files::*;
pub use nvme::*;
pub use ports::*;

#[cfg(test)]
mod tests;
