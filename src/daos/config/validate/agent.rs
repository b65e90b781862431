//! `daos_agent.yml` (cmd/daos_agent/config.go `LoadConfig`).

use super::{Out, name_rule, port_rule};
use crate::daos::DaosVersion;
use crate::daos::config::Issue;
use crate::daos::config::agent::AgentConfig;

/// `daos_agent.yml` rules (cmd/daos_agent/config.go `LoadConfig`, plus what the agent
/// needs at run time: every manual fabric device names an interface).
pub fn validate_agent(cfg: &AgentConfig, version: DaosVersion, file: &str) -> Vec<Issue> {
    let mut out = Out::new(file);
    name_rule(&mut out, cfg.name.as_deref(), cfg.name_pos);
    if version >= DaosVersion::V2_6 {
        if cfg.telemetry_retain_set && cfg.telemetry_port.is_none() {
            out.err(
                None,
                "telemetry_retain",
                "telemetry_retain requires telemetry_port".into(),
                None,
                None,
            );
        }
        if cfg.telemetry_enabled && cfg.telemetry_port.is_none() {
            out.err(
                None,
                "telemetry_enabled",
                "telemetry_enabled requires telemetry_port".into(),
                None,
                None,
            );
        }
    }
    port_rule(
        &mut out,
        "port",
        cfg.port,
        None,
        Some("ClientConfigBadControlPort"),
        false,
    );
    if cfg.access_points_pos.is_some() && cfg.access_points.is_empty() {
        out.err(
            cfg.access_points_pos,
            "access_points",
            "access_points is empty: the agent can't reach any server".into(),
            Some("ClientConfigBadAccessPoints"),
            None,
        );
    }
    for (i, nf) in cfg.fabric_ifaces.iter().enumerate() {
        if nf.devices.is_empty() {
            out.err(
                Some(nf.pos),
                &format!("fabric_ifaces[{i}].devices"),
                format!(
                    "fabric_ifaces[{i}] (NUMA node {}) lists no devices",
                    nf.numa_node.unwrap_or(0)
                ),
                None,
                None,
            );
        }
        for (j, d) in nf.devices.iter().enumerate() {
            if d.iface.as_deref().is_none_or(str::is_empty) {
                let what = match &d.domain {
                    Some(dom) => format!(
                        "has domain {dom:?} but no iface: a separate `- domain:` list item is a device of its own; put iface and domain in one item"
                    ),
                    None => "has no iface".to_string(),
                };
                out.err(Some(d.pos), &format!("fabric_ifaces[{i}].devices[{j}]"), format!("fabric_ifaces[{i}].devices[{j}] {what}"), None, Some("write `- iface: <netdev>` and, on the next line indented to match, `domain: <rdma device>`".into()));
            }
        }
    }
    out.issues
}
