//! `system.network`: the DAOS paths between the nodes as `probe` saw them (the
//! reachability matrix of the probe reports, [`crate::fleet::network`]): every required
//! (source, destination, port) must be `ok`; a failure names the source, the
//! destination, the port and its purpose, and the likely cause of its status.
//!
//! Decisions where the issue is silent:
//! - a path DAOS does not need (`required: false` in the probe report) that fails is a
//!   warning, not a failure;
//! - servers answering with different `config_digest`s are shown, not judged: DAOS
//!   servers legitimately carry host-specific files (`fabric_iface`, `bdev_list`), and
//!   the values that must agree are compared by the other system rules from the check
//!   reports. An admin who keeps the files identical sees the drift in the details.
//! - no probe report at all is `skip` (the rule is judged only where `probe` ran).

use std::collections::BTreeMap;

use serde_json::json;

use super::Finding;
use super::common::finding;
use crate::checks::Status;
use crate::fleet::network::{Network, PathFailure, PathStatus};

/// Explain text of `system.network`.
pub(super) const EXPLAIN: &str = "From the probe reports (daos-preflight probe --format json on each node, fed to fleet beside the check reports): every required path (source, destination, port: the control port, each engine's fabric ports) answered the handshake of daos-preflight probe serve from the expected host. Causes: refused = nothing listening (probe serve / daos_server not running) or a REJECT rule; timeout = a DROP rule or no route; unresolved = the name is missing from /etc/hosts or DNS on the source; wrong-host = the name maps to another host there (stale /etc/hosts or DNS). Failures of paths DAOS does not need warn. Servers answering for different DAOS system names fail (each refuses the others' requests: server/mgmt_svc.go checkSystemRequest). Different config digests of the servers are shown, not judged.";

/// Failing pairs named in the summary; the details list every one.
const SUMMARY_PAIRS: usize = 3;

/// One (source, destination) pair's failures: `node2 -> node1: 10001/control timeout, …`.
fn pair_line(fs: &[&PathFailure]) -> String {
    let ports: Vec<String> = fs
        .iter()
        .map(|f| format!("{}/{} {}", f.port, f.purpose, f.status.name()))
        .collect();
    format!("{} -> {}: {}", fs[0].from, fs[0].to, ports.join(", "))
}

/// What to do for the statuses present, most specific first.
fn remediation(fs: &[&PathFailure]) -> String {
    let has = |s: PathStatus| fs.iter().any(|f| f.status == s);
    let mut out = Vec::new();
    if has(PathStatus::WrongHost) {
        out.push(
            "fix the stale /etc/hosts or DNS entry on the source (the name must map to that host)",
        );
    }
    if has(PathStatus::Unresolved) {
        out.push("add the missing names to /etc/hosts or DNS on the source");
    }
    if has(PathStatus::Timeout) {
        out.push("open the DAOS ports on the destination's firewall (see firewall.ports) or fix the route");
    }
    if has(PathStatus::Refused) {
        out.push("run daos-preflight probe serve on the destination before probing (or remove the REJECT rule)");
    }
    if has(PathStatus::Error) {
        out.push("see the probe's detail for the failed paths");
    }
    out.join("; ")
}

/// The `system.network` finding: the paths, then the system names the servers answered
/// with: more than one fails (each server refuses the others' requests: DAOS v2.6.0
/// server/mgmt_svc.go `checkSystemRequest`, code.ServerWrongSystem).
pub(super) fn judge(net: Option<&Network>) -> Finding {
    let mut f = judge_paths(net);
    if let Some(n) = net
        && n.system_names.len() > 1
    {
        let names: Vec<String> = n
            .system_names
            .iter()
            .map(|g| format!("{:?} on {}", g.digest, g.hosts))
            .collect();
        let paths = if f.status == Status::Pass {
            String::new()
        } else {
            format!("; {}", f.summary)
        };
        f.summary = format!(
            "servers answer for {} DAOS systems: {}{paths}",
            n.system_names.len(),
            names.join(", ")
        );
        let fix = "give every server the same system name (name: in daos_server.yml, and in the agents' and dmg's files)";
        f.remediation = Some(
            match f.remediation.take().filter(|_| f.status != Status::Pass) {
                Some(r) => format!("{fix}; {r}"),
                None => fix.to_string(),
            },
        );
        f.status = Status::Fail;
    }
    f
}

fn judge_paths(net: Option<&Network>) -> Finding {
    let id = "system.network";
    let Some(n) = net else {
        return finding(
            id,
            Status::Skip,
            "no probe report (run daos-preflight probe --format json on the nodes and give its output to fleet)".into(),
            json!({}),
            None,
        );
    };
    // failures per (from, to), in the matrix's order (required first)
    let mut pairs: BTreeMap<(bool, String, String), Vec<&PathFailure>> = BTreeMap::new();
    for f in &n.failures {
        pairs
            .entry((!f.required, f.from.clone(), f.to.clone()))
            .or_default()
            .push(f);
    }
    let failed: Vec<&PathFailure> = n.failures.iter().filter(|f| f.required).collect();
    let details = json!({
        "paths": n.paths,
        "sources": n.sources.len(),
        "destinations": n.destinations.len(),
        "failed": pairs.values().map(|fs| json!({
            "from": fs[0].from,
            "to": fs[0].to,
            "required": fs[0].required,
            "ports": fs.iter().map(|f| json!({
                "port": f.port, "purpose": f.purpose, "address": f.address,
                "status": f.status, "cause": f.cause,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "config_digests": n.config_digests,
        "system_names": n.system_names,
    });
    let digests = if n.config_digests.len() > 1 {
        format!(
            "; servers answer with {} different daos_server.yml digests",
            n.config_digests.len()
        )
    } else {
        String::new()
    };
    let summary = |required: bool| -> String {
        let ps: Vec<&Vec<&PathFailure>> = pairs
            .iter()
            .filter(|((opt, _, _), _)| *opt != required)
            .map(|(_, v)| v)
            .collect();
        let mut lines: Vec<String> = ps
            .iter()
            .take(SUMMARY_PAIRS)
            .map(|fs| {
                let first = fs[0];
                format!("{} ({})", pair_line(fs), first.cause)
            })
            .collect();
        if ps.len() > SUMMARY_PAIRS {
            lines.push(format!("and {} more pair(s)", ps.len() - SUMMARY_PAIRS));
        }
        lines.join("; ")
    };
    if !failed.is_empty() {
        finding(
            id,
            Status::Fail,
            format!(
                "{} required path(s) fail: {}{digests}",
                failed.len(),
                summary(true)
            ),
            details,
            Some(&remediation(&failed)),
        )
    } else if !n.failures.is_empty() {
        let all: Vec<&PathFailure> = n.failures.iter().collect();
        finding(
            id,
            Status::Warn,
            format!(
                "every required path ok; {} path(s) DAOS does not need fail: {}{digests}",
                all.len(),
                summary(false)
            ),
            details,
            Some(&remediation(&all)),
        )
    } else {
        finding(
            id,
            Status::Pass,
            format!(
                "all {} path(s) ok from {} probing host(s) to {} destination(s){digests}",
                n.paths.total,
                n.sources.len(),
                n.destinations.len()
            ),
            details,
            None,
        )
    }
}
