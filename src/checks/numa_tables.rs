//! `numa.consistency`: whether the NUMA tables the firmware gave the kernel hold
//! together — the node CPU masks (ACPI SRAT processor affinity), the node memory (SRAT
//! memory affinity) and the distance matrix (ACPI SLIT) — as
//! `/sys/devices/system/node` shows them.
//!
//! Why DAOS cares: the engine builds its topology with hwloc (src/engine/init.c
//! `dss_topo_init`, v2.6.0), takes its NUMA node by index among hwloc's nodes (refusing
//! an index above their count: "Invalid NUMA node selected") and runs its xstreams on the
//! cores inside that node's cpuset; the control plane writes each engine's hugepages to
//! `nodeN/hugepages` (server_utils.go `SetHugeNodes`). hwloc merges nodes with the same
//! CPUs and does not accept overlapping ones (its test machines
//! linux_8em64t-2s2ca2c-buggynuma — "all of them get merged" — and
//! linux_fakeheterocpunuma, which needs `HWLOC_DEBUG_ALLOW_OVERLAPPING_NODE_CPUSETS`), so
//! the engine's view and `pinned_numa_node` stop agreeing.
//!
//! The SLIT rules are Linux's own (drivers/acpi/numa/srat.c `slit_valid`: the diagonal
//! is 10, LOCAL_DISTANCE, and every other entry above 10; a table breaking them is "not
//! used"), so a matrix in sysfs that breaks them did not come from a valid SLIT.
//! `nodeN/distance` prints one entry per online node (Documentation/ABI/stable/
//! sysfs-devices-node).

use std::collections::BTreeSet;

use super::config::server_for_requirements;
use super::locality::engine_nodes;
use super::{Check, Context, Finding, human_kib};
use crate::facts::parse::{format_cpulist, parse_cpulist};
use crate::facts::{Facts, Numa};

/// Node memory may add up to a little more than MemTotal: older kernels count a node's
/// present pages, MemTotal only the pages the kernel manages (the hwloc corpus's 39 NUMA
/// machines are 0.2–2.7 % above). Beyond this share, memory ranges are claimed twice.
const MEMORY_SUM_TOLERANCE_PERCENT: u64 = 10;

/// One inconsistency, in the firmware's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inconsistency {
    /// `srat-cpus-all`, `srat-cpus-overlap`, `srat-memory`, `slit-size`, `slit-diagonal`,
    /// `slit-local`, `slit-asymmetric`, `cpus-without-node`.
    pub kind: &'static str,
    /// Nodes involved.
    pub nodes: Vec<u32>,
    /// One line.
    pub message: String,
}

