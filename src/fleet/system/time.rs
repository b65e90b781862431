//! `system.time`: clocks synchronised and in agreement (HLC tolerance 1 s: DAOS
//! src/common/hlc.c, the `hlc_epsilon` default of 1 s, and the admin guide's time-sync
//! prerequisite).
//!
//! Decisions where the issue is silent:
//! - a host whose report carries no clock state (`facts.time` is null under `--root`,
//!   and in reports of older tools) is unknown, never counted as synchronised: all
//!   unknown is `skip`, some unknown is `warn`;
//! - `generated_at` has whole seconds, so two reports `d` seconds apart were truly between
//!   `d-1` and `d+1` seconds apart: a spread of 2 s or more is provably beyond the 1 s
//!   tolerance, 1 s is not. It is a warning, not a failure, because `generated_at` is when
//!   each check ended: fan-out (clush/pdsh `-f`) and check durations add to the spread; the
//!   probe measures offsets themselves.

use serde_json::json;

use super::common::finding;
use super::{Finding, SysHost};
use crate::checks::Status;
use crate::fleet::network::Skew;
use crate::fleet::nodeset::fold;

/// Explain text of `system.time`.
pub(super) const EXPLAIN: &str = "Every node's kernel clock is synchronised (adjtimex; unknown under --root, so all unknown is skip and some unknown is warn). Reports gathered together (sorted by generated_at, each within 60 s of the previous one: one collection run) must not be provably further apart than the HLC tolerance of 1 s: generated_at has whole seconds, so a spread of 2 s or more is a warning (fan-out and check durations add to it; probe offsets measure the clocks themselves).";

/// Largest spread, in whole seconds of `generated_at`, of one collection run that is not
/// provably beyond the 1 s HLC tolerance.
const MAX_SPREAD_S: i64 = 1;

/// Gap between two sorted report times that starts a new collection run.
const RUN_GAP_S: i64 = 60;

/// The `system.time` finding: the reports' clock facts, then the largest pairwise skew
/// the probe handshakes measured ([`with_probe_skew`]).
pub(super) fn judge(hosts: &[SysHost], skew: Option<&Skew>) -> Finding {
    let f = from_reports(hosts);
    match skew {
        Some(k) => with_probe_skew(f, k),
        None => f,
    }
}

/// DAOS's HLC tolerance (gurt/hlc.c `d_hlc_epsilon`: 1 s), in ms.
const HLC_TOLERANCE_MS: f64 = 1000.0;

/// A measured skew above this is a warning: clocks that NTP keeps synchronised agree
/// within milliseconds, so a tenth of the tolerance means one of them is not tracking.
const SKEW_WARN_MS: f64 = 100.0;

/// Folds the probe's largest pairwise skew into the finding: beyond the tolerance is a
/// failure naming the pair (the estimate itself, not the estimate minus its ±half-RTT
/// bound: a pair that may be beyond is not passed); below it the measured agreement
/// turns an unknown clock state (`skip`) into `pass`.
fn with_probe_skew(mut f: Finding, k: &Skew) -> Finding {
    let pair = format!(
        "{} is {:.0} ms ahead of {} (probe from {}, ±{:.1} ms)",
        k.ahead, k.skew_ms, k.behind, k.measured_from, k.uncertainty_ms
    );
    if let Some(d) = f.details.as_object_mut() {
        d.insert("probe_max_skew".into(), json!(k));
    }
    let before = if f.summary == "no report" {
        String::new()
    } else {
        format!("; {}", f.summary)
    };
    if k.skew_ms > HLC_TOLERANCE_MS {
        f.status = Status::Fail;
        f.summary = format!("{pair}: beyond the 1 s HLC tolerance{before}");
        f.remediation = Some(format!(
            "synchronise the clocks of {} and {} (chronyc tracking / chronyc sources on both; same NTP servers)",
            k.ahead, k.behind
        ));
    } else if k.skew_ms > SKEW_WARN_MS {
        if f.status.severity() < Status::Warn.severity() {
            f.status = Status::Warn;
            f.remediation = Some(format!(
                "check the time sync of {} and {} (chronyc tracking)",
                k.ahead, k.behind
            ));
        }
        f.summary = format!("{pair}: within the 1 s HLC tolerance but not NTP-close{before}");
    } else {
        if f.status == Status::Skip {
            f.status = Status::Pass;
        }
        f.summary = format!(
            "probe: largest skew {:.1} ms ({} vs {}){before}",
            k.skew_ms, k.ahead, k.behind
        );
    }
    f
}

fn from_reports(hosts: &[SysHost]) -> Finding {
    let id = "system.time";
    let by = |want: Option<bool>| -> Vec<&str> {
        hosts
            .iter()
            .filter(|h| h.synchronized == want)
            .map(|h| &*h.name)
            .collect()
    };
    let (unsync, synced, unknown) = (by(Some(false)), by(Some(true)), by(None));
    let mut t: Vec<(i64, &str)> = hosts
        .iter()
        .filter_map(|h| h.generated_unix.map(|g| (g, &*h.name)))
        .collect();
    t.sort();
    let mut spreads = Vec::new();
    let mut start = 0;
    for i in 1..=t.len() {
        if i == t.len() || t[i].0 - t[i - 1].0 > RUN_GAP_S {
            let (lo, hi) = (t[start], t[i - 1]);
            if hi.0 - lo.0 > MAX_SPREAD_S {
                spreads.push(format!("{} at {}s after {}", hi.1, hi.0 - lo.0, lo.1));
            }
            start = i;
        }
    }
    let times = if t.len() < 2 {
        String::new()
    } else if spreads.is_empty() {
        "; report times of each collection run at most 1 s apart".to_string()
    } else {
        format!("; report times more than 1 s apart: {}", spreads[0])
    };
    let list = |v: &[&str]| fold(v.iter().copied());
    let details = json!({
        "synchronised": list(&synced),
        "unsynchronised": list(&unsync),
        "clock_unknown": list(&unknown),
        "window_spread": spreads,
    });
    if hosts.is_empty() {
        finding(id, Status::Skip, "no report".into(), details, None)
    } else if !unsync.is_empty() {
        finding(
            id,
            Status::Fail,
            format!("clock not synchronised on {}{times}", list(&unsync)),
            details,
            Some("enable chronyd (or another NTP client) and wait until it is synchronised"),
        )
    } else if !spreads.is_empty() {
        finding(
            id,
            Status::Warn,
            format!(
                "reports of one collection run more than 1 s apart: {}",
                spreads.join(", ")
            ),
            details,
            Some(
                "compare the clocks (chronyc tracking) on those hosts; collect with a fan-out covering every node (clush/pdsh -f)",
            ),
        )
    } else if synced.is_empty() {
        finding(
            id,
            Status::Skip,
            format!(
                "clock state unknown on every host ({}): reports made with --root or by an older tool carry no adjtimex state{times}",
                list(&unknown)
            ),
            details,
            None,
        )
    } else if !unknown.is_empty() {
        finding(
            id,
            Status::Warn,
            format!(
                "clock state unknown on {}; synchronised on {}{times}",
                list(&unknown),
                list(&synced)
            ),
            details,
            Some("run check live (without --root) on those hosts"),
        )
    } else {
        finding(
            id,
            Status::Pass,
            format!("{} clock(s) synchronised{times}", synced.len()),
            details,
            None,
        )
    }
}
