//! `limits.service`: the engines' cores, NUMA nodes and memory against what
//! daos_server will be allowed — `CPUAffinity=`, `AllowedCPUs=`, `AllowedMemoryNodes=`,
//! `MemoryMax=` of daos_server.service and its drop-ins, and the cgroup the check runs in
//! when that is the service's own (the `ExecStartPre=` hook) or a captured tree's.
//!
//! Why it fails late: the engine builds its topology with hwloc, which only shows the
//! CPUs the process may use, and refuses fewer cores than targets (src/engine/init.c
//! `dss_topo_init` / `dss_tgt_nr_check`, v2.6.0); hugetlb pages are only taken from the
//! cpuset's memory nodes (Documentation/admin-guide/cgroup-v1/cpusets.rst), so an engine
//! whose node is not in `cpuset.mems` can't map its hugepages; the RAM-disk is tmpfs, and
//! shmem pages are charged to the cgroup that touches them (cgroup-v2.rst "Memory
//! Ownership"), so RAM-disks beyond `MemoryMax=` get the engine OOM-killed. Hugepages
//! are not charged to the memory controller (hugetlb has its own).

use std::collections::BTreeSet;

use super::config::server_for_requirements;
use super::locality::engine_nodes;
use super::memory::gib;
use super::{Check, Context, Finding};
use crate::daos::requirements::{
    engine_cores_needed, engine_numa_nodes, hugepage_plan, ramdisk_plan,
};
use crate::facts::Facts;
use crate::facts::parse::{format_cpulist, parse_cpulist};

/// Where `fix` lifts a unit restriction that stops the engines (late in name order, so
/// it overrides the site's drop-ins; `fix` proves the result with a fresh check).
pub const LIMITS_DROPIN: &str =
    "/etc/systemd/system/daos_server.service.d/95-daos-preflight-limits.conf";

/// A systemd CPU list (`0-3 8,9`: whitespace or commas) as CPUs.
fn systemd_cpus(v: &str) -> Option<BTreeSet<u32>> {
    let norm = v.split_whitespace().collect::<Vec<_>>().join(",");
    parse_cpulist(&norm).ok().map(|c| c.into_iter().collect())
}

/// `MemoryMax=` in bytes (`None`: no limit): K/M/G/T suffixes are powers of 1024, a
/// percentage is of MemTotal (systemd.resource-control(5)).
pub fn systemd_memory_max(v: &str, mem_total_kib: Option<u64>) -> Option<u64> {
    let v = v.trim();
    if v == "infinity" {
        return None;
    }
    if let Some(p) = v.strip_suffix('%') {
        let p: f64 = p.parse().ok()?;
        return Some((mem_total_kib? as f64 * 1024.0 * p / 100.0) as u64);
    }
    let (num, mul) = match v.chars().last()? {
        'K' | 'k' => (&v[..v.len() - 1], 1u64 << 10),
        'M' | 'm' => (&v[..v.len() - 1], 1 << 20),
        'G' | 'g' => (&v[..v.len() - 1], 1 << 30),
        'T' | 't' => (&v[..v.len() - 1], 1 << 40),
        _ => (v, 1),
    };
    num.parse::<u64>().ok().map(|n| n * mul)
}

/// What the service may use, and where each restriction comes from.
#[derive(Debug, Default)]
struct Allowed {
    cpus: Option<BTreeSet<u32>>,
    mems: Option<BTreeSet<u32>>,
    memory: Option<u64>,
    sources: Vec<String>,
    /// Unit keys that restrict (for the drop-in that lifts them).
    unit_keys: Vec<&'static str>,
}

fn intersect(slot: &mut Option<BTreeSet<u32>>, with: BTreeSet<u32>) {
    *slot = Some(match slot.take() {
        Some(s) => s.intersection(&with).copied().collect(),
        None => with,
    });
}

