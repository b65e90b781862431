//! What to probe (pure): peers from the DAOS files or the command line, ports from the
//! server file (daos/requirements.rs `required_ports`: the control port, each engine's
//! fabric_iface_port and for tcp/sockets one port per CaRT context after it). Every one
//! is required: CaRT sends to context `i` at `fabric_iface_port + i` (RPCs to target
//! `t` go to context 2 + t), so a blocked port in the range breaks that target.

use crate::daos::config::load::LoadedConfigs;
use crate::daos::requirements::required_ports;

/// One port to try on every peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Port.
    pub port: u16,
    /// `control` or `fabric`.
    pub purpose: &'static str,
    /// Engine index for fabric ports.
    pub engine: Option<usize>,
    /// Whether DAOS needs the path.
    pub required: bool,
}

/// Expands `node[0-2,5],other` into names.
pub fn expand(spec: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    let mut parts = Vec::new();
    for c in spec.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ => {}
        }
        if (c == ',' || c == ' ') && depth == 0 {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    parts.push(cur);
    for p in parts.into_iter().filter(|p| !p.is_empty()) {
        let Some(open) = p.find('[') else {
            out.push(p);
            continue;
        };
        let close = p.rfind(']').ok_or_else(|| format!("{p}: unclosed ["))?;
        let (pre, body, post) = (&p[..open], &p[open + 1..close], &p[close + 1..]);
        for r in body.split(',') {
            let (a, b) = r.split_once('-').unwrap_or((r, r));
            let (lo, hi): (u64, u64) = (
                a.parse().map_err(|_| format!("{p}: bad range {r}"))?,
                b.parse().map_err(|_| format!("{p}: bad range {r}"))?,
            );
            if hi < lo || hi - lo > 100_000 {
                return Err(format!("{p}: bad range {r}"));
            }
            for n in lo..=hi {
                out.push(format!("{pre}{n:0w$}{post}", w = a.len()));
            }
        }
    }
    Ok(out)
}

/// Strips a `:port` suffix from an access point.
fn host_part(ap: &str) -> String {
    match ap.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') => h.into(),
        _ => ap.into(),
    }
}

/// Peers named by the DAOS files: server access points, dmg hostlist, agent access points.
pub fn peers_from_config(c: &LoadedConfigs) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |list: &[String]| {
        for s in list {
            for n in expand(s).unwrap_or_else(|_| vec![s.clone()]) {
                let h = host_part(&n);
                if !out.contains(&h) {
                    out.push(h);
                }
            }
        }
    };
    if let Some(s) = c.server.config() {
        add(&s.access_points);
    }
    if let Some(d) = c.control.config() {
        add(&d.hostlist);
    }
    if let Some(a) = c.agent.config() {
        add(&a.access_points);
    }
    out
}

/// Ports to try: from the server file when present, else the control port of the agent
/// or dmg file (default 10001).
pub fn targets(c: &LoadedConfigs) -> Vec<Target> {
    let mut out = Vec::new();
    if let Some(s) = c.server.config() {
        for p in required_ports(s) {
            if p.purpose.starts_with("telemetry") {
                continue;
            }
            for port in p.lo..=p.hi {
                out.push(Target {
                    port,
                    purpose: if p.engine.is_some() {
                        "fabric"
                    } else {
                        "control"
                    },
                    engine: p.engine,
                    required: true,
                });
            }
        }
        return out;
    }
    let port = c
        .agent
        .config()
        .and_then(|a| a.port)
        .or_else(|| c.control.config().and_then(|d| d.port))
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(10001);
    out.push(Target {
        port,
        purpose: "control",
        engine: None,
        required: true,
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodesets() {
        assert_eq!(expand("node[0-2]").unwrap(), ["node0", "node1", "node2"]);
        assert_eq!(expand("n[08-10],x").unwrap(), ["n08", "n09", "n10", "x"]);
        assert!(expand("n[3-1]").is_err());
        assert_eq!(host_part("node0:10001"), "node0");
    }
}
