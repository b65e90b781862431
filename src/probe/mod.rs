//! `probe`: the network paths and clocks between DAOS nodes, measured before DAOS
//! starts. Pure parts: the handshake ([`protocol`]), what to probe ([`plan`]) and the
//! result model with its text/JSON rendering (`daos-preflight/probe/v1`). The sockets
//! are in `host/net_probe.rs`.

pub mod plan;
pub mod protocol;

use serde::Serialize;

/// The report's schema id.
pub const SCHEMA: &str = "daos-preflight/probe/v1";

/// Tool identity.
#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    /// `daos-preflight`.
    pub name: String,
    /// Version.
    pub version: String,
}

/// The probing host.
#[derive(Debug, Clone, Serialize)]
pub struct From {
    /// Short host name.
    pub hostname: String,
    /// FQDN when known.
    pub fqdn: Option<String>,
    /// Local addresses.
    pub addresses: Option<Vec<String>>,
    /// `server`, `client`, `none`.
    pub role: String,
    /// DAOS system name.
    pub system_name: Option<String>,
}

/// One (peer, address, port) result.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    /// Name as configured or given.
    pub peer: String,
    /// Resolved address tried.
    pub address: Option<String>,
    /// Port.
    pub port: u16,
    /// `control` or `fabric`.
    pub purpose: String,
    /// Engine index for fabric ports.
    pub engine: Option<usize>,
    /// Whether DAOS needs the path.
    pub required: bool,
    /// `ok`, `refused`, `timeout`, `unresolved`, `wrong-host`, `error`.
    pub status: String,
    /// Round trip (ms).
    pub rtt_ms: Option<f64>,
    /// Peer clock minus local clock (ms).
    pub clock_offset_ms: Option<f64>,
    /// Name the handshake gave.
    pub peer_hostname: Option<String>,
    /// One line.
    pub detail: Option<String>,
}

/// Totals.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// `pass` or `fail`.
    pub status: String,
    /// Results ok.
    pub ok: usize,
    /// Required results not ok.
    pub failed: usize,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// [`SCHEMA`].
    pub schema: String,
    /// Tool.
    pub tool: Tool,
    /// Probing host.
    pub from: From,
    /// RFC 3339 UTC.
    pub generated_at: String,
    /// Wall time of the run.
    pub duration_ms: u64,
    /// Per-connection timeout.
    pub timeout_ms: u64,
    /// Results.
    pub results: Vec<ProbeResult>,
    /// Totals.
    pub summary: Summary,
}

/// Whether a handshake name designates the peer name (hostname, FQDN or short name).
pub fn same_host(peer: &str, hostname: &str, fqdn: Option<&str>) -> bool {
    let short = |s: &str| s.split('.').next().unwrap_or(s).to_ascii_lowercase();
    let p = peer.to_ascii_lowercase();
    if p == "localhost" || p.parse::<std::net::IpAddr>().is_ok() {
        return true; // an address names no host: nothing to compare
    }
    p == hostname.to_ascii_lowercase()
        || fqdn.is_some_and(|f| f.eq_ignore_ascii_case(&p))
        || short(&p) == short(hostname)
}

/// The summary of results.
pub fn summarize(results: &[ProbeResult]) -> Summary {
    let ok = results.iter().filter(|r| r.status == "ok").count();
    let failed = results
        .iter()
        .filter(|r| r.required && r.status != "ok")
        .count();
    Summary {
        status: if failed == 0 { "pass" } else { "fail" }.into(),
        ok,
        failed,
    }
}

/// Exit status: 0 all required ok, 1 otherwise.
pub fn exit_code(r: &ProbeReport) -> i32 {
    i32::from(r.summary.failed > 0)
}

/// JSON rendering.
pub fn render_json(r: &ProbeReport) -> String {
    let mut s = serde_json::to_string_pretty(r).unwrap_or_default();
    s.push('\n');
    s
}

/// Text rendering: one line per result.
pub fn render_text(r: &ProbeReport) -> String {
    let mut s = format!(
        "probe from {} ({}), timeout {} ms, {} ms\n",
        r.from.hostname, r.from.role, r.timeout_ms, r.duration_ms
    );
    for x in &r.results {
        let ms = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "-".into());
        s.push_str(&format!(
            "{:<10} {:<16} {:>5}/{:<7}{} {:<10} rtt {:>7} ms  offset {:>9} ms{}{}\n",
            x.peer,
            x.address.as_deref().unwrap_or("-"),
            x.port,
            x.purpose,
            if x.required { " " } else { "?" },
            x.status,
            ms(x.rtt_ms),
            ms(x.clock_offset_ms),
            x.peer_hostname
                .as_ref()
                .map(|h| format!("  ({h})"))
                .unwrap_or_default(),
            x.detail
                .as_ref()
                .map(|d| format!("  {d}"))
                .unwrap_or_default(),
        ));
    }
    s.push_str(&format!(
        "{}: {} ok, {} required failed\n",
        r.summary.status.to_uppercase(),
        r.summary.ok,
        r.summary.failed
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_matching() {
        assert!(same_host("node1", "node1", None));
        assert!(same_host("node1.example", "node1", None));
        assert!(same_host("node1", "x", Some("node1")));
        assert!(!same_host("node1", "node0", Some("node0.example")));
        assert!(same_host("localhost", "node0", None));
    }
}
