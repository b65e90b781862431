//! System judgement: the rules that span hosts (one system name, one access-point list
//! naming the servers, agents and dmg pointing at servers, one provider, one version, one
//! security mode, clocks in agreement). Like `src/checks/`, each rule has a stable id and
//! yields a [`Finding`] with a status, a one-line summary, details naming the hosts and
//! values, and a remediation; they are pure functions of the small per-host values kept
//! by the merger ([`SysHost`]), never of whole reports.
//!
//! Matching an access-point or hostlist entry to a server: the entry's host (`:port`
//! stripped, DAOS host ranges expanded) is compared case-insensitively with each
//! server's hostname, FQDN, short name, addresses and the name it was addressed by
//! (clush/pdsh prefix); `localhost`/loopback means the host holding the file. The port
//! of an entry (or, when it has none, the port of the file holding it) must equal the
//! matched server's control port.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use serde::Serialize;

use crate::checks::Status;

mod access_points;
mod clients;
mod common;
mod name;
mod network;
mod provider;
mod resolve;
mod security;
mod time;
mod version;

/// The system rules, in output order, with their explain text.
pub const RULES: &[(&str, &str)] = &[
    ("system.name", name::EXPLAIN),
    ("system.access-points", access_points::EXPLAIN),
    ("system.agents", clients::EXPLAIN_AGENTS),
    ("system.control", clients::EXPLAIN_CONTROL),
    ("system.provider", provider::EXPLAIN),
    ("system.version", version::EXPLAIN),
    ("system.security", security::EXPLAIN),
    ("system.time", time::EXPLAIN),
    ("system.network", network::EXPLAIN),
];

/// Runs every rule, in [`RULES`] order; `missing` receives the servers named but not
/// reported.
fn all(
    hosts: &[SysHost],
    net: Option<&crate::fleet::network::Network>,
    missing: &mut dyn FnMut(&str),
) -> Vec<Finding> {
    let mut r = resolve::Resolver::new(hosts);
    vec![
        name::judge(hosts),
        access_points::judge(&mut r, missing),
        clients::judge(&mut r, missing, true),
        clients::judge(&mut r, missing, false),
        provider::judge(hosts),
        version::judge(hosts),
        security::judge(hosts),
        time::judge(hosts, net.and_then(|n| n.max_skew.as_ref())),
        network::judge(net),
    ]
}

/// Interned string.
pub type Str = Rc<str>;

/// Strings stored once.
#[derive(Debug, Default)]
pub struct Strings(HashMap<Str, ()>);

impl Strings {
    /// The shared copy of `s`.
    pub fn get(&mut self, s: &str) -> Str {
        if let Some((k, _)) = self.0.get_key_value(s) {
            return k.clone();
        }
        let k: Str = Rc::from(s);
        self.0.insert(k.clone(), ());
        k
    }
}

/// Transport security of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Security {
    /// `allow_insecure`.
    pub insecure: bool,
    /// CA digest (secure mode, readable).
    pub ca: Option<Str>,
}

/// Server values.
#[derive(Debug, Clone)]
pub struct SysServer {
    /// System name.
    pub name: Str,
    /// Control port.
    pub port: u16,
    /// Access points as written.
    pub access_points: Vec<Str>,
    /// Providers of its engines (global provider when an engine has none).
    pub providers: Vec<Str>,
    /// Security.
    pub security: Security,
}

/// Agent or dmg values.
#[derive(Debug, Clone)]
pub struct SysClient {
    /// System name.
    pub name: Str,
    /// Control port.
    pub port: u16,
    /// Access points (agent) or hostlist (dmg), as written.
    pub servers: Vec<Str>,
    /// Security.
    pub security: Security,
    /// Agent `fabric_ifaces[].devices[]`, in file order.
    pub ifaces: Vec<AgentDevice>,
}

/// One agent `fabric_ifaces[].devices[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentDevice {
    /// `iface`.
    pub iface: Str,
    /// `domain` (None: not written, the agent then hands out the iface name).
    pub domain: Option<Str>,
}

/// What the system rules keep of one host.
#[derive(Debug, Clone, Default)]
pub struct SysHost {
    /// Name in the fleet (prefix or hostname).
    pub name: Str,
    /// Every name and address of the host, lower case.
    pub names: Vec<Str>,
    /// The report had a `daos` section.
    pub has_daos: bool,
    /// Role judged.
    pub role: Option<Str>,
    /// Rules profile.
    pub rules_version: Option<Str>,
    /// Installed DAOS version.
    pub installed_version: Option<Str>,
    /// Clock synchronised (None: unknown).
    pub synchronized: Option<bool>,
    /// `generated_at`, Unix seconds.
    pub generated_unix: Option<i64>,
    /// Server file.
    pub server: Option<SysServer>,
    /// Agent file.
    pub agent: Option<SysClient>,
    /// dmg file.
    pub control: Option<SysClient>,
}

fn security(t: &Option<super::record::SlimTransport>, st: &mut Strings) -> Security {
    let insecure = t.as_ref().and_then(|t| t.allow_insecure).unwrap_or(false);
    Security {
        insecure,
        ca: if insecure {
            None
        } else {
            t.as_ref()
                .and_then(|t| t.ca_sha256.as_deref())
                .map(|c| st.get(c))
        },
    }
}

