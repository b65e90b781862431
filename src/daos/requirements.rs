//! What a server configuration asks of the host: hugepages (in total and per NUMA node),
//! RAM-disk sizes, memory, cores. Pure functions of the configuration and a few host
//! numbers, mirroring DAOS's own arithmetic (each function cites its source).

use serde::{Deserialize, Serialize};

use super::DaosVersion;
use super::config::{EngineConfig, ServerConfig, StorageClass};

/// 1 GiB.
pub const GIB: u64 = 1 << 30;
/// Hugepage memory per target (server/storage/bdev.go `memHugepageMinPerTarget`, 1 GiB).
pub const HUGEPAGE_MEM_PER_TARGET: u64 = GIB;
/// Extra hugepages per engine that DAOS ≤2.6 requests on top (server/server_utils.go
/// `extraHugepages`, 2).
pub const EXTRA_HUGEPAGES_PER_ENGINE: u64 = 2;
/// RAM reserved per target (server/storage/scm.go `DefaultTgtMemRsvd`, 128 MiB).
pub const TARGET_MEM_RESERVED: u64 = 128 << 20;
/// Minimum RAM reserved per engine (scm.go `DefaultEngineMemRsvd`, 1 GiB).
pub const ENGINE_MEM_RESERVED_MIN: u64 = GIB;
/// Minimum RAM-disk per engine (scm.go `MinRamdiskMem`, 4 GiB).
pub const MIN_RAMDISK: u64 = 4 * GIB;
/// Share of the RAM-disks that MemAvailable must cover at engine start, percent
/// (server_utils.go `memCheckThreshold`).
pub const MEM_CHECK_THRESHOLD_PERCENT: u64 = 90;

/// `system_ram_reserved` default in GiB: scm.go `DefaultSysMemRsvd` is 16 GiB in 2.4 and
/// 2.6 and 64 GiB in 2.8 (the key does not exist before 2.4; 16 is used there).
pub fn default_system_ram_reserved_gib(version: DaosVersion) -> u64 {
    if version >= DaosVersion::V2_8 { 64 } else { 16 }
}

/// The NUMA node each engine's memory lives on, as DAOS decides it
/// (config/server.go `SetEngineAffinities`): `pinned_numa_node`, else the node of its
/// fabric interface (`detected`), else 0; in legacy `first_core` mode nothing is pinned
/// and the storage node index stays 0 for every engine.
pub fn engine_numa_nodes(
    cfg: &ServerConfig,
    detected: &dyn Fn(&EngineConfig) -> Option<u32>,
) -> Vec<u32> {
    let legacy = cfg.engines.iter().any(|e| {
        e.first_core
            .is_some_and(|c| !(c == 0 && e.pinned_numa_node.is_some()))
    });
    cfg.engines
        .iter()
        .map(|e| {
            if legacy {
                0
            } else {
                e.pinned_numa_node
                    .and_then(|n| u32::try_from(n).ok())
                    .or_else(|| detected(e))
                    .unwrap_or(0)
            }
        })
        .collect()
}

/// The hugepages DAOS will want (config/server.go `SetNrHugepages`/`getTgtCounts`,
/// storage/bdev.go `CalcMinHugepages`, server_utils.go `prepBdevStorage`/`SetHugeNodes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HugepagePlan {
    /// Hugepage size used, KiB.
    pub hugepage_size_kib: u64,
    /// Targets of the engines that have bdevs (2.8: a 1-target engine counts 2).
    pub targets: u64,
    /// Extra system xstreams: one per MD-on-SSD engine.
    pub sys_xstreams: u64,
    /// `CalcMinHugepages`: (targets + sys_xstreams) GiB / page size.
    pub min_pages: u64,
    /// `nr_hugepages` from the file (0 = automatic).
    pub configured_pages: u64,
    /// What DAOS uses: the configured count, or the minimum when automatic.
    pub pages: u64,
    /// The engines' NUMA nodes, sorted, unique.
    pub numa_nodes: Vec<u32>,
    /// Pages DAOS asks for on each of those nodes.
    pub per_node_pages: u64,
    /// Of which extra pages (≤2.6: 2 per engine, spread over the nodes).
    pub per_node_extra: u64,
    /// Pages summed over the nodes (what HugePages_Total should reach).
    pub total_pages: u64,
    /// One line of arithmetic for reports.
    pub arithmetic: String,
}

