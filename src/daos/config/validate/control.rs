//! `daos_control.yml` (lib/control/config.go `LoadConfig`).

use super::{Out, name_rule, port_rule};
use crate::daos::DaosVersion;
use crate::daos::config::Issue;
use crate::daos::config::control::ControlConfig;

/// `daos_control.yml` rules (lib/control/config.go `LoadConfig` and the client checks).
pub fn validate_control(cfg: &ControlConfig, _version: DaosVersion, file: &str) -> Vec<Issue> {
    let mut out = Out::new(file);
    name_rule(&mut out, cfg.name.as_deref(), cfg.name_pos);
    port_rule(
        &mut out,
        "port",
        cfg.port,
        None,
        Some("ClientConfigBadControlPort"),
        false,
    );
    if cfg.hostlist_pos.is_some() && cfg.hostlist.is_empty() {
        out.err(
            cfg.hostlist_pos,
            "hostlist",
            "hostlist is empty: dmg has no server to talk to".into(),
            Some("ClientConfigEmptyHostList"),
            None,
        );
    }
    out.issues
}
