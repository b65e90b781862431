//! `daos_server.yml`: the model and its version-aware parser.
//!
//! Key tables come from the `yaml:` tags of src/control/server/config/server.go (the
//! `Server` struct, with `engine.FabricConfig` inline), server/engine/config.go (`Config`,
//! with `storage.Config` and `FabricConfig` inline; ≤2.2 also `LegacyStorage` inline),
//! server/storage/config.go (`TierConfig` = `ScmConfig` + `BdevConfig` inline) and
//! security/config.go (`TransportConfig`), at tags v2.0.0, v2.2.0, v2.4.0, v2.6.0 and
//! v2.8.0.
//!
//! One module per concern: this one holds the top level (`Server`), [`engine`] one
//! `engines:` entry, [`storage`] the storage tiers, [`transport`] the fabric keys and
//! `transport_config`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::walk::{Rename, Walker, join, parse_root};
use super::yaml::{Node, Pos};
use super::{ConfigError, KeySpec, Parsed, Severity, TransportConfig, key};
use crate::daos::DaosVersion;
use crate::daos::DaosVersion::{V2_0, V2_2, V2_4, V2_8};

mod engine;
mod storage;
#[cfg(test)]
mod tests;
mod transport;
mod typed;

use engine::parse_engine;
pub use engine::{Acceleration, EngineConfig};
pub use storage::{StorageClass, StorageTier};
use transport::{FABRIC_KEYS, parse_transport};
pub(crate) use transport::{TRANSPORT_KEYS, transport};

/// Top-level keys of `Server` (without the inline fabric keys).
const SERVER_KEYS: &[KeySpec] = &[
    key("name", V2_0, None),
    key("port", V2_0, None),
    key("transport_config", V2_0, None),
    key("engines", V2_0, None),
    key("servers", V2_0, Some(V2_0)),
    key("bdev_exclude", V2_0, None),
    key("bdev_include", V2_0, Some(V2_2)),
    key("disable_vfio", V2_0, None),
    key("enable_vmd", V2_0, Some(V2_0)),
    key("disable_vmd", V2_2, None),
    // 2.8 keeps enable_hotplug as a deprecated alias (server.go deprecatedParams)
    key("enable_hotplug", V2_0, None),
    key("disable_hotplug", V2_8, None),
    key("nr_hugepages", V2_0, None),
    key("system_ram_reserved", V2_4, None),
    key("disable_hugepages", V2_2, None),
    key("allow_numa_imbalance", V2_8, None),
    key("allow_thp", V2_8, None),
    key("control_iface", V2_8, None),
    key("control_log_mask", V2_0, None),
    key("control_log_file", V2_0, None),
    key("control_log_json", V2_0, None),
    key("helper_log_file", V2_0, None),
    key("firmware_helper_log_file", V2_0, None),
    key("fault_path", V2_0, None),
    key("fault_cb", V2_0, None),
    key("hyperthreads", V2_0, None),
    key("telemetry_port", V2_0, None),
    key("core_dump_filter", V2_2, None),
    key("client_env_vars", V2_4, None),
    key("socket_dir", V2_0, None),
    // 2.8 keeps access_points as a deprecated alias of mgmt_svc_replicas
    key("access_points", V2_0, None),
    key("mgmt_svc_replicas", V2_8, None),
    key("control_metadata", V2_4, None),
    key("recreate_superblocks", V2_0, Some(V2_4)),
    key("support_config", V2_8, None),
    key("disable_engine_auto_restart", V2_8, None),
    key("engine_auto_restart_min_delay", V2_8, None),
    // FabricConfig.pinned_numa_node was inline at the top level in 2.0 only
    key("pinned_numa_node", V2_0, Some(V2_0)),
];

const METADATA_KEYS: &[KeySpec] = &[
    key("path", V2_4, None),
    key("device", V2_4, None),
    key("allow_spdk_conf_override", V2_8, None),
];
const SUPPORT_KEYS: &[KeySpec] = &[key("file_transfer_exec", V2_8, None)];

const SERVER_RENAMES: &[Rename] = &[
    Rename {
        old: "access_points",
        new: "mgmt_svc_replicas",
        note: "",
    },
    Rename {
        old: "enable_vmd",
        new: "disable_vmd",
        note: " (and invert the value)",
    },
    Rename {
        old: "enable_hotplug",
        new: "disable_hotplug",
        note: " (and invert the value)",
    },
    Rename {
        old: "servers",
        new: "engines",
        note: "",
    },
];

/// `control_metadata` (2.4+).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ControlMetadata {
    /// `path`: where the control plane keeps its metadata.
    pub path: Option<String>,
    /// `device`: a block device to mount at `path`.
    pub device: Option<String>,
}