/// The hugepage plan, or `None` when no engine has bdevs (DAOS then needs none).
/// `engine_nodes` comes from [`engine_numa_nodes`].
pub fn hugepage_plan(
    cfg: &ServerConfig,
    version: DaosVersion,
    hugepage_size_kib: u64,
    engine_nodes: &[u32],
) -> Option<HugepagePlan> {
    if hugepage_size_kib == 0 {
        return None;
    }
    let mut targets = 0u64;
    let mut sys_xs = 0u64;
    for e in cfg.engines.iter().filter(|e| e.has_bdevs()) {
        let t = u64::try_from(e.targets).unwrap_or(0);
        targets += t;
        if e.is_md_on_ssd() {
            sys_xs += 1;
        } else if version >= DaosVersion::V2_8 && t == 1 {
            // 2.8 getTgtCounts: avoid DMA buffer allocation failure with one target
            targets += 1;
        }
    }
    if targets == 0 {
        return None;
    }
    let page_bytes = hugepage_size_kib * 1024;
    let min_pages = HUGEPAGE_MEM_PER_TARGET * (targets + sys_xs) / page_bytes;
    let configured = u64::try_from(cfg.nr_hugepages).unwrap_or(0);
    let pages = if configured == 0 {
        min_pages
    } else {
        configured
    };
    let mut nodes: Vec<u32> = engine_nodes.to_vec();
    nodes.sort_unstable();
    nodes.dedup();
    if nodes.is_empty() {
        nodes.push(0);
    }
    let n = nodes.len() as u64;
    let engines = cfg.engines.len() as u64;
    let per_node_extra = if version >= DaosVersion::V2_8 {
        0
    } else {
        EXTRA_HUGEPAGES_PER_ENGINE * engines / n
    };
    let per_node_pages = pages / n + per_node_extra;
    let total_pages = per_node_pages * n;
    let size = crate::units::human_kib(hugepage_size_kib);
    let mut arithmetic = format!(
        "({targets} targets{}) × 1 GiB / {size} pages = {min_pages} pages",
        if sys_xs > 0 {
            format!(" + {sys_xs} MD-on-SSD sys xstream(s)")
        } else {
            String::new()
        }
    );
    if configured != 0 {
        arithmetic.push_str(&format!("; nr_hugepages: {configured} used"));
    }
    arithmetic.push_str(&format!(
        "; over NUMA node(s) {nodes:?}: {pages} / {n}{} = {per_node_pages} per node",
        if per_node_extra > 0 {
            format!(" + {per_node_extra} extra (2 per engine)")
        } else {
            String::new()
        }
    ));
    Some(HugepagePlan {
        hugepage_size_kib,
        targets,
        sys_xstreams: sys_xs,
        min_pages,
        configured_pages: configured,
        pages,
        numa_nodes: nodes,
        per_node_pages,
        per_node_extra,
        total_pages,
        arithmetic,
    })
}

/// The RAM-disk sizing of a configuration on a host (storage/scm.go `CalcRamdiskSize`,
/// `CalcMemForRamdiskSize`; config/server.go `SetRamdiskSize`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RamdiskPlan {
    /// MemTotal, bytes.
    pub mem_total: u64,
    /// Hugepage memory (nr_hugepages × size), bytes.
    pub mem_huge: u64,
    /// `system_ram_reserved`, GiB.
    pub sys_reserved_gib: u64,
    /// True when `system_ram_reserved` is the release default.
    pub sys_reserved_is_default: bool,
    /// Engines.
    pub engines: u64,
    /// Targets of engine 0 (DAOS uses engine 0's count for all).
    pub targets: u64,
    /// Per-engine reservation: max(targets × 128 MiB, 1 GiB).
    pub engine_reserved: u64,
    /// Largest RAM-disk per engine, bytes; `None` when the reservations exceed MemTotal.
    pub max_per_engine: Option<u64>,
    /// `scm_size` of engine 0's ram tier, GiB (`None`: auto).
    pub configured_gib: Option<u64>,
    /// The size each engine gets, bytes (configured, or auto = max rounded down to GiB).
    pub per_engine: u64,
    /// MemTotal needed for `per_engine` (or the 4 GiB minimum when auto), bytes.
    pub mem_needed: u64,
}

impl RamdiskPlan {
    /// Reserved memory: hugepages + system + engines × engine reservation.
    pub fn reserved(&self) -> u64 {
        self.mem_huge + self.sys_reserved_gib * GIB + self.engines * self.engine_reserved
    }

    /// MemTotal needed for a RAM-disk of `size` bytes per engine
    /// (`CalcMemForRamdiskSize`).
    pub fn mem_for(&self, size: u64) -> u64 {
        self.reserved() + size * self.engines
    }

    /// The largest `system_ram_reserved` (GiB, ≥ 1) that fits the wanted RAM-disk, if any.
    pub fn fitting_sys_reserved_gib(&self) -> Option<u64> {
        let other =
            self.mem_huge + self.engines * self.engine_reserved + self.per_engine * self.engines;
        let room = self.mem_total.checked_sub(other)? / GIB;
        (room >= 1).then_some(room)
    }

    /// The largest `scm_size` (GiB, ≥ 4) that fits, if any.
    pub fn fitting_scm_size_gib(&self) -> Option<u64> {
        let g = self.max_per_engine? / GIB;
        (g * GIB >= MIN_RAMDISK).then_some(g)
    }

    /// True when DAOS accepts the sizing.
    pub fn fits(&self) -> bool {
        match self.max_per_engine {
            None => false,
            Some(max) => max >= MIN_RAMDISK && self.configured_gib.is_none_or(|g| g * GIB <= max),
        }
    }
}

