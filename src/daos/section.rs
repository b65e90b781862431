//! The report's `daos` section: the DAOS view of one host that other nodes must agree
//! with (system name, ports, access points, provider, transport security, engines'
//! fabric, the agent's and dmg's targets), for `fleet`'s system rules.
//!
//! Contract: `daos-preflight schema report` (additive in `daos-preflight/report/v1`). The
//! values are what the files say with DAOS's defaults applied where DAOS applies them:
//! system name `daos_server` and control port 10001 (src/control/build/variables.go
//! `DefaultSystemName`, `DefaultControlPort`), `allow_insecure: false` and CA
//! `/etc/daos/certs/daosCA.crt` (security/config.go `defaultInsecure`, `defaultCACert`),
//! agent `access_points` and dmg `hostlist` `localhost:10001`
//! (cmd/daos_agent/config.go and lib/control/config.go `DefaultConfig`; the same at
//! v2.6.0 and v2.8.0). Server `access_points` are as written (the key says which
//! spelling, `null` when neither).
//!
//! [`build`] is pure; [`collect`] reads the CA certificates through [`Host`].

use serde::{Deserialize, Serialize};

use super::DaosVersion;
use super::config::{
    AgentConfig, ControlConfig, FileLoad, FileRead, LoadedConfigs, Role, ServerConfig,
    TransportConfig,
};
use super::requirements::DEFAULT_CERT_DIR;
use crate::facts::Facts;
use crate::host::Host;

/// The `daos` object of a report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct DaosSection {
    /// The role judged (what `--role auto` decided): `server`, `client`, `none`.
    pub role: DaosRole,
    /// The rules profile used (same as the report's `daos_version`).
    pub rules_version: String,
    /// Upstream version of the installed daos-server (else daos-client) package
    /// (`2.6.0`), when it can be found.
    pub installed_version: Option<String>,
    /// One entry per file kind looked at (server, agent, control), present or not.
    pub files: Vec<DaosFile>,
    /// What `daos_server.yml` says; null when absent or not parsed at all.
    pub server: Option<ServerView>,
    /// What `daos_agent.yml` says; null when absent or not parsed at all.
    pub agent: Option<AgentView>,
    /// What `daos_control.yml` says; null when absent or not parsed at all.
    pub control: Option<ControlView>,
}

/// The role a host was judged in.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DaosRole {
    /// A DAOS server.
    Server,
    /// A client node (daos_agent).
    Client,
    /// Neither: no DAOS file and no `--role`.
    None,
}

/// Which DAOS file.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DaosFileKind {
    /// `daos_server.yml`.
    Server,
    /// `daos_agent.yml`.
    Agent,
    /// `daos_control.yml` (dmg).
    Control,
}

/// One DAOS file as read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct DaosFile {
    /// Which file.
    pub kind: DaosFileKind,
    /// The path on the host (or the `--*-config` path given).
    pub path: String,
    /// The file exists.
    pub present: bool,
    /// Lowercase hex SHA-256 of its bytes; null when it could not be read.
    pub sha256: Option<String>,
    /// It parsed into a configuration (validation issues may remain: see the
    /// `config.*` checks).
    pub loaded: bool,
    /// Why a present file was not loaded (unreadable, not a regular file, not YAML).
    pub error: Option<String>,
}

/// Transport security as DAOS applies it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct TransportView {
    /// `allow_insecure` (default false).
    pub allow_insecure: bool,
    /// `ca_cert` (default `/etc/daos/certs/daosCA.crt`).
    pub ca_cert: Option<String>,
    /// SHA-256 of the CA certificate file's bytes; null when unreadable, absent, or
    /// `allow_insecure` is true.
    pub ca_sha256: Option<String>,
}

/// One engine's fabric.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct EngineView {
    /// Position in `engines`.
    pub index: u32,
    /// `fabric_iface` after inheritance from the top level.
    pub fabric_iface: Option<String>,
    /// `fabric_iface_port` after inheritance.
    pub fabric_iface_port: Option<i64>,
    /// `provider` after inheritance.
    pub provider: Option<String>,
    /// `pinned_numa_node`, else the NUMA node of `fabric_iface` on this host.
    pub numa_node: Option<i64>,
}

