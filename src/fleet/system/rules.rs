//! The system rules. DAOS facts: system name and access points must agree
//! (src/control/server/config/server.go `Validate`, access points odd in number),
//! agents and dmg reach servers on the control port (src/control/cmd/daos_agent/config.go,
//! src/control/lib/control/config.go), one transport security mode
//! (src/control/security/config.go), HLC tolerance 1 s (src/common/hlc.c).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Finding, SysHost, Target, resolve};
use crate::checks::Status;
use crate::fleet::nodeset::fold;

/// Rule ids and explain texts.
pub const RULES: &[(&str, &str)] = &[
    (
        "system.name",
        "Every daos_server.yml, daos_agent.yml and daos_control.yml of the system must write the same `name` (default daos_server); an agent or dmg with another name is refused by the servers.",
    ),
    (
        "system.access-points",
        "All servers must write the same access_points (mgmt_svc_replicas) list, odd in number, and each entry must be a server of this fleet on its control port. Entries are matched by hostname, FQDN or address.",
    ),
    (
        "system.agents",
        "Each daos_agent.yml access point must be a server of the fleet, on the servers' control port.",
    ),
    (
        "system.control",
        "Each daos_control.yml hostlist entry must be a server of the fleet, on the servers' control port.",
    ),
    (
        "system.provider",
        "Every engine of every server must use one fabric provider; clients join with the same provider.",
    ),
    (
        "system.version",
        "One installed DAOS version and one rules profile on every node.",
    ),
    (
        "system.security",
        "Either every node runs insecure (allow_insecure: true) or every node runs secure with certificates signed by the same CA (same CA file digest).",
    ),
    (
        "system.time",
        "Every node's kernel clock is synchronised (adjtimex). Reports gathered together (generated_at within 60 s of the previous one, sorted: one collection window) must be within 2 s of each other (HLC tolerance 1 s plus 1 s resolution of generated_at); a larger spread is a warning since fan-out latency adds to it — probe offsets measure it.",
    ),
];

fn finding(
    id: &str,
    status: Status,
    summary: String,
    details: Value,
    fix: Option<&str>,
) -> Finding {
    Finding {
        id: id.to_string(),
        status,
        summary,
        details,
        remediation: fix.map(String::from),
    }
}

fn groups<'a>(items: impl Iterator<Item = (String, &'a str)>) -> BTreeMap<String, Vec<&'a str>> {
    let mut m: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (v, h) in items {
        m.entry(v).or_default().push(h);
    }
    m
}

fn values_json(g: &BTreeMap<String, Vec<&str>>) -> Value {
    Value::Array(
        g.iter()
            .map(|(v, hs)| json!({"value": v, "hosts": fold(hs.iter().copied())}))
            .collect(),
    )
}

/// Runs every rule; `missing` receives the servers named but not reported.
pub fn all(hosts: &[SysHost], missing: &mut dyn FnMut(&str)) -> Vec<Finding> {
    vec![
        name(hosts),
        access_points(hosts, missing),
        lists(hosts, missing, true),
        lists(hosts, missing, false),
        provider(hosts),
        version(hosts),
        security(hosts),
        time(hosts),
    ]
}