/// The RAM-disk plan, or `None` when engine 0 has no ram SCM tier (no RAM-disk to size).
/// `hugepages` is the page count DAOS uses (`HugepagePlan::pages`, 0 without bdevs).
pub fn ramdisk_plan(
    cfg: &ServerConfig,
    version: DaosVersion,
    mem_total_kib: u64,
    hugepage_size_kib: u64,
    hugepages: u64,
) -> Option<RamdiskPlan> {
    let first = cfg.engines.first()?;
    let tier = first.ram_tier()?;
    let engines = cfg.engines.len() as u64;
    let targets = u64::try_from(first.targets).unwrap_or(0).max(1);
    let engine_reserved = (targets * TARGET_MEM_RESERVED).max(ENGINE_MEM_RESERVED_MIN);
    let (sys_reserved_gib, sys_reserved_is_default) = match cfg.system_ram_reserved {
        Some(g) if g > 0 => (g as u64, false),
        _ => (default_system_ram_reserved_gib(version), true),
    };
    let mem_total = mem_total_kib * 1024;
    let mem_huge = hugepages * hugepage_size_kib * 1024;
    let reserved = mem_huge + sys_reserved_gib * GIB + engines * engine_reserved;
    let max_per_engine = mem_total.checked_sub(reserved).map(|r| r / engines);
    let configured_gib = tier.scm_size.filter(|s| *s > 0).map(|s| s as u64);
    let per_engine = match (configured_gib, max_per_engine) {
        (Some(g), _) => g * GIB,
        (None, Some(max)) => (max / GIB) * GIB,
        (None, None) => 0,
    };
    let want = configured_gib.map_or(MIN_RAMDISK, |g| g * GIB);
    let mem_needed = reserved + want * engines;
    Some(RamdiskPlan {
        mem_total,
        mem_huge,
        sys_reserved_gib,
        sys_reserved_is_default,
        engines,
        targets,
        engine_reserved,
        max_per_engine,
        configured_gib,
        per_engine,
        mem_needed,
    })
}

/// MemAvailable needed at engine start: 90% of all RAM-disks, computed as DAOS does
/// ((size / 100) × 90, server_utils.go `checkMemForRamdisk`), bytes.
pub fn mem_available_needed(plan: &RamdiskPlan) -> u64 {
    let total = plan.per_engine * plan.engines;
    (total / 100) * MEM_CHECK_THRESHOLD_PERCENT
}

/// Cores an engine needs: 2 + targets + nr_xs_helpers (design.md §2: the main and
/// system xstreams, one per target, one per helper).
pub fn engine_cores_needed(e: &EngineConfig) -> u64 {
    2 + u64::try_from(e.targets).unwrap_or(0) + u64::try_from(e.nr_xs_helpers).unwrap_or(0)
}

/// How a `bdev_list` entry of class nvme names its device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum NvmeAddress {
    /// A PCI function, normalized to `dddd:bb:dd.f` (lowercase hex): an NVMe controller,
    /// or a VMD controller (`0000:5d:05.5`) whose backing SSDs SPDK drives.
    Pci {
        /// The normalized address.
        address: String,
    },
    /// An SSD behind a VMD controller, in SPDK's VMD notation: the domain is the VMD
    /// controller's bus, device and function (`5d0505:03:00.0` sits behind
    /// `0000:5d:05.5`). The kernel names such devices differently (domain ≥ `10000`), so
    /// only the VMD controller can be looked up in sysfs.
    VmdBacking {
        /// The backing device as written, lowercased.
        address: String,
        /// The VMD controller, `dddd:bb:dd.f`.
        vmd: String,
    },
    /// Not a PCI address SPDK can parse (`code.BdevBadPCIAddress`).
    Invalid,
}

/// One NVMe device a server configuration asks SPDK to drive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfiguredNvme {
    /// Engine index.
    pub engine: usize,
    /// Storage tier index within the engine.
    pub tier: usize,
    /// The `bdev_list` entry as written.
    pub written: String,
    /// What it names.
    pub address: NvmeAddress,
}

impl ConfiguredNvme {
    /// The PCI address to look up in sysfs: the device itself, or its VMD controller.
    pub fn sysfs_address(&self) -> Option<&str> {
        match &self.address {
            NvmeAddress::Pci { address } => Some(address),
            NvmeAddress::VmdBacking { vmd, .. } => Some(vmd),
            NvmeAddress::Invalid => None,
        }
    }
}

/// Parses a PCI address the way SPDK does (`spdk_pci_addr_parse`: `domain:bus:dev.func`
/// or `bus:dev.func`, `.` accepted for `:`, hex, domain 0 when absent) and normalizes it
/// to sysfs's `dddd:bb:dd.f`. A domain wider than 16 bits is a VMD backing device
/// ([`NvmeAddress::VmdBacking`]).
pub fn parse_nvme_address(written: &str) -> NvmeAddress {
    let w = written.trim().to_ascii_lowercase();
    let Some((head, func)) = w.rsplit_once('.') else {
        return NvmeAddress::Invalid;
    };
    let parts: Vec<&str> = head.split([':', '.']).collect();
    let (domain, bus, dev) = match parts.as_slice() {
        [d, b, v] => (*d, *b, *v),
        [b, v] => ("0", *b, *v),
        _ => return NvmeAddress::Invalid,
    };
    let hex = |s: &str, max: u32| {
        (!s.is_empty() && s.len() <= 8)
            .then(|| u32::from_str_radix(s, 16).ok())
            .flatten()
            .filter(|v| *v <= max)
    };
    let (Some(d), Some(b), Some(v), Some(f)) = (
        hex(domain, u32::MAX),
        hex(bus, 0xff),
        hex(dev, 0x1f),
        hex(func, 7),
    ) else {
        return NvmeAddress::Invalid;
    };
    if d > 0xffff {
        // SPDK/DAOS VMD notation: domain = VMD bus (8 bits), device (8), function (8)
        let (vb, vd, vf) = ((d >> 16) & 0xff, (d >> 8) & 0xff, d & 0xff);
        if d > 0xff_ffff || vd > 0x1f || vf > 7 {
            return NvmeAddress::Invalid;
        }
        return NvmeAddress::VmdBacking {
            address: format!("{d:06x}:{b:02x}:{v:02x}.{f:x}"),
            vmd: format!("0000:{vb:02x}:{vd:02x}.{vf:x}"),
        };
    }
    NvmeAddress::Pci {
        address: format!("{d:04x}:{b:02x}:{v:02x}.{f:x}"),
    }
}