/// What `daos_server.yml` says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct ServerView {
    /// System name (default `daos_server`).
    pub name: String,
    /// Control port (default 10001).
    pub port: i64,
    /// `access_points` / `mgmt_svc_replicas` as written.
    pub access_points: Vec<String>,
    /// Which key the file used: `access_points`, `mgmt_svc_replicas`, or null.
    pub access_points_key: Option<String>,
    /// Top-level `provider`.
    pub provider: Option<String>,
    /// `transport_config`.
    pub transport: TransportView,
    /// Each engine's fabric.
    pub engines: Vec<EngineView>,
}

/// One `fabric_ifaces[].devices[]` entry of the agent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct AgentDeviceView {
    /// `iface`.
    pub iface: Option<String>,
    /// `domain`.
    pub domain: Option<String>,
}

/// One `fabric_ifaces` entry of the agent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct AgentFabricView {
    /// `numa_node`.
    pub numa_node: Option<i64>,
    /// `devices`.
    pub devices: Vec<AgentDeviceView>,
}

/// What `daos_agent.yml` says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct AgentView {
    /// System name (default `daos_server`).
    pub name: String,
    /// Control port (default 10001).
    pub port: i64,
    /// `access_points` as written (default `localhost:10001`).
    pub access_points: Vec<String>,
    /// `transport_config`.
    pub transport: TransportView,
    /// `fabric_ifaces`.
    pub fabric_ifaces: Vec<AgentFabricView>,
}

/// What `daos_control.yml` says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct ControlView {
    /// System name (default `daos_server`).
    pub name: String,
    /// Control port (default 10001).
    pub port: i64,
    /// `hostlist` as written (default `localhost:10001`).
    pub hostlist: Vec<String>,
    /// `transport_config`.
    pub transport: TransportView,
}

/// Where DAOS's clients look when `access_points` / `hostlist` is not written
/// (`localhost:%d` with `build.DefaultControlPort`).
fn default_local_server() -> Vec<String> {
    vec![format!("localhost:{}", super::config::DEFAULT_CONTROL_PORT)]
}

/// The CA certificate path DAOS loads for a transport configuration.
pub fn ca_path(t: &TransportConfig) -> String {
    t.ca_cert
        .clone()
        .unwrap_or_else(|| format!("{DEFAULT_CERT_DIR}/daosCA.crt"))
}

/// The CA certificates the configurations name (secure ones only), for [`collect`].
pub fn ca_paths(c: &LoadedConfigs) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let transports = [
        c.server.config().map(|s| &s.transport),
        c.agent.config().map(|a| &a.transport),
        c.control.config().map(|d| &d.transport),
    ];
    for t in transports.into_iter().flatten() {
        let p = ca_path(t);
        if !t.allow_insecure && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

fn transport_view(
    t: &TransportConfig,
    ca_digest: &dyn Fn(&str) -> Option<String>,
) -> TransportView {
    let ca = ca_path(t);
    TransportView {
        allow_insecure: t.allow_insecure,
        ca_sha256: (!t.allow_insecure).then(|| ca_digest(&ca)).flatten(),
        ca_cert: Some(ca),
    }
}

fn file_entry<T>(kind: DaosFileKind, load: &FileLoad<T>, read: &FileRead) -> DaosFile {
    let (present, loaded, error) = match load {
        FileLoad::Absent { .. } => (false, false, None),
        FileLoad::Unreadable { error, .. } => (true, false, Some(error.clone())),
        FileLoad::Invalid { error, .. } => (true, false, Some(error.to_string())),
        FileLoad::Loaded { .. } => (true, true, None),
    };
    DaosFile {
        kind,
        path: read.host_path.clone(),
        present,
        sha256: read.sha256.clone(),
        loaded,
        // one line: a hint or a YAML message never spans lines in a fleet table
        error: error.map(|e| e.split_whitespace().collect::<Vec<_>>().join(" ")),
    }
}

fn server_view(s: &ServerConfig, facts: &Facts, ca: &dyn Fn(&str) -> Option<String>) -> ServerView {
    ServerView {
        name: s.system_name().to_string(),
        port: s.control_port(),
        access_points: s.access_points.clone(),
        access_points_key: s.access_points_key.clone(),
        provider: s.provider.clone(),
        transport: transport_view(&s.transport, ca),
        engines: s
            .engines
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let iface = s.engine_iface(e);
                EngineView {
                    index: i as u32,
                    numa_node: e.pinned_numa_node.or_else(|| {
                        super::requirements::detected_numa_node(facts, s, e).map(i64::from)
                    }),
                    fabric_iface: iface,
                    fabric_iface_port: s.engine_port(e),
                    provider: s.engine_provider(e),
                }
            })
            .collect(),
    }
}