fn ids(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// Everything inconsistent in the node tables (`mem_total_kib`: `/proc/meminfo`).
pub fn inconsistencies(numa: &Numa, mem_total_kib: Option<u64>) -> Vec<Inconsistency> {
    let mut out = Vec::new();
    let nodes = &numa.nodes;
    let with_cpus: Vec<_> = nodes.iter().filter(|n| !n.cpus.is_empty()).collect();
    let all: BTreeSet<u32> = nodes.iter().flat_map(|n| n.cpus.iter().copied()).collect();
    let all_cover = with_cpus.len() > 1
        && with_cpus.len() == nodes.len()
        && with_cpus.iter().all(|n| n.cpus.len() == all.len());
    if all_cover {
        let all: Vec<u32> = all.iter().copied().collect();
        out.push(Inconsistency {
            kind: "srat-cpus-all",
            nodes: nodes.iter().map(|n| n.id).collect(),
            message: format!(
                "all {} nodes claim every CPU ({}): the SRAT gives each processor to every proximity domain, and hwloc merges such nodes into one",
                nodes.len(),
                format_cpulist(&all)
            ),
        });
    } else {
        let (mut pairs, mut involved) = (Vec::new(), BTreeSet::new());
        for (i, a) in with_cpus.iter().enumerate() {
            for b in &with_cpus[i + 1..] {
                let shared: Vec<u32> = a
                    .cpus
                    .iter()
                    .copied()
                    .filter(|c| b.cpus.binary_search(c).is_ok())
                    .collect();
                if !shared.is_empty() {
                    pairs.push(format!(
                        "nodes {} and {} both claim CPUs {}",
                        a.id,
                        b.id,
                        format_cpulist(&shared)
                    ));
                    involved.extend([a.id, b.id]);
                }
            }
        }
        if !pairs.is_empty() {
            out.push(Inconsistency {
                kind: "srat-cpus-overlap",
                nodes: involved.into_iter().collect(),
                message: format!(
                    "{}: SRAT processor affinity gives the same processors to several proximity domains, and hwloc does not accept overlapping nodes",
                    pairs.join(", ")
                ),
            });
        }
    }
    let sum: u64 = nodes.iter().filter_map(|n| n.mem_total_kib).sum();
    if let Some(total) = mem_total_kib.filter(|t| *t > 0)
        && sum * 100 > total * (100 + MEMORY_SUM_TOLERANCE_PERCENT)
    {
        out.push(Inconsistency {
            kind: "srat-memory",
            nodes: nodes.iter().map(|n| n.id).collect(),
            message: format!(
                "the nodes' memory adds up to {} ({}.{}× MemTotal {}): SRAT memory affinity ranges are claimed by more than one proximity domain",
                human_kib(sum),
                sum / total,
                (sum % total) * 10 / total,
                human_kib(total)
            ),
        });
    }
    if nodes.len() > 1 {
        out.extend(distance_problems(numa));
    }
    if let Some(online) = numa
        .online_cpus
        .as_deref()
        .and_then(|l| parse_cpulist(l).ok())
        && !nodes.is_empty()
    {
        let orphans: Vec<u32> = online.into_iter().filter(|c| !all.contains(c)).collect();
        if !orphans.is_empty() {
            out.push(Inconsistency {
                kind: "cpus-without-node",
                nodes: vec![],
                message: format!(
                    "online CPUs {} belong to no online node (the SRAT puts them in a proximity domain that is missing or offline): no pinned engine can use them",
                    format_cpulist(&orphans)
                ),
            });
        }
    }
    out
}

/// The SLIT rules on the matrix of `nodeN/distance` rows (nodes with a row only).
fn distance_problems(numa: &Numa) -> Vec<Inconsistency> {
    let mut out = Vec::new();
    let nodes = &numa.nodes;
    let n = nodes.len();
    let rows: Vec<(u32, &Vec<u32>)> = nodes
        .iter()
        .filter_map(|x| Some((x.id, x.distances.as_ref()?)))
        .collect();
    let bad_size: Vec<u32> = rows
        .iter()
        .filter(|(_, r)| r.len() != n)
        .map(|(id, _)| *id)
        .collect();
    if !bad_size.is_empty() {
        out.push(Inconsistency {
            kind: "slit-size",
            nodes: bad_size.clone(),
            message: format!(
                "the distance rows of node(s) {} do not have one entry per online node ({n})",
                ids(&bad_size)
            ),
        });
        return out;
    }
    if rows.len() != n {
        return out;
    }
    let (mut diagonal, mut local, mut asym) = (vec![], vec![], vec![]);
    for (i, (a, ra)) in rows.iter().enumerate() {
        if ra[i] != 10 {
            diagonal.push(format!("node {a}: {}", ra[i]));
        }
        for (j, (b, rb)) in rows.iter().enumerate() {
            if i != j && ra[j] <= 10 && i < j {
                local.push(format!("{a}↔{b}: {}", ra[j]));
            }
            if i < j && ra[j] != rb[i] {
                asym.push(format!("{a}→{b} {} but {b}→{a} {}", ra[j], rb[i]));
            }
        }
    }
    let all_ids: Vec<u32> = rows.iter().map(|(id, _)| *id).collect();
    let short = |v: &[String]| {
        let mut s = v.iter().take(4).cloned().collect::<Vec<_>>().join(", ");
        if v.len() > 4 {
            s.push_str(&format!(" and {} more", v.len() - 4));
        }
        s
    };
    if !diagonal.is_empty() {
        out.push(Inconsistency {
            kind: "slit-diagonal",
            nodes: all_ids.clone(),
            message: format!(
                "distance of a node to itself is not 10 ({}): the SLIT's diagonal must be 10",
                short(&diagonal)
            ),
        });
    }
    if !local.is_empty() {
        out.push(Inconsistency {
            kind: "slit-local",
            nodes: all_ids.clone(),
            message: format!(
                "remote distances of 10 or less ({}): other nodes claim to be as near as local memory, which Linux refuses in an ACPI SLIT",
                short(&local)
            ),
        });
    }
    if !asym.is_empty() {
        out.push(Inconsistency {
            kind: "slit-asymmetric",
            nodes: all_ids,
            message: format!("distances are not symmetric ({})", short(&asym)),
        });
    }
    out
}

/// `numa.consistency`
pub struct Consistency;

impl Check for Consistency {
    fn id(&self) -> &'static str {
        "numa.consistency"
    }
    fn title(&self) -> &'static str {
        "NUMA tables (SRAT/SLIT) hold together"
    }
    fn explain(&self) -> &'static str {
        "Judges what the firmware's NUMA tables gave the kernel, as /sys/devices/system/node \
shows them: node CPU masks that overlap or all cover every CPU (ACPI SRAT processor affinity), \
node memory adding up to more than MemTotal by over 10 % (SRAT memory affinity ranges claimed \
twice; older kernels count a little more per node, hence the margin), a distance matrix \
(ACPI SLIT, nodeN/distance) of the wrong size, not 10 on the diagonal, 10 or less off it, or \
not symmetric (Linux's drivers/acpi/numa/srat.c slit_valid refuses the first two), and \
online CPUs in no online node. DAOS's engine takes its topology from hwloc (src/engine/init.c \
dss_topo_init) and runs on the cores of its node's cpuset; hwloc merges nodes with the same \
CPUs and rejects overlapping ones, so an engine pinned with pinned_numa_node (or placed by \
first_core) lands on other CPUs than the sysfs node, or is refused (\"Invalid NUMA node \
selected\"), and the hugepages DAOS writes to nodeN/hugepages land on memory that is not that \
node's. The fix is in the firmware (BIOS NUMA/SNC/interleave settings, a BIOS update). \
Gaps in the kernel's node numbering (nodes 0-2,33-34) are judged against the engines: \
daos_server hands each engine its node as the kernel numbers it, and the engine reads that \
number as a position among hwloc's nodes (dss_topo_init), so a node past the count is refused, \
one equal to it indexes past the engine's table, and a lower one is another node.\n\
pass: consistent. warn: an inconsistency, or an engine whose node number is another node's \
position. fail: every node claims every CPU and an engine is pinned to a node above 0 (hwloc \
shows the engine a single node), or an engine's node number is past the node count. skip: no \
sysfs, or no NUMA nodes."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let f = ctx.facts;
        if !f.source.sysfs {
            return Finding::skip("no sysfs visible: NUMA tables can't be read");
        }
        if f.numa.nodes.is_empty() {
            return Finding::skip("the kernel exposes no NUMA nodes (see numa.topology)");
        }
        let found = inconsistencies(&f.numa, f.memory.mem_total_kib);
        let mut kinds: Vec<&str> = found.iter().map(|i| i.kind).collect();
        let numbering = engine_index_problems(ctx, f);
        if !numbering.1.is_empty() {
            kinds.push("node-ids-sparse");
        }
        if found.is_empty() && numbering.1.is_empty() {
            let distances = if f.numa.nodes.len() == 1 {
                "not judged (one node)"
            } else if f.numa.nodes.iter().any(|n| n.distances.is_none()) {
                "not given (no nodeN/distance)"
            } else {
                "valid"
            };
            return Finding::pass(format!(
                "{} node(s): CPU masks disjoint, memory within MemTotal, distances {distances}",
                f.numa.nodes.len(),
            ))
            .detail("inconsistencies", &kinds);
        }
        let affected: BTreeSet<u32> = found.iter().flat_map(|i| i.nodes.clone()).collect();
        let engines = engine_consequences(ctx, f, &affected, kinds.contains(&"srat-cpus-all"));
        let mut summary: Vec<String> = found.iter().map(|i| i.message.clone()).collect();
        summary.extend(engines.1.iter().cloned());
        summary.extend(numbering.1.iter().cloned());
        let actions = vec![
            "dmesg | grep -iE 'SRAT|SLIT|NUMA'   # what the kernel made of the tables".to_string(),
            "numactl --hardware   # the nodes, CPUs, memory and distances as Linux uses them"
                .to_string(),
            "update the BIOS, and check its NUMA / sub-NUMA clustering / memory interleave settings"
                .to_string(),
        ];
        let finding = if engines.0 || numbering.0 {
            Finding::fail(summary.join("; "))
        } else {
            Finding::warn(summary.join("; "))
        };
        let fix = if found.is_empty() {
            "DAOS's engine counts NUMA nodes 0, 1, 2 … while the kernel numbers them with gaps: run engines only on nodes whose number is their position (numactl --hardware), or make the numbering dense in the BIOS (sub-NUMA clustering, memory-only or CXL nodes)"
        } else {
            "the firmware's NUMA description is wrong: fix it in the BIOS (or pin engines only to nodes it describes correctly)"
        };
        finding
            .fix(fix, &actions, true)
            .detail("inconsistencies", &kinds)
            .detail("affected_nodes", &affected)
            .detail("engines", &engines.1)
            .detail("node_numbering", &numbering.1)
    }
}

