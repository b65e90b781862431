//! `daos_server.yml`: the model and its version-aware parser.
//!
//! Key tables come from the `yaml:` tags of src/control/server/config/server.go (the
//! `Server` struct, with `engine.FabricConfig` inline), server/engine/config.go (`Config`,
//! with `storage.Config` and `FabricConfig` inline; ≤2.2 also `LegacyStorage` inline),
//! server/storage/config.go (`TierConfig` = `ScmConfig` + `BdevConfig` inline) and
//! security/config.go (`TransportConfig`), at tags v2.0.0, v2.2.0, v2.4.0, v2.6.0 and
//! v2.8.0.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::walk::{Rename, Walker, join, parse_root};
use super::yaml::{Node, Pos};
use super::{ConfigError, KeySpec, Parsed, Severity, TransportConfig, key};
use crate::daos::DaosVersion;
use crate::daos::DaosVersion::{V2_0, V2_2, V2_4, V2_6, V2_8};

/// Keys of `engine.FabricConfig`, accepted both at the top level (inline in `Server`) and
/// in each engine.
const FABRIC_KEYS: &[KeySpec] = &[
    key("provider", V2_0, None),
    key("fabric_iface", V2_0, None),
    key("fabric_iface_port", V2_0, None),
    key("bypass_health_chk", V2_0, None),
    key("crt_timeout", V2_0, None),
    key("crt_ctx_share_addr", V2_0, Some(V2_4)),
    key("disable_srx", V2_2, None),
    key("fabric_auth_key", V2_4, None),
    key("secondary_provider_endpoints", V2_6, None),
];

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

/// Engine keys (`engine.Config`, without the inline fabric keys).
const ENGINE_KEYS: &[KeySpec] = &[
    key("targets", V2_0, None),
    key("nr_xs_helpers", V2_0, None),
    key("first_core", V2_0, None),
    key("pinned_numa_node", V2_0, None),
    key("log_mask", V2_0, None),
    key("log_file", V2_0, None),
    key("env_vars", V2_0, None),
    key("env_pass_through", V2_0, None),
    key("modules", V2_0, None),
    key("rank", V2_0, Some(V2_2)),
    key("storage", V2_0, None),
    key("acceleration", V2_4, None),
    key("spdk_rpc_server", V2_4, None),
    key("bdev_auto_faulty", V2_6, None),
    key("spdk_iobuf", V2_8, None),
    // engine.LegacyStorage (flat storage keys), inline up to 2.4 (2.4: config_legacy.go)
    key("scm_class", V2_0, Some(V2_4)),
    key("bdev_class", V2_0, Some(V2_4)),
    key("scm_mount", V2_0, Some(V2_4)),
    key("scm_list", V2_0, Some(V2_4)),
    key("scm_size", V2_0, Some(V2_4)),
    key("bdev_list", V2_0, Some(V2_4)),
    key("bdev_number", V2_0, Some(V2_4)),
    key("bdev_size", V2_0, Some(V2_4)),
    key("bdev_busid_range", V2_2, Some(V2_4)),
    key("scm_hugepages_disabled", V2_4, Some(V2_4)),
    key("bdev_roles", V2_4, Some(V2_4)),
];

/// Storage tier keys (`storage.TierConfig`).
const TIER_KEYS: &[KeySpec] = &[
    key("class", V2_0, None),
    key("scm_mount", V2_0, None),
    key("scm_size", V2_0, None),
    key("scm_list", V2_0, None),
    key("scm_hugepages_disabled", V2_4, None),
    key("bdev_list", V2_0, None),
    key("bdev_number", V2_0, None),
    key("bdev_size", V2_0, None),
    key("bdev_busid_range", V2_2, None),
    key("bdev_roles", V2_4, None),
];

/// `transport_config` keys (security.TransportConfig with CertificateConfig inline).
pub(crate) const TRANSPORT_KEYS: &[KeySpec] = &[
    key("allow_insecure", V2_0, None),
    key("client_cert_dir", V2_0, None),
    key("ca_cert", V2_0, None),
    key("cert", V2_0, None),
    key("key", V2_0, None),
];

