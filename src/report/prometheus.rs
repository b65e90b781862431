//! Prometheus text exposition format (version 0.0.4) of a report: what `check --format
//! prometheus` prints and `check --textfile DIR` hands to node_exporter's textfile
//! collector.
//!
//! Every family has `# HELP` and `# TYPE`; values are in base units (seconds, bytes);
//! label values are escaped as the format requires (backslash, double quote, newline);
//! no sample carries a timestamp (the textfile collector rejects them). Statuses are
//! one-hot (`daos_preflight_check_status{check,status}` is 1 for the current status and 0
//! for the other four) so that `== 1` selects and a status change never leaves a stale
//! series behind.

use std::fmt::Write as _;

use crate::checks::Status;
use crate::facts::Facts;

use super::Report;

/// Every status, in the order they are printed.
pub const STATUSES: [Status; 5] = [
    Status::Pass,
    Status::Warn,
    Status::Fail,
    Status::Skip,
    Status::Error,
];

/// What the renderer needs beyond the report.
#[derive(Debug, Clone, Default)]
pub struct PromOptions {
    /// The fabric interfaces of the server configuration (`engines[].fabric_iface`),
    /// when one was loaded: only those get NIC gauges, and one that does not exist is
    /// reported as down. `None`: every PCI-backed interface.
    pub fabric_interfaces: Option<Vec<String>>,
}

