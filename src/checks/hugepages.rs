//! `hugepages.total`, `hugepages.numa` and `hugepages.thp`.

use super::config::{detected_numa_node, server_for_requirements};
use super::{Check, Context, Finding, human_kib};
use crate::daos::DaosVersion;
use crate::daos::requirements::{HugepagePlan, engine_numa_nodes, hugepage_plan};

/// DAOS fault code of the 2.8 THP refusal (src/control/server/faults.go
/// `FaultTransparentHugepageEnabled`).
pub const FAULT_THP_ENABLED: &str = "code.ServerTransparentHugepageEnabled";

/// `hugepages.total`
pub struct Total;

impl Check for Total {
    fn id(&self) -> &'static str {
        "hugepages.total"
    }
    fn title(&self) -> &'static str {
        "Hugepages for the DAOS engines"
    }
    fn explain(&self) -> &'static str {
        "Compares the hugepages the host has with what daos_server will need: 1 GiB of hugepage \
memory per target of every engine with bdevs, plus one per MD-on-SSD engine \
(src/control/server/storage/bdev.go CalcMinHugepages; 2.8 counts a 1-target engine as 2), in \
pages of Hugepagesize, or nr_hugepages when set; DAOS ≤2.6 adds 2 pages per engine. The \
requirement comes from daos_server.yml, so without a server configuration this check is \
skipped with the reason.\n\
pass: HugePages_Total covers it. warn: fewer now, but the memory is there (daos_server \
allocates at start; fragmentation can make that fail), or nr_hugepages below DAOS's minimum. \
fail: more than MemTotal."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let m = &ctx.facts.memory;
        let (cfg, plan) = match plan_for(ctx) {
            Ok(x) => x,
            Err(f) => {
                return f
                    .detail("hugepages_total", m.hugepages_total)
                    .detail("hugepage_size_kib", m.hugepage_size_kib);
            }
        };
        let Some(plan) = plan else {
            return Finding::pass("no engine has bdevs: DAOS needs no hugepages for its engines")
                .detail("hugepages_total", m.hugepages_total);
        };
        let size = plan.hugepage_size_kib;
        let have = m.hugepages_total.unwrap_or(0);
        let want = plan.total_pages;
        let mut notes = Vec::new();
        if plan.configured_pages != 0 && plan.configured_pages < plan.min_pages {
            notes.push(format!(
                "nr_hugepages {} is below the {} DAOS computes (DAOS only logs a notice; engines may run out of DMA memory)",
                plan.configured_pages, plan.min_pages
            ));
        }
        let base = |f: Finding| {
            f.detail("arithmetic", &plan.arithmetic)
                .detail("plan", &plan)
                .detail("hugepages_total", have)
                .detail("hugepage_size_kib", size)
        };
        let sysctl = format!("sysctl -w vm.nr_hugepages={want}   # now");
        let persist = format!(
            "echo 'vm.nr_hugepages = {want}' > /etc/sysctl.d/50-daos-hugepages.conf   # at boot"
        );
        let mem_needed_kib = want * size;
        if have >= want {
            let f = if notes.is_empty() {
                Finding::pass(format!(
                    "{have} hugepages ≥ {want} needed: {}",
                    plan.arithmetic
                ))
            } else {
                Finding::warn(notes.join("; "))
            };
            return base(f);
        }
        if m.mem_total_kib.is_some_and(|t| t < mem_needed_kib) {
            return base(
                Finding::fail(format!(
                    "{want} hugepages of {} ({}) needed, more than MemTotal {}: {}",
                    human_kib(size),
                    human_kib(mem_needed_kib),
                    human_kib(m.mem_total_kib.unwrap_or(0)),
                    plan.arithmetic
                ))
                .fix("lower targets or add memory", &[], false),
            );
        }
        let _ = cfg;
        notes.insert(
            0,
            format!(
                "{have} hugepages now, {want} needed: daos_server allocates them at start, which can fail on a fragmented host; reserve them at boot ({})",
                plan.arithmetic
            ),
        );
        base(Finding::warn(notes.join("; ")).fix(
            format!("reserve {want} hugepages of {}", human_kib(size)),
            &[sysctl, persist],
            false,
        ))
    }
}

/// The server config and its hugepage plan (`None`: no bdevs), or why there is none.
#[allow(clippy::result_large_err)] // the Err is the finding itself, returned once per check
fn plan_for<'a>(
    ctx: &Context<'a>,
) -> Result<(&'a crate::daos::config::ServerConfig, Option<HugepagePlan>), Finding> {
    let cfg = server_for_requirements(ctx)?;
    if cfg.disable_hugepages {
        return Err(Finding::skip(
            "disable_hugepages: true in daos_server.yml (config.server judges whether that is allowed)",
        ));
    }
    let Some(size) = ctx.facts.memory.hugepage_size_kib else {
        return Err(Finding::skip(
            "Hugepagesize unknown (/proc/meminfo not readable)",
        ));
    };
    let nodes = engine_numa_nodes(cfg, &|e| detected_numa_node(ctx.facts, cfg, e));
    Ok((cfg, hugepage_plan(cfg, ctx.daos_version, size, &nodes)))
}

/// `hugepages.numa`
pub struct Numa;

