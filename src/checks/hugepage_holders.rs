//! Who holds the hugepages DAOS will not get, for the `hugepages.*` checks: the
//! processes mapping them, the hugetlbfs files holding them (with whether daos_server
//! removes each), reserved pages, and what no file or process accounts for.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Context, Finding};
use crate::daos::DaosVersion;
use crate::daos::config::ServerConfig;
use crate::daos::hugepage_start::{
    DAOS_HUGEPAGE_DIR, PoolsNow, StaleFile, StartView, stale_files, start_view,
};
use crate::daos::requirements::HugepagePlan;
use crate::facts::Facts;

/// One holder of pages, for reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// `process`, `files` (a group of hugetlbfs files), `reserved` or `unaccounted`.
    pub kind: &'static str,
    /// Who: `qemu-kvm[4242]`, `/dev/hugepages/spdk_pid77map_*`, ...
    pub who: String,
    /// Pages held (default page size).
    pub pages: u64,
    /// What becomes of them when daos_server starts.
    pub note: String,
}

/// The pools now, from the facts (`None` when HugePages_Free is unknown).
pub fn pools_now(facts: &Facts, size_kib: u64) -> Option<PoolsNow> {
    let m = &facts.memory;
    let free = m.hugepages_free?;
    let sys = facts.hugepages.iter().find(|p| p.size_kib == size_kib);
    Some(PoolsNow {
        total: m.hugepages_total.unwrap_or(0),
        free,
        reserved: m
            .hugepages_rsvd
            .or_else(|| sys.and_then(|p| p.reserved))
            .unwrap_or(0),
        nodes: facts
            .numa
            .nodes
            .iter()
            .filter_map(|n| {
                let p = n.hugepages.iter().find(|p| p.size_kib == size_kib)?;
                Some(crate::daos::hugepage_start::NodePool {
                    node: n.id,
                    total: p.total?,
                    free: p.free?,
                })
            })
            .collect(),
    })
}

/// The uid of the user daos_server runs as (the unit's `User=`, else `daos_server`).
pub fn service_uid(facts: &Facts) -> Option<u32> {
    let user = facts
        .services
        .daos_server
        .as_ref()
        .and_then(|u| u.user.clone())
        .unwrap_or_else(|| "daos_server".into());
    facts
        .accounts
        .users
        .iter()
        .find(|u| u.name == user)
        .map(|u| u.uid)
}

/// The stale files daos_server `version` removes on this host.
pub fn stale(facts: &Facts, version: DaosVersion) -> Vec<StaleFile> {
    stale_files(version, &facts.hugetlbfs, service_uid(facts))
}

/// The holders of the `size_kib` pages in use, largest first.
pub fn holders(facts: &Facts, size_kib: u64, stale: &[StaleFile], now: &PoolsNow) -> Vec<Holder> {
    let mut out = Vec::new();
    let mut accounted = 0u64;
    let live: Vec<u32> = facts
        .hugepage_holders
        .iter()
        .flatten()
        .map(|h| h.pid)
        .collect();
    for h in facts.hugepage_holders.iter().flatten() {
        let pages = h.hugetlb_kib / size_kib.max(1);
        accounted += pages;
        out.push(Holder {
            kind: "process",
            who: format!("{}[{}]", h.name, h.pid),
            pages,
            note: "a running process: stays held (fix never signals it)".into(),
        });
    }
    // files grouped by the process their name carries (DPDK makes one per page)
    let mut groups: BTreeMap<String, (u64, usize, String)> = BTreeMap::new();
    for m in facts
        .hugetlbfs
        .iter()
        .filter(|m| m.page_size_kib == Some(size_kib))
    {
        for f in m.files.iter().filter(|f| f.pages > 0) {
            if f.named_pid
                .as_deref()
                .and_then(|p| p.parse::<u32>().ok())
                .is_some_and(|p| live.contains(&p))
            {
                continue; // counted with its process
            }
            let removed = stale.iter().any(|s| s.path == f.path);
            let parent = f.path.rsplit_once('/').map_or("", |(d, _)| d);
            let name = f.path.rsplit_once('/').map_or("", |(_, n)| n);
            let (key, note) = match (&f.named_pid, f.named_pid_alive) {
                (Some(pid), Some(false)) if removed => (
                    format!("{parent}/*spdk_pid{pid}map*"),
                    format!("pid {pid} is gone: daos_server removes these at start"),
                ),
                (Some(pid), Some(false)) => (
                    format!("{parent}/*spdk_pid{pid}map*"),
                    format!(
                        "pid {pid} is gone, but daos_server only cleans the top of {DAOS_HUGEPAGE_DIR}: stays held"
                    ),
                ),
                (Some(pid), alive) => (
                    format!("{parent}/*spdk_pid{pid}map*"),
                    if alive == Some(true) {
                        format!("pid {pid} is running: stays held")
                    } else {
                        format!("pid {pid}: not known whether it runs")
                    },
                ),
                _ if f.kind == "dpdk" => (
                    format!(
                        "{parent}/{}map_*",
                        name.rsplit_once("map_").map_or("", |(p, _)| p)
                    ),
                    "a DPDK process's memory (its file prefix): stays held while it runs or until deleted"
                        .into(),
                ),
                _ => (
                    f.path.clone(),
                    "not an SPDK file daos_server removes: stays held until deleted".into(),
                ),
            };
            let g = groups.entry(key).or_insert((0, 0, note));
            g.0 += f.pages;
            g.1 += 1;
        }
    }
    for (who, (pages, n, note)) in groups {
        accounted += pages;
        out.push(Holder {
            kind: "files",
            who: if n > 1 {
                format!("{who} ({n} files)")
            } else {
                who
            },
            pages,
            note,
        });
    }
    if now.reserved > 0 {
        out.push(Holder {
            kind: "reserved",
            who: "HugePages_Rsvd".into(),
            pages: now.reserved,
            note: "promised to a mapping not yet touched: counted as free, usable by no one else"
                .into(),
        });
    }
    let in_use = now.total.saturating_sub(now.free);
    if facts.hugepage_holders.is_some() && in_use > accounted {
        out.push(Holder {
            kind: "unaccounted",
            who: "no file or process".into(),
            pages: in_use - accounted,
            note: "SysV SHM_HUGETLB segments (ipcs -m) or pages of another size's users".into(),
        });
    }
    out.sort_by(|a, b| b.pages.cmp(&a.pages).then(a.who.cmp(&b.who)));
    out
}