fn allowed(f: &Facts) -> Allowed {
    let mut a = Allowed::default();
    if let Some(u) = &f.services.daos_server {
        let l = &u.limits;
        for (key, v) in [
            ("CPUAffinity", &l.cpu_affinity),
            ("AllowedCPUs", &l.allowed_cpus),
        ] {
            if let Some(c) = v.as_deref().and_then(systemd_cpus) {
                a.sources
                    .push(format!("{key}={}", v.as_deref().unwrap_or("")));
                a.unit_keys.push(key);
                intersect(&mut a.cpus, c);
            }
        }
        if let Some(m) = l.allowed_memory_nodes.as_deref().and_then(systemd_cpus) {
            a.sources.push(format!(
                "AllowedMemoryNodes={}",
                l.allowed_memory_nodes.as_deref().unwrap_or("")
            ));
            a.unit_keys.push("AllowedMemoryNodes");
            intersect(&mut a.mems, m);
        }
        if let Some(b) = l
            .memory_max
            .as_deref()
            .and_then(|v| systemd_memory_max(v, f.memory.mem_total_kib))
        {
            a.sources.push(format!(
                "MemoryMax={}",
                l.memory_max.as_deref().unwrap_or("")
            ));
            a.unit_keys.push("MemoryMax");
            a.memory = Some(b);
        }
    }
    // the live cgroup is the service's only when this runs as its hook; a tree's
    // captured proc/self is taken as given
    if let Some(c) = f
        .cgroup
        .as_ref()
        .filter(|c| !f.source.live || c.path.contains("daos_server.service"))
    {
        let at = format!("cgroup {} {}", c.version, c.path);
        if let Some(cpus) = c.cpus.as_deref().and_then(|l| parse_cpulist(l).ok()) {
            a.sources
                .push(format!("{at} cpus {}", c.cpus.as_deref().unwrap_or("")));
            intersect(&mut a.cpus, cpus.into_iter().collect());
        }
        if let Some(mems) = c.mems.as_deref().and_then(|l| parse_cpulist(l).ok()) {
            a.sources
                .push(format!("{at} mems {}", c.mems.as_deref().unwrap_or("")));
            intersect(&mut a.mems, mems.into_iter().collect());
        }
        if let Some(b) = c.memory_max_bytes {
            a.sources.push(format!("{at} memory max {}", gib(b)));
            a.memory = Some(a.memory.map_or(b, |m| m.min(b)));
        }
    }
    a
}

fn list(s: &BTreeSet<u32>) -> String {
    let v: Vec<u32> = s.iter().copied().collect();
    if v.is_empty() {
        "none".into()
    } else {
        format_cpulist(&v)
    }
}

/// `limits.service`
pub struct Service;

