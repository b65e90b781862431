//! The ports DAOS listens on, from the server configuration.

use serde::{Deserialize, Serialize};

use crate::daos::config::ServerConfig;

/// A port DAOS listens on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequiredPort {
    /// First port.
    pub lo: u16,
    /// Last port (= `lo` for one port).
    pub hi: u16,
    /// `tcp`.
    pub protocol: String,
    /// What listens there (`control plane (port)`, `engine 0 fabric`).
    pub purpose: String,
    /// The engine, for fabric ports.
    pub engine: Option<usize>,
    /// The interface it is reached on (fabric ports), `None` for all interfaces.
    pub iface: Option<String>,
}

impl RequiredPort {
    /// `10001/tcp`, `31416-31419/tcp`.
    pub fn spec(&self) -> String {
        if self.lo == self.hi {
            format!("{}/{}", self.lo, self.protocol)
        } else {
            format!("{}-{}/{}", self.lo, self.hi, self.protocol)
        }
    }
}

/// The ports a server configuration listens on (design.md §2): the control port
/// (`port`, default 10001), `telemetry_port` when set, and each engine's
/// `fabric_iface_port` (after inheritance) and, for the tcp and sockets providers, one
/// port per CaRT context after it ([`engine_port_count`]: 2 + targets +
/// min(nr_xs_helpers, targets)). Invalid ports (outside 1-65535) are left to
/// `config.server`.
///
/// [`engine_port_count`]: crate::daos::config::validate::engine_port_count
pub fn required_ports(cfg: &ServerConfig) -> Vec<RequiredPort> {
    let port = |v: i64| u16::try_from(v).ok().filter(|p| *p > 0);
    let mut out = Vec::new();
    if let Some(p) = port(cfg.control_port()) {
        out.push(RequiredPort {
            lo: p,
            hi: p,
            protocol: "tcp".into(),
            purpose: "control plane (port)".into(),
            engine: None,
            iface: None,
        });
    }
    if let Some(p) = cfg.telemetry_port.and_then(port) {
        out.push(RequiredPort {
            lo: p,
            hi: p,
            protocol: "tcp".into(),
            purpose: "telemetry (telemetry_port)".into(),
            engine: None,
            iface: None,
        });
    }
    for (i, e) in cfg.engines.iter().enumerate() {
        let Some(p) = cfg.engine_port(e).and_then(port) else {
            continue;
        };
        let provider = cfg.engine_provider(e).unwrap_or_default();
        let count =
            crate::daos::config::validate::engine_port_count(&provider, e.targets, e.nr_xs_helpers);
        let width = u16::try_from(count - 1).unwrap_or(u16::MAX);
        out.push(RequiredPort {
            lo: p,
            hi: p.saturating_add(width),
            protocol: "tcp".into(),
            purpose: format!("engine {i} fabric ({provider})"),
            engine: Some(i),
            iface: cfg.engine_iface(e),
        });
    }
    out
}
