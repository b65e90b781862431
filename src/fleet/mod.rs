//! `daos-preflight fleet`: merges the reports of many hosts into one summary — per check
//! the hosts in each status as folded nodesets, the hosts failing something (worst
//! first), the facts that should agree across the fleet and do not (drift), stale
//! reports and mixed schema versions, and inputs that were not readable reports.
//!
//! It streams: each input is split into documents line by line ([`stream`]), each
//! document is reduced while parsing to the few fields needed ([`record`]), and only a
//! small per-host record is kept (check statuses as bytes, drift values interned), so
//! memory grows with the number of hosts, not with the size of the reports.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use serde::Serialize;

use crate::checks::Status;
use crate::report::parse_rfc3339;

pub mod html;
mod html_network;
pub mod network;
pub mod nodeset;
pub mod record;
mod render;
pub mod stream;
pub mod system;

pub use render::FleetFormatKind;

/// Schema identifier of the fleet summary (`fleet --format json`).
pub const FLEET_SCHEMA: &str = "daos-preflight/fleet/v1";

/// Strings stored once, referred to by index.
#[derive(Debug, Default)]
struct Interner {
    index: HashMap<String, u32>,
    values: Vec<String>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.values.len() as u32;
        self.values.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
}

/// What is kept per host.
#[derive(Debug)]
struct HostRecord {
    name: String,
    source: String,
    generated_at: Option<String>,
    generated_unix: Option<i64>,
    schema: u32,
    /// (check id, status)
    statuses: Vec<(u32, Status)>,
    /// (drift key, value)
    facts: Vec<(u32, u32)>,
    /// DAOS values for the system rules.
    sys: system::SysHost,
}

/// The facts compared across the fleet, in the order the drift table lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum FactKind {
    Kernel,
    RulesVersion,
    ToolVersion,
    HostAddressWidth,
    NumaLayout,
    Hugepages,
    NicSpeed,
    NicMtu,
}

/// Merges reports one at a time.
#[derive(Debug)]
pub struct Merger {
    stale_after: u64,
    checks: Interner,
    keys: Interner,
    key_kinds: Vec<FactKind>,
    values: Interner,
    schemas: Interner,
    hosts: Vec<HostRecord>,
    by_name: HashMap<String, usize>,
    documents: u64,
    superseded: Vec<String>,
    problems: Vec<Problem>,
    strings: system::Strings,
    probes: network::ProbeStore,
}

