//! `system.security`: one transport security mode (DAOS src/control/security/config.go).

use super::common::{finding, groups, values_json};
use super::{Finding, SysHost};
use crate::checks::Status;
use crate::fleet::nodeset::fold;

/// Explain text of `system.security`.
pub(super) const EXPLAIN: &str = "Either every node runs insecure (allow_insecure: true) or every node runs secure with certificates signed by the same CA (same CA file digest).";

/// The `system.security` finding.
pub(super) fn judge(hosts: &[SysHost]) -> Finding {
    let id = "system.security";
    let g = groups(hosts.iter().flat_map(|h| {
        let n = &*h.name;
        [
            h.server.as_ref().map(|s| &s.security),
            h.agent.as_ref().map(|s| &s.security),
            h.control.as_ref().map(|s| &s.security),
        ]
        .into_iter()
        .flatten()
        .map(move |s| {
            (
                if s.insecure {
                    "insecure".to_string()
                } else {
                    format!("CA {}", s.ca.as_deref().unwrap_or("unreadable"))
                },
                n,
            )
        })
    }));
    let details = values_json(&g);
    if g.is_empty() {
        return finding(
            id,
            Status::Skip,
            "no DAOS file in the reports".into(),
            details,
            None,
        );
    }
    let known: Vec<&String> = g.keys().filter(|k| *k != "CA unreadable").collect();
    if known.len() > 1 {
        finding(
            id,
            Status::Fail,
            format!(
                "mixed transport security: {}",
                g.iter()
                    .map(|(v, hs)| format!("{v} on {}", fold(hs.iter().copied())))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            details,
            Some(
                "set allow_insecure the same everywhere; in secure mode distribute certificates of one CA",
            ),
        )
    } else if g.contains_key("CA unreadable") {
        finding(
            id,
            Status::Warn,
            format!(
                "CA certificate unreadable on {}",
                fold(g["CA unreadable"].iter().copied())
            ),
            details,
            Some("install the CA certificate (ca_cert) readable by the service"),
        )
    } else {
        finding(
            id,
            Status::Pass,
            format!("one mode: {}", known.first().map_or("", |s| s.as_str())),
            details,
            None,
        )
    }
}
