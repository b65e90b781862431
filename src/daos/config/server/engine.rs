//! One `engines:` entry of `daos_server.yml` (server/engine/config.go `Config`; ≤2.4 also
//! the flat `LegacyStorage` keys, engine/config_legacy.go).

use serde::{Deserialize, Serialize};

use super::storage::{StorageClass, StorageTier, parse_class, parse_tier};
use super::transport::FABRIC_KEYS;
use super::typed::{Ty, U32, UINT, ints, typed_section, uint, uint64};
use crate::daos::DaosVersion::{V2_0, V2_2, V2_4, V2_6, V2_8};
use crate::daos::config::walk::{Walker, join};
use crate::daos::config::yaml::{Node, Pos};
use crate::daos::config::{KeySpec, key};

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
    /// `secondary_provider_endpoints` (2.6+): CaRT contexts per secondary provider.
    pub secondary_provider_endpoints: Vec<i64>,
    /// `acceleration` (2.4+).
    pub acceleration: Option<Acceleration>,
}

/// An engine's `acceleration:` section (storage/config.go `AccelProps`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Acceleration {
    /// Where the section is.
    pub pos: Pos,
    /// `engine`; `None` when not given (DAOS then uses `none`).
    pub engine: Option<String>,
    /// `options`, as written.
    pub options: Vec<String>,
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

/// ≤2.2 flat engine storage keys (`scm_class`, `bdev_class`, ...), turned into tiers.
#[derive(Default)]
struct LegacyStorage {
    scm: StorageTier,
    bdev: StorageTier,
    scm_set: bool,
    bdev_set: bool,
}

pub(super) fn parse_engine(w: &mut Walker, node: &Node, path: &str) -> EngineConfig {
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
            // *uint in engine/config.go
            "pinned_numa_node" => e.pinned_numa_node = uint(w, v, &p, UINT),
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
            "acceleration" => e.acceleration = parse_accel(w, v, &p),
            "spdk_rpc_server" => typed_section(
                w,
                v,
                &p,
                RPC_KEYS,
                &[("enable", Ty::Bool), ("sock_addr", Ty::Str)],
            ),
            "bdev_auto_faulty" => typed_section(
                w,
                v,
                &p,
                AUTO_FAULTY_KEYS,
                &[
                    ("enable", Ty::Bool),
                    ("max_io_errs", Ty::Uint(U32)),
                    ("max_csum_errs", Ty::Uint(U32)),
                ],
            ),
            "spdk_iobuf" => typed_section(
                w,
                v,
                &p,
                IOBUF_KEYS,
                &[
                    ("small_pool_count", Ty::Uint(U32)),
                    ("large_pool_count", Ty::Uint(U32)),
                ],
            ),
            "secondary_provider_endpoints" => e.secondary_provider_endpoints = ints(w, v, &p),
            // engine/config.go FabricConfig: crt_timeout uint32, the rest bool / string
            "crt_timeout" => {
                let _ = uint(w, v, &p, U32);
            }
            "bypass_health_chk" | "disable_srx" | "crt_ctx_share_addr" => {
                let _ = w.bool(v, &p);
            }
            "fabric_auth_key" => {
                let _ = w.string(v, &p);
            }
            "rank" => {
                let _ = uint(w, v, &p, u64::from(u32::MAX));
            }
            "scm_class" => {
                legacy.scm.class = parse_class(w, v, &p);
                legacy.scm_set = true;
            }
            "scm_mount" => {
                legacy.scm.scm_mount = w.string(v, &p);
                legacy.scm_set = true;
            }
            "scm_list" => legacy.scm.scm_list = w.strings(v, &p),
            "scm_size" => legacy.scm.scm_size = uint64(w, v, &p),
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
            _ => {}
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

/// `acceleration:` (storage/config.go `AccelProps`): the values are judged by
/// validate/accel.rs.
fn parse_accel(w: &mut Walker, v: &Node, p: &str) -> Option<Acceleration> {
    if v.is_null() {
        return None;
    }
    w.positions.insert(p.to_string(), v.pos);
    let mut a = Acceleration {
        pos: v.pos,
        ..Default::default()
    };
    for (name, k, v2) in w.entries(v, p) {
        if !w.known(ACCEL_KEYS, name) {
            w.unknown_key(k, name, p, ACCEL_KEYS, &[]);
            continue;
        }
        let p2 = join(p, name);
        match name {
            "engine" => a.engine = w.string(v2, &p2).or(Some(String::new())),
            _ => a.options = w.strings(v2, &p2),
        }
    }
    Some(a)
}