const METADATA_KEYS: &[KeySpec] = &[
    key("path", V2_4, None),
    key("device", V2_4, None),
    key("allow_spdk_conf_override", V2_8, None),
];
const ACCEL_KEYS: &[KeySpec] = &[key("engine", V2_4, None), key("options", V2_4, None)];
const RPC_KEYS: &[KeySpec] = &[key("enable", V2_4, None), key("sock_addr", V2_4, None)];
const AUTO_FAULTY_KEYS: &[KeySpec] = &[
    key("enable", V2_6, None),
    key("max_io_errs", V2_6, None),
    key("max_csum_errs", V2_6, None),
];
const IOBUF_KEYS: &[KeySpec] = &[
    key("small_pool_count", V2_8, None),
    key("large_pool_count", V2_8, None),
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

/// A storage class (server/storage/config.go `Class`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageClass {
    /// tmpfs RAM-disk SCM.
    Ram,
    /// Intel Optane persistent memory.
    Dcpm,
    /// NVMe SSDs by PCI address (through SPDK).
    Nvme,
    /// Emulated NVMe on files (AIO).
    File,
    /// Emulated NVMe on kernel block devices (AIO).
    Kdev,
}

impl StorageClass {
    /// All classes with their YAML spelling.
    pub const ALL: [(&'static str, StorageClass); 5] = [
        ("ram", StorageClass::Ram),
        ("dcpm", StorageClass::Dcpm),
        ("nvme", StorageClass::Nvme),
        ("file", StorageClass::File),
        ("kdev", StorageClass::Kdev),
    ];

    /// SCM classes (tier 0).
    pub fn is_scm(self) -> bool {
        matches!(self, StorageClass::Ram | StorageClass::Dcpm)
    }

    /// Block-device classes (tiers 1+).
    pub fn is_bdev(self) -> bool {
        !self.is_scm()
    }

    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageClass::Ram => "ram",
            StorageClass::Dcpm => "dcpm",
            StorageClass::Nvme => "nvme",
            StorageClass::File => "file",
            StorageClass::Kdev => "kdev",
        }
    }
}

/// One `storage:` tier of an engine.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StorageTier {
    /// Where the tier starts in the file.
    pub pos: Pos,
    /// `class`; `None` when missing or not a known class (already reported).
    pub class: Option<StorageClass>,
    /// `scm_mount`: the mount point of the SCM tier.
    pub scm_mount: Option<String>,
    /// `scm_size`: RAM-disk size in GiB; `None`/0 = auto-size.
    pub scm_size: Option<i64>,
    /// `scm_list`: pmem devices (class dcpm).
    pub scm_list: Vec<String>,
    /// `scm_hugepages_disabled` (2.4+): tmpfs without huge pages.
    pub scm_hugepages_disabled: Option<bool>,
    /// `bdev_list`: PCI addresses (nvme), files (file) or block devices (kdev).
    pub bdev_list: Vec<String>,
    /// `bdev_size`: file size in GiB (class file).
    pub bdev_size: Option<i64>,
    /// `bdev_number`: number of emulated devices (older releases).
    pub bdev_number: Option<i64>,
    /// `bdev_busid_range`: PCI bus range filter.
    pub bdev_busid_range: Option<String>,
    /// `bdev_roles` (2.4+): `wal`, `meta`, `data` (MD-on-SSD).
    pub bdev_roles: Vec<String>,
}

impl StorageTier {
    /// True for a tier with the `meta` role (MD-on-SSD).
    pub fn has_meta_role(&self) -> bool {
        self.bdev_roles
            .iter()
            .any(|r| r.eq_ignore_ascii_case("meta"))
    }
}

/// One `engines:` entry.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EngineConfig {
    /// Where the engine section starts.
    pub pos: Pos,
    /// `targets`: I/O service threads (VOS targets); 0 when unset.
    pub targets: i64,
    /// `nr_xs_helpers`: offload helper threads; 0 when unset.
    pub nr_xs_helpers: i64,
    /// `first_core`: legacy core allocation from this core (no NUMA pinning).
    pub first_core: Option<i64>,
    /// `pinned_numa_node`: the NUMA node the engine runs on.
    pub pinned_numa_node: Option<i64>,
    /// `provider` (falls back to the top-level one).
    pub provider: Option<String>,
    /// `fabric_iface` (falls back to the top-level one).
    pub fabric_iface: Option<String>,
    /// `fabric_iface_port` (falls back to the top-level one).
    pub fabric_iface_port: Option<i64>,
    /// `log_file`.
    pub log_file: Option<String>,
    /// `log_mask`.
    pub log_mask: Option<String>,
    /// `env_vars` (`NAME=value`).
    pub env_vars: Vec<String>,
    /// `storage` tiers (for ≤2.2 flat keys, the tiers they describe).
    pub storage: Vec<StorageTier>,
}

impl EngineConfig {
    /// The SCM tiers (ram, dcpm).
    pub fn scm_tiers(&self) -> impl Iterator<Item = &StorageTier> {
        self.storage
            .iter()
            .filter(|t| t.class.is_some_and(StorageClass::is_scm))
    }

