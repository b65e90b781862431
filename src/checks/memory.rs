//! `memory.ramdisk` and `memory.available`: the RAM-disk SCM sizing by DAOS's formula
//! (server/storage/scm.go `CalcRamdiskSize`, config/server.go `SetRamdiskSize`) and the
//! MemAvailable check DAOS makes at engine start (server_utils.go `checkMemForRamdisk`).

use super::config::{detected_numa_node, server_for_requirements};
use super::{Check, Context, Finding};
use crate::daos::requirements::{
    GIB, RamdiskPlan, engine_numa_nodes, hugepage_plan, mem_available_needed, ramdisk_plan,
};

/// Bytes as GiB for people (`22 GiB`, `21.5 GiB`).
pub fn gib(bytes: u64) -> String {
    if bytes.is_multiple_of(GIB) {
        format!("{} GiB", bytes / GIB)
    } else {
        format!("{:.1} GiB", bytes as f64 / GIB as f64)
    }
}

/// The plan for the host, or the finding that says why there is none.
#[allow(clippy::result_large_err)] // the Err is the finding itself, returned once per check
fn plan(ctx: &Context) -> Result<RamdiskPlan, Finding> {
    let cfg = server_for_requirements(ctx)?;
    let m = &ctx.facts.memory;
    let (Some(total), Some(size)) = (m.mem_total_kib, m.hugepage_size_kib) else {
        return Err(Finding::skip(
            "MemTotal or Hugepagesize unknown (/proc/meminfo not readable)",
        ));
    };
    let nodes = engine_numa_nodes(cfg, &|e| detected_numa_node(ctx.facts, cfg, e));
    // DAOS sizes the RAM-disk after SetNrHugepages has set nr_hugepages (auto = minimum)
    let pages = if cfg.disable_hugepages {
        0
    } else {
        hugepage_plan(cfg, ctx.daos_version, size, &nodes)
            .map(|p| p.pages)
            .unwrap_or(u64::try_from(cfg.nr_hugepages).unwrap_or(0))
    };
    ramdisk_plan(cfg, ctx.daos_version, total, size, pages).ok_or_else(|| {
        Finding::skip("engine 0's SCM tier is not class ram (dcpm or none): no RAM-disk to size")
    })
}

fn arithmetic(p: &RamdiskPlan) -> String {
    format!(
        "MemTotal {} − (hugepages {} + system_ram_reserved {} GiB{} + {} engine(s) × {}) = {}",
        gib(p.mem_total),
        gib(p.mem_huge),
        p.sys_reserved_gib,
        if p.sys_reserved_is_default {
            " (default)"
        } else {
            ""
        },
        p.engines,
        gib(p.engine_reserved),
        match p.mem_total.checked_sub(p.reserved()) {
            Some(r) => format!("{} for RAM-disks", gib(r)),
            None => format!("−{} (nothing left)", gib(p.reserved() - p.mem_total)),
        }
    )
}

/// `memory.ramdisk`
pub struct Ramdisk;

