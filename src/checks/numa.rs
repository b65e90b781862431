//! `numa.topology`: nodes, their CPUs and memory.
//!
//! DAOS pins each engine to a NUMA node (`pinned_numa_node`) and splits hugepages across
//! the engines' nodes, so the topology must be visible and every node an engine could use
//! must have both CPUs and memory.

use super::{Check, Context, Finding, human_kib};
use crate::facts::parse::format_cpulist;

/// `numa.topology`
pub struct Topology;

impl Check for Topology {
    fn id(&self) -> &'static str {
        "numa.topology"
    }
    fn title(&self) -> &'static str {
        "NUMA topology"
    }
    fn explain(&self) -> &'static str {
        "Reads /sys/devices/system/node: which nodes are online, their CPUs and memory. DAOS \
binds each engine to a node and allocates its hugepages there.\n\
pass: every node has CPUs and memory. warn: memory-only nodes (CXL, HBM, GPU memory) or \
CPU nodes without memory, which can't host an engine; or a kernel without NUMA information. \
skip: no sysfs visible."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let f = ctx.facts;
        if !f.source.sysfs {
            return Finding::skip("no sysfs visible: NUMA topology can't be read");
        }
        let nodes = &f.numa.nodes;
        if nodes.is_empty() {
            return Finding::warn(
                "the kernel exposes no NUMA nodes (/sys/devices/system/node missing): DAOS will treat the host as node 0",
            )
            .fix(
                "boot a kernel with CONFIG_NUMA (every distribution kernel has it); check numa=off is not on the command line",
                &["cat /proc/cmdline".to_string()],
                true,
            );
        }
        let describe: Vec<String> = nodes
            .iter()
            .map(|n| {
                format!(
                    "node{} {} CPU(s) [{}] {}",
                    n.id,
                    n.cpus.len(),
                    format_cpulist(&n.cpus),
                    n.mem_total_kib
                        .map(human_kib)
                        .unwrap_or_else(|| "? memory".into())
                )
            })
            .collect();
        let memory_only: Vec<u32> = nodes
            .iter()
            .filter(|n| n.cpus.is_empty() && n.mem_total_kib.unwrap_or(0) > 0)
            .map(|n| n.id)
            .collect();
        let cpu_only: Vec<u32> = nodes
            .iter()
            .filter(|n| !n.cpus.is_empty() && n.mem_total_kib.unwrap_or(0) == 0)
            .map(|n| n.id)
            .collect();
        let finding = if !memory_only.is_empty() || !cpu_only.is_empty() {
            let mut parts = Vec::new();
            if !memory_only.is_empty() {
                parts.push(format!("memory-only node(s) {memory_only:?}"));
            }
            if !cpu_only.is_empty() {
                parts.push(format!("node(s) without memory {cpu_only:?}"));
            }
            Finding::warn(format!(
                "{} NUMA node(s) with {}: an engine can't be pinned there",
                nodes.len(),
                parts.join(" and ")
            ))
            .fix(
                "pin engines (pinned_numa_node) only to nodes that have both CPUs and memory",
                &[],
                false,
            )
        } else {
            Finding::pass(format!(
                "{} NUMA node(s): {}",
                nodes.len(),
                describe.join("; ")
            ))
        };
        finding
            .detail("online", &f.numa.online)
            .detail("nodes", &describe)
            .detail("memory_only_nodes", &memory_only)
            .detail("nodes_without_memory", &cpu_only)
    }
}