/// The NVMe devices a server configuration asks for: every `bdev_list` entry of every
/// class-`nvme` tier of every engine, in engine and tier order, parsed as SPDK parses
/// PCI addresses ([`parse_nvme_address`]). This is the list daos_server hands SPDK as
/// its PCI allow-list when it prepares NVMe at start (server_utils.go `prepBdevStorage`:
/// `bdevCfgs.NVMeBdevs().Devices()`), so `nvme.present`, `nvme.driver`,
/// `nvme.iommu-group` and `fix` (binding to vfio-pci) all work from it. Entries also
/// listed in `bdev_exclude` are dropped, as SPDK's block-list wins. Emulated classes
/// (`file`, `kdev`) are not NVMe: see [`configured_emulated_bdevs`].
pub fn configured_nvme(cfg: &ServerConfig) -> Vec<ConfiguredNvme> {
    let excluded: Vec<NvmeAddress> = cfg
        .bdev_exclude
        .iter()
        .map(|a| parse_nvme_address(a))
        .collect();
    let mut out = Vec::new();
    for (ei, e) in cfg.engines.iter().enumerate() {
        for (ti, t) in e.storage.iter().enumerate() {
            if t.class != Some(StorageClass::Nvme) {
                continue;
            }
            for written in &t.bdev_list {
                let address = parse_nvme_address(written);
                if address != NvmeAddress::Invalid && excluded.contains(&address) {
                    continue;
                }
                out.push(ConfiguredNvme {
                    engine: ei,
                    tier: ti,
                    written: written.clone(),
                    address,
                });
            }
        }
    }
    out
}

/// One emulated bdev (class `file` or `kdev`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmulatedBdev {
    /// Engine index.
    pub engine: usize,
    /// Storage tier index within the engine.
    pub tier: usize,
    /// `file` or `kdev`.
    pub class: StorageClass,
    /// The path as written.
    pub path: String,
    /// `bdev_size` in GiB (class file).
    pub size_gib: Option<i64>,
}

/// The `file` and `kdev` bdevs of a server configuration.
pub fn configured_emulated_bdevs(cfg: &ServerConfig) -> Vec<EmulatedBdev> {
    let mut out = Vec::new();
    for (ei, e) in cfg.engines.iter().enumerate() {
        for (ti, t) in e.storage.iter().enumerate() {
            let Some(class @ (StorageClass::File | StorageClass::Kdev)) = t.class else {
                continue;
            };
            for p in &t.bdev_list {
                out.push(EmulatedBdev {
                    engine: ei,
                    tier: ti,
                    class,
                    path: p.clone(),
                    size_gib: t.bdev_size,
                });
            }
        }
    }
    out
}

/// A port DAOS listens on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequiredPort {
    /// First port.
    pub lo: u16,
    /// Last port (= `lo` for one port).
    pub hi: u16,
    /// `tcp`.
    pub protocol: String,
    /// What listens there (`control plane (port)`, `engine 0 fabric`).
    pub purpose: String,
    /// The engine, for fabric ports.
    pub engine: Option<usize>,
    /// The interface it is reached on (fabric ports), `None` for all interfaces.
    pub iface: Option<String>,
}

impl RequiredPort {
    /// `10001/tcp`, `31416-31419/tcp`.
    pub fn spec(&self) -> String {
        if self.lo == self.hi {
            format!("{}/{}", self.lo, self.protocol)
        } else {
            format!("{}-{}/{}", self.lo, self.hi, self.protocol)
        }
    }
}