/// Escapes a label value: `\` → `\\`, `"` → `\"`, newline → `\n`.
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes `# HELP` text: `\` → `\\`, newline → `\n`.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Lowercase status name, as in the JSON report.
pub fn status_name(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Warn => "warn",
        Status::Fail => "fail",
        Status::Skip => "skip",
        Status::Error => "error",
    }
}

/// A metric family being written: HELP and TYPE once, then samples.
pub struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
}

impl<'a> Family<'a> {
    /// Starts a family with its help text and type (`gauge`).
    pub fn gauge(out: &'a mut String, name: &'static str, help: &str) -> Self {
        let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(out, "# TYPE {name} gauge");
        Family { out, name }
    }

    /// Writes one sample; labels are escaped here.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(self.name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", format_value(value));
    }
}

/// Go's `strconv.FormatFloat(v, 'g', -1, 64)` is what Prometheus prints; integers
/// print without a fraction, everything else in Rust's shortest round-trip form.
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// The interfaces that get NIC gauges: `(name, facts entry if present)`.
fn nic_targets<'f>(
    facts: &'f Facts,
    opts: &PromOptions,
) -> Vec<(String, Option<&'f crate::facts::NetInterface>)> {
    let ifaces = &facts.net.interfaces;
    match &opts.fabric_interfaces {
        Some(names) => {
            let mut names = names.clone();
            names.sort();
            names.dedup();
            names
                .into_iter()
                .map(|n| {
                    let found = ifaces.iter().find(|i| i.name == n);
                    (n, found)
                })
                .collect()
        }
        None => ifaces
            .iter()
            .filter(|i| i.pci_address.is_some())
            .map(|i| (i.name.clone(), Some(i)))
            .collect(),
    }
}

/// Renders `report` in the Prometheus text format.
pub fn render(report: &Report, opts: &PromOptions) -> String {
    let mut out = String::with_capacity(8 * 1024);
    let facts = &report.facts;

    Family::gauge(
        &mut out,
        "daos_preflight_info",
        "daos-preflight version, DAOS rules profile and kernel of the last run (always 1).",
    )
    .sample(
        &[
            ("version", &report.tool.version),
            ("daos_version", &report.daos_version),
            ("kernel", report.host.kernel.as_deref().unwrap_or("")),
        ],
        1.0,
    );

    let mut f = Family::gauge(
        &mut out,
        "daos_preflight_check_status",
        "Status of each check: 1 for the current status, 0 for the four others.",
    );
    for c in &report.checks {
        for s in STATUSES {
            let v = if c.status == s { 1.0 } else { 0.0 };
            f.sample(&[("check", &c.id), ("status", status_name(s))], v);
        }
    }

    let mut f = Family::gauge(
        &mut out,
        "daos_preflight_checks",
        "Number of checks in each status in the last run.",
    );
    let s = &report.summary;
    for (st, n) in [
        (Status::Pass, s.pass),
        (Status::Warn, s.warn),
        (Status::Fail, s.fail),
        (Status::Skip, s.skip),
        (Status::Error, s.error),
    ] {
        f.sample(&[("status", status_name(st))], f64::from(n));
    }

    if let Some(t) = super::parse_rfc3339(&report.generated_at) {
        Family::gauge(
            &mut out,
            "daos_preflight_last_run_timestamp_seconds",
            "Unix time at which the last run finished.",
        )
        .sample(&[], t as f64);
    }
    Family::gauge(
        &mut out,
        "daos_preflight_last_run_duration_seconds",
        "How long collecting the facts and running the checks took.",
    )
    .sample(&[], report.duration_ms as f64 / 1000.0);

    if let Some(kib) = facts.memory.mem_total_kib {
        Family::gauge(
            &mut out,
            "daos_preflight_memory_total_bytes",
            "MemTotal of /proc/meminfo.",
        )
        .sample(&[], kib as f64 * 1024.0);
    }
    if let Some(kib) = facts.memory.mem_available_kib {
        Family::gauge(
            &mut out,
            "daos_preflight_memory_available_bytes",
            "MemAvailable of /proc/meminfo.",
        )
        .sample(&[], kib as f64 * 1024.0);
    }

    // hugepages per NUMA node and page size (what DAOS allocates per engine node)
    let pools: Vec<(String, String, Option<u64>, Option<u64>)> = facts
        .numa
        .nodes
        .iter()
        .flat_map(|n| {
            n.hugepages.iter().map(move |p| {
                (
                    n.id.to_string(),
                    (p.size_kib * 1024).to_string(),
                    p.total,
                    p.free,
                )
            })
        })
        .collect();
    if pools.iter().any(|p| p.2.is_some()) {
        let mut f = Family::gauge(
            &mut out,
            "daos_preflight_hugepages",
            "Hugepages allocated (nr_hugepages) per NUMA node and page size.",
        );
        for (node, size, total, _) in &pools {
            if let Some(t) = total {
                f.sample(&[("node", node), ("page_size_bytes", size)], *t as f64);
            }
        }
    }
    if pools.iter().any(|p| p.3.is_some()) {
        let mut f = Family::gauge(
            &mut out,
            "daos_preflight_hugepages_free",
            "Free hugepages per NUMA node and page size.",
        );
        for (node, size, _, free) in &pools {
            if let Some(v) = free {
                f.sample(&[("node", node), ("page_size_bytes", size)], *v as f64);
            }
        }
    }

    // IOMMU as DAOS sees it (non-empty /sys/class/iommu); unknown without a sysfs
    if facts.source.sysfs {
        Family::gauge(
            &mut out,
            "daos_preflight_iommu_enabled",
            "1 when the kernel IOMMU is active (/sys/class/iommu is non-empty, DAOS's test).",
        )
        .sample(
            &[],
            if facts.iommu.units.is_empty() {
                0.0
            } else {
                1.0
            },
        );
    }

    let nics = nic_targets(facts, opts);
    if !nics.is_empty() {
        let mut f = Family::gauge(
            &mut out,
            "daos_preflight_nic_link_up",
            "1 when the interface exists, is operationally up and has carrier.",
        );
        for (name, i) in &nics {
            let up =
                i.is_some_and(|i| i.operstate.as_deref() == Some("up") && i.carrier != Some(false));
            f.sample(&[("interface", name)], if up { 1.0 } else { 0.0 });
        }
        let speeds: Vec<(&String, u64)> = nics
            .iter()
            .filter_map(|(n, i)| i.and_then(|i| i.speed_mbps).map(|s| (n, s)))
            .collect();
        if !speeds.is_empty() {
            let mut f = Family::gauge(
                &mut out,
                "daos_preflight_nic_speed_bytes_per_second",
                "Link speed of the interface (sysfs speed, Mb/s, in bytes per second).",
            );
            for (n, s) in speeds {
                f.sample(&[("interface", n)], s as f64 * 125_000.0);
            }
        }
        let mtus: Vec<(&String, u32)> = nics
            .iter()
            .filter_map(|(n, i)| i.and_then(|i| i.mtu).map(|m| (n, m)))
            .collect();
        if !mtus.is_empty() {
            let mut f = Family::gauge(
                &mut out,
                "daos_preflight_nic_mtu_bytes",
                "MTU of the interface.",
            );
            for (n, m) in mtus {
                f.sample(&[("interface", n)], f64::from(m));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_escaping_follows_the_exposition_format() {
        assert_eq!(escape_label(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label("x\ny"), "x\\ny");
        assert_eq!(escape_label("plain-1.2"), "plain-1.2");
        assert_eq!(escape_help("a\\b\nc"), "a\\\\b\\nc");
    }

    #[test]
    fn values_print_like_prometheus() {
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(1.25e10), "12500000000");
        assert_eq!(format_value(f64::NAN), "NaN");
    }

    #[test]
    fn family_writes_help_type_and_samples() {
        let mut s = String::new();
        let mut f = Family::gauge(&mut s, "x_y", "help");
        f.sample(&[("a", "q\"")], 2.0);
        f.sample(&[], 0.5);
        assert_eq!(
            s,
            "# HELP x_y help\n# TYPE x_y gauge\nx_y{a=\"q\\\"\"} 2\nx_y 0.5\n"
        );
    }
}
