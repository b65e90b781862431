//! `system.name`: one system name on every server, agent and dmg host (DAOS
//! src/control/server/config/server.go `Validate`; the agent and dmg send it with each request).

use serde_json::json;

use super::common::{finding, groups, values_json};
use super::{Finding, SysHost};
use crate::checks::Status;
use crate::fleet::nodeset::fold;

/// Explain text of `system.name`.
pub(super) const EXPLAIN: &str = "Every daos_server.yml, daos_agent.yml and daos_control.yml of the system must write the same `name` (default daos_server); an agent or dmg with another name is refused by the servers.";

/// The `system.name` finding.
pub(super) fn judge(hosts: &[SysHost]) -> Finding {
    let g = groups(hosts.iter().flat_map(|h| {
        let n = &*h.name;
        [
            h.server.as_ref().map(|s| (s.name.to_string(), n)),
            h.agent.as_ref().map(|s| (s.name.to_string(), n)),
            h.control.as_ref().map(|s| (s.name.to_string(), n)),
        ]
        .into_iter()
        .flatten()
    }));
    let id = "system.name";
    match g.len() {
        0 => finding(
            id,
            Status::Skip,
            "no DAOS file in any report".into(),
            json!({}),
            None,
        ),
        1 => finding(
            id,
            Status::Pass,
            format!(
                "one system name {:?}",
                g.keys().next().unwrap_or(&String::new())
            ),
            values_json(&g),
            None,
        ),
        _ => finding(
            id,
            Status::Fail,
            format!(
                "{} system names: {}",
                g.len(),
                g.iter()
                    .map(|(v, hs)| format!("{v:?} on {}", fold(hs.iter().copied())))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            values_json(&g),
            Some(
                "write the same `name:` in daos_server.yml, daos_agent.yml and daos_control.yml on every node",
            ),
        ),
    }
}
