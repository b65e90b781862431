//! `system.agents` and `system.control`: agents and dmg reach servers of the fleet on
//! their control port (DAOS src/control/cmd/daos_agent/config.go,
//! src/control/lib/control/config.go).

use super::common::{check_entries, verdict};
use super::{Finding, SysHost};

/// Explain text of `system.agents`.
pub(super) const EXPLAIN_AGENTS: &str =
    "Each daos_agent.yml access point must be a server of the fleet, on the servers' control port.";

/// Explain text of `system.control`.
pub(super) const EXPLAIN_CONTROL: &str = "Each daos_control.yml hostlist entry must be a server of the fleet, on the servers' control port.";

/// `system.agents` (`agent`) or `system.control`.
pub(super) fn judge(hosts: &[SysHost], missing: &mut dyn FnMut(&str), agent: bool) -> Finding {
    let (id, what, fix) = if agent {
        (
            "system.agents",
            "agent(s)",
            "point the agent's access_points at the servers' access points, on their control port",
        )
    } else {
        (
            "system.control",
            "dmg config(s)",
            "list the servers in daos_control.yml hostlist, on their control port",
        )
    };
    let (mut bad, mut unknown) = (Vec::new(), Vec::new());
    let mut n = 0;
    for (i, h) in hosts.iter().enumerate() {
        let Some(c) = (if agent { &h.agent } else { &h.control }) else {
            continue;
        };
        n += 1;
        check_entries(
            hosts,
            i,
            &c.servers,
            c.port,
            missing,
            &mut bad,
            &mut unknown,
        );
    }
    verdict(id, what, n, bad, unknown, fix)
}
