//! `daos_agent.yml`: the rules of src/control/cmd/daos_agent/config.go `LoadConfig`
//! (2.6) / `ReadConfig` + `Config.Validate` (2.8), the `access_points` parsing of
//! cmd/daos_agent/main.go `processConfig` (common.ParseHostList), and what the agent
//! only meets once it runs (start): the servers it asks, its fabric interface table.

use super::hostlist::check_host_list;
use super::{Out, name_rule};
use crate::daos::DaosVersion;
use crate::daos::config::Issue;
use crate::daos::config::agent::AgentConfig;

/// `daos_agent.yml` rules.
pub fn validate_agent(cfg: &AgentConfig, version: DaosVersion, file: &str) -> Vec<Issue> {
    let mut out = Out::new(file);
    name_rule(&mut out, cfg.name.as_deref(), cfg.name_pos);
    telemetry_rules(&mut out, cfg, version);
    // 2.8 config.go Validate
    if version >= DaosVersion::V2_8 && cfg.fabric_iface_filters == (true, true) {
        out.load_err(
            None,
            "include_fabric_ifaces",
            "exclude_fabric_ifaces and include_fabric_ifaces are both set: DAOS takes one or the other".into(),
            None,
            Some("keep only one of exclude_fabric_ifaces and include_fabric_ifaces".into()),
        );
    }
    // main.go processConfig: common.ParseHostList(access_points, port), before the
    // agent starts serving
    if let Err(why) = check_host_list(&cfg.access_points) {
        out.err(
            cfg.access_points_pos,
            "access_points",
            format!("access_points can't be parsed as DAOS host list: {why}"),
            None,
            Some("list the servers as hostname or hostname:port, ranges as node[1-3]".into()),
        );
    }
    start_rules(&mut out, cfg);
    out.issues
}

/// Telemetry: 2.6 config.go LoadConfig; 2.8 TelemetryConfig.Validate. DAOS compares
/// the port with 0, so a negative port counts as set.
fn telemetry_rules(out: &mut Out, cfg: &AgentConfig, version: DaosVersion) {
    let no_port = cfg.telemetry_port.unwrap_or(0) == 0;
    let fix_port =
        || Some("set telemetry_port (e.g. 9192) or remove the telemetry settings".to_string());
    if version < DaosVersion::V2_6 {
        return;
    }
    let mut rule = |key: &str, msg: &str, fix: Option<String>| {
        out.load_err(None, key, msg.to_string(), None, fix);
    };
    if version >= DaosVersion::V2_8 {
        if cfg.telemetry_retain_set && !cfg.telemetry_enabled {
            rule(
                "telemetry_retain",
                "telemetry_retain requires telemetry_enabled: true",
                Some("set telemetry_enabled: true, or remove telemetry_retain".into()),
            );
        } else if cfg.telemetry_enabled && no_port {
            rule(
                "telemetry_enabled",
                "telemetry_enabled requires telemetry_port",
                fix_port(),
            );
        } else if !cfg.telemetry_enabled && cfg.telemetry_procs_set.0 {
            rule(
                "telemetry_enabled_procs",
                "telemetry_enabled_procs requires telemetry_enabled: true",
                Some("set telemetry_enabled: true, or remove telemetry_enabled_procs".into()),
            );
        } else if !cfg.telemetry_enabled && cfg.telemetry_procs_set.1 {
            rule(
                "telemetry_disabled_procs",
                "telemetry_disabled_procs requires telemetry_enabled: true",
                Some("set telemetry_enabled: true, or remove telemetry_disabled_procs".into()),
            );
        } else if cfg.telemetry_procs_set == (true, true) {
            rule(
                "telemetry_enabled_procs",
                "telemetry_enabled_procs and telemetry_disabled_procs are both set: DAOS takes one or the other",
                Some(
                    "keep only one of telemetry_enabled_procs and telemetry_disabled_procs".into(),
                ),
            );
        }
    } else if cfg.telemetry_retain_set && no_port {
        rule(
            "telemetry_retain",
            "telemetry_retain requires telemetry_port",
            fix_port(),
        );
    } else if cfg.telemetry_enabled && no_port {
        rule(
            "telemetry_enabled",
            "telemetry_enabled requires telemetry_port",
            fix_port(),
        );
    }
}

