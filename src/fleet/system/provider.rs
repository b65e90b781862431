//! `system.provider`: one fabric provider on every engine of every server.

use serde_json::{Value, json};

use super::common::{finding, groups, values_json};
use super::{Finding, SysHost};
use crate::checks::Status;
use crate::fleet::nodeset::fold;

/// Explain text of `system.provider`.
pub(super) const EXPLAIN: &str = "Every engine of every server must use one fabric provider; clients join with the same provider.";

/// The `system.provider` finding.
pub(super) fn judge(hosts: &[SysHost]) -> Finding {
    let id = "system.provider";
    let g = groups(hosts.iter().filter_map(|h| {
        h.server.as_ref().map(|s| {
            (
                s.providers
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    // not "+": it is part of provider names (`ofi+tcp;ofi_rxm`)
                    .join(" & "),
                &*h.name,
            )
        })
    }));
    let agents: Vec<Value> = hosts.iter().filter_map(|h| h.agent.as_ref().filter(|a| !a.ifaces.is_empty()).map(|a| json!({"host": &*h.name, "fabric_ifaces": a.ifaces.iter().map(|i| i.to_string()).collect::<Vec<_>>()}))).collect();
    let details = json!({"providers": values_json(&g), "agents": agents});
    let mixed = g.len() > 1 || g.keys().any(|k| k.contains(" & "));
    match g.len() {
        0 => finding(
            id,
            Status::Skip,
            "no server in the reports".into(),
            details,
            None,
        ),
        _ if mixed => finding(
            id,
            Status::Fail,
            format!(
                "servers use several providers: {}",
                g.iter()
                    .map(|(v, hs)| format!("{v} on {}", fold(hs.iter().copied())))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            details,
            Some("use one provider for every engine of every server"),
        ),
        _ => finding(
            id,
            Status::Pass,
            format!(
                "one provider {}",
                g.keys().next().map_or("", |s| s.as_str())
            ),
            details,
            None,
        ),
    }
}
