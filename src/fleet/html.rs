//! `fleet --format html`: one self-contained page (inline CSS, no script, no
//! external resource of any kind) with the system verdict, the per-check host
//! grid coloured by status, the probe's reachability matrix and clocks
//! (`fleet/html_network.rs`), and the drift tables.
//!
//! Every string that comes from a report (host names, values, ids, summaries)
//! is untrusted and goes through [`esc`].
//!
//! Folding decision: the grid has one row per distinct status vector, not per
//! host. Hosts with any fail/error/warn are grouped by identical
//! (fail, error, warn) id sets and labelled with the folded nodeset of the
//! group; every other host (pass or skip everywhere) shares one last row. A
//! fleet of 1,000 identical hosts is one row; the page grows with the number
//! of distinct problems, not with the number of hosts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::checks::Status;
use crate::report::prometheus::status_name;

use super::FleetSummary;

/// Escapes `s` for HTML text and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

const CSS: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:20px;color:#222}\
h1{margin:0 0 4px}h2{margin:24px 0 8px;border-bottom:1px solid #ccc}\
.verdict{display:inline-block;padding:8px 18px;font-size:22px;font-weight:bold;border-radius:6px;color:#fff}\
table{border-collapse:collapse;margin:4px 0}td,th{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}\
th.v{writing-mode:vertical-rl;transform:rotate(180deg);font-weight:normal;white-space:nowrap}\
.pass{background:#2e7d32;color:#fff}.warn{background:#f9a825}.fail{background:#c62828;color:#fff}\
.error{background:#6a1b9a;color:#fff}.skip{background:#bdbdbd}\
td.c{text-align:center;min-width:18px;font-size:11px}.muted{color:#666}\
.legend span{padding:2px 8px;margin-right:4px;border-radius:3px}\
h3{margin:16px 0 6px}td.m{text-align:center;white-space:nowrap;font-size:12px}td.none{color:#999}\
.port{margin:1px 0}#skew{font-size:16px}";

fn class(s: Status) -> &'static str {
    status_name(s)
}

/// The whole page.
pub fn page(s: &FleetSummary) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>daos-preflight fleet</title><style>{CSS}</style></head><body>\n"
    );
    let _ = writeln!(o, "<h1>daos-preflight fleet</h1>");
    let _ = writeln!(
        o,
        "<p class=\"muted\">{} host(s) from {} document(s); {} unreadable; newest report {}</p>",
        s.hosts,
        s.documents,
        s.problems.len(),
        esc(s.newest_generated_at.as_deref().unwrap_or("unknown"))
    );
    system(&mut o, s);
    grid(&mut o, s);
    super::html_network::section(&mut o, s.network.as_ref());
    drift(&mut o, s);
    problems(&mut o, s);
    o.push_str("</body></html>\n");
    o
}

fn system(o: &mut String, s: &FleetSummary) {
    let st = s.system.status;
    let _ = writeln!(
        o,
        "<h2>System</h2><div id=\"verdict\" class=\"verdict {}\">system: {}</div>",
        class(st),
        status_name(st).to_uppercase()
    );
    if !s.system.findings.is_empty() {
        o.push_str("<table id=\"system\"><tr><th>rule</th><th>status</th><th>summary</th><th>fix</th></tr>\n");
        for f in &s.system.findings {
            let fix = f
                .remediation
                .as_deref()
                .filter(|_| f.status != Status::Pass)
                .unwrap_or("");
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(&f.id),
                class(f.status),
                status_name(f.status),
                esc(&f.summary),
                esc(fix)
            );
        }
        o.push_str("</table>\n");
    }
    if !s.system.missing_servers.is_empty() {
        let _ = writeln!(
            o,
            "<p>Servers named but not reported: <b>{}</b></p>",
            esc(&s.system.missing_servers.join(", "))
        );
    }
    if !s.system.without_daos.is_empty() {
        let _ = writeln!(
            o,
            "<p>Reports without DAOS values (older tool): {}</p>",
            esc(&super::nodeset::fold(
                s.system.without_daos.iter().map(|h| h.as_str())
            ))
        );
    }
}

/// One grid row: a nodeset label, its host count and a status per check.
/// (fail, error, warn) check ids of a host: its status vector.
type Vector = (Vec<String>, Vec<String>, Vec<String>);

struct Row {
    label: String,
    count: usize,
    cells: Vec<Status>,
}

fn rows(s: &FleetSummary) -> Vec<Row> {
    let ids: Vec<&str> = s.checks.iter().map(|c| c.id.as_str()).collect();
    let mut groups: BTreeMap<Vector, Vec<&str>> = BTreeMap::new();
    for f in &s.failing {
        let key = (f.fail.clone(), f.error.clone(), f.warn.clone());
        groups.entry(key).or_default().push(f.host.as_str());
    }
    // Status of a check on hosts with no problem: pass when any host passes it.
    let clean = |i: usize| -> Status {
        let c = &s.checks[i];
        if c.counts.get(&Status::Pass).copied().unwrap_or(0) > 0 {
            Status::Pass
        } else {
            Status::Skip
        }
    };
    let mut out: Vec<Row> = groups
        .into_iter()
        .map(|((fail, error, warn), hosts)| {
            let cells = ids
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    let has = |v: &Vec<String>| v.iter().any(|x| x == id);
                    if has(&error) {
                        Status::Error
                    } else if has(&fail) {
                        Status::Fail
                    } else if has(&warn) {
                        Status::Warn
                    } else {
                        clean(i)
                    }
                })
                .collect();
            Row {
                label: super::nodeset::fold(hosts.iter().copied()),
                count: hosts.len(),
                cells,
            }
        })
        .collect();
    // Worst rows first: errors and fails count most.
    out.sort_by_key(|r| {
        std::cmp::Reverse(
            r.cells
                .iter()
                .map(|c| match c {
                    Status::Error | Status::Fail => 100,
                    Status::Warn => 1,
                    _ => 0,
                })
                .sum::<usize>(),
        )
    });
    let rest = s.hosts.saturating_sub(s.failing.len());
    if rest > 0 {
        out.push(Row {
            label: "all other hosts".into(),
            count: rest,
            cells: (0..ids.len()).map(clean).collect(),
        });
    }
    out
}