/// An input that is not a readable report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// Where: `file:line`, with the `host: ` prefix when there was one.
    pub source: String,
    /// The host it came from, when known (`clush` prefix).
    pub host: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl Merger {
    /// A merger; reports older than `stale_after` seconds before the newest are stale.
    pub fn new(stale_after: u64) -> Self {
        Merger {
            stale_after,
            checks: Interner::default(),
            keys: Interner::default(),
            key_kinds: Vec::new(),
            values: Interner::default(),
            schemas: Interner::default(),
            hosts: Vec::new(),
            by_name: HashMap::new(),
            documents: 0,
            superseded: Vec::new(),
            problems: Vec::new(),
            strings: system::Strings::default(),
            probes: network::ProbeStore::default(),
        }
    }

    /// Records a problem with an input as a whole (unreadable file).
    pub fn problem(&mut self, source: &str, message: &str) {
        self.problems.push(Problem {
            source: source.to_string(),
            host: None,
            message: message.to_string(),
        });
    }

    /// Reads every report of one input stream (`source` names it in problems).
    pub fn feed<R: BufRead>(&mut self, source: &str, mut reader: R) -> std::io::Result<()> {
        let mut splitter = stream::Splitter::new();
        let mut line = Vec::with_capacity(16 * 1024);
        // hosts that produced only noise, reported at the end unless a report came too
        let mut noise: BTreeMap<String, (u64, String)> = BTreeMap::new();
        let mut pieces = |this: &mut Merger, p: stream::Piece<'_>| match p {
            stream::Piece::Document {
                prefix,
                line,
                bytes,
            } => {
                if let Some(h) = prefix {
                    noise.remove(h);
                }
                this.document(source, prefix, line, bytes);
            }
            stream::Piece::Problem {
                prefix: Some(h),
                line,
                message,
            } if message.starts_with("not a JSON report") => {
                noise.entry(h.to_string()).or_insert((line, message));
            }
            stream::Piece::Problem {
                prefix,
                line,
                message,
            } => this.problems.push(Problem {
                source: format!("{source}:{line}"),
                host: prefix.map(String::from),
                message,
            }),
        };
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line)?;
            if n == 0 {
                break;
            }
            let l = line.strip_suffix(b"\n").unwrap_or(&line);
            splitter.line(l, |p| pieces(self, p));
        }
        splitter.finish(|p| pieces(self, p));
        for (host, (line, message)) in noise {
            if !self.by_name.contains_key(&host) {
                self.problems.push(Problem {
                    source: format!("{source}:{line}"),
                    host: Some(host),
                    message: format!("no report: {message}"),
                });
            }
        }
        Ok(())
    }

    fn document(&mut self, source: &str, prefix: Option<&str>, line: u64, bytes: &[u8]) {
        self.documents += 1;
        let where_ = format!("{source}:{line}");
        let r = match record::parse_doc(bytes) {
            Ok(record::Doc::Report(r)) => r,
            Ok(record::Doc::Probe(p)) => return self.probes.add(&where_, prefix, p),
            Err(message) => {
                self.problems.push(Problem {
                    source: where_,
                    host: prefix.map(String::from),
                    message,
                });
                return;
            }
        };
        // the name the admin addressed (clush/pdsh prefix) folds back into `-w`
        let name = prefix
            .map(String::from)
            .or_else(|| r.host.hostname.clone())
            .unwrap_or_else(|| where_.clone());
        let generated_unix = r.generated_at.as_deref().and_then(parse_rfc3339);
        let statuses = r
            .checks
            .iter()
            .map(|c| (self.checks.id(&c.id), c.status))
            .collect();
        let facts = self.drift_facts(&r);
        let sys = system::SysHost::from_report(&name, &r, &mut self.strings);
        let rec = HostRecord {
            name: name.clone(),
            source: where_,
            generated_at: r.generated_at,
            generated_unix,
            schema: self.schemas.id(&r.schema),
            statuses,
            facts,
            sys,
        };
        match self.by_name.get(&name) {
            Some(&i) => {
                // the same host twice (old and new report): keep the newer one
                let old = &self.hosts[i];
                if rec.generated_unix >= old.generated_unix {
                    self.superseded.push(old.source.clone());
                    self.hosts[i] = rec;
                } else {
                    self.superseded.push(rec.source);
                }
            }
            None => {
                self.by_name.insert(name, self.hosts.len());
                self.hosts.push(rec);
            }
        }
    }

    fn key(&mut self, kind: FactKind, name: &str) -> u32 {
        let id = self.keys.id(name);
        if id as usize == self.key_kinds.len() {
            self.key_kinds.push(kind);
        }
        id
    }

    /// The facts that should be equal across the fleet, as (key, value) ids.
    fn drift_facts(&mut self, r: &record::SlimReport) -> Vec<(u32, u32)> {
        let mut out = Vec::with_capacity(16);
        let opt = |v: Option<String>| v.unwrap_or_else(|| "null".to_string());
        let mut put = |this: &mut Merger, kind, key: &str, value: String| {
            let k = this.key(kind, key);
            let v = this.values.id(&value);
            out.push((k, v));
        };
        put(
            self,
            FactKind::Kernel,
            "kernel",
            opt(r.facts.kernel.release.clone()),
        );
        put(
            self,
            FactKind::RulesVersion,
            "daos rules version",
            opt(r.daos_version.clone()),
        );
        put(
            self,
            FactKind::ToolVersion,
            "daos-preflight version",
            opt(r.tool.version.clone()),
        );
        let haw = r.facts.iommu.firmware.as_ref().map(|f| {
            format!(
                "{} bits ({})",
                f.host_address_width_bits
                    .map_or("null".into(), |b| b.to_string()),
                f.table.as_deref().unwrap_or("?")
            )
        });
        put(
            self,
            FactKind::HostAddressWidth,
            "IOMMU host address width",
            opt(haw),
        );
        let nodes = &r.facts.numa.nodes;
        let layout = if nodes.is_empty() {
            "no NUMA information".to_string()
        } else {
            let cpus: Vec<String> = nodes.iter().map(|n| n.cpus.0.to_string()).collect();
            format!("{} nodes, CPUs {}", nodes.len(), cpus.join("+"))
        };
        put(self, FactKind::NumaLayout, "NUMA layout", layout);
        for n in nodes {
            for p in &n.hugepages {
                let key = format!("hugepages node {} ({})", n.id, size_name(p.size_kib));
                put(
                    self,
                    FactKind::Hugepages,
                    &key,
                    p.total.map_or("null".into(), |t| t.to_string()),
                );
            }
        }
        for i in r
            .facts
            .net
            .interfaces
            .iter()
            .filter(|i| i.pci_address.is_some())
        {
            put(
                self,
                FactKind::NicSpeed,
                &format!("{} speed", i.name),
                i.speed_mbps.map_or("null".into(), |s| format!("{s} Mb/s")),
            );
            put(
                self,
                FactKind::NicMtu,
                &format!("{} MTU", i.name),
                i.mtu.map_or("null".into(), |m| m.to_string()),
            );
        }
        out.sort_unstable();
        out.dedup_by_key(|kv| kv.0);
        out
    }

    /// Computes the summary.
    pub fn finish(self) -> FleetSummary {
        let all: Vec<&str> = self.hosts.iter().map(|h| h.name.as_str()).collect();
        let n_checks = self.checks.values.len();

        // per check, per status: host indices
        let mut by_check: Vec<[Vec<usize>; 5]> =
            (0..n_checks).map(|_| Default::default()).collect();
        for (hi, h) in self.hosts.iter().enumerate() {
            for &(c, s) in &h.statuses {
                by_check[c as usize][status_index(s)].push(hi);
            }
        }
        let checks = by_check
            .iter()
            .enumerate()
            .map(|(ci, groups)| {
                let mut hosts = BTreeMap::new();
                let mut counts = BTreeMap::new();
                for (si, g) in groups.iter().enumerate() {
                    let st = STATUS_ORDER[si];
                    counts.insert(st, g.len());
                    if !g.is_empty() {
                        hosts.insert(st, nodeset::fold(g.iter().map(|&i| all[i])));
                    }
                }
                CheckGroup {
                    id: self.checks.values[ci].clone(),
                    counts,
                    hosts,
                }
            })
            .collect();

        // failing hosts, worst first
        let mut failing: Vec<FailingHost> = self
            .hosts
            .iter()
            .filter_map(|h| {
                let ids = |want: Status| -> Vec<String> {
                    h.statuses
                        .iter()
                        .filter(|(_, s)| *s == want)
                        .map(|(c, _)| self.checks.values[*c as usize].clone())
                        .collect()
                };
                let (fail, error) = (ids(Status::Fail), ids(Status::Error));
                if fail.is_empty() && error.is_empty() {
                    return None;
                }
                Some(FailingHost {
                    host: h.name.clone(),
                    status: if fail.is_empty() {
                        Status::Error
                    } else {
                        Status::Fail
                    },
                    fail,
                    error,
                    warn: ids(Status::Warn),
                })
            })
            .collect();
        failing.sort_by(|a, b| {
            b.status
                .severity()
                .cmp(&a.status.severity())
                .then(b.fail.len().cmp(&a.fail.len()))
                .then(b.error.len().cmp(&a.error.len()))
                .then(b.warn.len().cmp(&a.warn.len()))
                .then_with(|| nodeset::natural_cmp(&a.host, &b.host))
        });

        // drift: keys with more than one value (absence counts as a value)
        let mut per_key: Vec<BTreeMap<u32, Vec<usize>>> =
            vec![BTreeMap::new(); self.keys.values.len()];
        let mut present: Vec<usize> = vec![0; self.keys.values.len()];
        for (hi, h) in self.hosts.iter().enumerate() {
            for &(k, v) in &h.facts {
                per_key[k as usize].entry(v).or_default().push(hi);
                present[k as usize] += 1;
            }
        }
        let mut order: Vec<usize> = (0..per_key.len()).collect();
        order.sort_by(|&a, &b| {
            self.key_kinds[a]
                .cmp(&self.key_kinds[b])
                .then_with(|| nodeset::natural_cmp(&self.keys.values[a], &self.keys.values[b]))
        });
        let mut drift = Vec::new();
        for k in order {
            let absent = self.hosts.len() - present[k];
            let distinct = per_key[k].len() + usize::from(absent > 0);
            if distinct < 2 {
                continue;
            }
            let mut values: Vec<DriftValue> = per_key[k]
                .iter()
                .map(|(v, hs)| DriftValue {
                    value: Some(self.values.values[*v as usize].clone()),
                    count: hs.len(),
                    hosts: nodeset::fold(hs.iter().map(|&i| all[i])),
                })
                .collect();
            if absent > 0 {
                let mut has = vec![false; self.hosts.len()];
                for hs in per_key[k].values() {
                    for &i in hs {
                        has[i] = true;
                    }
                }
                values.push(DriftValue {
                    value: None,
                    count: absent,
                    hosts: nodeset::fold(
                        has.iter()
                            .enumerate()
                            .filter(|(_, h)| !**h)
                            .map(|(i, _)| all[i]),
                    ),
                });
            }
            // the majority first: the odd ones out are what to look at
            values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            drift.push(Drift {
                fact: self.keys.values[k].clone(),
                values,
            });
        }

        // staleness relative to the newest report
        let newest = self.hosts.iter().filter_map(|h| h.generated_unix).max();
        let mut stale: Vec<StaleReport> = self
            .hosts
            .iter()
            .filter_map(|h| match (h.generated_unix, newest) {
                (Some(t), Some(n)) if (n - t) as u64 > self.stale_after => Some(StaleReport {
                    host: h.name.clone(),
                    generated_at: h.generated_at.clone(),
                    age_seconds: Some((n - t) as u64),
                }),
                (None, _) => Some(StaleReport {
                    host: h.name.clone(),
                    generated_at: h.generated_at.clone(),
                    age_seconds: None,
                }),
                _ => None,
            })
            .collect();
        stale.sort_by(|a, b| {
            b.age_seconds
                .cmp(&a.age_seconds)
                .then_with(|| nodeset::natural_cmp(&a.host, &b.host))
        });

        let mut by_schema: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (hi, h) in self.hosts.iter().enumerate() {
            by_schema.entry(h.schema).or_default().push(hi);
        }
        let schemas = by_schema
            .iter()
            .map(|(s, hs)| SchemaGroup {
                schema: self.schemas.values[*s as usize].clone(),
                count: hs.len(),
                hosts: nodeset::fold(hs.iter().map(|&i| all[i])),
            })
            .collect();

        let sys_hosts: Vec<system::SysHost> = self.hosts.iter().map(|h| h.sys.clone()).collect();
        let names: Vec<(&str, Vec<&str>)> = self
            .hosts
            .iter()
            .map(|h| (h.name.as_str(), h.sys.names.iter().map(|n| &**n).collect()))
            .collect();
        let network = self.probes.finish(&names);
        let system = system::judge_with(&sys_hosts, network.as_ref());
        let mut superseded = self.superseded;
        superseded.extend(self.probes.superseded.iter().cloned());
        FleetSummary {
            schema: FLEET_SCHEMA.to_string(),
            system,
            documents: self.documents,
            hosts: self.hosts.len(),
            superseded,
            network,
            newest_generated_at: newest.map(|t| crate::report::rfc3339(t.max(0) as u64)),
            stale_after_seconds: self.stale_after,
            checks,
            failing,
            drift,
            stale,
            mixed_schemas: by_schema.len() > 1,
            schemas,
            problems: self.problems,
        }
    }
}

