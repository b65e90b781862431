//! The network part of `fleet --format html`: the reachability matrix of the probe
//! reports (source × destination; each cell the worst outcome, with every failed port
//! and its status inside the cell and its cause on hover), the failed paths with their
//! likely cause, the clock offsets the handshakes measured with the largest pairwise
//! skew against DAOS's 1 s HLC tolerance, and the servers' config digests and system
//! names when they differ. Every string from a report goes through [`esc`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::html::esc;
use super::network::{Network, PathFailure};

/// DAOS's HLC tolerance (gurt/hlc.c `d_hlc_epsilon`), ms; the same bound
/// `system.time` judges with.
const HLC_TOLERANCE_MS: f64 = 1000.0;
/// Skew that `system.time` warns about, ms.
const SKEW_WARN_MS: f64 = 100.0;

/// CSS class of a matrix cell (`ok`, `timeout`, `refused?`, ...).
fn cell_class(cell: &str) -> &'static str {
    match cell {
        "" => "none",
        "ok" => "pass",
        c if c.ends_with('?') => "warn",
        _ => "fail",
    }
}

/// CSS class of a measured skew.
fn skew_class(ms: f64) -> &'static str {
    if ms.abs() > HLC_TOLERANCE_MS {
        "fail"
    } else if ms.abs() > SKEW_WARN_MS {
        "warn"
    } else {
        "pass"
    }
}

/// The network section; nothing when no probe report was read.
pub fn section(o: &mut String, net: Option<&Network>) {
    let Some(n) = net else {
        return;
    };
    let _ = writeln!(
        o,
        "<h2>Network</h2><p class=\"muted\" id=\"paths\">probe reports of {} host(s): {} path(s), {} ok, {} required failed, {} optional failed</p>",
        n.probe_reports,
        n.paths.total,
        n.paths.ok,
        n.paths.failed_required,
        n.paths.failed_optional
    );
    matrix(o, n);
    failures(o, n);
    clocks(o, n);
    groups(o, n);
}

fn matrix(o: &mut String, n: &Network) {
    let mut by_pair: BTreeMap<(&str, &str), Vec<&PathFailure>> = BTreeMap::new();
    for f in &n.failures {
        by_pair.entry((&f.from, &f.to)).or_default().push(f);
    }
    o.push_str("<table id=\"reachability\"><tr><th>from \\ to</th>");
    for d in &n.destinations {
        let _ = write!(o, "<th>{}</th>", esc(d));
    }
    o.push_str("</tr>\n");
    for (s, row) in n.sources.iter().zip(&n.matrix) {
        let _ = write!(o, "<tr><th>{}</th>", esc(s));
        for (d, cell) in n.destinations.iter().zip(row) {
            let fs = by_pair
                .get(&(s.as_str(), d.as_str()))
                .map(Vec::as_slice)
                .unwrap_or_default();
            let title: Vec<String> = fs
                .iter()
                .map(|f| format!("{}/{} {}: {}", f.port, f.purpose, f.status.name(), f.cause))
                .collect();
            let _ = write!(
                o,
                "<td class=\"m {}\" data-from=\"{}\" data-to=\"{}\" title=\"{}\">",
                cell_class(cell),
                esc(s),
                esc(d),
                esc(&title.join("\n"))
            );
            if fs.is_empty() {
                o.push_str(if cell.is_empty() { "&ndash;" } else { "ok" });
            } else {
                for f in fs {
                    let _ = write!(
                        o,
                        "<div class=\"port\">{}/{} {}{}</div>",
                        f.port,
                        esc(&f.purpose),
                        f.status.name(),
                        if f.required { "" } else { " (not required)" }
                    );
                }
            }
            o.push_str("</td>");
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table>\n");
}

fn failures(o: &mut String, n: &Network) {
    if n.failures.is_empty() {
        return;
    }
    o.push_str(
        "<table id=\"failures\"><tr><th>from</th><th>to</th><th>port</th><th>address</th>\
<th>status</th><th>likely cause</th></tr>\n",
    );
    for f in &n.failures {
        let to = if f.peer == f.to {
            esc(&f.to)
        } else {
            format!("{} (as {})", esc(&f.to), esc(&f.peer))
        };
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{to}</td><td>{}/{}{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
            esc(&f.from),
            f.port,
            esc(&f.purpose),
            if f.required { "" } else { " (not required)" },
            esc(f.address.as_deref().unwrap_or("-")),
            if f.required { "fail" } else { "warn" },
            f.status.name(),
            esc(&f.cause)
        );
    }
    o.push_str("</table>\n");
}

fn clocks(o: &mut String, n: &Network) {
    if n.clocks.is_empty() {
        return;
    }
    o.push_str("<h3>Clocks</h3>");
    match &n.max_skew {
        Some(k) => {
            let _ = writeln!(
                o,
                "<p id=\"skew\" class=\"verdict {}\">max skew {:.1} ms (&plusmn;{:.1}): {} ahead of {}, measured from {}; DAOS HLC tolerance 1000 ms</p>",
                skew_class(k.skew_ms),
                k.skew_ms,
                k.uncertainty_ms,
                esc(&k.ahead),
                esc(&k.behind),
                esc(&k.measured_from)
            );
        }
        None => o.push_str("<p id=\"skew\">one clock pair only</p>\n"),
    }
    o.push_str(
        "<table id=\"clocks\"><tr><th>from</th><th>to</th><th>offset (ms, to &minus; from)</th><th>rtt (ms)</th></tr>\n",
    );
    for c in &n.clocks {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td class=\"{}\">{:+.1}</td><td>{:.2}</td></tr>",
            esc(&c.from),
            esc(&c.to),
            skew_class(c.offset_ms),
            c.offset_ms,
            c.rtt_ms
        );
    }
    o.push_str("</table>\n");
}

fn groups(o: &mut String, n: &Network) {
    for (id, title, v) in [
        (
            "digests",
            "Servers answer with different daos_server.yml",
            &n.config_digests,
        ),
        (
            "systems",
            "Servers answer for different DAOS systems",
            &n.system_names,
        ),
    ] {
        if v.len() < 2 {
            continue;
        }
        let _ = writeln!(
            o,
            "<h3>{title}</h3><table id=\"{id}\"><tr><th>value</th><th>n</th><th>servers</th></tr>"
        );
        for g in v {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&g.digest),
                g.count,
                esc(&g.hosts)
            );
        }
        o.push_str("</table>\n");
    }
}