fn grid(o: &mut String, s: &FleetSummary) {
    if s.checks.is_empty() {
        return;
    }
    o.push_str("<h2>Checks</h2><p class=\"legend\">");
    for st in [
        Status::Pass,
        Status::Warn,
        Status::Fail,
        Status::Error,
        Status::Skip,
    ] {
        let _ = write!(o, "<span class=\"{0}\">{0}</span>", class(st));
    }
    o.push_str(
        "</p><p class=\"muted\">One row per distinct status vector; hosts folded as nodesets.</p>\n",
    );
    o.push_str("<table id=\"grid\"><tr><th>hosts</th><th>n</th>");
    for c in &s.checks {
        let _ = write!(o, "<th class=\"v\">{}</th>", esc(&c.id));
    }
    o.push_str("</tr>\n");
    for r in rows(s) {
        let _ = write!(
            o,
            "<tr><td class=\"hosts\">{}</td><td>{}</td>",
            esc(&r.label),
            r.count
        );
        for (c, st) in s.checks.iter().zip(&r.cells) {
            let _ = write!(
                o,
                "<td class=\"c {}\" title=\"{}: {}\">{}</td>",
                class(*st),
                esc(&c.id),
                status_name(*st),
                match st {
                    Status::Pass => "",
                    Status::Warn => "W",
                    Status::Fail => "F",
                    Status::Error => "E",
                    Status::Skip => "-",
                }
            );
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table>\n");
}

fn drift(o: &mut String, s: &FleetSummary) {
    if s.drift.is_empty() {
        return;
    }
    o.push_str("<h2>Drift</h2><p class=\"muted\">Facts that differ between hosts; most common value first.</p>\n");
    for d in &s.drift {
        let _ = writeln!(
            o,
            "<table class=\"drift\"><tr><th colspan=\"3\">{}</th></tr>",
            esc(&d.fact)
        );
        for v in &d.values {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(v.value.as_deref().unwrap_or("(absent)")),
                v.count,
                esc(&v.hosts)
            );
        }
        o.push_str("</table>\n");
    }
}

fn problems(o: &mut String, s: &FleetSummary) {
    if s.problems.is_empty() {
        return;
    }
    o.push_str("<h2>Unreadable reports</h2><ul>\n");
    for p in &s.problems {
        let _ = writeln!(
            o,
            "<li>{}{}: {}</li>",
            esc(&p.source),
            p.host
                .as_deref()
                .map(|h| format!(" ({})", esc(h)))
                .unwrap_or_default(),
            esc(&p.message)
        );
    }
    o.push_str("</ul>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_untrusted_text() {
        assert_eq!(esc("<script>\"'&"), "&lt;script&gt;&quot;&#39;&amp;");
    }
}