fn size_name(kib: u64) -> String {
    if kib >= 1024 * 1024 && kib.is_multiple_of(1024 * 1024) {
        format!("{} GiB pages", kib / (1024 * 1024))
    } else if kib >= 1024 && kib.is_multiple_of(1024) {
        format!("{} MiB pages", kib / 1024)
    } else {
        format!("{kib} KiB pages")
    }
}

/// Statuses in report order.
const STATUS_ORDER: [Status; 5] = crate::report::prometheus::STATUSES;

fn status_index(s: Status) -> usize {
    match s {
        Status::Pass => 0,
        Status::Warn => 1,
        Status::Fail => 2,
        Status::Skip => 3,
        Status::Error => 4,
    }
}

/// The merged view (`daos-preflight/fleet/v1`).
#[derive(Debug, Clone, Serialize)]
pub struct FleetSummary {
    /// Always [`FLEET_SCHEMA`].
    pub schema: String,
    /// The system verdict (rules across hosts).
    pub system: system::SystemSection,
    /// JSON documents found in the input (valid or not).
    pub documents: u64,
    /// Distinct hosts with a valid report.
    pub hosts: usize,
    /// Older reports of a host replaced by a newer one (their source).
    pub superseded: Vec<String>,
    /// The reachability matrix and clock offsets of the probe reports (`null`: none).
    pub network: Option<network::Network>,
    /// `generated_at` of the newest report.
    pub newest_generated_at: Option<String>,
    /// `--stale-after` in seconds.
    pub stale_after_seconds: u64,
    /// Per check, in the order first seen: hosts per status (nodesets) and counts.
    pub checks: Vec<CheckGroup>,
    /// Hosts with a `fail` or `error`, worst first.
    pub failing: Vec<FailingHost>,
    /// Facts that differ across hosts.
    pub drift: Vec<Drift>,
    /// Reports older than `stale_after_seconds` before the newest (or without a time).
    pub stale: Vec<StaleReport>,
    /// More than one report schema version.
    pub mixed_schemas: bool,
    /// Hosts per report schema.
    pub schemas: Vec<SchemaGroup>,
    /// Inputs that were not readable reports.
    pub problems: Vec<Problem>,
}

