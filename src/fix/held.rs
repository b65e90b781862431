//! `fix` for hugepages that others hold (issue 16): remove exactly the stale SPDK files
//! daos_server itself would remove (same name rule, same directory, dead owner only),
//! and — where daos_server keeps a bigger pool (2.8) — grow the engine nodes' pools past
//! what live processes hold. It never signals a process.
//!
//! Planning reads the `hugepages.*` checks' details (`stale_files`, `start`), so the dry
//! run lists every file; applying checks each file again (name, not a directory, owner
//! still gone) right before unlinking it.

use serde::{Deserialize, Serialize};

use super::apply::Outcome;
use super::journal::{Change, Journal};
use super::plan::{Action, ManualStep, Plan, Step};
use crate::daos::hugepage_start::{StaleFile, StartOutcome, StartView};
use crate::daos::requirements::HugepagePlan;
use crate::facts::hugetlb::spdk_named_pid;
use crate::host::Host;
use crate::report::CheckResult;

/// Files of one dead process, as the journal keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedFiles {
    /// The directory (`/dev/hugepages`).
    pub dir: String,
    /// The pid the names carry.
    pub pid: String,
    /// Entry names removed.
    pub files: Vec<String>,
}

fn detail<T: for<'de> Deserialize<'de>>(results: &[CheckResult], key: &str) -> Option<T> {
    ["hugepages.total", "hugepages.numa"].iter().find_map(|id| {
        let r = results.iter().find(|r| r.id == *id)?;
        serde_json::from_value(r.details.get(key)?.clone()).ok()
    })
}

/// Adds the removal of stale files (before any pool growth) and, where it lasts, pool
/// growth past the holders; otherwise says what a person must do.
pub fn plan_held(p: &mut Plan, results: &[CheckResult], hp: &HugepagePlan) {
    let stale: Vec<StaleFile> = detail(results, "stale_files").unwrap_or_default();
    let Some(view) = detail::<StartView>(results, "start") else {
        return;
    };
    let mut removals: Vec<Step> = Vec::new();
    for f in &stale {
        let dir = f
            .path
            .strip_suffix(&format!("/{}", f.name))
            .unwrap_or(crate::daos::hugepage_start::DAOS_HUGEPAGE_DIR)
            .to_string();
        match removals.iter_mut().find_map(|s| match &mut s.action {
            Action::RemoveStaleHugepageFiles {
                dir: d,
                pid,
                files,
                pages,
            } if *d == dir && *pid == f.pid => Some((files, pages)),
            _ => None,
        }) {
            Some((files, pages)) => {
                files.push(f.name.clone());
                *pages += f.pages;
            }
            None => removals.push(Step {
                check: "hugepages.total".into(),
                reason: format!(
                    "process {} is gone; daos_server removes its hugepage files at start too (bdev/backend.go createHugepageWalkFunc)",
                    f.pid
                ),
                action: Action::RemoveStaleHugepageFiles {
                    dir,
                    pid: f.pid.clone(),
                    files: vec![f.name.clone()],
                    pages: f.pages,
                },
                reboot_required: false,
            }),
        }
    }
    let at = p
        .actions
        .iter()
        .position(|s| matches!(s.action, Action::AllocateHugepages { .. }))
        .unwrap_or(p.actions.len());
    p.actions.splice(at..at, removals);
    if view.outcome == StartOutcome::Full {
        return;
    }
    let short = view.want_total.saturating_sub(view.usable_at_start);
    if !view.pool_kept {
        if short > 0 {
            p.manual.push(ManualStep {
                check: "hugepages.total".into(),
                reason: format!(
                    "{short} hugepages are held by running processes or files daos_server does not remove; fix never signals a process, and daos_server ≤2.6 sets each engine node's pool to exactly its share at start (SPDK scripts/setup.sh check_hugepages_alloc), so growing the pool would not last"
                ),
                actions: vec![
                    "stop the holders the check names before daos_server starts".into(),
                    format!("or raise nr_hugepages in daos_server.yml by {short}"),
                ],
            });
        }
        return;
    }
    let mut extra_reserved = view.reserved;
    for node in &view.nodes {
        let wanted_here = match node.node {
            Some(id) if hp.numa_nodes.contains(&id) => hp.per_node_pages,
            Some(_) => continue,
            None => hp.total_pages,
        };
        if node.free_at_start >= wanted_here && extra_reserved == 0 {
            continue;
        }
        let free_wanted = wanted_here + std::mem::take(&mut extra_reserved);
        p.actions.retain(
            |s| !matches!(s.action, Action::AllocateHugepages { node: n, .. } if n == node.node),
        );
        p.actions.push(Step {
            check: "hugepages.numa".into(),
            reason: format!(
                "{} pages of the node are in use by others; daos_server 2.8 keeps a larger pool (server_utils.go getHugeNodesStr)",
                node.in_use
            ),
            action: Action::GrowHugepagesPastHolders {
                node: node.node,
                size_kib: hp.hugepage_size_kib,
                free_wanted,
                total: node.total_now,
                in_use: node.in_use,
            },
            reboot_required: false,
        });
    }
}

