//! Hugepages: each engine node's pool grown to DAOS's share at runtime, THP to
//! `never`, and the boot-time `hugepages=`/`transparent_hugepage=` arguments.

use super::cmdline::KernelArg;
use super::{Action, ManualStep, Plan, Step, THP_ENABLED};
use crate::daos::requirements::HugepagePlan;
use crate::facts::Facts;
use crate::report::CheckResult;

/// The DAOS hugepage plan the hugepages checks computed (their `details.plan`).
pub(super) fn hugepage_plan_of(results: &[CheckResult]) -> Option<HugepagePlan> {
    ["hugepages.numa", "hugepages.total"].iter().find_map(|id| {
        let r = results.iter().find(|r| r.id == *id)?;
        serde_json::from_value(r.details.get("plan")?.clone()).ok()
    })
}

/// Plans hugepage allocation from the DAOS plan the hugepages checks computed (their
/// `details.plan`): each engine node grows to its share; without per-node information,
/// the system pool grows to the total. Nodes that don't exist or can't hold their share
/// are left to the person (the check says why).
pub(super) fn plan_hugepages(p: &mut Plan, facts: &Facts, results: &[CheckResult]) {
    let plan = hugepage_plan_of(results);
    let Some(plan) = plan else { return };
    let size = plan.hugepage_size_kib;
    let reason = format!("DAOS needs {}", plan.arithmetic);
    if facts.numa.nodes.is_empty() {
        let current = facts
            .hugepages
            .iter()
            .find(|h| h.size_kib == size)
            .and_then(|h| h.total)
            .unwrap_or(0);
        if current < plan.total_pages {
            p.actions.push(Step {
                check: "hugepages.total".into(),
                reason,
                action: Action::AllocateHugepages {
                    node: None,
                    size_kib: size,
                    pages: plan.total_pages,
                    current,
                },
                reboot_required: false,
            });
        }
        return;
    }
    for id in &plan.numa_nodes {
        let Some(node) = facts.numa.nodes.iter().find(|n| n.id == *id) else {
            p.manual.push(ManualStep {
                check: "hugepages.numa".into(),
                reason: format!(
                    "NUMA node {id} does not exist: fix pinned_numa_node in daos_server.yml"
                ),
                actions: vec![],
            });
            continue;
        };
        let Some(current) = node
            .hugepages
            .iter()
            .find(|h| h.size_kib == size)
            .and_then(|h| h.total)
        else {
            p.manual.push(ManualStep {
                check: "hugepages.numa".into(),
                reason: format!(
                    "NUMA node {id} has no {} hugepage pool in sysfs (hugetlbfs missing?)",
                    crate::checks::human_kib(size)
                ),
                actions: vec![],
            });
            continue;
        };
        if current >= plan.per_node_pages {
            continue;
        }
        if node
            .mem_total_kib
            .is_some_and(|t| t < plan.per_node_pages * size)
        {
            p.manual.push(ManualStep {
                check: "hugepages.numa".into(),
                reason: format!(
                    "NUMA node {id} has too little memory for {} pages: lower targets or nr_hugepages",
                    plan.per_node_pages
                ),
                actions: vec![],
            });
            continue;
        }
        p.actions.push(Step {
            check: "hugepages.numa".into(),
            reason: reason.clone(),
            action: Action::AllocateHugepages {
                node: Some(*id),
                size_kib: size,
                pages: plan.per_node_pages,
                current,
            },
            reboot_required: false,
        });
    }
}

/// THP to `never` at runtime.
pub(super) fn plan_thp(p: &mut Plan, r: &CheckResult, facts: &Facts) {
    p.actions.push(Step {
        check: r.id.clone(),
        reason: "transparent hugepages must be [never] for DAOS".into(),
        action: Action::WriteAttribute {
            path: THP_ENABLED.into(),
            value: "never".into(),
            current: facts.thp.enabled.clone(),
        },
        reboot_required: false,
    });
}

/// Boot-time hugepages and THP (`--persistent`): the kernel spreads `hugepages=N` over
/// all nodes with memory, so it matches DAOS's even split only when the engines use
/// them all.
pub(super) fn boot_args(
    p: &mut Plan,
    facts: &Facts,
    results: &[CheckResult],
    cmdline_want: &mut Vec<(String, KernelArg)>,
) {
    // Boot-time hugepages: the kernel spreads `hugepages=N` over all nodes with
    // memory, so it matches DAOS's even split only when the engines use them all.
    let hp = hugepage_plan_of(results);
    if let Some(hp) = hp {
        let memory_nodes: Vec<u32> = facts
            .numa
            .nodes
            .iter()
            .filter(|n| n.mem_total_kib.unwrap_or(0) > 0)
            .map(|n| n.id)
            .collect();
        if memory_nodes.is_empty() || memory_nodes == hp.numa_nodes {
            if hp.hugepage_size_kib == 1_048_576 {
                cmdline_want.push((
                    "hugepages.total".into(),
                    KernelArg::parse("default_hugepagesz=1G"),
                ));
                cmdline_want.push(("hugepages.total".into(), KernelArg::parse("hugepagesz=1G")));
            }
            cmdline_want.push((
                "hugepages.total".into(),
                KernelArg::parse(&format!("hugepages={}", hp.total_pages)),
            ));
        } else {
            p.notes.push(format!(
                "no hugepages= on the kernel command line: the kernel would spread them over nodes {memory_nodes:?}, DAOS wants them on {:?}; enable the boot unit with DAOS_PREFLIGHT_FIX=yes instead",
                hp.numa_nodes
            ));
        }
    }
    if facts.thp.enabled.is_some() && results.iter().any(|r| r.id == "hugepages.thp") {
        cmdline_want.push((
            "hugepages.thp".into(),
            KernelArg::parse("transparent_hugepage=never"),
        ));
    }
}