/// The ports a server configuration listens on (design.md §2): the control port
/// (`port`, default 10001), `telemetry_port` when set, and each engine's
/// `fabric_iface_port` (after inheritance) and, for the tcp and sockets providers, one
/// port per CaRT context after it ([`engine_port_count`]: 2 + targets +
/// min(nr_xs_helpers, targets)). Invalid ports (outside 1-65535) are left to
/// `config.server`.
///
/// [`engine_port_count`]: super::config::validate::engine_port_count
pub fn required_ports(cfg: &ServerConfig) -> Vec<RequiredPort> {
    let port = |v: i64| u16::try_from(v).ok().filter(|p| *p > 0);
    let mut out = Vec::new();
    if let Some(p) = port(cfg.control_port()) {
        out.push(RequiredPort {
            lo: p,
            hi: p,
            protocol: "tcp".into(),
            purpose: "control plane (port)".into(),
            engine: None,
            iface: None,
        });
    }
    if let Some(p) = cfg.telemetry_port.and_then(port) {
        out.push(RequiredPort {
            lo: p,
            hi: p,
            protocol: "tcp".into(),
            purpose: "telemetry (telemetry_port)".into(),
            engine: None,
            iface: None,
        });
    }
    for (i, e) in cfg.engines.iter().enumerate() {
        let Some(p) = cfg.engine_port(e).and_then(port) else {
            continue;
        };
        let provider = cfg.engine_provider(e).unwrap_or_default();
        let count =
            super::config::validate::engine_port_count(&provider, e.targets, e.nr_xs_helpers);
        let width = u16::try_from(count - 1).unwrap_or(u16::MAX);
        out.push(RequiredPort {
            lo: p,
            hi: p.saturating_add(width),
            protocol: "tcp".into(),
            purpose: format!("engine {i} fabric ({provider})"),
            engine: Some(i),
            iface: cfg.engine_iface(e),
        });
    }
    out
}

/// Default `socket_dir` (config/server.go `defaultRuntimeDir`).
pub const DEFAULT_SOCKET_DIR: &str = "/var/run/daos_server";
/// Default agent `runtime_dir` (cmd/daos_agent/config.go `defaultRuntimeDir`).
pub const DEFAULT_AGENT_RUNTIME_DIR: &str = "/var/run/daos_agent";
/// Where certificates live by default (security/config.go `certDir`).
pub const DEFAULT_CERT_DIR: &str = "/etc/daos/certs";

/// Which component a transport configuration belongs to; DAOS's key permission limit
/// and default file names differ (security/config.go `Default*TransportConfig`,
/// security/pem.go `MaxUserOnlyKeyPerm` 0400, `MaxGroupKeyPerm` 0440, `MaxCertPerm` 0664).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsComponent {
    /// daos_server.
    Server,
    /// daos_agent.
    Agent,
    /// dmg (daos_control.yml).
    Control,
}

/// One certificate-related file a component loads at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsFile {
    /// Which component.
    pub component: TlsComponent,
    /// `ca_cert`, `cert`, `key`, `client_cert_dir`.
    pub key: String,
    /// The path (configured or DAOS's default).
    pub path: String,
    /// Most permissive mode DAOS accepts (`None`: a directory, only readability).
    pub max_mode: Option<u32>,
}

/// The certificate files a transport configuration makes DAOS load, with DAOS's
/// defaults filled in; empty when `allow_insecure: true` (nothing is loaded).
pub fn tls_files(component: TlsComponent, t: &super::config::TransportConfig) -> Vec<TlsFile> {
    if t.allow_insecure {
        return Vec::new();
    }
    let (cert, key, key_max) = match component {
        TlsComponent::Server => ("server.crt", "server.key", 0o400),
        TlsComponent::Agent => ("agent.crt", "agent.key", 0o400),
        TlsComponent::Control => ("admin.crt", "admin.key", 0o440),
    };
    let def = |f: &str| format!("{DEFAULT_CERT_DIR}/{f}");
    let mut out = vec![
        TlsFile {
            component,
            key: "ca_cert".into(),
            path: t.ca_cert.clone().unwrap_or_else(|| def("daosCA.crt")),
            max_mode: Some(0o664),
        },
        TlsFile {
            component,
            key: "cert".into(),
            path: t.cert.clone().unwrap_or_else(|| def(cert)),
            max_mode: Some(0o664),
        },
        TlsFile {
            component,
            key: "key".into(),
            path: t.key.clone().unwrap_or_else(|| def(key)),
            max_mode: Some(key_max),
        },
    ];
    if component == TlsComponent::Server {
        out.push(TlsFile {
            component,
            key: "client_cert_dir".into(),
            path: t.client_cert_dir.clone().unwrap_or_else(|| def("clients")),
            max_mode: None,
        });
    }
    out
}

/// The parent directory of an absolute path (`/var/log/daos/x.log` → `/var/log/daos`).
pub fn parent_dir(path: &str) -> Option<String> {
    let p = std::path::Path::new(path);
    let parent = p.parent()?.to_str()?;
    (!parent.is_empty()).then(|| parent.to_string())
}