fn name(hosts: &[SysHost]) -> Finding {
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

/// Problems of resolving `entries` held by host `holder` with port `port`.
fn check_entries(
    hosts: &[SysHost],
    holder: usize,
    entries: &[super::Str],
    port: u16,
    missing: &mut dyn FnMut(&str),
    bad: &mut Vec<String>,
    unknown: &mut Vec<String>,
) {
    for e in entries {
        for t in resolve(hosts, holder, e, port) {
            match t {
                Target::Server(i, p) => {
                    let sp = hosts[i].server.as_ref().map_or(p, |s| s.port);
                    if p != sp {
                        bad.push(format!(
                            "{}: {e} uses port {p}, {} listens on {sp}",
                            hosts[holder].name, hosts[i].name
                        ));
                    }
                }
                Target::NotServer(i) => bad.push(format!(
                    "{}: {e} is {}, which is not a server",
                    hosts[holder].name, hosts[i].name
                )),
                Target::Unknown(h) => {
                    missing(&h);
                    unknown.push(format!("{}: {e} (no report from {h})", hosts[holder].name));
                }
            }
        }
    }
}

fn verdict(
    id: &str,
    what: &str,
    n: usize,
    bad: Vec<String>,
    unknown: Vec<String>,
    fix: &str,
) -> Finding {
    if n == 0 {
        return finding(
            id,
            Status::Skip,
            format!("no {what} in the reports"),
            json!({}),
            None,
        );
    }
    let details = json!({"problems": bad, "unreported": unknown});
    if !bad.is_empty() {
        finding(
            id,
            Status::Fail,
            format!("{} problem(s): {}", bad.len(), bad[0]),
            details,
            Some(fix),
        )
    } else if !unknown.is_empty() {
        finding(
            id,
            Status::Warn,
            format!(
                "{} entr(ies) name hosts without a report: {}",
                unknown.len(),
                unknown[0]
            ),
            details,
            Some("collect the reports of every server (run check on them too)"),
        )
    } else {
        finding(
            id,
            Status::Pass,
            format!("{n} {what}: every entry is a reported server on its control port"),
            details,
            None,
        )
    }
}

fn access_points(hosts: &[SysHost], missing: &mut dyn FnMut(&str)) -> Finding {
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

fn lists(hosts: &[SysHost], missing: &mut dyn FnMut(&str), agent: bool) -> Finding {
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

fn provider(hosts: &[SysHost]) -> Finding {
    let id = "system.provider";
    let g = groups(hosts.iter().filter_map(|h| {
        h.server.as_ref().map(|s| {
            (
                s.providers
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    // not "+": it is part of provider names (`ofi+tcp;ofi_rxm`)
                    .join(" & "),
                &*h.name,
            )
        })
    }));
    let agents: Vec<Value> = hosts.iter().filter_map(|h| h.agent.as_ref().filter(|a| !a.ifaces.is_empty()).map(|a| json!({"host": &*h.name, "fabric_ifaces": a.ifaces.iter().map(|i| i.to_string()).collect::<Vec<_>>()}))).collect();
    let details = json!({"providers": values_json(&g), "agents": agents});
    let mixed = g.len() > 1 || g.keys().any(|k| k.contains(" & "));
    match g.len() {
        0 => finding(
            id,
            Status::Skip,
            "no server in the reports".into(),
            details,
            None,
        ),
        _ if mixed => finding(
            id,
            Status::Fail,
            format!(
                "servers use several providers: {}",
                g.iter()
                    .map(|(v, hs)| format!("{v} on {}", fold(hs.iter().copied())))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            details,
            Some("use one provider for every engine of every server"),
        ),
        _ => finding(
            id,
            Status::Pass,
            format!(
                "one provider {}",
                g.keys().next().map_or("", |s| s.as_str())
            ),
            details,
            None,
        ),
    }
}

fn version(hosts: &[SysHost]) -> Finding {
    let id = "system.version";
    let d = hosts.iter().filter(|h| h.has_daos);
    let inst = groups(d.clone().map(|h| {
        (
            h.installed_version
                .as_deref()
                .unwrap_or("unknown")
                .to_string(),
            &*h.name,
        )
    }));
    let rules = groups(d.map(|h| {
        (
            h.rules_version.as_deref().unwrap_or("unknown").to_string(),
            &*h.name,
        )
    }));
    let details = json!({"installed": values_json(&inst), "rules": values_json(&rules)});
    let known = inst.keys().filter(|k| *k != "unknown").count();
    if inst.is_empty() {
        finding(
            id,
            Status::Skip,
            "no report carries DAOS versions".into(),
            details,
            None,
        )
    } else if known > 1 || rules.len() > 1 {
        finding(
            id,
            Status::Fail,
            format!(
                "{} installed version(s), {} rules profile(s)",
                inst.len(),
                rules.len()
            ),
            details,
            Some("install one DAOS release on every node and check them with one rules profile"),
        )
    } else if inst.contains_key("unknown") {
        finding(
            id,
            Status::Warn,
            format!(
                "installed version unknown on {}",
                fold(inst["unknown"].iter().copied())
            ),
            details,
            Some("install the daos-server/daos-client packages"),
        )
    } else {
        finding(
            id,
            Status::Pass,
            format!(
                "DAOS {} everywhere",
                inst.keys().next().map_or("", |s| s.as_str())
            ),
            details,
            None,
        )
    }
}

fn security(hosts: &[SysHost]) -> Finding {
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

fn time(hosts: &[SysHost]) -> Finding {
    let id = "system.time";
    let unsync: Vec<&str> = hosts
        .iter()
        .filter(|h| h.synchronized == Some(false))
        .map(|h| &*h.name)
        .collect();
    let known = hosts.iter().filter(|h| h.synchronized.is_some()).count();
    let mut t: Vec<(i64, &str)> = hosts
        .iter()
        .filter_map(|h| h.generated_unix.map(|g| (g, &*h.name)))
        .collect();
    t.sort();
    let mut spreads = Vec::new();
    let mut start = 0;
    for i in 1..=t.len() {
        if i == t.len() || t[i].0 - t[i - 1].0 > 60 {
            let (lo, hi) = (t[start], t[i - 1]);
            if hi.0 - lo.0 > 2 {
                spreads.push(format!("{} at {}s after {}", hi.1, hi.0 - lo.0, lo.1));
            }
            start = i;
        }
    }
    let details = json!({"unsynchronised": fold(unsync.iter().copied()), "clock_known": known, "window_spread": spreads});
    if !unsync.is_empty() {
        finding(
            id,
            Status::Fail,
            format!("clock not synchronised on {}", fold(unsync.iter().copied())),
            details,
            Some("enable chronyd (or another NTP client) and wait until it is synchronised"),
        )
    } else if !spreads.is_empty() {
        finding(
            id,
            Status::Warn,
            format!(
                "reports of one collection run more than 2 s apart: {}",
                spreads[0]
            ),
            details,
            Some("compare the clocks (chronyc tracking) on those hosts"),
        )
    } else if known == 0 && t.is_empty() {
        finding(
            id,
            Status::Skip,
            "no clock facts in the reports".into(),
            details,
            None,
        )
    } else {
        finding(
            id,
            Status::Pass,
            format!("{known} clock(s) synchronised; report times agree"),
            details,
            None,
        )
    }
}