impl Check for Ramdisk {
    fn id(&self) -> &'static str {
        "memory.ramdisk"
    }
    fn title(&self) -> &'static str {
        "RAM-disk SCM fits in memory"
    }
    fn explain(&self) -> &'static str {
        "For engines whose SCM tier is class ram, DAOS sizes a tmpfs per engine: (MemTotal − \
hugepage memory − system_ram_reserved − engines × max(targets × 128 MiB, 1 GiB)) / engines \
(src/control/server/storage/scm.go CalcRamdiskSize). It refuses to start when that is below \
4 GiB (code.ScmRamdiskLowMem) or below a configured scm_size \
(code.ServerConfigRamdiskOverMaxMem). system_ram_reserved defaults to 16 GiB in 2.6 and 64 GiB \
in 2.8. The finding shows the arithmetic and the smallest change that fits.\n\
skip: no server configuration, or SCM is not a RAM-disk."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let p = match plan(ctx) {
            Ok(p) => p,
            Err(f) => return f,
        };
        let math = arithmetic(&p);
        let base = |f: Finding| {
            f.detail("arithmetic", &math)
                .detail("plan", &p)
                .detail("mem_needed_bytes", p.mem_needed)
        };
        if p.fits() {
            let size = match p.configured_gib {
                Some(g) => format!("scm_size {g} GiB per engine"),
                None => format!("auto-sized {} per engine", gib(p.per_engine)),
            };
            let max = p.max_per_engine.unwrap_or(0);
            return base(Finding::pass(format!(
                "RAM-disk {size} fits (max {}): {math}",
                gib(max)
            )));
        }
        let mut options = Vec::new();
        if let Some(s) = p.fitting_sys_reserved_gib()
            && s < p.sys_reserved_gib
        {
            options.push(format!("lower system_ram_reserved to {s}"));
        }
        if p.configured_gib.is_some()
            && let Some(g) = p.fitting_scm_size_gib()
        {
            options.push(format!("lower scm_size to {g}"));
        }
        options.push(format!("give the host MemTotal ≥ {}", gib(p.mem_needed)));
        let wanted = match p.configured_gib {
            Some(g) => format!("scm_size {g} GiB × {} engine(s)", p.engines),
            None => format!("the 4 GiB minimum RAM-disk × {} engine(s)", p.engines),
        };
        let (fault, cause) = match p.max_per_engine {
            Some(max) if max >= crate::daos::requirements::MIN_RAMDISK => (
                "code.ServerConfigRamdiskOverMaxMem",
                format!("the largest RAM-disk is {} per engine", gib(max)),
            ),
            _ => (
                "code.ScmRamdiskLowMem",
                "less than the 4 GiB minimum RAM-disk is left".to_string(),
            ),
        };
        base(
            Finding::fail(format!(
                "needs MemTotal ≥ {} for {wanted}; host has {}: {cause}; {}",
                gib(p.mem_needed),
                gib(p.mem_total),
                options.join(" or ")
            ))
            .fault(fault)
            .fix(
                "make the RAM-disk fit: change daos_server.yml or add memory",
                &options,
                false,
            ),
        )
    }
}

/// `memory.available`
pub struct Available;

impl Check for Available {
    fn id(&self) -> &'static str {
        "memory.available"
    }
    fn title(&self) -> &'static str {
        "MemAvailable covers the RAM-disks"
    }
    fn explain(&self) -> &'static str {
        "At engine start, after hugepages are allocated, DAOS requires MemAvailable to cover 90% \
of the engines' RAM-disks (src/control/server/server_utils.go checkMemForRamdisk, \
code.ScmRamdiskLowMem). Hugepages not yet allocated are subtracted from today's MemAvailable \
first.\n\
pass: enough. fail: the engine would refuse to start. skip: no RAM-disk, or it doesn't fit \
at all (see memory.ramdisk)."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let p = match plan(ctx) {
            Ok(p) => p,
            Err(f) => return f,
        };
        if !p.fits() {
            return Finding::skip("the RAM-disk does not fit in MemTotal (see memory.ramdisk)");
        }
        let m = &ctx.facts.memory;
        let Some(avail_kib) = m.mem_available_kib else {
            return Finding::skip(
                "MemAvailable unknown (kernel < 3.14 or /proc/meminfo unreadable)",
            );
        };
        let size = m.hugepage_size_kib.unwrap_or(0) * 1024;
        let have_pages = m.hugepages_total.unwrap_or(0);
        let want_pages = p.mem_huge / size.max(1);
        let to_allocate = want_pages.saturating_sub(have_pages) * size;
        let avail = (avail_kib * 1024).saturating_sub(to_allocate);
        let needed = mem_available_needed(&p);
        let math = format!(
            "MemAvailable {}{} = {} vs 90% of {} engine(s) × {} RAM-disk = {}",
            gib(avail_kib * 1024),
            if to_allocate > 0 {
                format!(" − {} hugepages still to allocate", gib(to_allocate))
            } else {
                String::new()
            },
            gib(avail),
            p.engines,
            gib(p.per_engine),
            gib(needed)
        );
        let f = if avail >= needed {
            Finding::pass(math.clone())
        } else {
            Finding::fail(format!("{math}: the engine would refuse to start"))
                .fault("code.ScmRamdiskLowMem")
                .fix(
                    "free memory (stop other services) or lower scm_size",
                    &[],
                    false,
                )
        };
        f.detail("arithmetic", &math)
            .detail("mem_available_after_hugepages_bytes", avail)
            .detail("needed_bytes", needed)
    }
}