/// What `daos_server.yml` says, release-neutral.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServerConfig {
    /// `name`: the DAOS system name (default `daos_server`).
    pub name: Option<String>,
    /// `port`: the control-plane gRPC port (default 10001).
    pub port: Option<i64>,
    /// `provider` (top level, inherited by engines).
    pub provider: Option<String>,
    /// `fabric_iface` (top level, inherited by engines).
    pub fabric_iface: Option<String>,
    /// `fabric_iface_port` (top level, inherited by engines).
    pub fabric_iface_port: Option<i64>,
    /// `access_points` (≤2.6) / `mgmt_svc_replicas` (2.8): the MS replica hosts.
    pub access_points: Vec<String>,
    /// Which spelling the file used for them (`access_points` or `mgmt_svc_replicas`),
    /// `None` when neither was set.
    pub access_points_key: Option<String>,
    /// `telemetry_port`.
    pub telemetry_port: Option<i64>,
    /// `transport_config`.
    pub transport: TransportConfig,
    /// `engines` (≤2.0: also `servers`).
    pub engines: Vec<EngineConfig>,
    /// Whether an `engines:` (or `servers:`) key was present at all.
    pub engines_present: bool,
    /// `bdev_exclude`: PCI addresses DAOS must not touch.
    pub bdev_exclude: Vec<String>,
    /// `disable_vfio`: use uio_pci_generic instead of vfio-pci (root only).
    pub disable_vfio: bool,
    /// `disable_vmd` (2.2+; `enable_vmd` in 2.0, inverted).
    pub disable_vmd: Option<bool>,
    /// `disable_hotplug` (2.8; `enable_hotplug` earlier, inverted).
    pub disable_hotplug: Option<bool>,
    /// `nr_hugepages`: total for all engines; 0 or unset = computed by DAOS.
    pub nr_hugepages: i64,
    /// `system_ram_reserved` in GiB; `None` = the release default.
    pub system_ram_reserved: Option<i64>,
    /// `disable_hugepages`.
    pub disable_hugepages: bool,
    /// `allow_numa_imbalance` (2.8).
    pub allow_numa_imbalance: bool,
    /// `allow_thp` (2.8).
    pub allow_thp: bool,
    /// `socket_dir`.
    pub socket_dir: Option<String>,
    /// `control_log_file`.
    pub control_log_file: Option<String>,
    /// `control_metadata`.
    pub control_metadata: Option<ControlMetadata>,
    /// `control_iface` (2.8).
    pub control_iface: Option<String>,
    /// `secondary_provider_endpoints` (top level, inherited by engines that set none).
    pub secondary_provider_endpoints: Vec<i64>,
    /// `engine_auto_restart_min_delay` (2.8), seconds.
    pub engine_auto_restart_min_delay: Option<i64>,
    /// `fault_path`: this server's fault domain (`/rack0/node1`).
    pub fault_path: Option<String>,
    /// `fault_cb`: a script printing the fault domain.
    pub fault_cb: Option<String>,
    /// Position of every value read, by key path (`engines[0].targets`).
    pub positions: BTreeMap<String, Pos>,
}

impl ServerConfig {
    /// The system name DAOS will use.
    pub fn system_name(&self) -> &str {
        self.name.as_deref().unwrap_or(super::DEFAULT_SYSTEM_NAME)
    }

    /// The control port DAOS will use.
    pub fn control_port(&self) -> i64 {
        self.port.unwrap_or(super::DEFAULT_CONTROL_PORT)
    }

    /// Where a key's value was, or the nearest enclosing section that was found.
    pub fn pos_of(&self, path: &str) -> Option<Pos> {
        let mut p = path.to_string();
        loop {
            if let Some(pos) = self.positions.get(&p) {
                return Some(*pos);
            }
            match p.rfind(['.', '[']) {
                Some(i) => p.truncate(i),
                None => return None,
            }
        }
    }

    /// The provider an engine runs with. server/server.go `processFabricProvider` (at
    /// start, before `Validate`) sets every engine's provider to the top-level one
    /// (`WithFabricProvider`), so an engine's own `provider:` only counts when the top
    /// level has none (and then DAOS refuses the file anyway).
    pub fn engine_provider(&self, e: &EngineConfig) -> Option<String> {
        self.provider.clone().or_else(|| e.provider.clone())
    }

    /// An engine's fabric interface after inheritance.
    pub fn engine_iface(&self, e: &EngineConfig) -> Option<String> {
        e.fabric_iface.clone().or_else(|| self.fabric_iface.clone())
    }

    /// An engine's fabric port after inheritance.
    pub fn engine_port(&self, e: &EngineConfig) -> Option<i64> {
        e.fabric_iface_port.or(self.fabric_iface_port)
    }
}