/// What daos_agent only meets after it started (DAOS loads the file without complaint).
fn start_rules(out: &mut Out, cfg: &AgentConfig) {
    // main.go hands access_points and port to the control client; its first request
    // (lib/control/hostlist.go getRequestHosts) fails on an empty list or port 0, and a
    // port outside 1-65535 can't be dialled
    if cfg.access_points_pos.is_some() && cfg.access_points.iter().all(|a| a.trim().is_empty()) {
        out.start_err(
            cfg.access_points_pos,
            "access_points",
            "access_points is empty: daos_agent starts, but can't reach any server when a client asks".into(),
            Some("ClientConfigEmptyHostList"),
            Some("list the servers' access points (as in daos_server.yml) in access_points".into()),
        );
    }
    if let Some(p) = cfg.port
        && !(1..=65535).contains(&p)
    {
        out.start_err(
            None,
            "port",
            format!("port {p} is not a TCP port (1-65535): daos_agent starts, but can't contact the servers"),
            (p == 0).then_some("ClientConfigBadControlPort"),
            Some("set port to the servers' control port (default 10001)".into()),
        );
    }
    // cmd/daos_agent/fabric.go NUMAFabricFromConfig builds the interface table at start
    // (infocache.go) from every devices[] entry as written: an entry without iface gives
    // clients on that NUMA node an interface with no name
    let any_device = cfg.fabric_ifaces.iter().any(|nf| !nf.devices.is_empty());
    for (i, nf) in cfg.fabric_ifaces.iter().enumerate() {
        if nf.devices.is_empty() {
            let msg = format!(
                "fabric_ifaces[{i}] (NUMA node {}) lists no devices",
                nf.numa_node.unwrap_or(0)
            );
            let fix = Some("list the node's interfaces under devices, or remove the entry".into());
            if any_device {
                out.start_warn(
                    Some(nf.pos),
                    &format!("fabric_ifaces[{i}].devices"),
                    msg,
                    None,
                    fix,
                );
            } else {
                out.start_err(
                    Some(nf.pos),
                    &format!("fabric_ifaces[{i}].devices"),
                    format!("{msg}, and no entry lists any: daos_agent would have no fabric interface to give clients"),
                    None,
                    fix,
                );
            }
        }
        for (j, d) in nf.devices.iter().enumerate() {
            if d.iface.as_deref().is_none_or(str::is_empty) {
                let what = match &d.domain {
                    Some(dom) if !dom.is_empty() => format!(
                        "has domain {dom:?} but no iface: a separate `- domain:` list item is a device of its own; put iface and domain in one item"
                    ),
                    _ => "has no iface".to_string(),
                };
                out.start_err(
                    Some(d.pos),
                    &format!("fabric_ifaces[{i}].devices[{j}]"),
                    format!("fabric_ifaces[{i}].devices[{j}] {what}: daos_agent loads it, and hands clients an interface without a name"),
                    None,
                    Some("write `- iface: <netdev>` and, on the next line indented to match, `domain: <rdma device>`".into()),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daos::config::agent::parse_agent;
    use crate::daos::config::{DaosStage, Severity};

    /// The errors of a file (parse + validate) with their stage.
    fn errors(text: &str, v: DaosVersion) -> Vec<(DaosStage, String)> {
        let p = parse_agent(text, "a.yml", v).unwrap();
        let mut all = p.issues;
        all.extend(validate_agent(&p.config, v, "a.yml"));
        all.into_iter()
            .filter(|i| i.severity == Severity::Error)
            .map(|i| (i.stage, i.message))
            .collect()
    }

    // Verdicts from daos-config-oracle-2.6/2.8 --kind agent (../shared/oracles).
    #[test]
    fn agrees_with_daos_agent_load_config() {
        use DaosVersion::{V2_6, V2_8};
        // accepted by DAOS
        for (t, v) in [
            ("telemetry_retain: 0\n", V2_6),
            ("telemetry_enabled: true\ntelemetry_port: -1\n", V2_6),
            (
                "telemetry_retain: 1m\ntelemetry_port: 9\ntelemetry_enabled: true\n",
                V2_8,
            ),
        ] {
            assert_eq!(errors(t, v), [], "{t}");
        }
        // refused at load (parse stage)
        for (t, v) in [
            ("telemetry_retain: 1m\n", V2_6),
            ("telemetry_retain: 1.5\n", V2_6),
            ("telemetry_retain: 1m\ntelemetry_port: 9\n", V2_8),
            (
                "exclude_fabric_ifaces: [a]\ninclude_fabric_ifaces: [b]\n",
                V2_8,
            ),
            ("telemetry_enabled_procs: x\n", V2_8),
            ("name: ~\n", V2_6),
            ("cache_expiration: -1\n", V2_6),
            ("telemetry_retain: abc\ntelemetry_port: 1\n", V2_6),
            ("telemetry_retain: '10'\ntelemetry_port: 1\n", V2_6),
            ("credential_config:\n  cache_expiration: abc\n", V2_8),
        ] {
            let e = errors(t, v);
            assert!(
                !e.is_empty() && e.iter().all(|(s, _)| *s == DaosStage::Parse),
                "{t}: {e:?}"
            );
        }
        // refused when processConfig parses access_points (validate stage)
        let e = errors("access_points: ['[::1]:10001']\n", V2_6);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].0, DaosStage::Validate);
        assert!(e[0].1.contains("\"::1\""), "{e:?}");
        // loaded by DAOS; failing once the agent runs (start stage)
        for t in [
            "access_points: []\nport: 0\n",
            "fabric_ifaces:\n-\n  numa_node: 0\n  devices:\n  - iface: ib0\n  - domain: mlx5_1\n",
        ] {
            let e = errors(t, V2_6);
            assert!(
                !e.is_empty() && e.iter().all(|(s, _)| *s == DaosStage::Start),
                "{t}: {e:?}"
            );
        }
    }
}