/// The holders in one line, the largest three named.
pub fn holders_line(h: &[Holder], processes_known: bool) -> String {
    let held: Vec<&Holder> = h.iter().collect();
    let mut parts: Vec<String> = held
        .iter()
        .take(3)
        .map(|x| format!("{} {} pages", x.who, x.pages))
        .collect();
    if held.len() > 3 {
        parts.push(format!("{} more", held.len() - 3));
    }
    if !processes_known {
        parts.push("processes unknown (not the live host)".into());
    }
    if parts.is_empty() {
        "no holder found".into()
    } else {
        parts.join(", ")
    }
}

/// What DAOS will get at start on this host, with the stale files and the holders.
#[derive(Debug, Clone)]
pub struct StartJudgement {
    /// DAOS's arithmetic.
    pub view: StartView,
    /// The files daos_server removes.
    pub stale: Vec<StaleFile>,
    /// Who holds the pages in use.
    pub holders: Vec<Holder>,
}

impl StartJudgement {
    /// `None` when the host's free pages are unknown (no `/proc/meminfo`).
    pub fn of(ctx: &Context, cfg: &ServerConfig, plan: &HugepagePlan) -> Option<Self> {
        let size = plan.hugepage_size_kib;
        let now = pools_now(ctx.facts, size)?;
        let stale = stale(ctx.facts, ctx.daos_version);
        let view = start_view(cfg, ctx.daos_version, plan, &now, &stale);
        let holders = holders(ctx.facts, size, &stale, &now);
        Some(StartJudgement {
            view,
            stale,
            holders,
        })
    }

    /// The holders in one line.
    pub fn holders_line(&self, ctx: &Context) -> String {
        holders_line(&self.holders, ctx.facts.hugepage_holders.is_some())
    }

    /// Adds `start`, `holders` and `stale_files` to the details.
    pub fn details(&self, f: Finding) -> Finding {
        f.detail("start", &self.view)
            .detail("holders", &self.holders)
            .detail("stale_files", &self.stale)
    }

    /// The remediation for pages DAOS will not get: what fix removes, who to stop, and
    /// how the pool can cover the rest in this release.
    pub fn remediation(&self, ctx: &Context, f: Finding) -> Finding {
        let v = &self.view;
        let mut actions = Vec::new();
        if !self.stale.is_empty() {
            actions.push(format!(
                "daos-preflight fix   # removes the {} stale SPDK file(s) of dead processes in {DAOS_HUGEPAGE_DIR} ({} pages), as daos_server does",
                self.stale.len(),
                self.stale.iter().map(|s| s.pages).sum::<u64>()
            ));
        }
        for h in self.holders.iter().filter(|h| h.kind == "process") {
            actions.push(format!(
                "stop or shrink {} before daos_server starts ({} pages)",
                h.who, h.pages
            ));
        }
        let short = v.want_total.saturating_sub(v.usable_at_start);
        if short > 0 {
            if ctx.daos_version <= DaosVersion::V2_6 {
                actions.push(format!(
                    "or raise nr_hugepages in daos_server.yml by {short} pages: daos_server {} sets each engine node's pool to exactly its share at start (SPDK scripts/setup.sh check_hugepages_alloc), so a pool grown by hand shrinks back",
                    ctx.daos_version
                ));
            } else {
                actions.push(format!(
                    "or daos-preflight fix   # grows the engine nodes' pools by the {short} pages others hold; daos_server 2.8 keeps a larger pool (server_utils.go getHugeNodesStr)"
                ));
            }
        }
        f.fix(
            format!(
                "give DAOS the {short} hugepages others hold: free them, or grow the pool past them"
            ),
            &actions,
            false,
        )
    }
}
