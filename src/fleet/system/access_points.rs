//! `system.access-points`: the servers agree on one odd list naming reported servers
//! (DAOS src/control/server/config/server.go `Validate`: access points odd in number).

use serde_json::Value;

use super::common::{check_entries, groups, values_json, verdict};
use super::{Finding, SysHost};
use crate::fleet::nodeset::fold;

/// Explain text of `system.access-points`.
pub(super) const EXPLAIN: &str = "All servers must write the same access_points (mgmt_svc_replicas) list, odd in number, and each entry must be a server of this fleet on its control port. Entries are matched by hostname, FQDN or address.";

/// The `system.access-points` finding.
pub(super) fn judge(hosts: &[SysHost], missing: &mut dyn FnMut(&str)) -> Finding {
    let id = "system.access-points";
    let norm = |h: &SysHost| {
        let s = h.server.as_ref().map(|s| {
            s.access_points
                .iter()
                .flat_map(|a| crate::daos::config::expand_hostlist(a))
                .map(|a| crate::daos::config::host_of(&a).to_ascii_lowercase())
                .collect::<Vec<_>>()
        });
        s.map(|mut v| {
            v.sort();
            v.join(",")
        })
    };
    let g = groups(hosts.iter().filter_map(|h| norm(h).map(|v| (v, &*h.name))));
    let (mut bad, mut unknown) = (Vec::new(), Vec::new());
    let mut n = 0;
    if g.len() > 1 {
        bad.push(format!(
            "servers write {} different lists: {}",
            g.len(),
            g.iter()
                .map(|(v, hs)| format!("[{v}] on {}", fold(hs.iter().copied())))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    for (i, h) in hosts.iter().enumerate() {
        let Some(s) = &h.server else { continue };
        n += 1;
        let count: usize = s
            .access_points
            .iter()
            .map(|a| crate::daos::config::expand_hostlist(a).len())
            .sum();
        if count > 0 && count.is_multiple_of(2) {
            bad.push(format!(
                "{}: {count} access points, DAOS needs an odd number",
                h.name
            ));
        }
        check_entries(
            hosts,
            i,
            &s.access_points,
            s.port,
            missing,
            &mut bad,
            &mut unknown,
        );
    }
    let mut f = verdict(
        id,
        "server(s)",
        n,
        bad,
        unknown,
        "write one odd-sized access_points list of the servers, identical on every server",
    );
    if let Value::Object(m) = &mut f.details {
        m.insert("lists".into(), values_json(&g));
    }
    f
}
