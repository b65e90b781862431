//! The hugepages DAOS will actually get when it starts its engines: what is free now,
//! how daos_server resizes each engine node's pool, what it reclaims from stale SPDK
//! files, what is reserved for others, and what each release then does with an engine
//! whose share is not there. Pure: the checks feed it the facts.
//!
//! The order of events, per release (daos-stack/daos, src/control/server):
//! - 2.4/2.6: server_utils.go `prepBdevStorage` runs SPDK's scripts/setup.sh with
//!   `NRHUGE`/`HUGENODE`, whose `check_hugepages_alloc` writes the per-node share to
//!   each engine node's `nr_hugepages` exactly (a bigger pool is shrunk; pages in use stay
//!   and are released to the kernel, not to the pool, when freed). Then, per engine,
//!   `registerEngineEventCallbacks` → `cleanEngineHugepages` (bdev/backend.go `prepare`
//!   with `CleanHugepagesOnly`) and `updateHugeMemValues`: HugePages_Free of
//!   /proc/meminfo against `nr_hugepages / engines`; less free only logs a NOTICE and
//!   starts the engine with `mem_size` = what is free.
//! - 2.8: `prepBdevStorage` first removes stale SPDK files (`cleanSpdkResources`), then
//!   `SetHugeNodes`/`getHugeNodesStr` ask for max(existing, share) per node (never
//!   shrinking); per engine `setEngineMemSize` compares HugePages_Free with
//!   `CalcMinHugepages(size, targets)`, logs a NOTICE when short and still sets
//!   `mem_size` to the full requirement.
//! - 2.2: `updateMemValues` refuses the engine when less is free than
//!   `nr_hugepages / engines` (faults.go `FaultInsufficientFreeHugePageMem`,
//!   code.ServerInsufficientFreeHugePageMem, 609).
//! - 2.0: `prepBdevStorage` refuses to start when HugePages_Free after prepare is below
//!   the pages requested for all engines (`FaultInsufficientFreeHugePages`,
//!   code.ServerInsufficientFreeHugePages, 609).
//!
//! The engine itself (src/bio/bio_xstream.c `bio_nvme_init`, `dma_buffer_create` via
//! `bio_xsctxt_alloc`): `mem_size` caps each target's DMA buffer at
//! mem_size / targets / 8 MiB chunks; 2.4/2.6 exit when that is below 32 chunks
//! (256 MiB per target, "hugepages are not enough for N targets"), and every target
//! allocates its first chunks from the hugepage heap at start (2.2: 32, 2.4/2.6: 24,
//! 2.8: half the cap); an allocation that fails is -DER_NOMEM and the engine exits.

use serde::{Deserialize, Serialize};

use super::DaosVersion;
use super::config::ServerConfig;
use super::requirements::HugepagePlan;
use crate::facts::hugetlb::HugetlbfsMount;

/// The directory daos_server cleans (bdev/backend.go `hugepageDir`, all releases).
pub const DAOS_HUGEPAGE_DIR: &str = "/dev/hugepages";
/// Fault code of 2.2's refusal (fault/code/codes.go, 609).
pub const FAULT_FREE_HUGEPAGE_MEM: &str = "code.ServerInsufficientFreeHugePageMem";
/// Fault code of 2.0's refusal (the same number, 609, under its 2.0 name).
pub const FAULT_FREE_HUGEPAGES: &str = "code.ServerInsufficientFreeHugePages";
/// DMA chunk size (bio_xstream.c `DAOS_DMA_CHUNK_MB`).
const DMA_CHUNK_MIB: u64 = 8;
/// Minimum DMA chunks per target of 2.4/2.6's `bio_nvme_init` (`DAOS_DMA_CHUNK_CNT_MIN`).
const DMA_CHUNK_CNT_MIN: u64 = 32;

/// One file daos_server removes before it starts engines (dead owner).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleFile {
    /// Host path.
    pub path: String,
    /// Entry name in [`DAOS_HUGEPAGE_DIR`].
    pub name: String,
    /// The pid its name carries, as written.
    pub pid: String,
    /// Pages it holds.
    pub pages: u64,
}

