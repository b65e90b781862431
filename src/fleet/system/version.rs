//! `system.version`: one installed DAOS version and one rules profile on all nodes.

use serde_json::json;

use super::common::{finding, groups, values_json};
use super::{Finding, SysHost};
use crate::checks::Status;
use crate::fleet::nodeset::fold;

/// Explain text of `system.version`.
pub(super) const EXPLAIN: &str = "One installed DAOS version and one rules profile on every node.";

/// The `system.version` finding.
pub(super) fn judge(hosts: &[SysHost]) -> Finding {
    let id = "system.version";
    let d = hosts.iter().filter(|h| h.has_daos);
    let inst = groups(d.clone().map(|h| {
        (
            h.installed_version
                .as_deref()
                .unwrap_or("unknown")
                .to_string(),
            &*h.name,
        )
    }));
    let rules = groups(d.map(|h| {
        (
            h.rules_version.as_deref().unwrap_or("unknown").to_string(),
            &*h.name,
        )
    }));
    let details = json!({"installed": values_json(&inst), "rules": values_json(&rules)});
    let known = inst.keys().filter(|k| *k != "unknown").count();
    if inst.is_empty() {
        finding(
            id,
            Status::Skip,
            "no report carries DAOS versions".into(),
            details,
            None,
        )
    } else if known > 1 || rules.len() > 1 {
        finding(
            id,
            Status::Fail,
            format!(
                "{} installed version(s), {} rules profile(s)",
                inst.len(),
                rules.len()
            ),
            details,
            Some("install one DAOS release on every node and check them with one rules profile"),
        )
    } else if inst.contains_key("unknown") {
        finding(
            id,
            Status::Warn,
            format!(
                "installed version unknown on {}",
                fold(inst["unknown"].iter().copied())
            ),
            details,
            Some("install the daos-server/daos-client packages"),
        )
    } else {
        finding(
            id,
            Status::Pass,
            format!(
                "DAOS {} everywhere",
                inst.keys().next().map_or("", |s| s.as_str())
            ),
            details,
            None,
        )
    }
}