/// Every host path the DAOS configuration names, for the facts collector to examine
/// ([`crate::facts::collect_with_paths`]): log files and their directories, socket and
/// runtime directories, the control metadata path, SCM mount points and their parents,
/// `file` bdevs and their directories, `kdev` devices (and their `/sys/class/block`
/// entry), and the certificate files DAOS would load.
pub fn referenced_paths(c: &super::config::LoadedConfigs) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let with_parent = |out: &mut Vec<String>, p: &str| {
        out.push(p.to_string());
        out.extend(parent_dir(p));
    };
    if let Some(s) = c.server.config() {
        if let Some(l) = &s.control_log_file {
            with_parent(&mut out, l);
        }
        out.push(s.socket_dir.clone().unwrap_or(DEFAULT_SOCKET_DIR.into()));
        if let Some(p) = s.control_metadata.as_ref().and_then(|m| m.path.clone()) {
            with_parent(&mut out, &p);
        }
        for e in &s.engines {
            if let Some(l) = &e.log_file {
                with_parent(&mut out, l);
            }
            for t in e.scm_tiers() {
                if let Some(m) = &t.scm_mount {
                    with_parent(&mut out, m);
                }
            }
        }
        for b in configured_emulated_bdevs(s) {
            with_parent(&mut out, &b.path);
            if b.class == StorageClass::Kdev
                && let Some(name) = b.path.rsplit('/').next()
            {
                out.push(format!("/sys/class/block/{name}"));
            }
        }
        for f in tls_files(TlsComponent::Server, &s.transport) {
            out.push(f.path);
        }
    }
    if let Some(a) = c.agent.config() {
        out.push(
            a.runtime_dir
                .clone()
                .unwrap_or(DEFAULT_AGENT_RUNTIME_DIR.into()),
        );
        if let Some(l) = &a.log_file {
            with_parent(&mut out, l);
        }
        for f in tls_files(TlsComponent::Agent, &a.transport) {
            out.push(f.path);
        }
    }
    if let Some(k) = c.control.config() {
        for f in tls_files(TlsComponent::Control, &k.transport) {
            out.push(f.path);
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|p| p.starts_with('/') && seen.insert(p.clone()));
    out
}