impl SysHost {
    /// Reduces a report to what the system rules need.
    pub fn from_report(name: &str, r: &super::record::SlimReport, st: &mut Strings) -> Self {
        let mut names: Vec<Str> = Vec::new();
        let mut add = |n: &str, st: &mut Strings| {
            let l = n.trim().to_ascii_lowercase();
            if !l.is_empty() && !names.iter().any(|x| **x == *l) {
                names.push(st.get(&l));
            }
        };
        add(name, st);
        for n in [&r.host.hostname, &r.host.fqdn].into_iter().flatten() {
            add(n, st);
            add(n.split('.').next().unwrap_or(n), st);
        }
        for a in r.host.addresses.iter().flatten() {
            add(a, st);
        }
        let mut h = SysHost {
            name: st.get(name),
            names,
            has_daos: r.daos.is_some(),
            synchronized: r.facts.time.as_ref().and_then(|t| t.synchronized),
            generated_unix: r
                .generated_at
                .as_deref()
                .and_then(crate::report::parse_rfc3339),
            rules_version: r.daos_version.as_deref().map(|v| st.get(v)),
            ..Default::default()
        };
        let Some(d) = &r.daos else { return h };
        h.role = d.role.as_deref().map(|v| st.get(v));
        if let Some(v) = d.rules_version.as_deref() {
            h.rules_version = Some(st.get(v));
        }
        h.installed_version = d.installed_version.as_deref().map(|v| st.get(v));
        let name_of =
            |n: &Option<String>, st: &mut Strings| st.get(n.as_deref().unwrap_or("daos_server"));
        if let Some(s) = &d.server {
            let mut providers: Vec<Str> = Vec::new();
            for e in &s.engines {
                if let Some(p) = e.provider.as_deref().or(s.provider.as_deref()) {
                    let p = st.get(p);
                    if !providers.contains(&p) {
                        providers.push(p);
                    }
                }
            }
            if providers.is_empty()
                && let Some(p) = s.provider.as_deref()
            {
                providers.push(st.get(p));
            }
            h.server = Some(SysServer {
                name: name_of(&s.name, st),
                port: s.port.unwrap_or(10001),
                access_points: s
                    .access_points
                    .iter()
                    .flatten()
                    .map(|a| st.get(a))
                    .collect(),
                providers,
                security: security(&s.transport, st),
            });
        }
        let client = |c: &super::record::SlimClient,
                      list: &Option<Vec<String>>,
                      st: &mut Strings| SysClient {
            name: name_of(&c.name, st),
            port: c.port.unwrap_or(10001),
            servers: list.iter().flatten().map(|a| st.get(a)).collect(),
            security: security(&c.transport, st),
            ifaces: c
                .fabric_ifaces
                .iter()
                .flatten()
                .flat_map(|f| &f.devices)
                .filter_map(|d| {
                    Some(AgentDevice {
                        iface: st.get(d.iface.as_deref()?),
                        domain: d.domain.as_deref().map(|x| st.get(x)),
                    })
                })
                .collect(),
        };
        h.agent = d.agent.as_ref().map(|a| client(a, &a.access_points, st));
        h.control = d.control.as_ref().map(|c| client(c, &c.hostlist, st));
        h
    }
}

/// One system finding.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    /// Stable id (`system.name`).
    pub id: String,
    /// Verdict.
    pub status: Status,
    /// One line.
    pub summary: String,
    /// Hosts and values.
    pub details: serde_json::Value,
    /// What to do (null when nothing).
    pub remediation: Option<String>,
}

/// The `system` section of the fleet summary.
#[derive(Debug, Clone, Serialize)]
pub struct SystemSection {
    /// Worst status of the findings.
    pub status: Status,
    /// Servers named by access points or hostlists that sent no report.
    pub missing_servers: Vec<String>,
    /// Hosts whose reports carry no `daos` section (older tool): unknown to the rules.
    pub without_daos: Vec<String>,
    /// Findings in [`RULES`] order.
    pub findings: Vec<Finding>,
}

/// Runs every system rule on the check reports alone.
pub fn judge(hosts: &[SysHost]) -> SystemSection {
    judge_with(hosts, None)
}

/// Runs every system rule on the check reports and the probe matrix.
pub fn judge_with(
    hosts: &[SysHost],
    net: Option<&crate::fleet::network::Network>,
) -> SystemSection {
    let mut missing: BTreeMap<String, ()> = BTreeMap::new();
    let findings = all(hosts, net, &mut |m: &str| {
        missing.insert(m.to_string(), ());
    });
    let status = findings
        .iter()
        .map(|f| f.status)
        .max_by_key(|s| s.severity())
        .unwrap_or(Status::Skip);
    let mut without: Vec<String> = hosts
        .iter()
        .filter(|h| !h.has_daos)
        .map(|h| h.name.to_string())
        .collect();
    without.sort_by(|a, b| super::nodeset::natural_cmp(a, b));
    SystemSection {
        status,
        missing_servers: missing.into_keys().collect(),
        without_daos: without,
        findings,
    }
}

/// Explain text of a system rule.
pub fn explain(id: &str) -> Option<&'static str> {
    RULES.iter().find(|(i, _)| *i == id).map(|(_, e)| *e)
}

/// One-line title of a system rule (for `list` and `explain`).
pub fn title(id: &str) -> &'static str {
    match id {
        "system.name" => "One system name on every server, agent and dmg host",
        "system.access-points" => "The servers agree on one odd access-point list of servers",
        "system.agents" => "Agents' access points are servers of the fleet",
        "system.control" => "dmg's hostlist names servers of the fleet",
        "system.provider" => "One fabric provider; agents' fabric_ifaces fit it",
        "system.version" => "One DAOS version and rules profile on every node",
        "system.security" => "All insecure, or all secure with one CA",
        "system.time" => "Clocks synchronised and within the HLC tolerance",
        _ => "System rule judged by fleet",
    }
}

#[cfg(test)]
mod tests;
