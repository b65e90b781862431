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
    /// DAOS system name (of the server file, else the agent's or dmg's).
    pub system_name: Option<String>,
    /// `sha256:<hex>` of this node's daos_server.yml (servers only).
    pub config_digest: Option<String>,
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
    /// DAOS system name the handshake gave (the peer's daos_server.yml `name`).
    pub peer_system_name: Option<String>,
    /// `sha256:<hex>` of the peer's daos_server.yml, as the handshake gave it.
    pub config_digest: Option<String>,
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
    /// The distinct daos_server.yml digests the peers answered with, most common first
    /// (this node's own file counts as one of them on a server).
    pub config_digests: Vec<DigestGroup>,
    /// Peers whose handshake names another DAOS system than this node's files.
    pub other_system: Vec<String>,
}

/// Peers answering with one daos_server.yml digest.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DigestGroup {
    /// `sha256:<hex>`.
    pub digest: String,
    /// The peers (names as probed; `(this node)` for the local file).
    pub peers: Vec<String>,
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

/// The summary of results: counts, the servers' config digests and the peers of
/// another system. `from` gives this node's system name and own digest.
///
/// A peer answering for another system name fails the run: its daos_server refuses
/// this node's requests (DAOS v2.6.0 server/mgmt_svc.go `checkSystemRequest` returns
/// `FaultWrongSystem`, code.ServerWrongSystem), so the path works but is of no use. Different digests are shown, not
/// judged: servers legitimately keep host-specific lines (`fabric_iface`, `bdev_list`).
pub fn summarize(results: &[ProbeResult], from: &From) -> Summary {
    let ok = results.iter().filter(|r| r.status == "ok").count();
    let mut other_system: Vec<String> = Vec::new();
    let mut groups: Vec<DigestGroup> = Vec::new();
    let mut add = |digest: &str, peer: &str| match groups.iter_mut().find(|g| g.digest == digest) {
        Some(g) if !g.peers.iter().any(|p| p == peer) => g.peers.push(peer.into()),
        Some(_) => {}
        None => groups.push(DigestGroup {
            digest: digest.into(),
            peers: vec![peer.into()],
        }),
    };
    if let Some(d) = &from.config_digest {
        add(d, "(this node)");
    }
    for r in results.iter().filter(|r| r.status == "ok") {
        if let Some(d) = &r.config_digest {
            add(d, &r.peer);
        }
        if let (Some(mine), Some(theirs)) = (&from.system_name, &r.peer_system_name)
            && mine != theirs
            && !other_system.contains(&r.peer)
        {
            other_system.push(r.peer.clone());
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.peers.len()));
    let failed = results
        .iter()
        .filter(|r| r.required && r.status != "ok")
        .count();
    Summary {
        status: if failed == 0 && other_system.is_empty() {
            "pass"
        } else {
            "fail"
        }
        .into(),
        ok,
        failed,
        config_digests: groups,
        other_system,
    }
}

/// Marks the results whose handshake names another system than `mine` (detail line).
pub fn mark_other_system(results: &mut [ProbeResult], mine: Option<&str>) {
    let Some(mine) = mine else { return };
    for r in results.iter_mut() {
        if let Some(theirs) = r.peer_system_name.as_deref()
            && theirs != mine
        {
            r.detail = Some(format!(
                "{} serves DAOS system {theirs:?}, this node's files name {mine:?}",
                r.peer
            ));
        }
    }
}

/// Exit status: 0 all required ok (and every peer of this system), 1 otherwise.
pub fn exit_code(r: &ProbeReport) -> i32 {
    i32::from(r.summary.status != "pass")
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
    if r.summary.config_digests.len() > 1 {
        s.push_str("daos_server.yml differs between the servers:\n");
        for g in &r.summary.config_digests {
            s.push_str(&format!("  {}  {}\n", g.digest, g.peers.join(" ")));
        }
    }
    if !r.summary.other_system.is_empty() {
        s.push_str(&format!(
            "another DAOS system answers on {} (this node: {})\n",
            r.summary.other_system.join(" "),
            r.from.system_name.as_deref().unwrap_or("?")
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

    fn ok(peer: &str, system: &str, digest: &str) -> ProbeResult {
        ProbeResult {
            peer: peer.into(),
            address: Some("198.51.100.10".into()),
            port: 10001,
            purpose: "control".into(),
            engine: None,
            required: true,
            status: "ok".into(),
            rtt_ms: Some(0.1),
            clock_offset_ms: Some(0.0),
            peer_hostname: Some(peer.into()),
            peer_system_name: Some(system.into()),
            config_digest: Some(digest.into()),
            detail: None,
        }
    }

    #[test]
    fn digests_grouped_and_another_system_fails() {
        let from = From {
            hostname: "node2".into(),
            fqdn: None,
            addresses: None,
            role: "server".into(),
            system_name: Some("daos_server".into()),
            config_digest: Some("sha256:aa".into()),
        };
        let mut rs = vec![
            ok("node0", "daos_server", "sha256:aa"),
            ok("node0", "daos_server", "sha256:aa"),
            ok("node1", "daos_server", "sha256:bb"),
        ];
        let s = summarize(&rs, &from);
        assert_eq!(s.status, "pass");
        assert_eq!(s.config_digests.len(), 2);
        assert_eq!(s.config_digests[0].peers, ["(this node)", "node0"]);
        assert_eq!(s.config_digests[1].peers, ["node1"]);
        rs.push(ok("node3", "other", "sha256:cc"));
        mark_other_system(&mut rs, from.system_name.as_deref());
        let s = summarize(&rs, &from);
        assert_eq!((s.status.as_str(), s.failed), ("fail", 0));
        assert_eq!(s.other_system, ["node3"]);
        assert!(rs[3].detail.as_deref().unwrap().contains("\"other\""));
        assert!(rs[0].detail.is_none());
    }

    #[test]
    fn host_matching() {
        assert!(same_host("node1", "node1", None));
        assert!(same_host("node1.example", "node1", None));
        assert!(same_host("node1", "x", Some("node1")));
        assert!(!same_host("node1", "node0", Some("node0.example")));
        assert!(same_host("localhost", "node0", None));
    }
}
