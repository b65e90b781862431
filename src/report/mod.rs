//! The report (`daos-preflight/report/v1`) and its renderers.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::checks::{Evaluated, Remediation, Status};
use crate::daos::section::DaosSection;
use crate::facts::Facts;

pub mod acpi_text;
pub mod facts_text;
pub mod prometheus;
pub mod schema;
pub mod text;

/// Schema identifier of the report.
pub const REPORT_SCHEMA: &str = "daos-preflight/report/v1";

/// A full report: who, where, when, the verdicts and the facts behind them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Report {
    /// Always [`REPORT_SCHEMA`].
    pub schema: String,
    /// The tool that wrote it.
    pub tool: Tool,
    /// The host it describes.
    pub host: HostId,
    /// When it was generated (RFC 3339, UTC).
    pub generated_at: String,
    /// How long collection and checks took, milliseconds.
    pub duration_ms: u64,
    /// DAOS rules profile applied.
    pub daos_version: String,
    /// Counts and overall status.
    pub summary: Summary,
    /// One entry per check run, in registry order.
    pub checks: Vec<CheckResult>,
    /// The facts the checks judged.
    pub facts: Facts,
    /// The DAOS view of this host that other nodes must agree with (role, files, system
    /// name, access points, fabric, security), for `fleet`'s system rules. Added in
    /// report/v1 (absent from older reports: read as null).
    #[serde(default)]
    pub daos: Option<DaosSection>,
}

/// Tool identity.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq)]
pub struct Tool {
    /// `daos-preflight`.
    pub name: String,
    /// Crate version.
    pub version: String,
}

/// Host identity (what fleet tooling keys on).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq)]
pub struct HostId {
    /// Hostname.
    pub hostname: Option<String>,
    /// `/etc/machine-id`.
    pub machine_id: Option<String>,
    /// `/proc/sys/kernel/random/boot_id`.
    pub boot_id: Option<String>,
    /// Kernel release.
    pub kernel: Option<String>,
    /// The canonical name of the hostname in `/etc/hosts` (the resolver's files view, no
    /// DNS query), also under `--root` from the tree's `etc/hosts`; null when no line
    /// names the host.
    #[serde(default)]
    pub fqdn: Option<String>,
    /// IPv4 and IPv6 addresses of every non-loopback interface (getifaddrs); null under
    /// `--root` (a tree has no running interfaces).
    #[serde(default)]
    pub addresses: Option<Vec<String>>,
}

/// Status counts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq, Default)]
pub struct Summary {
    /// Worst status: fail > error > warn > pass > skip.
    pub status: Option<Status>,
    /// Passed.
    pub pass: u32,
    /// Warnings.
    pub warn: u32,
    /// Failures.
    pub fail: u32,
    /// Not applicable.
    pub skip: u32,
    /// Not evaluable.
    pub error: u32,
}

impl Summary {
    /// Counts the statuses of `checks`.
    pub fn of(checks: &[CheckResult]) -> Self {
        let mut s = Summary::default();
        for c in checks {
            match c.status {
                Status::Pass => s.pass += 1,
                Status::Warn => s.warn += 1,
                Status::Fail => s.fail += 1,
                Status::Skip => s.skip += 1,
                Status::Error => s.error += 1,
            }
            if s.status.is_none_or(|w| c.status.severity() > w.severity()) {
                s.status = Some(c.status);
            }
        }
        s
    }
}

/// One check in the report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct CheckResult {
    /// Stable id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Status.
    pub status: Status,
    /// One line.
    pub summary: String,
    /// Numbers behind it.
    pub details: Map<String, Value>,
    /// How to fix (null when passing).
    pub remediation: Option<Remediation>,
    /// DAOS fault code mirrored, when any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub daos_fault_code: Option<String>,
}

impl From<Evaluated> for CheckResult {
    fn from(e: Evaluated) -> Self {
        CheckResult {
            id: e.id.to_string(),
            title: e.title.to_string(),
            status: e.finding.status,
            summary: e.finding.summary,
            details: e.finding.details,
            remediation: e.finding.remediation,
            daos_fault_code: e.finding.daos_fault_code,
        }
    }
}

/// Exit code of `check` (design.md §3): 1 when anything failed, or with `strict`
/// anything warned or could not be evaluated; else 0.
pub fn exit_code(summary: &Summary, strict: bool) -> i32 {
    if summary.fail > 0 || (strict && (summary.warn > 0 || summary.error > 0)) {
        1
    } else {
        0
    }
}

/// RFC 3339 UTC timestamp of a Unix time in seconds.
pub fn rfc3339(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    // civil-from-days (proleptic Gregorian), valid for all dates after 1970
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Unix time of an RFC 3339 timestamp (`2026-11-25T01:01:01Z`, fractional seconds and
/// `±hh:mm` offsets accepted); `None` when it is not one. The inverse of [`rfc3339`].
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    if hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    // days-from-civil (proleptic Gregorian), the inverse of the algorithm in `rfc3339`
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_parses_back() {
        for t in [0u64, 951_782_400, 1_795_568_461, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t as i64));
        }
        // `date -u -d 2026-11-25T03:01:01.5+02:00 +%s` → 1795568461
        assert_eq!(
            parse_rfc3339("2026-11-25T03:01:01.5+02:00"),
            Some(1_795_568_461)
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-25T01:01:01",
            "2026-11-25T01:01:01.Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        // `date -u -d @951782400` → 2000-02-29 00:00:00 (leap day)
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        // `date -u -d @1795568461`
        assert_eq!(rfc3339(1_795_568_461), "2026-11-25T01:01:01Z");
    }

    #[test]
    fn summary_and_exit_codes() {
        let mk = |s| CheckResult {
            id: "a.b".into(),
            title: String::new(),
            status: s,
            summary: String::new(),
            details: Map::new(),
            remediation: None,
            daos_fault_code: None,
        };
        let s = Summary::of(&[mk(Status::Pass), mk(Status::Warn), mk(Status::Skip)]);
        assert_eq!((s.pass, s.warn, s.skip), (1, 1, 1));
        assert_eq!(s.status, Some(Status::Warn));
        assert_eq!(exit_code(&s, false), 0);
        assert_eq!(exit_code(&s, true), 1);
        let s = Summary::of(&[mk(Status::Error), mk(Status::Fail)]);
        assert_eq!(s.status, Some(Status::Fail));
        assert_eq!(exit_code(&s, false), 1);
        let s = Summary::of(&[mk(Status::Error)]);
        assert_eq!(exit_code(&s, false), 0);
        assert_eq!(Summary::of(&[]).status, None);
    }
}