impl Check for Numa {
    fn id(&self) -> &'static str {
        "hugepages.numa"
    }
    fn title(&self) -> &'static str {
        "Hugepages on the engines' NUMA nodes"
    }
    fn explain(&self) -> &'static str {
        "DAOS splits the hugepage total evenly over the engines' NUMA nodes (src/control/server/server_utils.go prepBdevStorage: nr_hugepages / nodes, plus 2 extra per engine in 2.6; 2.8 SetHugeNodes: nr_hugepages / nodes, only growing a node's count, never shrinking it). An engine's memory comes from its own node, so a node short of pages (or of memory to hold them) starves that engine even when the system total looks fine.\n\
pass: every engine node has its share. warn: not yet allocated, but the node has the memory (daos_server allocates at start). fail: the node can't hold its share, or does not exist. \
skip: no server configuration, no bdevs, or no per-node information."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let plan = match plan_for(ctx) {
            Ok((_, Some(p))) => p,
            Ok((_, None)) => {
                return Finding::skip("no engine has bdevs: no hugepages needed on any node");
            }
            Err(f) => return f,
        };
        let nodes = &ctx.facts.numa.nodes;
        if nodes.is_empty() {
            return Finding::skip("no per-node hugepage information (/sys/devices/system/node)")
                .detail("arithmetic", &plan.arithmetic);
        }
        let size = plan.hugepage_size_kib;
        let want = plan.per_node_pages;
        let mut lines = Vec::new();
        let mut fails = Vec::new();
        let mut warns = Vec::new();
        for id in &plan.numa_nodes {
            let Some(node) = nodes.iter().find(|n| n.id == *id) else {
                fails.push(format!("NUMA node {id} does not exist on this host"));
                continue;
            };
            let have = node
                .hugepages
                .iter()
                .find(|p| p.size_kib == size)
                .and_then(|p| p.total)
                .unwrap_or(0);
            let line = format!("node {id}: {have} of {want} pages");
            if have >= want {
                lines.push(line);
            } else if node.mem_total_kib.is_some_and(|t| t < want * size) {
                fails.push(format!(
                    "{line}; the node has only {} of memory for {}",
                    human_kib(node.mem_total_kib.unwrap_or(0)),
                    human_kib(want * size)
                ));
            } else {
                warns.push(format!(
                    "{line} (daos_server will allocate the rest at start)"
                ));
            }
        }
        let all: Vec<String> = lines.iter().chain(&warns).chain(&fails).cloned().collect();
        let summary = format!("{}; {}", all.join("; "), plan.arithmetic);
        let actions: Vec<String> = plan
            .numa_nodes
            .iter()
            .map(|id| {
                format!(
                    "echo {want} > /sys/devices/system/node/node{id}/hugepages/hugepages-{size}kB/nr_hugepages"
                )
            })
            .collect();
        let f = if !fails.is_empty() {
            Finding::fail(summary).fix(
                "pin engines to nodes that exist and have the memory, or lower targets",
                &actions,
                false,
            )
        } else if !warns.is_empty() {
            Finding::warn(summary).fix(
                format!("reserve {want} hugepages on each engine node"),
                &actions,
                false,
            )
        } else {
            Finding::pass(summary)
        };
        f.detail("arithmetic", &plan.arithmetic)
            .detail("per_node_pages", want)
            .detail("nodes", &all)
            .detail("plan", &plan)
    }
}

/// `hugepages.thp`
pub struct Thp;

impl Check for Thp {
    fn id(&self) -> &'static str {
        "hugepages.thp"
    }
    fn title(&self) -> &'static str {
        "Transparent hugepages"
    }
    fn explain(&self) -> &'static str {
        "Reads /sys/kernel/mm/transparent_hugepage/enabled. DAOS 2.8 refuses to start unless \
THP is [never] (or allow_thp: true), because SPDK needs exclusive control of hugepages \
(src/control/server/server_utils.go; fault code.ServerTransparentHugepageEnabled). DAOS 2.6 \
starts with THP enabled, but khugepaged competes for the same memory.\n\
pass: never, or no THP in this kernel. fail (2.8 rules): always/madvise. warn (older \
rules): always/madvise. skip: no sysfs visible."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let f = ctx.facts;
        if !f.source.sysfs {
            return Finding::skip("no sysfs visible: THP mode can't be read");
        }
        let Some(mode) = f.thp.enabled.as_deref() else {
            return Finding::pass("this kernel has no transparent hugepage support");
        };
        if mode == "never" {
            return Finding::pass("transparent hugepages disabled ([never])")
                .detail("enabled", mode);
        }
        let actions = [
            "echo never > /sys/kernel/mm/transparent_hugepage/enabled   # now".to_string(),
            "grubby --update-kernel=ALL --args=\"transparent_hugepage=never\"   # at every boot"
                .to_string(),
        ];
        let finding = if ctx.daos_version >= DaosVersion::V2_8 {
            Finding::fail(format!(
                "transparent hugepages are [{mode}]: DAOS {} refuses to start unless THP is [never]",
                ctx.daos_version
            ))
            .fault(FAULT_THP_ENABLED)
        } else {
            Finding::warn(format!(
                "transparent hugepages are [{mode}]: DAOS {} starts, but THP competes with SPDK for hugepages and DAOS 2.8 refuses it",
                ctx.daos_version
            ))
        };
        finding
            .detail("enabled", mode)
            .detail("defrag", &f.thp.defrag)
            .fix(
                "set transparent hugepages to never, now and on the kernel command line",
                &actions,
                false,
            )
    }
}
