//! Probe reports (`daos-preflight/probe/v1`) in the fleet: each is reduced while parsing
//! to its paths ([`SlimProbe`]), kept per probing host (the newest report of a host
//! wins, as for check reports), and at the end folded into the reachability matrix
//! ([`Network`]): who cannot reach whom on which port and why, the clock offsets the
//! handshakes measured and the largest pairwise skew, and the servers' config digests.
//! `system.network` and the probe part of `system.time` are judged from it.
//!
//! Names: a destination is the peer name the probing host used, mapped to the fleet's
//! name of that host when a check or probe report of the fleet carries the name or
//! address (so `node1`, `node1.example` and `198.51.100.11` are one column). A
//! `wrong-host` path belongs to the name that was asked for (that is the broken
//! mapping), its clock offset to the host that answered.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::nodeset::{fold, natural_cmp};
use super::system::{Str, Strings};

mod render;

/// Outcome of one path, as `probe` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PathStatus {
    /// Handshake from the expected host.
    Ok,
    /// Connection refused.
    Refused,
    /// No answer within the timeout.
    Timeout,
    /// The name does not resolve.
    Unresolved,
    /// The handshake named another host.
    WrongHost,
    /// Anything else (and statuses this version does not know).
    #[serde(other)]
    Error,
}

impl PathStatus {
    /// The word in reports.
    pub fn name(self) -> &'static str {
        match self {
            PathStatus::Ok => "ok",
            PathStatus::Refused => "refused",
            PathStatus::Timeout => "timeout",
            PathStatus::Unresolved => "unresolved",
            PathStatus::WrongHost => "wrong-host",
            PathStatus::Error => "error",
        }
    }

    /// Which failure a matrix cell shows when a pair has several: the one that hides
    /// the others (a name that does not resolve or points elsewhere says nothing about
    /// the ports; a drop hides a refusal).
    fn rank(self) -> u8 {
        match self {
            PathStatus::Ok => 0,
            PathStatus::Error => 1,
            PathStatus::Refused => 2,
            PathStatus::Timeout => 3,
            PathStatus::Unresolved => 4,
            PathStatus::WrongHost => 5,
        }
    }
}

/// `from` of a probe report.
#[derive(Debug, Default, Deserialize)]
pub struct SlimFrom {
    /// Short host name.
    #[serde(default)]
    pub hostname: Option<String>,
    /// FQDN.
    #[serde(default)]
    pub fqdn: Option<String>,
    /// Local addresses.
    #[serde(default)]
    pub addresses: Option<Vec<String>>,
    /// `server`, `client`, `none`.
    #[serde(default)]
    pub role: Option<String>,
}

/// `results[]` of a probe report.
#[derive(Debug, Deserialize)]
pub struct SlimResult {
    /// Name as configured or given.
    pub peer: String,
    /// Address tried.
    #[serde(default)]
    pub address: Option<String>,
    /// Port.
    pub port: u16,
    /// `control` / `fabric`.
    #[serde(default)]
    pub purpose: String,
    /// Engine index (fabric).
    #[serde(default)]
    pub engine: Option<u32>,
    /// Whether DAOS needs the path.
    #[serde(default = "yes")]
    pub required: bool,
    /// Outcome.
    pub status: PathStatus,
    /// Round trip, ms.
    #[serde(default)]
    pub rtt_ms: Option<f64>,
    /// Peer clock minus local clock, ms.
    #[serde(default)]
    pub clock_offset_ms: Option<f64>,
    /// Name the handshake gave.
    #[serde(default)]
    pub peer_hostname: Option<String>,
    /// `sha256:` of the peer's daos_server.yml (handshake).
    #[serde(default)]
    pub config_digest: Option<String>,
    /// DAOS system name the peer answered with (handshake).
    #[serde(default)]
    pub peer_system_name: Option<String>,
    /// One line.
    #[serde(default)]
    pub detail: Option<String>,
}

fn yes() -> bool {
    true
}

