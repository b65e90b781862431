//! Helpers shared by the system rules: findings, grouping of values by host, and the
//! verdict of a list of entries that must name reported servers.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Finding, SysHost, Target, resolve};
use crate::checks::Status;
use crate::fleet::nodeset::fold;

pub(super) fn finding(
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

pub(super) fn groups<'a>(
    items: impl Iterator<Item = (String, &'a str)>,
) -> BTreeMap<String, Vec<&'a str>> {
    let mut m: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (v, h) in items {
        m.entry(v).or_default().push(h);
    }
    m
}

pub(super) fn values_json(g: &BTreeMap<String, Vec<&str>>) -> Value {
    Value::Array(
        g.iter()
            .map(|(v, hs)| json!({"value": v, "hosts": fold(hs.iter().copied())}))
            .collect(),
    )
}

/// Problems of resolving `entries` held by host `holder` with port `port`.
pub(super) fn check_entries(
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

pub(super) fn verdict(
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
