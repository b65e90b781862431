//! `daos_agent.yml` (src/control/cmd/daos_agent/config.go `Config`, read with go-yaml
//! v2 `UnmarshalStrict` by `LoadConfig`).

use serde::{Deserialize, Serialize};

use super::server::{TRANSPORT_KEYS, transport};
use super::walk::{Walker, join, parse_root};
use super::yaml::Pos;
use super::yaml::scalar::IntType;
use super::{ConfigError, KeySpec, Parsed, TransportConfig, key};
use crate::daos::DaosVersion;
use crate::daos::DaosVersion::{V2_0, V2_2, V2_4, V2_6, V2_8};

const AGENT_KEYS: &[KeySpec] = &[
    key("name", V2_0, None),
    key("access_points", V2_0, None),
    key("port", V2_0, None),
    key("runtime_dir", V2_0, None),
    key("log_file", V2_0, None),
    key("transport_config", V2_0, None),
    key("fabric_ifaces", V2_0, None),
    key("control_log_mask", V2_2, None),
    key("disable_caching", V2_2, None),
    key("disable_auto_evict", V2_2, None),
    key("cache_expiration", V2_4, None),
    key("exclude_fabric_ifaces", V2_4, None),
    key("enable_evict_on_start", V2_6, None),
    key("telemetry_port", V2_6, None),
    key("telemetry_enabled", V2_6, None),
    key("telemetry_retain", V2_6, None),
    key("credential_config", V2_8, None),
    key("include_fabric_ifaces", V2_8, None),
    key("telemetry_enabled_procs", V2_8, None),
    key("telemetry_disabled_procs", V2_8, None),
];

const NUMA_FABRIC_KEYS: &[KeySpec] = &[key("numa_node", V2_0, None), key("devices", V2_0, None)];
const DEVICE_KEYS: &[KeySpec] = &[key("iface", V2_0, None), key("domain", V2_0, None)];
const CREDENTIAL_KEYS: &[KeySpec] = &[
    key("cache_expiration", V2_8, None),
    key("client_user_map", V2_8, None),
];

/// `security.MappedClientUser` (security/config.go, 2.8).
const MAPPED_USER_KEYS: &[KeySpec] = &[
    key("user", V2_8, None),
    key("group", V2_8, None),
    key("groups", V2_8, None),
];

/// `credential_config.client_user_map` as security/config.go `ClientUserMap.UnmarshalYAML`
/// (2.8) reads it: a mapping of uid (decimal, below 2^32 − 1, which is reserved) or
/// `default` to a `MappedClientUser` (`user`, `group`, `groups`; strict keys) or null.
/// A scalar or list in place of the map or of a user is a go-yaml type error; a key that
/// is no uid is the decoder's own error, which stops the load (Issue::decoder).
fn client_user_map(w: &mut Walker, v: &crate::daos::config::yaml::Node, p: &str) {
    for (uid, k, user) in w.entries(v, p) {
        let path = join(p, uid);
        let parsed = uid
            .parse::<u64>()
            .ok()
            .filter(|_| uid.bytes().all(|b| b.is_ascii_digit()));
        let why = match parsed {
            _ if uid == "default" => None,
            Some(n) if n == u64::from(u32::MAX) => Some(format!("uid {n} is reserved")),
            Some(n) if n < u64::from(u32::MAX) => None,
            _ => Some(format!(
                "invalid uid {uid}: a uid is a decimal number below 4294967295, or default"
            )),
        };
        if let Some(why) = why {
            w.decode_error(
                k.pos,
                &path,
                format!("{path}: {why}: daos_agent refuses the file"),
            );
            continue;
        }
        for (name, k2, val) in w.entries(user, &path) {
            let p2 = join(&path, name);
            if !w.known(MAPPED_USER_KEYS, name) {
                w.unknown_key(k2, name, &path, MAPPED_USER_KEYS, &[]);
            } else if name == "groups" {
                let _ = w.strings(val, &p2);
            } else {
                let _ = w.string(val, &p2);
            }
        }
    }
}

/// One `fabric_ifaces[].devices[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AgentDevice {
    /// Where the entry starts.
    pub pos: Pos,
    /// `iface`: the network interface (`ib0`).
    pub iface: Option<String>,
    /// `domain`: the fabric domain (the RDMA device, `mlx5_0`, for verbs).
    pub domain: Option<String>,
}

/// One `fabric_ifaces` entry: the interfaces of one NUMA node.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AgentNumaFabric {
    /// Where the entry starts.
    pub pos: Pos,
    /// `numa_node`.
    pub numa_node: Option<i64>,
    /// `devices`.
    pub devices: Vec<AgentDevice>,
}