/// A probe report, reduced.
#[derive(Debug)]
pub struct SlimProbe {
    /// `daos-preflight/probe/v1`.
    pub schema: String,
    /// The probing host.
    pub from: SlimFrom,
    /// RFC 3339.
    pub generated_at: Option<String>,
    /// Paths.
    pub results: Vec<SlimResult>,
}

/// One path as kept.
#[derive(Debug, Clone)]
struct PathRec {
    peer: Str,
    address: Option<Str>,
    port: u16,
    purpose: Str,
    engine: Option<u32>,
    required: bool,
    status: PathStatus,
    rtt_ms: Option<f64>,
    offset_ms: Option<f64>,
    peer_hostname: Option<Str>,
    digest: Option<Str>,
    system: Option<Str>,
    /// Kept for failed paths only.
    detail: Option<String>,
}

/// One probing host.
#[derive(Debug)]
struct Source {
    name: String,
    names: Vec<String>,
    source: String,
    generated_unix: Option<i64>,
    paths: Vec<PathRec>,
}

/// The probe reports read so far.
#[derive(Debug, Default)]
pub struct ProbeStore {
    sources: Vec<Source>,
    by_name: HashMap<String, usize>,
    strings: Strings,
    /// Older probe reports of the same host, by source.
    pub superseded: Vec<String>,
}

fn lower_names<'a>(it: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for n in it {
        // a dotted quad's first label is no name
        let short = n.split('.').next().unwrap_or(n);
        let forms = if n.parse::<std::net::IpAddr>().is_ok() {
            [n, n]
        } else {
            [n, short]
        };
        for m in forms {
            let l = m.trim().to_ascii_lowercase();
            if !l.is_empty() && !v.contains(&l) {
                v.push(l);
            }
        }
    }
    v
}

impl ProbeStore {
    /// Adds one probe report found at `where_` (`file:line`), addressed by `prefix`.
    pub fn add(&mut self, where_: &str, prefix: Option<&str>, p: SlimProbe) {
        let name = prefix
            .map(String::from)
            .or_else(|| p.from.hostname.clone().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| where_.to_string());
        let mut names: Vec<&str> = vec![&name];
        names.extend(p.from.hostname.as_deref());
        names.extend(p.from.fqdn.as_deref());
        names.extend(p.from.addresses.iter().flatten().map(|s| s.as_str()));
        let names = lower_names(names);
        let st = &mut self.strings;
        let paths = p
            .results
            .into_iter()
            .map(|r| PathRec {
                peer: st.get(&r.peer),
                address: r.address.as_deref().map(|a| st.get(a)),
                port: r.port,
                purpose: st.get(&r.purpose),
                engine: r.engine,
                required: r.required,
                status: r.status,
                rtt_ms: r.rtt_ms,
                offset_ms: r.clock_offset_ms,
                peer_hostname: r.peer_hostname.as_deref().map(|h| st.get(h)),
                digest: r.config_digest.as_deref().map(|d| st.get(d)),
                system: r.peer_system_name.as_deref().map(|d| st.get(d)),
                detail: if r.status == PathStatus::Ok {
                    None
                } else {
                    r.detail
                },
            })
            .collect();
        let rec = Source {
            name: name.clone(),
            names,
            source: where_.to_string(),
            generated_unix: p
                .generated_at
                .as_deref()
                .and_then(crate::report::parse_rfc3339),
            paths,
        };
        match self.by_name.get(&name) {
            Some(&i) => {
                if rec.generated_unix >= self.sources[i].generated_unix {
                    self.superseded.push(self.sources[i].source.clone());
                    self.sources[i] = rec;
                } else {
                    self.superseded.push(rec.source);
                }
            }
            None => {
                self.by_name.insert(name, self.sources.len());
                self.sources.push(rec);
            }
        }
    }