/// Parses `daos_server.yml` under the rules of `version`.
///
/// `Err` only for YAML that DAOS could not read at all; everything DAOS's strict decoder
/// would reject (unknown key, wrong type, duplicate) is an [`Issue`] of severity error in
/// [`Parsed::issues`], with the model still filled from the rest of the file. DAOS's
/// *validation* rules (provider set, odd access points ...) are in
/// [`validate_server`](super::validate::validate_server).
pub fn parse_server(
    text: &str,
    file_name: &str,
    version: DaosVersion,
) -> Result<Parsed<ServerConfig>, ConfigError> {
    let mut w = Walker::new(file_name, version);
    let mut cfg = ServerConfig::default();
    let Some(root) = parse_root(text, file_name, &mut w)? else {
        return Ok(Parsed {
            config: cfg,
            issues: w.issues,
        });
    };
    let mut ap_node: Option<(Pos, Vec<String>)> = None;
    let mut msr_node: Option<(Pos, Vec<String>)> = None;
    let mut enable_hotplug: Option<(Pos, bool)> = None;
    let mut disable_hotplug: Option<bool> = None;
    for (name, k, v) in w.entries(&root, "") {
        let p = name.to_string();
        let in_table = SERVER_KEYS
            .iter()
            .chain(FABRIC_KEYS)
            .any(|s| s.name == name);
        if !w.known(SERVER_KEYS, name) && !w.known(FABRIC_KEYS, name) {
            let all: Vec<KeySpec> = SERVER_KEYS.iter().chain(FABRIC_KEYS).copied().collect();
            w.unknown_key(k, name, "", &all, SERVER_RENAMES);
            if !in_table {
                continue;
            }
        }
        match name {
            "name" => cfg.name = w.string(v, &p),
            "control_log_mask" => control_log_level(&mut w, v, &p),
            "port" => cfg.port = w.int(v, &p),
            "provider" => cfg.provider = w.string(v, &p),
            "fabric_iface" => cfg.fabric_iface = w.string(v, &p),
            "fabric_iface_port" => cfg.fabric_iface_port = w.int(v, &p),
            "access_points" => ap_node = Some((k.pos, w.strings(v, &p))),
            "mgmt_svc_replicas" => msr_node = Some((k.pos, w.strings(v, &p))),
            "telemetry_port" => cfg.telemetry_port = w.int(v, &p),
            "transport_config" => cfg.transport = parse_transport(&mut w, v, &p),
            "engines" | "servers" => {
                cfg.engines_present = true;
                let items = w.items(v, &p);
                for (i, it) in items.into_iter().enumerate() {
                    let path = format!("engines[{i}]");
                    w.positions.insert(path.clone(), it.pos);
                    let e = parse_engine(&mut w, it, &path);
                    cfg.engines.push(e);
                }
            }
            "bdev_exclude" => cfg.bdev_exclude = w.strings(v, &p),
            "bdev_include" => {
                let _ = w.strings(v, &p);
            }
            "disable_vfio" => cfg.disable_vfio = w.bool(v, &p).unwrap_or(false),
            "disable_vmd" => cfg.disable_vmd = w.bool(v, &p),
            "enable_vmd" => {
                // 2.0 spelling: understood in every profile (inverted)
                if let Some(b) = w.bool(v, &p) {
                    cfg.disable_vmd.get_or_insert(!b);
                }
            }
            "enable_hotplug" => {
                if let Some(b) = w.bool(v, &p) {
                    enable_hotplug = Some((k.pos, b));
                }
            }
            "disable_hotplug" => disable_hotplug = w.bool(v, &p),
            "nr_hugepages" => cfg.nr_hugepages = w.int(v, &p).unwrap_or(0),
            "system_ram_reserved" => cfg.system_ram_reserved = w.int(v, &p),
            "disable_hugepages" => cfg.disable_hugepages = w.bool(v, &p).unwrap_or(false),
            "allow_numa_imbalance" => cfg.allow_numa_imbalance = w.bool(v, &p).unwrap_or(false),
            "allow_thp" => cfg.allow_thp = w.bool(v, &p).unwrap_or(false),
            "socket_dir" => cfg.socket_dir = w.string(v, &p),
            "control_log_file" => cfg.control_log_file = w.string(v, &p),
            "control_iface" => cfg.control_iface = w.string(v, &p),
            "control_metadata" => {
                let mut md = ControlMetadata::default();
                for (n2, k2, v2) in w.entries(v, &p) {
                    let p2 = join(&p, n2);
                    if !w.known(METADATA_KEYS, n2) {
                        w.unknown_key(k2, n2, &p, METADATA_KEYS, &[]);
                        continue;
                    }
                    match n2 {
                        "path" => md.path = w.string(v2, &p2),
                        "device" => md.device = w.string(v2, &p2),
                        _ => {
                            let _ = w.bool(v2, &p2);
                        }
                    }
                }
                cfg.control_metadata = Some(md);
            }
            "support_config" => w.section_keys(v, &p, SUPPORT_KEYS),
            "control_log_json"
            | "disable_engine_auto_restart"
            | "hyperthreads"
            | "recreate_superblocks"
            | "bypass_health_chk"
            | "disable_srx" => {
                let _ = w.bool(v, &p);
            }
            // server.go: core_dump_filter uint8, crt_timeout uint32 (FabricConfig)
            "core_dump_filter" => {
                let _ = typed::uint(&mut w, v, &p, u64::from(u8::MAX));
            }
            "crt_timeout" => {
                let _ = typed::uint(&mut w, v, &p, typed::U32);
            }
            "engine_auto_restart_min_delay" => cfg.engine_auto_restart_min_delay = w.int(v, &p),
            "client_env_vars" => {
                let _ = w.strings(v, &p);
            }
            "secondary_provider_endpoints" => {
                cfg.secondary_provider_endpoints = typed::ints(&mut w, v, &p)
            }
            "fault_path" => cfg.fault_path = w.string(v, &p),
            "fault_cb" => cfg.fault_cb = w.string(v, &p),
            _ => {
                let _ = w.string(v, &p);
            }
        }
    }
    // access_points (≤2.6, deprecated alias in 2.8) and mgmt_svc_replicas (2.8): both are
    // understood under every profile. Under 2.8 the old spelling is a warning (DAOS logs a
    // notice) and both together is fatal (server.go Load, msgAPsMSReps). Under ≤2.6 the new
    // spelling was already reported as an unknown key (DAOS 2.6 refuses it), but its value
    // is used so that the other checks still work.
    match (ap_node, msr_node) {
        (Some((ap_pos, aps)), Some((_, reps))) => {
            if version >= V2_8 {
                w.error(
                    ap_pos,
                    "access_points",
                    "both access_points and mgmt_svc_replicas are set: DAOS 2.8 refuses the file (access_points is deprecated; please use mgmt_svc_replicas instead)".to_string(),
                );
                cfg.access_points = reps;
                cfg.access_points_key = Some("mgmt_svc_replicas".into());
            } else {
                cfg.access_points = aps;
                cfg.access_points_key = Some("access_points".into());
            }
        }
        (Some((ap_pos, aps)), None) => {
            if version >= V2_8 {
                w.push(
                    Severity::Warning,
                    Some(ap_pos),
                    "access_points",
                    "access_points is deprecated in DAOS 2.8; please use mgmt_svc_replicas instead"
                        .to_string(),
                    Some("rename \"access_points\" to \"mgmt_svc_replicas\"".to_string()),
                );
            }
            cfg.access_points = aps;
            cfg.access_points_key = Some("access_points".into());
        }
        (None, Some((_, reps))) => {
            cfg.access_points = reps;
            cfg.access_points_key = Some("mgmt_svc_replicas".into());
        }
        (None, None) => {}
    }
    if let Some((pos, b)) = enable_hotplug {
        if version >= V2_8 {
            if disable_hotplug.is_some() {
                // server.go Validate: FaultConfigEnableHotplugDeprecated
                w.error(
                    pos,
                    "enable_hotplug",
                    "both enable_hotplug and disable_hotplug are set: DAOS 2.8 refuses the file"
                        .to_string(),
                );
            } else {
                w.push(
                    Severity::Warning,
                    Some(pos),
                    "enable_hotplug",
                    "enable_hotplug is deprecated in DAOS 2.8; please use disable_hotplug instead"
                        .to_string(),
                    Some(format!(
                        "replace \"enable_hotplug: {b}\" with \"disable_hotplug: {}\"",
                        !b
                    )),
                );
            }
        }
        cfg.disable_hotplug = disable_hotplug.or(Some(!b));
    } else {
        cfg.disable_hotplug = disable_hotplug;
    }
    let (issues, positions) = w.into_issues();
    cfg.positions = positions;
    Ok(Parsed {
        config: cfg,
        issues,
    })
}

/// `control_log_mask` (server and agent): a logging.LogLevel, whose UnmarshalYAML
/// (src/control/logging/level.go SetString) takes TRACE, DEBUG, INFO, NOTICE, ERROR or
/// DISABLED in any case, nothing else (no spaces, no lists, not empty); DAOS refuses the
/// file at load (measured against the DAOS 2.6/2.8 oracle).
pub(crate) fn control_log_level(w: &mut crate::daos::config::walk::Walker, v: &Node, p: &str) {
    const LEVELS: &[&str] = &["TRACE", "DEBUG", "INFO", "NOTICE", "ERROR", "DISABLED"];
    if v.is_null() {
        return;
    }
    if let Some(s) = w.string(v, p)
        && !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(&s))
    {
        w.error(
            v.pos,
            p,
            format!(
                "{p} is {s:?}: DAOS accepts one log level, one of trace, debug, info, notice, error, disabled"
            ),
        );
    }
}
