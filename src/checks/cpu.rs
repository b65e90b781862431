//! `cpu.cores`: each engine needs 2 + targets + nr_xs_helpers cores on its NUMA node (or,
//! with `first_core`, from that core up on the host). DAOS finds out late: the engine
//! fails after the control plane has started.

use std::collections::BTreeMap;

use super::config::{detected_numa_node, server_for_requirements};
use super::{Check, Context, Finding};
use crate::daos::requirements::{engine_cores_needed, engine_numa_nodes};

/// `cpu.cores`
pub struct Cores;

impl Check for Cores {
    fn id(&self) -> &'static str {
        "cpu.cores"
    }
    fn title(&self) -> &'static str {
        "Cores for the engines"
    }
    fn explain(&self) -> &'static str {
        "Each engine runs 2 + targets + nr_xs_helpers xstreams, one per core, on its NUMA node \
(pinned_numa_node, or the node of its fabric interface), or with first_core (legacy \
allocation) on consecutive cores from first_core. Counts logical CPUs from sysfs: with SMT, \
DAOS places xstreams on physical cores, so the real headroom is smaller.\n\
pass: enough CPUs. fail: the engine would fail at start. skip: no server configuration or no \
NUMA information."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let cfg = match server_for_requirements(ctx) {
            Ok(c) => c,
            Err(f) => return f,
        };
        let nodes = &ctx.facts.numa.nodes;
        if nodes.is_empty() {
            return Finding::skip("no NUMA/CPU information visible (/sys/devices/system/node)");
        }
        let host_cpus: usize = nodes.iter().map(|n| n.cpus.len()).sum();
        let legacy = cfg.engines.iter().any(|e| {
            e.first_core
                .is_some_and(|c| !(c == 0 && e.pinned_numa_node.is_some()))
        });
        let mut lines = Vec::new();
        let mut fails = Vec::new();
        if legacy {
            for (i, e) in cfg.engines.iter().enumerate() {
                let need = engine_cores_needed(e) as usize;
                let first = usize::try_from(e.first_core.unwrap_or(0)).unwrap_or(0);
                let line = format!(
                    "engine {i}: 2 + {} targets + {} helpers = {need} cores from core {first} (cores {first}-{}); host has {host_cpus} CPUs",
                    e.targets,
                    e.nr_xs_helpers,
                    first + need - 1
                );
                if first + need > host_cpus {
                    fails.push(line.clone());
                }
                lines.push(line);
            }
        } else {
            let engine_nodes = engine_numa_nodes(cfg, &|e| detected_numa_node(ctx.facts, cfg, e));
            let mut per_node: BTreeMap<u32, (usize, Vec<usize>)> = BTreeMap::new();
            for (i, (e, n)) in cfg.engines.iter().zip(&engine_nodes).enumerate() {
                let slot = per_node.entry(*n).or_default();
                slot.0 += engine_cores_needed(e) as usize;
                slot.1.push(i);
            }
            // A single unpinned engine on node 0 uses DAOS's legacy allocation over the
            // whole host (config/server.go SetEngineAffinities special case).
            let single_unpinned =
                cfg.engines.len() == 1 && cfg.engines[0].pinned_numa_node.is_none();
            for (node, (need, engines)) in &per_node {
                let have = if single_unpinned && *node == 0 {
                    host_cpus
                } else {
                    nodes
                        .iter()
                        .find(|n| n.id == *node)
                        .map_or(0, |n| n.cpus.len())
                };
                let parts: Vec<String> = engines
                    .iter()
                    .map(|i| {
                        let e = &cfg.engines[*i];
                        format!(
                            "engine {i}: 2 + {} targets + {} helpers = {}",
                            e.targets,
                            e.nr_xs_helpers,
                            engine_cores_needed(e)
                        )
                    })
                    .collect();
                let place = if single_unpinned && *node == 0 {
                    "the host (unpinned single engine)".to_string()
                } else {
                    format!("NUMA node {node}")
                };
                let line = format!(
                    "{} → {need} cores on {place}, which has {have} CPUs",
                    parts.join("; ")
                );
                if *need > have {
                    fails.push(line.clone());
                }
                lines.push(line);
            }
        }
        let f = if fails.is_empty() {
            Finding::pass(lines.join("; "))
        } else {
            Finding::fail(fails.join("; ")).fix(
                "lower targets or nr_xs_helpers, or spread the engines over NUMA nodes (pinned_numa_node)",
                &[],
                false,
            )
        };
        f.detail("engines", &lines).detail("host_cpus", host_cpus)
    }
}