/// The files of `mounts` daos_server `version` removes at start whose owner is dead, so
/// that their pages come back. 2.2–2.8 (bdev/backend.go `createHugepageWalkFunc`): names
/// matching `spdk_pid([0-9]+)map` directly in /dev/hugepages (subdirectories are
/// skipped) whose `/proc/<pid>` does not exist. 2.0 (`hugePageWalkFunc`) removes every
/// `spdk*` file there owned by the service user, live or not; only those of a dead
/// process give pages back (a live process keeps what it maps), so only those count.
pub fn stale_files(
    version: DaosVersion,
    mounts: &[HugetlbfsMount],
    service_uid: Option<u32>,
) -> Vec<StaleFile> {
    let prefix = format!("{DAOS_HUGEPAGE_DIR}/");
    mounts
        .iter()
        .filter(|m| m.mountpoint == DAOS_HUGEPAGE_DIR)
        .flat_map(|m| &m.files)
        .filter_map(|f| {
            let name = f.path.strip_prefix(&prefix)?;
            if name.contains('/') || f.named_pid_alive != Some(false) {
                return None;
            }
            let pid = f.named_pid.clone()?;
            if version == DaosVersion::V2_0
                && (!name.starts_with("spdk") || service_uid.is_some_and(|u| u != f.uid))
            {
                return None;
            }
            Some(StaleFile {
                path: f.path.clone(),
                name: name.to_string(),
                pid,
                pages: f.pages,
            })
        })
        .collect()
}

/// The default-size pool of one NUMA node, now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodePool {
    /// Node id.
    pub node: u32,
    /// nr_hugepages.
    pub total: u64,
    /// free_hugepages.
    pub free: u64,
}

/// The host's default-size hugepages now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolsNow {
    /// HugePages_Total.
    pub total: u64,
    /// HugePages_Free.
    pub free: u64,
    /// HugePages_Rsvd.
    pub reserved: u64,
    /// Per node (empty: no per-node information; the system pool stands for one node).
    pub nodes: Vec<NodePool>,
}

/// A node's pool as daos_server leaves it before the engines start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAtStart {
    /// Node id (`null`: the system pool, no per-node information).
    pub node: Option<u32>,
    /// Pages in use now (total − free).
    pub in_use: u64,
    /// nr_hugepages now.
    pub total_now: u64,
    /// nr_hugepages after daos_server's prepare (before the stale files go).
    pub total_at_start: u64,
    /// Free after the prepare, not counting reclaimed pages.
    pub free_at_start: u64,
}

/// What one engine gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineAtStart {
    /// Engine index.
    pub index: usize,
    /// Its targets.
    pub targets: u64,
    /// Pages DAOS wants for it (2.2–2.6: nr_hugepages / engines; 2.8:
    /// CalcMinHugepages(size, targets)).
    pub want_pages: u64,
    /// `mem_size` DAOS passes it, MiB.
    pub mem_size_mib: u64,
    /// Hugepage memory its targets allocate at start (first DMA chunks), MiB.
    pub start_mib: u64,
}

/// The verdict DAOS reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartOutcome {
    /// Every engine gets what it wants.
    Full,
    /// Engines start with less than they want (2.4–2.8: a NOTICE in the log).
    Reduced,
    /// daos_server refuses or an engine exits at start.
    Fails,
}

/// What DAOS will get at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartView {
    /// Page size, KiB.
    pub size_kib: u64,
    /// HugePages_Free now.
    pub free_now: u64,
    /// HugePages_Rsvd now.
    pub reserved: u64,
    /// Engine nodes (or the system pool) after daos_server's prepare.
    pub nodes: Vec<NodeAtStart>,
    /// Pages daos_server gets back from stale SPDK files.
    pub reclaimed: u64,
    /// HugePages_Free as DAOS reads it when the engines start.
    pub free_at_start: u64,
    /// Of which usable: minus the pages reserved for other mappings.
    pub usable_at_start: u64,
    /// Pages all engines want together.
    pub want_total: u64,
    /// Per engine with bdevs.
    pub engines: Vec<EngineAtStart>,
    /// daos_server keeps a pool bigger than its share (2.8), so growing it lasts.
    pub pool_kept: bool,
    /// The verdict.
    pub outcome: StartOutcome,
    /// Why it fails (when it does), as DAOS says it.
    pub failure: Option<String>,
    /// DAOS's fault code for that failure, when it has one.
    pub fault_code: Option<String>,
    /// One line of arithmetic.
    pub arithmetic: String,
}

