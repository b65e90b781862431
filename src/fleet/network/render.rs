//! Text and Prometheus renderings of the probe matrix (the HTML one is in
//! `fleet/html_network.rs`).

use std::fmt::Write as _;

use crate::report::prometheus::Family;

use super::{Network, PathStatus};

/// Destinations beyond which the text matrix is left out (the failure list remains).
const TEXT_MATRIX_MAX: usize = 24;

/// One letter per cell of the text matrix.
fn letter(cell: &str) -> char {
    match cell.trim_end_matches('?') {
        "" => ' ',
        "ok" => '.',
        "refused" => 'R',
        "timeout" => 'T',
        "unresolved" => 'U',
        "wrong-host" => 'W',
        _ => 'E',
    }
}

impl Network {
    /// The `network` section of `fleet` text output.
    pub fn text(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "\nnetwork (probe reports of {} host(s)): {} path(s), {} ok, {} required failed, {} optional failed",
            self.probe_reports,
            self.paths.total,
            self.paths.ok,
            self.paths.failed_required,
            self.paths.failed_optional
        );
        if self.destinations.len() <= TEXT_MATRIX_MAX {
            let w = self
                .sources
                .iter()
                .map(|s| s.len())
                .max()
                .unwrap_or(4)
                .max(4);
            let _ = write!(o, "  {:w$}  ", "from");
            for i in 0..self.destinations.len() {
                let _ = write!(o, "{:>3}", i + 1);
            }
            let _ = writeln!(o);
            for (s, row) in self.sources.iter().zip(&self.matrix) {
                let _ = write!(o, "  {s:w$}  ");
                for c in row {
                    let l = letter(c);
                    let mark = if c.ends_with('?') { '?' } else { ' ' };
                    let _ = write!(o, " {l}{mark}");
                }
                let _ = writeln!(o);
            }
            let cols: Vec<String> = self
                .destinations
                .iter()
                .enumerate()
                .map(|(i, d)| format!("{}={d}", i + 1))
                .collect();
            let _ = writeln!(o, "  to: {}", cols.join(" "));
            let _ = writeln!(
                o,
                "  . ok  T timeout  R refused  U unresolved  W wrong-host  E error  ? not required"
            );
        }
        for f in &self.failures {
            let _ = writeln!(
                o,
                "  {} -> {}{} {}/{}{} {}: {}",
                f.from,
                f.to,
                if f.peer == f.to {
                    String::new()
                } else {
                    format!(" (as {})", f.peer)
                },
                f.port,
                f.purpose,
                if f.required { "" } else { " (not required)" },
                f.status.name(),
                f.cause
            );
        }
        if let Some(k) = &self.max_skew {
            let _ = writeln!(
                o,
                "  clocks: max skew {:.1} ms (±{:.1}) between {} (ahead) and {}, measured from {}",
                k.skew_ms, k.uncertainty_ms, k.ahead, k.behind, k.measured_from
            );
        }
        if self.config_digests.len() > 1 {
            let _ = writeln!(o, "  servers answer with different daos_server.yml:");
            for d in &self.config_digests {
                let _ = writeln!(o, "    {}  {:>4}  {}", d.digest, d.count, d.hosts);
            }
        }
    }

    /// Prometheus families: paths per status, one sample per failed path, the max skew.
    pub fn prometheus(&self, o: &mut String) {
        let mut by: std::collections::BTreeMap<&str, usize> = Default::default();
        for s in [
            PathStatus::Ok,
            PathStatus::Refused,
            PathStatus::Timeout,
            PathStatus::Unresolved,
            PathStatus::WrongHost,
            PathStatus::Error,
        ] {
            by.insert(s.name(), 0);
        }
        *by.entry("ok").or_default() = self.paths.ok;
        for f in &self.failures {
            *by.entry(f.status.name()).or_default() += 1;
        }
        let mut fam = Family::gauge(
            o,
            "daos_preflight_fleet_probe_paths",
            "Paths in the probe reports, per outcome.",
        );
        for (s, n) in &by {
            fam.sample(&[("status", s)], *n as f64);
        }
        let mut fam = Family::gauge(
            o,
            "daos_preflight_fleet_probe_path_failed",
            "A probed path that is not ok (1), with its outcome; only failed paths have a series.",
        );
        for f in &self.failures {
            let port = f.port.to_string();
            fam.sample(
                &[
                    ("from", &f.from),
                    ("to", &f.to),
                    ("port", &port),
                    ("purpose", &f.purpose),
                    ("status", f.status.name()),
                    ("required", if f.required { "true" } else { "false" }),
                ],
                1.0,
            );
        }
        if let Some(k) = &self.max_skew {
            Family::gauge(
                o,
                "daos_preflight_fleet_clock_max_skew_seconds",
                "Largest pairwise clock skew the probe handshakes measured (DAOS HLC tolerance: 1 s).",
            )
            .sample(
                &[("ahead", &k.ahead), ("behind", &k.behind)],
                k.skew_ms / 1000.0,
            );
        }
    }
}