    /// The bdev tiers (nvme, file, kdev).
    pub fn bdev_tiers(&self) -> impl Iterator<Item = &StorageTier> {
        self.storage
            .iter()
            .filter(|t| t.class.is_some_and(StorageClass::is_bdev))
    }

    /// Any bdev tier with devices, of any class (storage/config.go `HaveBdevs`).
    pub fn has_bdevs(&self) -> bool {
        self.bdev_tiers().any(|t| !t.bdev_list.is_empty())
    }

    /// A bdev tier with the `meta` role (MD-on-SSD, `HasBdevRoleMeta`).
    pub fn is_md_on_ssd(&self) -> bool {
        self.bdev_tiers().any(StorageTier::has_meta_role)
    }

    /// Real NVMe devices configured (`HaveRealNVMe`).
    pub fn has_real_nvme(&self) -> bool {
        self.bdev_tiers()
            .any(|t| t.class == Some(StorageClass::Nvme) && !t.bdev_list.is_empty())
    }

    /// The RAM-disk tier, when the SCM tier is class ram.
    pub fn ram_tier(&self) -> Option<&StorageTier> {
        self.scm_tiers()
            .find(|t| t.class == Some(StorageClass::Ram))
    }
}

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

    /// An engine's provider after inheritance from the top level (`FabricConfig.Update`).
    pub fn engine_provider(&self, e: &EngineConfig) -> Option<String> {
        e.provider.clone().or_else(|| self.provider.clone())
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

fn parse_transport(w: &mut Walker, node: &Node, path: &str) -> TransportConfig {
    let mut t = TransportConfig::default();
    for (name, k, v) in w.entries(node, path) {
        let p = join(path, name);
        if !w.known(TRANSPORT_KEYS, name) {
            w.unknown_key(k, name, path, TRANSPORT_KEYS, &[]);
            continue;
        }
        match name {
            "allow_insecure" => t.allow_insecure = w.bool(v, &p).unwrap_or(false),
            "client_cert_dir" => t.client_cert_dir = w.string(v, &p),
            "ca_cert" => t.ca_cert = w.string(v, &p),
            "cert" => t.cert = w.string(v, &p),
            "key" => t.key = w.string(v, &p),
            _ => {}
        }
    }
    t
}

/// Public for the agent and control parsers.
pub(crate) fn transport(w: &mut Walker, node: &Node, path: &str) -> TransportConfig {
    parse_transport(w, node, path)
}

fn parse_class(w: &mut Walker, v: &Node, path: &str) -> Option<StorageClass> {
    let s = w.string(v, path)?;
    let found = StorageClass::ALL
        .iter()
        .find(|(n, _)| *n == s)
        .map(|(_, c)| *c);
    if found.is_none() {
        let names = StorageClass::ALL.iter().map(|(n, _)| *n);
        let hint = super::suggest(&s, names)
            .map(|n| format!("; did you mean {n:?}?"))
            .unwrap_or_default();
        w.error(
            v.pos,
            path,
            format!("unsupported storage class {s:?} (valid: ram, dcpm, nvme, file, kdev){hint}"),
        );
    }
    found
}

fn parse_tier(w: &mut Walker, node: &Node, path: &str) -> StorageTier {
    let mut t = StorageTier {
        pos: node.pos,
        ..Default::default()
    };
    for (name, k, v) in w.entries(node, path) {
        let p = join(path, name);
        if !w.known(TIER_KEYS, name) {
            w.unknown_key(k, name, path, TIER_KEYS, &[]);
            // still read known-elsewhere keys below so the model is complete
            if !TIER_KEYS.iter().any(|s| s.name == name) {
                continue;
            }
        }
        match name {
            "class" => t.class = parse_class(w, v, &p),
            "scm_mount" => t.scm_mount = w.string(v, &p),
            "scm_size" => t.scm_size = w.int(v, &p),
            "scm_list" => t.scm_list = w.strings(v, &p),
            "scm_hugepages_disabled" => t.scm_hugepages_disabled = w.bool(v, &p),
            "bdev_list" => t.bdev_list = w.strings(v, &p),
            "bdev_size" => t.bdev_size = w.int(v, &p),
            "bdev_number" => t.bdev_number = w.int(v, &p),
            "bdev_busid_range" => t.bdev_busid_range = w.string(v, &p),
            "bdev_roles" => {
                t.bdev_roles = w.strings(v, &p);
                for (i, r) in t.bdev_roles.iter().enumerate() {
                    let lower = r.to_ascii_lowercase();
                    if !["wal", "meta", "data", "none"].contains(&lower.as_str()) {
                        let pos = w
                            .positions
                            .get(&format!("{p}[{i}]"))
                            .copied()
                            .unwrap_or(v.pos);
                        // storage/faults.go FaultBdevConfigOptFlagUnknown
                        w.error(
                            pos,
                            &p,
                            format!("unknown bdev role {r:?} (valid: wal, meta, data)"),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    t
}

/// ≤2.2 flat engine storage keys (`scm_class`, `bdev_class`, ...), turned into tiers.
#[derive(Default)]
struct LegacyStorage {
    scm: StorageTier,
    bdev: StorageTier,
    scm_set: bool,
    bdev_set: bool,
}

fn parse_engine(w: &mut Walker, node: &Node, path: &str) -> EngineConfig {
    let mut e = EngineConfig {
        pos: node.pos,
        ..Default::default()
    };
    let mut legacy = LegacyStorage::default();
    for (name, k, v) in w.entries(node, path) {
        let p = join(path, name);
        let in_table = FABRIC_KEYS
            .iter()
            .chain(ENGINE_KEYS)
            .any(|s| s.name == name);
        if !w.known(FABRIC_KEYS, name) && !w.known(ENGINE_KEYS, name) {
            let all: Vec<KeySpec> = FABRIC_KEYS.iter().chain(ENGINE_KEYS).copied().collect();
            w.unknown_key(k, name, path, &all, &[]);
            if !in_table {
                continue;
            }
        }
        match name {
            "targets" => e.targets = w.int(v, &p).unwrap_or(0),
            "nr_xs_helpers" => e.nr_xs_helpers = w.int(v, &p).unwrap_or(0),
            "first_core" => e.first_core = w.int(v, &p),
            "pinned_numa_node" => e.pinned_numa_node = w.int(v, &p),
            "provider" => e.provider = w.string(v, &p),
            "fabric_iface" => e.fabric_iface = w.string(v, &p),
            "fabric_iface_port" => e.fabric_iface_port = w.int(v, &p),
            "log_file" => e.log_file = w.string(v, &p),
            "log_mask" => e.log_mask = w.string(v, &p),
            "env_vars" => e.env_vars = w.strings(v, &p),
            "env_pass_through" | "modules" => {
                let _ = if name == "modules" {
                    w.string(v, &p).map(|s| vec![s]).unwrap_or_default()
                } else {
                    w.strings(v, &p)
                };
            }
            "storage" => {
                let items = w.items(v, &p);
                for (i, it) in items.into_iter().enumerate() {
                    // storage/config.go TierConfigs.UnmarshalYAML skips empty entries
                    if it.is_null() {
                        continue;
                    }
                    let tier = parse_tier(w, it, &format!("{p}[{i}]"));
                    e.storage.push(tier);
                }
            }
            "acceleration" => w.section_keys(v, &p, ACCEL_KEYS),
            "spdk_rpc_server" => w.section_keys(v, &p, RPC_KEYS),
            "bdev_auto_faulty" => w.section_keys(v, &p, AUTO_FAULTY_KEYS),
            "spdk_iobuf" => w.section_keys(v, &p, IOBUF_KEYS),
            "scm_class" => {
                legacy.scm.class = parse_class(w, v, &p);
                legacy.scm_set = true;
            }
            "scm_mount" => {
                legacy.scm.scm_mount = w.string(v, &p);
                legacy.scm_set = true;
            }
            "scm_list" => legacy.scm.scm_list = w.strings(v, &p),
            "scm_size" => legacy.scm.scm_size = w.int(v, &p),
            "bdev_class" => {
                legacy.bdev.class = parse_class(w, v, &p);
                legacy.bdev_set = true;
            }
            "bdev_list" => {
                legacy.bdev.bdev_list = w.strings(v, &p);
                legacy.bdev_set = true;
            }
            "bdev_size" => legacy.bdev.bdev_size = w.int(v, &p),
            "bdev_number" => legacy.bdev.bdev_number = w.int(v, &p),
            "bdev_busid_range" => legacy.bdev.bdev_busid_range = w.string(v, &p),
            _ => {
                // crt_timeout, bypass_health_chk, rank ...: accepted, not modelled
            }
        }
    }
    if e.storage.is_empty() && (legacy.scm_set || legacy.bdev_set) {
        legacy.scm.pos = node.pos;
        legacy.bdev.pos = node.pos;
        if legacy.scm_set {
            e.storage.push(legacy.scm);
        }
        if legacy.bdev_set && legacy.bdev.class.is_some() {
            e.storage.push(legacy.bdev);
        }
    }
    e
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
    let Some(root) = parse_root(text, file_name)? else {
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
            "core_dump_filter" | "engine_auto_restart_min_delay" | "crt_timeout" => {
                let _ = w.int(v, &p);
            }
            "client_env_vars" | "secondary_provider_endpoints" => {
                let _ = w.strings(v, &p);
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(p: &Parsed<ServerConfig>) -> Vec<String> {
        p.issues
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .map(|i| i.to_string())
            .collect()
    }

    #[test]
    fn unknown_key_names_position_and_suggestion() {
        let text = "name: daos_server\nenable_vmd: false\nengines: []\n";
        let p = parse_server(text, "daos_server.yml", V2_6).unwrap();
        let e = errors(&p);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("daos_server.yml:2:1: "), "{}", e[0]);
        assert!(e[0].contains("DAOS 2.0 only"), "{}", e[0]);
        assert!(e[0].contains("\"disable_vmd\""), "{}", e[0]);
        // understood anyway
        assert_eq!(p.config.disable_vmd, Some(true));
        // under 2.0 rules it is fine
        let p = parse_server(text, "daos_server.yml", V2_0).unwrap();
        assert!(errors(&p).is_empty());
    }

    #[test]
    fn typo_gets_a_suggestion() {
        let p = parse_server("engines:\n- targest: 4\n", "f.yml", V2_6).unwrap();
        let e = errors(&p);
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("f.yml:2:3: unknown key \"targest\" in engines[0]"),
            "{}",
            e[0]
        );
        assert!(e[0].contains("did you mean \"targets\"?"), "{}", e[0]);
    }

    #[test]
    fn access_points_renamed_both_ways() {
        let old = "access_points: [a, b, c]\n";
        let new = "mgmt_svc_replicas: [a, b, c]\n";
        // 2.8: old spelling is a warning, value understood
        let p = parse_server(old, "s.yml", V2_8).unwrap();
        assert!(errors(&p).is_empty());
        assert_eq!(p.issues.len(), 1);
        assert_eq!(p.issues[0].severity, Severity::Warning);
        assert_eq!(p.config.access_points, ["a", "b", "c"]);
        // 2.6: new spelling is refused by DAOS 2.6, value understood
        let p = parse_server(new, "s.yml", V2_6).unwrap();
        let e = errors(&p);
        assert_eq!(e.len(), 1);
        assert!(e[0].contains("spells it \"access_points\""), "{}", e[0]);
        assert_eq!(p.config.access_points, ["a", "b", "c"]);
        assert_eq!(
            p.config.access_points_key.as_deref(),
            Some("mgmt_svc_replicas")
        );
        // both under 2.8: fatal
        let p = parse_server(&format!("{old}{new}"), "s.yml", V2_8).unwrap();
        assert_eq!(errors(&p).len(), 1);
    }

    #[test]
    fn wrong_types_and_duplicates() {
        let text = "port: ten\nport: 10001\nengines:\n- targets: [1]\n  storage:\n  - class: rma\n";
        let p = parse_server(text, "s.yml", V2_6).unwrap();
        let e = errors(&p);
        assert_eq!(e.len(), 4, "{e:#?}");
        assert!(e[0].starts_with("s.yml:1:7: port: expected a whole number, found \"ten\""));
        assert!(e[1].starts_with("s.yml:2:1: duplicate key \"port\""));
        assert!(e[2].starts_with("s.yml:4:12: engines[0].targets: expected a whole number"));
        assert!(e[3].contains("did you mean \"ram\"?"), "{}", e[3]);
    }

    #[test]
    fn legacy_flat_storage_becomes_tiers() {
        let text = "engines:\n- targets: 2\n  scm_class: ram\n  scm_mount: /mnt/daos\n  scm_size: 8\n  bdev_class: nvme\n  bdev_list: [\"0000:81:00.0\"]\n";
        let p = parse_server(text, "s.yml", V2_0).unwrap();
        assert!(errors(&p).is_empty(), "{:?}", p.issues);
        let e = &p.config.engines[0];
        assert_eq!(e.storage.len(), 2);
        assert_eq!(e.storage[0].class, Some(StorageClass::Ram));
        assert!(e.has_real_nvme());
        // refused by 2.6, still modelled
        let p = parse_server(text, "s.yml", V2_6).unwrap();
        assert_eq!(errors(&p).len(), 5);
        assert_eq!(p.config.engines[0].storage.len(), 2);
    }
}