/// The NUMA node DAOS would detect for an engine: its fabric interface's node.
pub fn detected_numa_node(
    facts: &crate::facts::Facts,
    cfg: &crate::daos::config::ServerConfig,
    e: &crate::daos::config::EngineConfig,
) -> Option<u32> {
    let iface = cfg.engine_iface(e)?;
    facts
        .net
        .interfaces
        .iter()
        .find(|i| i.name == iface)
        .and_then(|i| i.numa_node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daos::config::StorageTier;

    fn engine(
        targets: i64,
        helpers: i64,
        node: Option<i64>,
        bdev: Option<StorageClass>,
        meta: bool,
        scm_size: Option<i64>,
    ) -> EngineConfig {
        let mut storage = vec![StorageTier {
            class: Some(StorageClass::Ram),
            scm_mount: Some("/mnt/daos".into()),
            scm_size,
            ..Default::default()
        }];
        if let Some(c) = bdev {
            storage.push(StorageTier {
                class: Some(c),
                bdev_list: vec!["0000:81:00.0".into()],
                bdev_roles: if meta {
                    vec!["wal".into(), "meta".into(), "data".into()]
                } else {
                    vec![]
                },
                ..Default::default()
            });
        }
        EngineConfig {
            targets,
            nr_xs_helpers: helpers,
            pinned_numa_node: node,
            storage,
            ..Default::default()
        }
    }

    fn server(engines: Vec<EngineConfig>) -> ServerConfig {
        ServerConfig {
            engines,
            ..Default::default()
        }
    }

    #[test]
    fn hugepages_by_the_daos_formula() {
        use DaosVersion::{V2_6, V2_8};
        // Table: (engines, version, expected min_pages, per_node, total). Page size 2 MiB
        // = 2048 KiB, so 1 GiB = 512 pages (bdev.go CalcMinHugepages: 1 GiB × targets /
        // page size).
        // a) one engine, 16 targets, nvme, node 0, 2.6: 16 × 512 = 8192 pages; one node:
        //    8192 / 1 + (2 × 1) / 1 = 8194 per node (server_utils.go extraHugepages).
        let a = server(vec![engine(
            16,
            4,
            Some(0),
            Some(StorageClass::Nvme),
            false,
            None,
        )]);
        let p = hugepage_plan(&a, V2_6, 2048, &[0]).unwrap();
        assert_eq!(
            (p.min_pages, p.per_node_pages, p.total_pages),
            (8192, 8194, 8194)
        );
        // same under 2.8: no extra pages (SetHugeNodes: nr / nodes) → 8192
        let p = hugepage_plan(&a, V2_8, 2048, &[0]).unwrap();
        assert_eq!((p.min_pages, p.per_node_pages), (8192, 8192));
        // b) two engines × 16 targets on nodes 0 and 1, 2.6: 32 × 512 = 16384; per node
        //    16384 / 2 + (2 × 2) / 2 = 8192 + 2 = 8194; total 16388.
        let b = server(vec![
            engine(16, 4, Some(0), Some(StorageClass::Nvme), false, None),
            engine(16, 4, Some(1), Some(StorageClass::Nvme), false, None),
        ]);
        let p = hugepage_plan(&b, V2_6, 2048, &[0, 1]).unwrap();
        assert_eq!(
            (p.min_pages, p.per_node_pages, p.total_pages),
            (16384, 8194, 16388)
        );
        // c) MD-on-SSD engine with 4 targets: (4 + 1 sys xstream) × 512 = 2560 pages.
        let c = server(vec![engine(
            4,
            1,
            Some(0),
            Some(StorageClass::Nvme),
            true,
            None,
        )]);
        assert_eq!(hugepage_plan(&c, V2_6, 2048, &[0]).unwrap().min_pages, 2560);
        // d) the seed: 1 target on a file bdev. 2.6: 1 × 512 = 512 (+2 extra = 514);
        //    2.8 counts a 1-target engine as 2 targets: 1024.
        let d = server(vec![engine(
            1,
            0,
            None,
            Some(StorageClass::File),
            false,
            Some(4),
        )]);
        let p = hugepage_plan(&d, V2_6, 2048, &[0]).unwrap();
        assert_eq!((p.min_pages, p.per_node_pages), (512, 514));
        assert_eq!(hugepage_plan(&d, V2_8, 2048, &[0]).unwrap().min_pages, 1024);
        // e) 1 GiB pages: 16 targets → 16 pages.
        assert_eq!(
            hugepage_plan(&a, V2_6, 1048576, &[0]).unwrap().min_pages,
            16
        );
        // f) no bdevs: no hugepages needed
        let f = server(vec![engine(8, 0, Some(0), None, false, None)]);
        assert!(hugepage_plan(&f, V2_6, 2048, &[0]).is_none());
        // g) nr_hugepages set explicitly wins: 4096 on two nodes, 2.6 → 2048 + 2 = 2050
        let mut g = b.clone();
        g.nr_hugepages = 4096;
        let p = hugepage_plan(&g, V2_6, 2048, &[0, 1]).unwrap();
        assert_eq!((p.pages, p.per_node_pages), (4096, 2050));
    }

    #[test]
    fn ramdisk_by_the_daos_formula() {
        use DaosVersion::{V2_6, V2_8};
        // The seed: one engine, 1 target, scm_size 4, file bdev (512 hugepages of 2 MiB
        // = 1 GiB), 2.6 default system_ram_reserved 16 GiB, engine reservation
        // max(1 × 128 MiB, 1 GiB) = 1 GiB. Reserved = 1 + 16 + 1 = 18 GiB.
        let seed = server(vec![engine(
            1,
            0,
            None,
            Some(StorageClass::File),
            false,
            Some(4),
        )]);
        let gib_kib = 1024 * 1024;
        // host 16 GiB: 16 − 18 < 0 → no RAM-disk at all; needs 18 + 4 = 22 GiB.
        let p = ramdisk_plan(&seed, V2_6, 16 * gib_kib, 2048, 512).unwrap();
        assert_eq!(p.max_per_engine, None);
        assert_eq!(p.mem_needed, 22 * GIB);
        assert!(!p.fits());
        // lower system_ram_reserved: 16 − 1 (huge) − 1 (engine) − 4 (scm) = 10 GiB
        assert_eq!(p.fitting_sys_reserved_gib(), Some(10));
        assert_eq!(p.fitting_scm_size_gib(), None);
        // host 32 GiB: max = 32 − 18 = 14 GiB ≥ 4 → fits; MemAvailable needed
        // (4 GiB / 100) × 90 bytes (integer division as DAOS does).
        let p = ramdisk_plan(&seed, V2_6, 32 * gib_kib, 2048, 512).unwrap();
        assert_eq!(p.max_per_engine, Some(14 * GIB));
        assert!(p.fits());
        assert_eq!(mem_available_needed(&p), (4 * GIB / 100) * 90);
        // 4294967296 / 100 = 42949672; × 90 = 3865470480
        assert_eq!(mem_available_needed(&p), 3_865_470_480);
        // 2.8 default 64 GiB, and 1024 hugepages (2 GiB): reserved = 2 + 64 + 1 = 67 GiB;
        // host 64 GiB fails; needs 67 + 4 = 71 GiB.
        let p = ramdisk_plan(&seed, V2_8, 64 * gib_kib, 2048, 1024).unwrap();
        assert_eq!(p.mem_needed, 71 * GIB);
        assert!(!p.fits());
        // Two engines × 16 targets, auto size, 2.6, 16384 pages (32 GiB) on 192 GiB:
        // engine reservation max(16 × 128 MiB, 1 GiB) = 2 GiB; reserved = 32 + 16 + 4 =
        // 52 GiB; max = (192 − 52) / 2 = 70 GiB per engine, auto-sized to 70 GiB.
        let two = server(vec![
            engine(16, 4, Some(0), Some(StorageClass::Nvme), false, None),
            engine(16, 4, Some(1), Some(StorageClass::Nvme), false, None),
        ]);
        let p = ramdisk_plan(&two, V2_6, 192 * gib_kib, 2048, 16384).unwrap();
        assert_eq!(p.engine_reserved, 2 * GIB);
        assert_eq!(p.max_per_engine, Some(70 * GIB));
        assert_eq!(p.per_engine, 70 * GIB);
        // scm_size 80 on the same host is over the max: needs 52 + 160 = 212 GiB
        let mut big = two.clone();
        big.engines[0].storage[0].scm_size = Some(80);
        let p = ramdisk_plan(&big, V2_6, 192 * gib_kib, 2048, 16384).unwrap();
        assert!(!p.fits());
        assert_eq!(p.mem_needed, 212 * GIB);
        assert_eq!(p.fitting_scm_size_gib(), Some(70));
        // dcpm: no RAM-disk
        let mut d = two;
        d.engines[0].storage[0].class = Some(StorageClass::Dcpm);
        assert!(ramdisk_plan(&d, V2_6, 192 * gib_kib, 2048, 0).is_none());
    }

    #[test]
    fn cores_and_nodes() {
        let e = engine(16, 4, Some(1), None, false, None);
        assert_eq!(engine_cores_needed(&e), 22);
        let mut legacy = server(vec![e.clone(), engine(16, 4, None, None, false, None)]);
        legacy.engines[1].first_core = Some(24);
        assert_eq!(engine_numa_nodes(&legacy, &|_| Some(1)), vec![0, 0]);
        let pinned = server(vec![e, engine(16, 4, None, None, false, None)]);
        assert_eq!(engine_numa_nodes(&pinned, &|_| Some(1)), vec![1, 1]);
        assert_eq!(engine_numa_nodes(&pinned, &|_| None), vec![1, 0]);
    }
    #[test]
    fn nvme_addresses_as_spdk_parses_them() {
        let pci = |a: &str| NvmeAddress::Pci { address: a.into() };
        assert_eq!(parse_nvme_address("0000:81:00.0"), pci("0000:81:00.0"));
        // bus:dev.func means domain 0; hex is case-insensitive; '.' separators accepted
        assert_eq!(parse_nvme_address("81:00.0"), pci("0000:81:00.0"));
        assert_eq!(parse_nvme_address("0000:D8:00.1"), pci("0000:d8:00.1"));
        assert_eq!(parse_nvme_address("0000.5d.05.5"), pci("0000:5d:05.5"));
        // VMD backing device: domain 5d0505 = VMD controller 0000:5d:05.5
        assert_eq!(
            parse_nvme_address("5d0505:01:00.0"),
            NvmeAddress::VmdBacking {
                address: "5d0505:01:00.0".into(),
                vmd: "0000:5d:05.5".into()
            }
        );
        for bad in [
            "zz:00.0",
            "0000:81:00",
            "/dev/nvme0n1",
            "0000:81:20.0",
            "0000:81:00.8",
            "",
        ] {
            assert_eq!(parse_nvme_address(bad), NvmeAddress::Invalid, "{bad}");
        }
    }

    #[test]
    fn configured_devices_and_ports() {
        let mut a = engine(8, 0, Some(0), Some(StorageClass::Nvme), false, None);
        a.storage[1].bdev_list = vec!["81:00.0".into(), "0000:82:00.0".into()];
        a.fabric_iface = Some("ib0".into());
        a.fabric_iface_port = Some(31416);
        let mut b = engine(8, 0, Some(1), Some(StorageClass::File), false, None);
        b.storage[1].bdev_list = vec!["/var/daos/bdev".into()];
        b.storage[1].bdev_size = Some(16);
        b.fabric_iface = Some("ib1".into());
        b.fabric_iface_port = Some(31416);
        let mut cfg = server(vec![a, b]);
        cfg.bdev_exclude = vec!["0000:82:00.0".into()];
        cfg.provider = Some("ofi+tcp;ofi_rxm".into());
        cfg.telemetry_port = Some(9191);
        let n = configured_nvme(&cfg);
        assert_eq!(n.len(), 1, "bdev_exclude wins: {n:?}");
        assert_eq!((n[0].engine, n[0].tier), (0, 1));
        assert_eq!(n[0].sysfs_address(), Some("0000:81:00.0"));
        let e = configured_emulated_bdevs(&cfg);
        assert_eq!((e[0].engine, e[0].size_gib), (1, Some(16)));
        // 8 targets, no helper: DSS_CTX_NR_TOTAL = 2 + 8 + 0 = 10 contexts, 31416-31425
        let specs: Vec<String> = required_ports(&cfg).iter().map(|p| p.spec()).collect();
        assert_eq!(
            specs,
            [
                "10001/tcp",
                "9191/tcp",
                "31416-31425/tcp",
                "31416-31425/tcp"
            ]
        );
        // 2 helpers per engine: + min(2, 8) = 12 contexts; 12 helpers: + min(12, 8) = 18
        cfg.engines[0].nr_xs_helpers = 2;
        cfg.engines[1].nr_xs_helpers = 12;
        let specs: Vec<String> = required_ports(&cfg).iter().map(|p| p.spec()).collect();
        assert_eq!(specs[2..], ["31416-31427/tcp", "31416-31433/tcp"]);
        cfg.provider = Some("ofi+verbs;ofi_rxm".into());
        assert_eq!(required_ports(&cfg)[2].spec(), "31416/tcp");
    }

    #[test]
    fn tls_files_and_paths() {
        use crate::daos::config::TransportConfig;
        let t = TransportConfig::default();
        let f = tls_files(TlsComponent::Control, &t);
        assert_eq!(f[2].path, "/etc/daos/certs/admin.key");
        assert_eq!(f[2].max_mode, Some(0o440));
        assert_eq!(tls_files(TlsComponent::Server, &t).len(), 4);
        let insecure = TransportConfig {
            allow_insecure: true,
            ..Default::default()
        };
        assert!(tls_files(TlsComponent::Agent, &insecure).is_empty());
        assert_eq!(
            parent_dir("/var/log/daos/x.log").as_deref(),
            Some("/var/log/daos")
        );
        assert_eq!(parent_dir("/x").as_deref(), Some("/"));
    }
}
