//! `system.time`: clocks synchronised and in agreement (HLC tolerance 1 s, DAOS
//! src/common/hlc.c).

use serde_json::json;

use super::common::finding;
use super::{Finding, SysHost};
use crate::checks::Status;
use crate::fleet::nodeset::fold;

/// Explain text of `system.time`.
pub(super) const EXPLAIN: &str = "Every node's kernel clock is synchronised (adjtimex). Reports gathered together (generated_at within 60 s of the previous one, sorted: one collection window) must be within 2 s of each other (HLC tolerance 1 s plus 1 s resolution of generated_at); a larger spread is a warning since fan-out latency adds to it — probe offsets measure it.";

/// The `system.time` finding.
pub(super) fn judge(hosts: &[SysHost]) -> Finding {
    let id = "system.time";
    let unsync: Vec<&str> = hosts
        .iter()
        .filter(|h| h.synchronized == Some(false))
        .map(|h| &*h.name)
        .collect();
    let known = hosts.iter().filter(|h| h.synchronized.is_some()).count();
    let mut t: Vec<(i64, &str)> = hosts
        .iter()
        .filter_map(|h| h.generated_unix.map(|g| (g, &*h.name)))
        .collect();
    t.sort();
    let mut spreads = Vec::new();
    let mut start = 0;
    for i in 1..=t.len() {
        if i == t.len() || t[i].0 - t[i - 1].0 > 60 {
            let (lo, hi) = (t[start], t[i - 1]);
            if hi.0 - lo.0 > 2 {
                spreads.push(format!("{} at {}s after {}", hi.1, hi.0 - lo.0, lo.1));
            }
            start = i;
        }
    }
    let details = json!({"unsynchronised": fold(unsync.iter().copied()), "clock_known": known, "window_spread": spreads});
    if !unsync.is_empty() {
        finding(
            id,
            Status::Fail,
            format!("clock not synchronised on {}", fold(unsync.iter().copied())),
            details,
            Some("enable chronyd (or another NTP client) and wait until it is synchronised"),
        )
    } else if !spreads.is_empty() {
        finding(
            id,
            Status::Warn,
            format!(
                "reports of one collection run more than 2 s apart: {}",
                spreads[0]
            ),
            details,
            Some("compare the clocks (chronyc tracking) on those hosts"),
        )
    } else if known == 0 && t.is_empty() {
        finding(
            id,
            Status::Skip,
            "no clock facts in the reports".into(),
            details,
            None,
        )
    } else {
        finding(
            id,
            Status::Pass,
            format!("{known} clock(s) synchronised; report times agree"),
            details,
            None,
        )
    }
}