fn agent_view(a: &AgentConfig, ca: &dyn Fn(&str) -> Option<String>) -> AgentView {
    AgentView {
        name: a.system_name().to_string(),
        port: a.port.unwrap_or(super::config::DEFAULT_CONTROL_PORT),
        access_points: if a.access_points_pos.is_some() {
            a.access_points.clone()
        } else {
            default_local_server()
        },
        transport: transport_view(&a.transport, ca),
        fabric_ifaces: a
            .fabric_ifaces
            .iter()
            .map(|f| AgentFabricView {
                numa_node: f.numa_node,
                devices: f
                    .devices
                    .iter()
                    .map(|d| AgentDeviceView {
                        iface: d.iface.clone(),
                        domain: d.domain.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn control_view(d: &ControlConfig, ca: &dyn Fn(&str) -> Option<String>) -> ControlView {
    ControlView {
        name: d.system_name().to_string(),
        port: d.port.unwrap_or(super::config::DEFAULT_CONTROL_PORT),
        hostlist: if d.hostlist_pos.is_some() {
            d.hostlist.clone()
        } else {
            default_local_server()
        },
        transport: transport_view(&d.transport, ca),
    }
}

/// The section for a host judged without any DAOS configuration read (`build_report`
/// without configs): nothing looked at.
pub fn empty(version: DaosVersion, installed_version: Option<String>) -> DaosSection {
    DaosSection {
        role: DaosRole::None,
        rules_version: version.to_string(),
        installed_version,
        files: Vec::new(),
        server: None,
        agent: None,
        control: None,
    }
}

/// The section from the loaded files, the host's facts (NIC NUMA nodes), the installed
/// version and the CA digests (`ca_digest(path)`: SHA-256 of the file, `None` when it
/// cannot be read). Pure.
pub fn build(
    c: &LoadedConfigs,
    facts: &Facts,
    installed_version: Option<String>,
    ca_digest: &dyn Fn(&str) -> Option<String>,
) -> DaosSection {
    DaosSection {
        role: match c.role {
            Role::Server => DaosRole::Server,
            Role::Agent => DaosRole::Client,
            Role::Unknown => DaosRole::None,
        },
        rules_version: c.version.to_string(),
        installed_version,
        files: vec![
            file_entry(DaosFileKind::Server, &c.server, &c.reads.server),
            file_entry(DaosFileKind::Agent, &c.agent, &c.reads.agent),
            file_entry(DaosFileKind::Control, &c.control, &c.reads.control),
        ],
        server: c.server.config().map(|s| server_view(s, facts, ca_digest)),
        agent: c.agent.config().map(|a| agent_view(a, ca_digest)),
        control: c.control.config().map(|d| control_view(d, ca_digest)),
    }
}

/// [`build`] with the installed version and the CA certificates read from `host`
/// (regular files only: a FIFO in place of a certificate is "unreadable", never a hang).
pub fn collect(host: &Host, c: &LoadedConfigs, facts: &Facts) -> DaosSection {
    let digests: Vec<(String, Option<String>)> = ca_paths(c)
        .into_iter()
        .map(|p| {
            let d = host
                .read_regular(&p)
                .ok()
                .map(|b| super::digest::sha256_hex(&b));
            (p, d)
        })
        .collect();
    let lookup = |p: &str| {
        digests
            .iter()
            .find(|(q, _)| q == p)
            .and_then(|(_, d)| d.clone())
    };
    build(c, facts, super::install::installed_version(host), &lookup)
}