/// What DAOS `version` will get at start with `plan` on a host with `now` and `stale`
/// files to reclaim.
pub fn start_view(
    cfg: &ServerConfig,
    version: DaosVersion,
    plan: &HugepagePlan,
    now: &PoolsNow,
    stale: &[StaleFile],
) -> StartView {
    let size = plan.hugepage_size_kib;
    let page_mib = (size / 1024).max(1);
    let share = plan.per_node_pages;
    let shrinks = version <= DaosVersion::V2_6;
    let reclaim: u64 = stale.iter().map(|f| f.pages).sum();
    let at_start = |node: Option<u32>, total: u64, free: u64, engine: bool| {
        let in_use = total.saturating_sub(free);
        let total_at_start = match (engine, shrinks) {
            (false, _) => total,
            (true, true) => share.max(in_use),
            (true, false) => share.max(total),
        };
        NodeAtStart {
            node,
            in_use,
            total_now: total,
            total_at_start,
            free_at_start: total_at_start.saturating_sub(in_use),
        }
    };
    let all: Vec<(NodeAtStart, bool)> = if now.nodes.is_empty() {
        let n = at_start(None, now.total, now.free, true);
        // without nodes the share is the system total
        let n = NodeAtStart {
            total_at_start: if shrinks {
                plan.total_pages.max(n.in_use)
            } else {
                plan.total_pages.max(n.total_now)
            },
            ..n
        };
        let n = NodeAtStart {
            free_at_start: n.total_at_start.saturating_sub(n.in_use),
            ..n
        };
        vec![(n, true)]
    } else {
        now.nodes
            .iter()
            .map(|p| {
                let engine = plan.numa_nodes.contains(&p.node);
                (at_start(Some(p.node), p.total, p.free, engine), engine)
            })
            .collect()
    };
    // ≤2.6 shrink first, so a reclaimed page on an engine node above its share goes
    // back to the kernel (it was surplus), not to the pool; the node of a stale file is
    // unknown, so this is the most that can come back.
    let cap: u64 = all
        .iter()
        .map(|(n, engine)| {
            if *engine && shrinks {
                n.in_use.min(n.total_at_start)
            } else {
                n.in_use
            }
        })
        .sum();
    let reclaimed = reclaim.min(cap);
    let free_at_start = all.iter().map(|(n, _)| n.free_at_start).sum::<u64>() + reclaimed;
    let usable = free_at_start.saturating_sub(now.reserved);
    let bdev_engines: Vec<(usize, u64)> = cfg
        .engines
        .iter()
        .enumerate()
        .filter(|(_, e)| e.has_bdevs())
        .map(|(i, e)| (i, u64::try_from(e.targets).unwrap_or(0).max(1)))
        .collect();
    let n_engines = (cfg.engines.len() as u64).max(1);
    let mut failure = None;
    let mut fault = None;
    let mut engines = Vec::new();
    for &(index, targets) in &bdev_engines {
        let want = match version {
            DaosVersion::V2_8 => {
                crate::daos::requirements::HUGEPAGE_MEM_PER_TARGET * targets / (size * 1024)
            }
            _ => plan.pages / n_engines,
        };
        let (mem_size, init_chunks) = match version {
            DaosVersion::V2_0 => ((free_at_start / n_engines) * page_mib, 32),
            DaosVersion::V2_2 => (want * page_mib, 32),
            DaosVersion::V2_4 | DaosVersion::V2_6 => (want.min(free_at_start) * page_mib, 24),
            DaosVersion::V2_8 => {
                let mem = want * page_mib;
                (mem, (mem / targets / DMA_CHUNK_MIB / 2).max(1))
            }
        };
        if failure.is_none() {
            match version {
                DaosVersion::V2_2 if free_at_start < want => {
                    failure = Some(format!(
                        "insufficient amount of hugepage memory allocated for engine {index}: want {} ({want} hugepages), got {} ({free_at_start} hugepages)",
                        crate::units::human_kib(want * size),
                        crate::units::human_kib(free_at_start * size)
                    ));
                    fault = Some(FAULT_FREE_HUGEPAGE_MEM.to_string());
                }
                DaosVersion::V2_4 | DaosVersion::V2_6 if mem_size == 0 => {
                    failure = Some(format!(
                        "engine {index} exits: no hugepage is free, so mem_size is 0 (bio_nvme_init: \"Hugepages must be configured when NVMe SSD is configured\")"
                    ));
                }
                DaosVersion::V2_4 | DaosVersion::V2_6
                    if mem_size / targets / DMA_CHUNK_MIB < DMA_CHUNK_CNT_MIN =>
                {
                    failure = Some(format!(
                        "engine {index} exits: mem_size {mem_size} MiB for {targets} target(s) is below 256 MiB per target (bio_nvme_init: \"{mem_size}MB hugepages are not enough for {targets} targets\")"
                    ));
                }
                _ => {}
            }
        }
        engines.push(EngineAtStart {
            index,
            targets,
            want_pages: want,
            mem_size_mib: mem_size,
            start_mib: init_chunks * DMA_CHUNK_MIB * targets,
        });
    }
    let want_total: u64 = match version {
        DaosVersion::V2_0 => plan.total_pages,
        _ => engines.iter().map(|e| e.want_pages).sum(),
    };
    if version == DaosVersion::V2_0 && failure.is_none() && free_at_start < want_total {
        failure = Some(format!(
            "requested {want_total} hugepages; got {free_at_start}"
        ));
        fault = Some(FAULT_FREE_HUGEPAGES.to_string());
    }
    let start_mib: u64 = engines.iter().map(|e| e.start_mib).sum();
    if failure.is_none() && usable * page_mib < start_mib {
        failure = Some(format!(
            "the engines' targets allocate {start_mib} MiB of DMA buffers from hugepages at start and only {} is usable: an engine exits with -DER_NOMEM (bio_xstream.c dma_buffer_create)",
            crate::units::human_kib(usable * size)
        ));
    }
    let outcome = if failure.is_some() {
        StartOutcome::Fails
    } else if usable < want_total {
        StartOutcome::Reduced
    } else {
        StartOutcome::Full
    };
    let free_now = now.free;
    let prepared: u64 = all.iter().map(|(n, _)| n.free_at_start).sum();
    let mut arithmetic = format!("at start: {free_now} free now");
    if prepared != free_now {
        let verb = if prepared > free_now {
            "after daos_server grows the engine nodes' pools"
        } else {
            "after daos_server sets the engine nodes' pools to their share"
        };
        arithmetic.push_str(&format!(", {prepared} {verb}"));
    }
    if reclaimed > 0 {
        arithmetic.push_str(&format!(
            " + {reclaimed} from {} stale SPDK file(s) it removes",
            stale.len()
        ));
    }
    if now.reserved > 0 {
        arithmetic.push_str(&format!(" − {} reserved by other mappings", now.reserved));
    }
    arithmetic.push_str(&format!(
        " = {usable} usable; the engines want {want_total} ({})",
        engines
            .iter()
            .map(|e| format!("engine {}: {}", e.index, e.want_pages))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    StartView {
        size_kib: size,
        free_now,
        reserved: now.reserved,
        nodes: all.into_iter().map(|(n, _)| n).collect(),
        reclaimed,
        free_at_start,
        usable_at_start: usable,
        want_total,
        engines,
        pool_kept: !shrinks,
        outcome,
        failure,
        fault_code: fault,
        arithmetic,
    }
}