/// What `daos_agent.yml` says.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AgentConfig {
    /// `name`: the DAOS system (must equal the server's).
    pub name: Option<String>,
    /// `access_points`: servers the agent asks for the system map.
    pub access_points: Vec<String>,
    /// Where `access_points` is in the file.
    pub access_points_pos: Option<Pos>,
    /// `port`: control port (default 10001).
    pub port: Option<i64>,
    /// `runtime_dir`: where the agent socket lives.
    pub runtime_dir: Option<String>,
    /// `log_file`.
    pub log_file: Option<String>,
    /// `transport_config`.
    pub transport: TransportConfig,
    /// `fabric_ifaces`: manual interface selection per NUMA node.
    pub fabric_ifaces: Vec<AgentNumaFabric>,
    /// `telemetry_port` (2.6+).
    pub telemetry_port: Option<i64>,
    /// `telemetry_enabled` (2.6+).
    pub telemetry_enabled: bool,
    /// Whether `telemetry_retain` was set to a positive duration (2.6+).
    pub telemetry_retain_set: bool,
    /// Whether `telemetry_enabled_procs` / `telemetry_disabled_procs` were set (2.8).
    pub telemetry_procs_set: (bool, bool),
    /// `exclude_fabric_ifaces` / `include_fabric_ifaces` are non-empty (2.8: not both).
    pub fabric_iface_filters: (bool, bool),
    /// Where `name` is in the file.
    pub name_pos: Option<Pos>,
}

impl AgentConfig {
    /// The system name the agent will use.
    pub fn system_name(&self) -> &str {
        self.name.as_deref().unwrap_or(super::DEFAULT_SYSTEM_NAME)
    }
}

/// Parses `daos_agent.yml` under the rules of `version` (see
/// [`parse_server`](super::parse_server) for what is an `Err` and what an issue).
pub fn parse_agent(
    text: &str,
    file_name: &str,
    version: DaosVersion,
) -> Result<Parsed<AgentConfig>, ConfigError> {
    let mut w = Walker::new(file_name, version);
    let mut cfg = AgentConfig::default();
    let Some(root) = parse_root(text, file_name, &mut w)? else {
        return Ok(Parsed {
            config: cfg,
            issues: w.issues,
        });
    };
    for (name, k, v) in w.entries(&root, "") {
        let p = name.to_string();
        if !w.known(AGENT_KEYS, name) {
            w.unknown_key(k, name, "", AGENT_KEYS, &[]);
            if !AGENT_KEYS.iter().any(|s| s.name == name) {
                continue;
            }
        }
        match name {
            "name" => {
                // a null value zeroes the field in go-yaml v2: the name becomes ""
                cfg.name = if v.is_null() {
                    Some(String::new())
                } else {
                    w.string(v, &p)
                };
                cfg.name_pos = Some(v.pos);
            }
            "access_points" => {
                cfg.access_points = w.strings(v, &p);
                cfg.access_points_pos = Some(v.pos);
            }
            "port" => cfg.port = w.int(v, &p),
            "control_log_mask" => crate::daos::config::server::control_log_level(&mut w, v, &p),
            "runtime_dir" => cfg.runtime_dir = w.string(v, &p),
            "log_file" => cfg.log_file = w.string(v, &p),
            "transport_config" => cfg.transport = transport(&mut w, v, &p),
            "telemetry_port" => cfg.telemetry_port = w.int(v, &p),
            "telemetry_enabled" => cfg.telemetry_enabled = w.bool(v, &p).unwrap_or(false),
            "telemetry_retain" => {
                cfg.telemetry_retain_set = duration(&mut w, v, &p).is_some_and(|ns| ns > 0)
            }
            // `*ConfigRegexp` (cmd/daos_agent/config.go): go-yaml leaves the pointer nil
            // for a null value, so `telemetry_disabled_procs: ~` is not set at all
            "telemetry_enabled_procs" => {
                cfg.telemetry_procs_set.0 = !v.is_null() && w.string(v, &p).is_some()
            }
            "telemetry_disabled_procs" => {
                cfg.telemetry_procs_set.1 = !v.is_null() && w.string(v, &p).is_some()
            }
            "cache_expiration" => {
                // refreshMinutes: a Go `uint` of minutes (cmd/daos_agent/config.go);
                // go-yaml refuses a negative number, accepts anything up to 2^64
                let _ = w.int_as(v, &p, IntType::Uint);
            }
            "disable_caching" | "disable_auto_evict" | "enable_evict_on_start" => {
                let _ = w.bool(v, &p);
            }
            "exclude_fabric_ifaces" => cfg.fabric_iface_filters.0 = !w.strings(v, &p).is_empty(),
            "include_fabric_ifaces" => cfg.fabric_iface_filters.1 = !w.strings(v, &p).is_empty(),
            "credential_config" => {
                for (n2, k2, v2) in w.entries(v, &p) {
                    if !w.known(CREDENTIAL_KEYS, n2) {
                        w.unknown_key(k2, n2, &p, CREDENTIAL_KEYS, &[]);
                    } else if n2 == "cache_expiration" {
                        let _ = duration(&mut w, v2, &join(&p, n2));
                    } else if n2 == "client_user_map" {
                        client_user_map(&mut w, v2, &join(&p, n2));
                    }
                }
            }
            "fabric_ifaces" => {
                for (i, it) in w.items(v, &p).into_iter().enumerate() {
                    let path = format!("fabric_ifaces[{i}]");
                    let mut nf = AgentNumaFabric {
                        pos: it.pos,
                        ..Default::default()
                    };
                    for (n2, k2, v2) in w.entries(it, &path) {
                        let p2 = join(&path, n2);
                        if !w.known(NUMA_FABRIC_KEYS, n2) {
                            w.unknown_key(k2, n2, &path, NUMA_FABRIC_KEYS, &[]);
                            continue;
                        }
                        match n2 {
                            "numa_node" => nf.numa_node = w.int(v2, &p2),
                            _ => {
                                for (j, d) in w.items(v2, &p2).into_iter().enumerate() {
                                    let dp = format!("{p2}[{j}]");
                                    let mut dev = AgentDevice {
                                        pos: d.pos,
                                        ..Default::default()
                                    };
                                    for (n3, k3, v3) in w.entries(d, &dp) {
                                        if !w.known(DEVICE_KEYS, n3) {
                                            w.unknown_key(k3, n3, &dp, DEVICE_KEYS, &[]);
                                            continue;
                                        }
                                        let p3 = join(&dp, n3);
                                        if n3 == "iface" {
                                            dev.iface = w.string(v3, &p3);
                                        } else {
                                            dev.domain = w.string(v3, &p3);
                                        }
                                    }
                                    nf.devices.push(dev);
                                }
                            }
                        }
                    }
                    cfg.fabric_ifaces.push(nf);
                }
            }
            _ => {
                let _ = w.string(v, &p);
            }
        }
    }
    // transport keys are shared with the server; make sure the table is linked
    debug_assert!(!TRANSPORT_KEYS.is_empty());
    let (issues, _positions) = w.into_issues();
    Ok(Parsed {
        config: cfg,
        issues,
    })
}