/// Engines whose node number is not the engine's own index of it: (fatal, lines).
///
/// daos_server passes each engine's node as the kernel numbers it (`-p`, from
/// `pinned_numa_node` or the fabric interface's sysfs `numa_node`: config/server.go
/// `SetEngineAffinities`), and the engine reads it as an index into hwloc's NUMA nodes,
/// which hwloc numbers 0, 1, 2 … (src/engine/init.c `dss_topo_init`, v2.6.0:
/// `dss_numa[dss_numa_node]` after `if (dss_numa_node > numa_node_nr)`). With gaps in
/// the kernel's numbering (nodes 0-2,33-34), node 33 is refused ("Invalid NUMA node
/// selected"), a node equal to the count passes that test and reads past the table, and
/// a lower number means another node than the kernel's. Engines on the legacy core
/// allocation (first_core) get no `-p` and are not judged.
fn engine_index_problems(ctx: &Context, f: &Facts) -> (bool, Vec<String>) {
    let mut ids: Vec<u32> = f.numa.nodes.iter().map(|n| n.id).collect();
    ids.sort_unstable();
    let dense = ids.iter().enumerate().all(|(i, id)| *id as usize == i);
    let Ok(cfg) = server_for_requirements(ctx) else {
        return (false, vec![]);
    };
    if dense {
        return (false, vec![]);
    }
    let count = ids.len();
    let mut fatal = false;
    let mut lines = Vec::new();
    for (i, e) in engine_nodes(f, cfg).iter().enumerate() {
        let Some(node) = e.node else { continue };
        if e.how.starts_with("legacy") {
            continue;
        }
        let k = node as usize;
        let shown = format!("engine {i} is on node {node} ({})", e.how);
        if k > count {
            fatal = true;
            lines.push(format!("{shown}, but the kernel numbers its {count} nodes {} and DAOS's engine counts them 0 to {}: it refuses node {node} (\"Invalid NUMA node selected\") and does not start", format_cpulist(&ids), count - 1));
        } else if k == count {
            fatal = true;
            lines.push(format!("{shown}, but DAOS's engine counts the {count} nodes 0 to {}: node {node} passes its bound check and indexes past its node table (undefined: a crash or arbitrary CPUs)", count - 1));
        } else if ids[k] != node {
            lines.push(format!("{shown}, but DAOS's engine counts nodes by position, and position {k} is the kernel's node {}: its xstreams run on node {}'s CPUs while its hugepages and NIC are on node {node}", ids[k], ids[k]));
        }
    }
    (fatal, lines)
}

/// What the inconsistencies do to the configured engines: (fatal, lines).
fn engine_consequences(
    ctx: &Context,
    f: &Facts,
    affected: &BTreeSet<u32>,
    all_cover: bool,
) -> (bool, Vec<String>) {
    let Ok(cfg) = server_for_requirements(ctx) else {
        return (false, vec![]);
    };
    let mut fatal = false;
    let mut lines = Vec::new();
    for (i, e) in engine_nodes(f, cfg).iter().enumerate() {
        let Some(node) = e.node else { continue };
        if all_cover && node > 0 && cfg.engines[i].pinned_numa_node.is_some() {
            fatal = true;
            lines.push(format!(
                "engine {i} is pinned to node {node} ({}), but hwloc shows DAOS's engine a single merged node: it is refused (\"Invalid NUMA node selected\") or indexes past its node table",
                e.how
            ));
        } else if affected.contains(&node) {
            lines.push(format!(
                "engine {i} is on affected node {node} ({}): its cores and hugepages follow these tables",
                e.how
            ));
        }
    }
    (fatal, lines)
}
