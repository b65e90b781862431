//! `hugepages.total`, `hugepages.numa` and `hugepages.thp`.

use super::config::{detected_numa_node, server_for_requirements};
use super::hugepage_holders::StartJudgement;
use super::{Check, Context, Finding, human_kib};
use crate::daos::DaosVersion;
use crate::daos::hugepage_start::StartOutcome;
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
Then it judges what DAOS will get when it starts the engines: HugePages_Free as daos_server \
reads it (server_utils.go updateHugeMemValues in 2.4/2.6, setEngineMemSize in 2.8, \
updateMemValues in 2.2), after its prepare sets each engine node's pool (≤2.6: exactly the \
share, via SPDK scripts/setup.sh; 2.8: never shrinking) and after it removes the hugepage \
files of SPDK processes that no longer run (spdk_pid<N>map* directly in /dev/hugepages, \
bdev/backend.go createHugepageWalkFunc), minus HugePages_Rsvd; and it names who holds the \
rest: processes (HugetlbPages of /proc/PID/status, live only), hugetlbfs files, reserved \
pages.\n\
pass: the pool covers it and the engines get what they want at start. warn: fewer now, but \
the memory is there (daos_server allocates at start; fragmentation can make that fail), \
nr_hugepages below DAOS's minimum, or (2.4–2.8) the engines start with less than they want \
because others hold pages (DAOS only logs a NOTICE). fail: more than MemTotal; DAOS 2.0/2.2 \
refuse (code.ServerInsufficientFreeHugePages / code.ServerInsufficientFreeHugePageMem, \
609); or an engine exits at start (2.4/2.6 bio_nvme_init: under 256 MiB per target; the \
targets' first DMA chunks can't be allocated)."
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
        let mut info = Vec::new();
        let start = StartJudgement::of(ctx, cfg, &plan);
        if let Some(start) = &start {
            let v = ctx.daos_version;
            let view = &start.view;
            let held = start.holders_line(ctx);
            let finding = match view.outcome {
                StartOutcome::Fails => {
                    let mut x = Finding::fail(format!(
                        "DAOS {v} will not start the engines: {}; held: {held}; {}",
                        view.failure.as_deref().unwrap_or(""),
                        view.arithmetic
                    ));
                    if let Some(c) = &view.fault_code {
                        x = x.fault(c);
                    }
                    Some(x)
                }
                StartOutcome::Reduced => {
                    let mem = view
                        .engines
                        .iter()
                        .map(|e| format!("engine {} mem_size {} MiB", e.index, e.mem_size_mib))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let log = if view
                        .engines
                        .iter()
                        .any(|e| view.free_at_start < e.want_pages)
                    {
                        "only a NOTICE in its log".to_string()
                    } else {
                        format!(
                            "DAOS counts the {} reserved pages as free and logs nothing",
                            view.reserved
                        )
                    };
                    Some(Finding::warn(format!(
                        "DAOS {v} starts the engines with {} of the {} hugepages they want ({mem}; {log}): held: {held}; {}",
                        view.usable_at_start, view.want_total, view.arithmetic
                    )))
                }
                StartOutcome::Full => {
                    info.push(if view.reclaimed > 0 {
                        format!(
                            "{} pages of stale SPDK files come back when daos_server removes them; {}",
                            view.reclaimed, view.arithmetic
                        )
                    } else {
                        view.arithmetic.clone()
                    });
                    None
                }
            };
            if let Some(x) = finding {
                return start.details(start.remediation(ctx, base(x)));
            }
        }
        let with_start = |f: Finding| match &start {
            Some(s) => s.details(base(f)),
            None => base(f),
        };
        if have >= want {
            let f = if notes.is_empty() {
                info.insert(0, plan.arithmetic.clone());
                Finding::pass(format!(
                    "{have} hugepages ≥ {want} needed: {}",
                    info.join("; ")
                ))
            } else {
                Finding::warn(notes.join("; "))
            };
            return with_start(f);
        }
        let _ = cfg;
        notes.insert(
            0,
            format!(
                "{have} hugepages now, {want} needed: daos_server allocates them at start, which can fail on a fragmented host; reserve them at boot ({})",
                plan.arithmetic
            ),
        );
        with_start(Finding::warn(notes.join("; ")).fix(
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
Each node's pool is also judged as daos_server leaves it at start: pages others hold on the node are not free for the engine (2.8's setEngineMemSize then takes memory across NUMA nodes).\n\
pass: every engine node has its share free at start. warn: not yet allocated, but the node has the memory (daos_server allocates at start), or others hold part of the node's pages. fail: the node can't hold its share, or does not exist. \
skip: no server configuration, no bdevs, or no per-node information."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let (cfg, plan) = match plan_for(ctx) {
            Ok((cfg, Some(p))) => (cfg, p),
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
        let start = StartJudgement::of(ctx, cfg, &plan);
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
            let at_start = start
                .as_ref()
                .and_then(|s| s.view.nodes.iter().find(|n| n.node == Some(*id)));
            let mem_short = node.mem_total_kib.is_some_and(|t| t < want * size);
            if let Some(n) = at_start.filter(|n| n.free_at_start < want && !mem_short) {
                let reclaimed = start.as_ref().map_or(0, |s| s.view.reclaimed);
                let held = format!(
                    "node {id}: {} of {want} pages free at start ({} in use by others)",
                    n.free_at_start, n.in_use
                );
                if want - n.free_at_start <= reclaimed {
                    lines.push(format!(
                        "{held}; the {reclaimed} pages of stale SPDK files daos_server removes cover it if they are on this node"
                    ));
                } else {
                    warns.push(format!(
                        "{held}: the engine's memory comes from other nodes or is short"
                    ));
                }
            } else if have >= want {
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
        } else if let Some(s) = start
            .as_ref()
            .filter(|_| warns.iter().any(|w| w.contains("in use by others")))
        {
            s.remediation(ctx, Finding::warn(summary))
        } else if !warns.is_empty() {
            Finding::warn(summary).fix(
                format!("reserve {want} hugepages on each engine node"),
                &actions,
                false,
            )
        } else {
            Finding::pass(summary)
        };
        let f = f
            .detail("arithmetic", &plan.arithmetic)
            .detail("per_node_pages", want)
            .detail("nodes", &all)
            .detail("plan", &plan);
        match &start {
            Some(s) => s.details(f),
            None => f,
        }
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