    /// Number of probing hosts.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// No probe report was read.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The matrix; `hosts` are the (fleet name, lower-case names and addresses) of the
    /// hosts with a check report, used to name destinations. `None`: no probe report.
    pub fn finish(&self, hosts: &[(&str, Vec<&str>)]) -> Option<Network> {
        if self.sources.is_empty() {
            return None;
        }
        let mut canon: HashMap<String, String> = HashMap::new();
        for (name, names) in hosts {
            for n in names.iter().copied().chain([*name]) {
                canon
                    .entry(n.to_ascii_lowercase())
                    .or_insert_with(|| name.to_string());
            }
        }
        for s in &self.sources {
            for n in &s.names {
                canon.entry(n.clone()).or_insert_with(|| s.name.clone());
            }
        }
        // `localhost` and loopback addresses name the probing host itself
        let name_of = |peer: &str, from: &str| -> String {
            let l = peer.trim().to_ascii_lowercase();
            if is_loopback(&l) {
                return from.to_string();
            }
            let short = l.split('.').next().unwrap_or(&l).to_string();
            canon
                .get(&l)
                .or_else(|| {
                    (l.parse::<std::net::IpAddr>().is_err())
                        .then(|| canon.get(&short))
                        .flatten()
                })
                .cloned()
                .unwrap_or_else(|| peer.to_string())
        };
        let mut sources: Vec<&Source> = self.sources.iter().collect();
        sources.sort_by(|a, b| natural_cmp(&a.name, &b.name));
        let mut dests: Vec<String> = Vec::new();
        let mut cells: BTreeMap<(usize, String), (u8, PathStatus, bool)> = BTreeMap::new();
        let mut failures = Vec::new();
        let mut totals = PathCounts::default();
        // (from, to) -> best (lowest-rtt) offset
        let mut clocks: BTreeMap<(usize, String), (f64, f64)> = BTreeMap::new();
        let mut digests: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut systems: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (si, s) in sources.iter().enumerate() {
            for p in &s.paths {
                let to = name_of(&p.peer, &s.name);
                if !dests.contains(&to) {
                    dests.push(to.clone());
                }
                totals.total += 1;
                match (p.status, p.required) {
                    (PathStatus::Ok, _) => totals.ok += 1,
                    (_, true) => totals.failed_required += 1,
                    (_, false) => totals.failed_optional += 1,
                }
                // the cell: the worst required failure, else the worst optional one
                let key = (si, to.clone());
                let score = if p.status == PathStatus::Ok {
                    0
                } else {
                    p.status.rank() + if p.required { 10 } else { 0 }
                };
                let e = cells.entry(key).or_insert((0, PathStatus::Ok, true));
                if score > e.0 {
                    *e = (score, p.status, p.required);
                }
                if p.status != PathStatus::Ok {
                    failures.push(PathFailure {
                        from: s.name.clone(),
                        to: to.clone(),
                        peer: p.peer.to_string(),
                        address: p.address.as_deref().map(String::from),
                        port: p.port,
                        purpose: p.purpose.to_string(),
                        engine: p.engine,
                        required: p.required,
                        status: p.status,
                        cause: cause(
                            p.status,
                            &s.name,
                            &p.peer,
                            p.address.as_deref(),
                            p.peer_hostname.as_deref(),
                        ),
                        peer_hostname: p.peer_hostname.as_deref().map(String::from),
                        detail: p.detail.clone(),
                    });
                }
                // the clock belongs to the host that answered
                if let (Some(off), Some(rtt)) = (p.offset_ms, p.rtt_ms) {
                    let who = match (p.status, p.peer_hostname.as_deref()) {
                        (PathStatus::WrongHost, Some(h)) => name_of(h, &s.name),
                        _ => to.clone(),
                    };
                    if who != s.name {
                        let c = clocks.entry((si, who)).or_insert((off, rtt));
                        if rtt < c.1 {
                            *c = (off, rtt);
                        }
                    }
                }
                for (key, map) in [(&p.digest, &mut digests), (&p.system, &mut systems)] {
                    if let (Some(d), PathStatus::Ok) = (key, p.status) {
                        let v = map.entry(d.to_string()).or_default();
                        if !v.contains(&to) {
                            v.push(to.clone());
                        }
                    }
                }
            }
        }
        dests.sort_by(|a, b| natural_cmp(a, b));
        let matrix = sources
            .iter()
            .enumerate()
            .map(|(si, _)| {
                dests
                    .iter()
                    .map(|d| match cells.get(&(si, d.clone())) {
                        None => String::new(),
                        Some((_, st, true)) => st.name().to_string(),
                        Some((_, st, false)) => format!("{}?", st.name()),
                    })
                    .collect()
            })
            .collect();
        failures.sort_by(|a: &PathFailure, b| {
            b.required
                .cmp(&a.required)
                .then_with(|| natural_cmp(&a.from, &b.from))
                .then_with(|| natural_cmp(&a.to, &b.to))
                .then(a.port.cmp(&b.port))
        });
        let clock_list: Vec<ClockPair> = clocks
            .iter()
            .map(|((si, to), (off, rtt))| ClockPair {
                from: sources[*si].name.clone(),
                to: to.clone(),
                offset_ms: *off,
                rtt_ms: *rtt,
            })
            .collect();
        let max_skew = max_skew(&clock_list);
        let groups = |m: BTreeMap<String, Vec<String>>| -> Vec<DigestGroup> {
            let mut v: Vec<DigestGroup> = m
                .into_iter()
                .map(|(digest, hosts)| DigestGroup {
                    digest,
                    count: hosts.len(),
                    hosts: fold(hosts.iter().map(|h| h.as_str())),
                })
                .collect();
            v.sort_by_key(|g| std::cmp::Reverse(g.count));
            v
        };
        let config_digests = groups(digests);
        let system_names = groups(systems);
        Some(Network {
            probe_reports: self.sources.len(),
            sources: sources.iter().map(|s| s.name.clone()).collect(),
            destinations: dests,
            matrix,
            paths: totals,
            failures,
            clocks: clock_list,
            max_skew,
            config_digests,
            system_names,
        })
    }
}

