//! Renderers of the fleet summary: text for people, JSON, Prometheus gauges.

use std::fmt::Write as _;

use crate::report::prometheus::{Family, STATUSES, status_name};

use super::FleetSummary;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetFormatKind {
    /// Text.
    Text,
    /// JSON.
    Json,
    /// Prometheus text format.
    Prometheus,
    /// One self-contained HTML page ([`super::html`]).
    Html,
}

impl FleetSummary {
    /// Renders in `format`.
    pub fn render(&self, format: FleetFormatKind) -> String {
        match format {
            FleetFormatKind::Text => self.text(),
            FleetFormatKind::Json => match serde_json::to_string_pretty(self) {
                Ok(s) => s + "\n",
                Err(e) => format!("{{\"error\": {:?}}}\n", e.to_string()),
            },
            FleetFormatKind::Prometheus => self.prometheus(),
            FleetFormatKind::Html => super::html::page(self),
        }
    }

    fn text(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "fleet: {} host(s) from {} document(s); {} unreadable; newest report {}",
            self.hosts,
            self.documents,
            self.problems.len(),
            self.newest_generated_at.as_deref().unwrap_or("unknown")
        );
        let _ = writeln!(
            o,
            "system: {}",
            status_name(self.system.status).to_uppercase()
        );
        for f in &self.system.findings {
            let _ = writeln!(
                o,
                "  {:22} {:5}  {}",
                f.id,
                status_name(f.status),
                f.summary
            );
            if let Some(r) = f
                .remediation
                .as_deref()
                .filter(|_| f.status != crate::checks::Status::Pass)
            {
                let _ = writeln!(o, "  {:22}        fix: {r}", "");
            }
        }
        if !self.system.missing_servers.is_empty() {
            let _ = writeln!(
                o,
                "  servers named but not reported: {}",
                self.system.missing_servers.join(", ")
            );
        }
        if !self.system.without_daos.is_empty() {
            let _ = writeln!(
                o,
                "  reports without DAOS values (older tool): {}",
                super::nodeset::fold(self.system.without_daos.iter().map(|s| s.as_str()))
            );
        }
        if !self.superseded.is_empty() {
            let _ = writeln!(
                o,
                "  {} older report(s) of the same hosts ignored",
                self.superseded.len()
            );
        }
        if let Some(n) = &self.network {
            n.text(&mut o);
        }
        let width = self.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
        if !self.checks.is_empty() {
            let _ = writeln!(o, "\nchecks");
        }
        for c in &self.checks {
            let mut first = true;
            for s in STATUSES {
                if let Some(hosts) = c.hosts.get(&s) {
                    let n = c.counts.get(&s).copied().unwrap_or(0);
                    let id = if first { c.id.as_str() } else { "" };
                    let _ = writeln!(o, "  {id:width$}  {:5} {n:>6}  {hosts}", status_name(s));
                    first = false;
                }
            }
        }
        if !self.failing.is_empty() {
            let _ = writeln!(o, "\nfailing hosts (worst first)");
            for f in &self.failing {
                let mut parts = Vec::new();
                for (label, ids) in [("fail", &f.fail), ("error", &f.error), ("warn", &f.warn)] {
                    if !ids.is_empty() {
                        parts.push(format!("{label}: {}", ids.join(", ")));
                    }
                }
                let _ = writeln!(o, "  {}  {}", f.host, parts.join("; "));
            }
        }
        if !self.drift.is_empty() {
            let _ = writeln!(
                o,
                "\ndrift (facts that differ between hosts; most common first)"
            );
            for d in &self.drift {
                let _ = writeln!(o, "  {}", d.fact);
                for v in &d.values {
                    let _ = writeln!(
                        o,
                        "    {:<28} {:>6}  {}",
                        v.value.as_deref().unwrap_or("(absent)"),
                        v.count,
                        v.hosts
                    );
                }
            }
        }
        if !self.stale.is_empty() {
            let _ = writeln!(
                o,
                "\nstale reports (older than {} before the newest)",
                human_duration(self.stale_after_seconds)
            );
            for s in &self.stale {
                let _ = writeln!(
                    o,
                    "  {}  {}  {}",
                    s.host,
                    s.generated_at.as_deref().unwrap_or("no generated_at"),
                    s.age_seconds
                        .map_or("time unreadable".to_string(), |a| format!(
                            "{} older",
                            human_duration(a)
                        ))
                );
            }
        }
        if self.mixed_schemas {
            let _ = writeln!(o, "\nmixed report schemas");
            for s in &self.schemas {
                let _ = writeln!(o, "  {}  {:>6}  {}", s.schema, s.count, s.hosts);
            }
        }
        if !self.problems.is_empty() {
            let _ = writeln!(o, "\nunreadable reports");
            for p in &self.problems {
                match &p.host {
                    Some(h) => {
                        let _ = writeln!(o, "  {h} ({}): {}", p.source, p.message);
                    }
                    None => {
                        let _ = writeln!(o, "  {}: {}", p.source, p.message);
                    }
                }
            }
        }
        o
    }

    fn prometheus(&self) -> String {
        let mut o = String::new();
        Family::gauge(
            &mut o,
            "daos_preflight_fleet_hosts",
            "Hosts with a readable report in the merged input.",
        )
        .sample(&[], self.hosts as f64);
        Family::gauge(
            &mut o,
            "daos_preflight_fleet_unreadable_reports",
            "Inputs that were not readable daos-preflight reports (malformed, truncated, noise).",
        )
        .sample(&[], self.problems.len() as f64);
        Family::gauge(
            &mut o,
            "daos_preflight_fleet_stale_reports",
            "Reports older than --stale-after before the newest one.",
        )
        .sample(&[], self.stale.len() as f64);
        Family::gauge(
            &mut o,
            "daos_preflight_fleet_failing_hosts",
            "Hosts with at least one failed check.",
        )
        .sample(
            &[],
            self.failing.iter().filter(|f| !f.fail.is_empty()).count() as f64,
        );
        let mut f = Family::gauge(
            &mut o,
            "daos_preflight_fleet_system",
            "System rule verdicts across hosts: 1 for the rule's status.",
        );
        for r in &self.system.findings {
            for s in STATUSES {
                f.sample(
                    &[("rule", &r.id), ("status", status_name(s))],
                    f64::from(u8::from(r.status == s)),
                );
            }
        }
        let mut f = Family::gauge(
            &mut o,
            "daos_preflight_fleet_check_hosts",
            "Hosts in each status, per check.",
        );
        for c in &self.checks {
            for s in STATUSES {
                let n = c.counts.get(&s).copied().unwrap_or(0);
                f.sample(&[("check", &c.id), ("status", status_name(s))], n as f64);
            }
        }
        let mut f = Family::gauge(
            &mut o,
            "daos_preflight_fleet_drift_values",
            "Distinct values of a fact that should be equal across hosts (drifting facts only).",
        );
        for d in &self.drift {
            f.sample(&[("fact", &d.fact)], d.values.len() as f64);
        }
        if let Some(n) = &self.network {
            n.prometheus(&mut o);
        }
        o
    }
}

/// `90061` → `1d 1h`, `59` → `59s`.
fn human_duration(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(human_duration(59), "59s");
        assert_eq!(human_duration(90), "1m 30s");
        assert_eq!(human_duration(7300), "2h 1m");
        assert_eq!(human_duration(90061), "1d 1h");
    }
}