/// A Go `time.Duration` as go-yaml v2 decodes one: a plain number is nanoseconds, a
/// string goes through `time.ParseDuration` (`90s`, `1h30m`, `1.5m`). Null is 0.
fn duration(w: &mut Walker, v: &super::yaml::Node, p: &str) -> Option<i64> {
    use super::yaml::scalar;
    if v.is_null() {
        return Some(0);
    }
    // numbers resolve as go-yaml v2 resolves them (yaml::scalar); a plain float goes
    // into the int64 truncated
    let parsed = match v.get().scalar() {
        Some(s) => {
            let number = if s.plain {
                scalar::resolve(s)
                    .ok()
                    .and_then(|x| scalar::to_int(x, scalar::IntType::Int))
                    .and_then(|i| i64::try_from(i).ok())
            } else {
                None
            };
            number.or_else(|| go_duration(s.value))
        }
        None => None,
    };
    if parsed.is_none() {
        let shown = v.as_scalar().unwrap_or("a list or mapping");
        w.error(
            v.pos,
            p,
            format!(
                "{p} is {shown:?}: DAOS reads a duration, a number with a unit (ns, us, ms, s, m, h), e.g. 30s or 5m"
            ),
        );
    }
    parsed
}

/// Go's `time.ParseDuration`: `[-+]` then one or more `<decimal><unit>`; `0` alone.
fn go_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..n];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return None;
        }
        let value: f64 = num.parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[u..];
        total += value * scale;
    }
    if total > i64::MAX as f64 {
        return None;
    }
    Some(if neg { -(total as i64) } else { total as i64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_devices_and_version_keys() {
        let text = "name: daos_server\naccess_points: ['node0']\nfabric_ifaces:\n-\n  numa_node: 0\n  devices:\n  - iface: ib0\n  - domain: mlx5_1\ntelemetry_port: 9192\n";
        let p = parse_agent(text, "daos_agent.yml", DaosVersion::V2_6).unwrap();
        assert!(p.issues.is_empty(), "{:?}", p.issues);
        let devs = &p.config.fabric_ifaces[0].devices;
        assert_eq!(devs.len(), 2);
        assert_eq!(devs[1].iface, None);
        assert_eq!(devs[1].domain.as_deref(), Some("mlx5_1"));
        assert_eq!(devs[1].pos.line, 8);
        let p = parse_agent(text, "daos_agent.yml", DaosVersion::V2_4).unwrap();
        assert_eq!(p.issues.len(), 1);
        assert!(p.issues[0].to_string().starts_with("daos_agent.yml:9:1: "));
    }
}