/// `localhost`, `localhost.*`, 127.0.0.0/8, `::1`.
fn is_loopback(name: &str) -> bool {
    name == "localhost"
        || name.starts_with("localhost.")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback())
}

/// The likely cause of a failed path, in the words an admin acts on.
pub fn cause(
    status: PathStatus,
    from: &str,
    peer: &str,
    address: Option<&str>,
    answered: Option<&str>,
) -> String {
    let at = address
        .filter(|a| *a != peer)
        .map(|a| format!(" ({a})"))
        .unwrap_or_default();
    match status {
        PathStatus::Ok => String::new(),
        PathStatus::Refused => format!(
            "nothing listening on {peer}{at} (probe serve / daos_server not running there) or a REJECT rule"
        ),
        PathStatus::Timeout => format!(
            "no answer from {peer}{at}: a firewall DROP rule on {peer} or on the way, or no route from {from}"
        ),
        PathStatus::Unresolved => {
            format!("{peer} does not resolve on {from}: add it to /etc/hosts or DNS there")
        }
        PathStatus::WrongHost => format!(
            "{peer} resolves on {from} to{} {}: stale /etc/hosts or DNS entry",
            address
                .map(|a| format!(" {a}, which is"))
                .unwrap_or_default(),
            answered.unwrap_or("another host")
        ),
        PathStatus::Error => format!("the probe from {from} to {peer}{at} failed"),
    }
}