impl Check for Service {
    fn id(&self) -> &'static str {
        "limits.service"
    }
    fn title(&self) -> &'static str {
        "The engines fit what daos_server is allowed"
    }
    fn explain(&self) -> &'static str {
        "Works out the CPUs, memory nodes and memory daos_server will be allowed: CPUAffinity=, \
AllowedCPUs=, AllowedMemoryNodes= and MemoryMax= of daos_server.service and its drop-ins, and \
the cgroup this check runs in when that is the service's own (as its ExecStartPre= hook) or a \
captured tree's (cpuset.cpus.effective/cpuset.mems.effective/memory.max on cgroup v2, \
cpuset.cpus/cpuset.mems/memory.limit_in_bytes on v1). Then judges each engine against it: \
2 + targets + nr_xs_helpers allowed CPUs on its NUMA node (hwloc, which the engine's topology \
comes from, only shows allowed CPUs: src/engine/init.c dss_topo_init), its node among the \
allowed memory nodes (hugetlb pages come only from the cpuset's nodes), and the RAM-disks plus \
the engines' reserved memory under the memory limit (tmpfs pages are charged to the service's \
cgroup; hugepages are not).\n\
pass: everything fits, or nothing is restricted. fail: an engine would fail after start (fix \
lifts the unit's own restriction with a drop-in; a restriction from a parent slice is left to \
the admin). skip: no server configuration."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let cfg = match server_for_requirements(ctx) {
            Ok(c) => c,
            Err(f) => return f,
        };
        let f = ctx.facts;
        let a = allowed(f);
        if a.cpus.is_none() && a.mems.is_none() && a.memory.is_none() {
            return Finding::pass(
                "daos_server is not restricted: no CPUAffinity=/AllowedCPUs=/AllowedMemoryNodes=/MemoryMax= and no cgroup limit seen",
            );
        }
        let nodes = engine_nodes(f, cfg);
        let (mut ok, mut fails) = (vec![], vec![]);
        let mut keys: BTreeSet<&str> = BTreeSet::new();
        let cpu_key = a
            .unit_keys
            .iter()
            .copied()
            .filter(|k| k.contains("CPU"))
            .collect::<Vec<_>>();
        // cores: per node, or from first_core over the allowed CPUs (legacy allocation)
        if let Some(cpus) = &a.cpus {
            let mut per_node: std::collections::BTreeMap<Option<u32>, (u64, Vec<usize>)> =
                Default::default();
            for (i, (e, n)) in cfg.engines.iter().zip(&nodes).enumerate() {
                let legacy = n.how.starts_with("legacy");
                let slot = per_node
                    .entry(if legacy { None } else { n.node })
                    .or_default();
                slot.0 += engine_cores_needed(e)
                    + if legacy {
                        u64::try_from(e.first_core.unwrap_or(0)).unwrap_or(0)
                    } else {
                        0
                    };
                slot.1.push(i);
            }
            for (node, (need, engines)) in per_node {
                let (have, place): (BTreeSet<u32>, String) = match node {
                    None => (cpus.clone(), "the host (legacy allocation)".into()),
                    Some(n) => {
                        let on = f
                            .numa
                            .nodes
                            .iter()
                            .find(|x| x.id == n)
                            .map(|x| {
                                x.cpus
                                    .iter()
                                    .copied()
                                    .filter(|c| cpus.contains(c))
                                    .collect()
                            })
                            .unwrap_or_default();
                        (on, format!("node {n}"))
                    }
                };
                let who = engines
                    .iter()
                    .map(|i| format!("engine {i}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let line = format!(
                    "{who}: {need} cores on {place}, {} allowed ({})",
                    have.len(),
                    list(&have)
                );
                if (have.len() as u64) < need {
                    fails.push(format!("{line}: too few, the engine fails at start"));
                    keys.extend(cpu_key.iter().copied());
                } else {
                    ok.push(line);
                }
            }
        }
        if let Some(mems) = &a.mems {
            for (i, n) in nodes.iter().enumerate() {
                let Some(node) = n.node else { continue };
                if mems.contains(&node) {
                    ok.push(format!("engine {i}: node {node} memory allowed"));
                } else {
                    fails.push(format!(
                        "engine {i} is on node {node}, but only memory node(s) {} are allowed: its hugepages there can't be mapped",
                        list(mems)
                    ));
                    if a.unit_keys.contains(&"AllowedMemoryNodes") {
                        keys.insert("AllowedMemoryNodes");
                    }
                }
            }
        }
        if let (Some(max), Some(total), Some(size)) =
            (a.memory, f.memory.mem_total_kib, f.memory.hugepage_size_kib)
        {
            let en = engine_numa_nodes(cfg, &|e| {
                crate::daos::requirements::detected_numa_node(f, cfg, e)
            });
            let pages = hugepage_plan(cfg, ctx.daos_version, size, &en)
                .map(|p| p.pages)
                .unwrap_or(0);
            if let Some(p) = ramdisk_plan(cfg, ctx.daos_version, total, size, pages) {
                let need = p.engines * (p.per_engine + p.engine_reserved);
                let line = format!(
                    "memory: {} engine(s) × (RAM-disk {} + reserved {}) = {}, limit {}",
                    p.engines,
                    gib(p.per_engine),
                    gib(p.engine_reserved),
                    gib(need),
                    gib(max)
                );
                if need > max {
                    fails.push(format!(
                        "{line}: the RAM-disk pages are charged to the service's cgroup, the engines get OOM-killed"
                    ));
                    if a.unit_keys.contains(&"MemoryMax") {
                        keys.insert("MemoryMax");
                    }
                } else {
                    ok.push(line);
                }
            }
        }
        let sources = a.sources.clone();
        if fails.is_empty() {
            return Finding::pass(format!(
                "{} (allowed by {})",
                ok.join("; "),
                sources.join(", ")
            ))
            .detail("allowed_by", &sources);
        }
        let mut dropins = Vec::new();
        let mut actions = Vec::new();
        if !keys.is_empty() {
            let mut content = String::from(
                "# Written by daos-preflight fix: the engines need more than these limits allowed.\n[Service]\n",
            );
            for k in &keys {
                content.push_str(&format!(
                    "{k}={}\n",
                    if *k == "MemoryMax" { "infinity" } else { "" }
                ));
            }
            actions.push(format!(
                "printf '{}' > {LIMITS_DROPIN}",
                content.replace('\n', "\\n")
            ));
            actions.push("systemctl daemon-reload".into());
            dropins.push(serde_json::json!({
                "unit": "daos_server.service", "path": LIMITS_DROPIN, "content": content,
            }));
        }
        if keys.is_empty() || sources.iter().any(|s| s.starts_with("cgroup")) {
            actions.push(
                "systemctl show daos_server -p Slice -p AllowedCPUs -p AllowedMemoryNodes -p MemoryMax   # a parent slice's limits apply too"
                    .into(),
            );
        }
        Finding::fail(format!(
            "{} (allowed by {})",
            fails.join("; "),
            sources.join(", ")
        ))
        .fix(
            "let daos_server use its engines' CPUs, nodes and memory (or lower targets / scm_size)",
            &actions,
            false,
        )
        .detail("allowed_by", &sources)
        .detail("dropins", &dropins)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_values() {
        assert_eq!(
            systemd_cpus("0-3 8,9"),
            Some([0, 1, 2, 3, 8, 9].into_iter().collect())
        );
        assert_eq!(systemd_memory_max("16G", None), Some(16 << 30));
        assert_eq!(systemd_memory_max("infinity", None), None);
        assert_eq!(systemd_memory_max("50%", Some(64 << 20)), Some(32 << 30));
        assert_eq!(systemd_memory_max("512", None), Some(512));
    }
}