/// One check across the fleet.
#[derive(Debug, Clone, Serialize)]
pub struct CheckGroup {
    /// Check id.
    pub id: String,
    /// Hosts per status (all five statuses).
    pub counts: BTreeMap<Status, usize>,
    /// Nodeset per status (statuses with hosts only).
    pub hosts: BTreeMap<Status, String>,
}

/// A host with failures or errors.
#[derive(Debug, Clone, Serialize)]
pub struct FailingHost {
    /// Host.
    pub host: String,
    /// Worst status: `fail` or `error`.
    pub status: Status,
    /// Failed checks.
    pub fail: Vec<String>,
    /// Checks that could not be evaluated.
    pub error: Vec<String>,
    /// Warnings.
    pub warn: Vec<String>,
}

/// A fact with more than one value across the fleet.
#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    /// What (`kernel`, `hugepages node 0 (2 MiB pages)`, `ib0 speed`).
    pub fact: String,
    /// Values, the most common first.
    pub values: Vec<DriftValue>,
}

/// One value of a drifting fact.
#[derive(Debug, Clone, Serialize)]
pub struct DriftValue {
    /// The value (`null` inside: unknown on the host); `None`: the host has no such fact.
    pub value: Option<String>,
    /// Number of hosts.
    pub count: usize,
    /// The hosts, as a nodeset.
    pub hosts: String,
}

/// A stale report.
#[derive(Debug, Clone, Serialize)]
pub struct StaleReport {
    /// Host.
    pub host: String,
    /// Its `generated_at`.
    pub generated_at: Option<String>,
    /// How much older than the newest report; `None` when its time is unreadable.
    pub age_seconds: Option<u64>,
}

/// Hosts of one report schema.
#[derive(Debug, Clone, Serialize)]
pub struct SchemaGroup {
    /// `daos-preflight/report/v1`.
    pub schema: String,
    /// Number of hosts.
    pub count: usize,
    /// The hosts.
    pub hosts: String,
}

impl FleetSummary {
    /// 1 when some host failed a check or some input was not a readable report, else 0.
    pub fn exit_code(&self) -> i32 {
        let failed = self.failing.iter().any(|f| !f.fail.is_empty());
        let sys = self.system.status == Status::Fail;
        i32::from(failed || sys || !self.problems.is_empty())
    }
}