/// Removes the files of a dead `pid` from `dir`, each checked again just before.
pub fn remove_stale(
    host: &Host,
    dir: &str,
    pid: &str,
    files: &[String],
    journal: &mut Journal,
) -> (Outcome, String) {
    let mut removed = Vec::new();
    let mut problems = Vec::new();
    for name in files {
        if spdk_named_pid(name) != Some(pid) {
            problems.push(format!("{name}: does not carry pid {pid}: left alone"));
            continue;
        }
        match host.remove_stale_hugepage_file(dir, name, pid) {
            Ok(()) => removed.push(name.clone()),
            Err(e) if e.is_not_found() => {} // already gone: nothing held
            Err(e) => problems.push(e.to_string()),
        }
    }
    let n = removed.len();
    if !removed.is_empty() {
        // done as it happened: removing a dead process's files can't be half-done or undone
        journal.record_done(Change::RemovedHugepageFiles(RemovedFiles {
            dir: dir.to_string(),
            pid: pid.to_string(),
            files: removed,
        }));
    }
    if problems.is_empty() {
        (
            Outcome::Applied,
            format!("removed {n} stale hugepage file(s) of pid {pid} from {dir}"),
        )
    } else {
        (
            Outcome::Failed,
            format!(
                "removed {n} of {} file(s); {}",
                files.len(),
                problems.join("; ")
            ),
        )
    }
}

/// Grows a pool so that `free_wanted` pages are free, from what the kernel says now
/// (after the stale files went): nr_hugepages + the pages missing.
pub fn grow_past_holders(
    host: &Host,
    node: Option<u32>,
    size_kib: u64,
    free_wanted: u64,
    journal: &mut Journal,
) -> (Outcome, String) {
    let dir = match node {
        Some(n) => format!("/sys/devices/system/node/node{n}/hugepages/hugepages-{size_kib}kB"),
        None => format!("/sys/kernel/mm/hugepages/hugepages-{size_kib}kB"),
    };
    let read = |f: &str| {
        host.read_attr(&format!("{dir}/{f}"))
            .map_err(|e| e.to_string())
            .and_then(|v| v.parse::<u64>().map_err(|_| format!("{dir}/{f}: {v:?}")))
    };
    let (nr, free) = match (read("nr_hugepages"), read("free_hugepages")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return (Outcome::Failed, e),
    };
    if free >= free_wanted {
        return (
            Outcome::Applied,
            format!("{dir}: {free} pages free already (≥ {free_wanted})"),
        );
    }
    super::apply::allocate_hugepages(host, node, size_kib, nr + (free_wanted - free), journal)
        .unwrap_or_else(|e| e)
}

/// The undo line of removed files: their contents were a dead process's memory, so
/// there is nothing to put back.
pub fn undo_line(r: &RemovedFiles) -> String {
    format!(
        "not restored: {} stale hugepage file(s) of pid {} removed from {} (the memory of a process that is gone; daos_server removes them too)",
        r.files.len(),
        r.pid,
        r.dir
    )
}