/// The largest pairwise skew the offsets show. One probing host's offsets put every
/// peer it reached on its own time line (itself at 0), so two peers probed from the
/// same host are compared too (a client probing the servers measures their skew).
/// The uncertainty is half of each round trip (NTP's bound).
pub fn max_skew(clocks: &[ClockPair]) -> Option<Skew> {
    let mut by_from: BTreeMap<&str, Vec<(&str, f64, f64)>> = BTreeMap::new();
    for c in clocks {
        by_from
            .entry(&c.from)
            .or_insert_with(|| vec![(&c.from, 0.0, 0.0)])
            .push((&c.to, c.offset_ms, c.rtt_ms));
    }
    let mut best: Option<Skew> = None;
    for (from, v) in by_from {
        let hi = v.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1))?;
        let lo = v.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1))?;
        let skew = hi.1 - lo.1;
        if best.as_ref().is_none_or(|b| skew > b.skew_ms) && hi.0 != lo.0 {
            best = Some(Skew {
                ahead: hi.0.to_string(),
                behind: lo.0.to_string(),
                skew_ms: skew,
                uncertainty_ms: (hi.2 + lo.2) / 2.0,
                measured_from: from.to_string(),
            });
        }
    }
    best
}

/// Path totals.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct PathCounts {
    /// Paths in the probe reports.
    pub total: usize,
    /// Ok.
    pub ok: usize,
    /// Required paths not ok.
    pub failed_required: usize,
    /// Paths DAOS does not need that are not ok.
    pub failed_optional: usize,
}

/// A path that is not ok.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PathFailure {
    /// Probing host.
    pub from: String,
    /// Destination (fleet name when known).
    pub to: String,
    /// The name the probing host used.
    pub peer: String,
    /// Address tried.
    pub address: Option<String>,
    /// Port.
    pub port: u16,
    /// `control` / `fabric`.
    pub purpose: String,
    /// Engine (fabric).
    pub engine: Option<u32>,
    /// DAOS needs it.
    pub required: bool,
    /// Outcome.
    pub status: PathStatus,
    /// The likely cause.
    pub cause: String,
    /// Who answered (wrong-host).
    pub peer_hostname: Option<String>,
    /// The probe's own line.
    pub detail: Option<String>,
}

/// A measured clock offset.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClockPair {
    /// Probing host.
    pub from: String,
    /// Host that answered.
    pub to: String,
    /// `to`'s clock minus `from`'s, ms (lowest-RTT handshake).
    pub offset_ms: f64,
    /// Its round trip, ms.
    pub rtt_ms: f64,
}

/// The largest skew between two hosts.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Skew {
    /// The host whose clock is ahead.
    pub ahead: String,
    /// The host whose clock is behind.
    pub behind: String,
    /// `ahead` minus `behind`, ms.
    pub skew_ms: f64,
    /// ± of the estimate (half the round trips), ms.
    pub uncertainty_ms: f64,
    /// The probing host whose handshakes measured it.
    pub measured_from: String,
}

/// Servers answering with one config digest.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DigestGroup {
    /// `sha256:<hex>` of daos_server.yml.
    pub digest: String,
    /// Number of servers.
    pub count: usize,
    /// The servers, as a nodeset.
    pub hosts: String,
}

/// The network as the probes saw it (`network` in `daos-preflight/fleet/v1`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Network {
    /// Probing hosts with a report.
    pub probe_reports: usize,
    /// Probing hosts (matrix rows).
    pub sources: Vec<String>,
    /// Destinations (matrix columns).
    pub destinations: Vec<String>,
    /// `matrix[source][destination]`: `""` not probed, `ok`, else the worst failure
    /// (`timeout`, `refused`, `unresolved`, `wrong-host`, `error`); a `?` suffix when
    /// only paths DAOS does not need failed.
    pub matrix: Vec<Vec<String>>,
    /// Totals.
    pub paths: PathCounts,
    /// Every path not ok, required first.
    pub failures: Vec<PathFailure>,
    /// Offsets per (from, to).
    pub clocks: Vec<ClockPair>,
    /// Largest pairwise skew.
    pub max_skew: Option<Skew>,
    /// Distinct daos_server.yml digests the servers answered with, most common first.
    pub config_digests: Vec<DigestGroup>,
    /// Distinct DAOS system names the servers answered with (`digest` holds the name).
    pub system_names: Vec<DigestGroup>,
}

#[cfg(test)]
mod tests;
