//! Facts: what the host *is*, collected once, then judged by the checks.
//!
//! The model is the `daos-preflight/facts/v1` contract (design.md §3): field names are
//! stable, unknown values are `null` (never guessed), and the same object is embedded in
//! every report. Collectors read through [`Host`](crate::host::Host) only; the text
//! formats are parsed by pure functions in [`parse`] and the per-area modules.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::host::Host;

pub mod accounts;
pub mod acpi;
pub mod cgroup;
pub mod files;
pub mod firewall;
pub mod hugetlb;
pub mod iommu;
pub mod kernel;
pub mod memory;
pub mod names;
pub mod net;
pub mod numa;
pub mod parse;
pub mod pci;
pub mod pmem;
pub mod system;

pub use system::{UnitSettings, VendorUnit};

pub use parse::CmdlineArg;

mod model_host;
pub use model_host::*;

/// Schema identifier of the facts object.
pub const FACTS_SCHEMA: &str = "daos-preflight/facts/v1";

/// Everything daos-preflight knows about a host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Facts {
    /// Always [`FACTS_SCHEMA`].
    pub schema: String,
    /// Where the facts were read from.
    pub source: Source,
    /// Kernel release, command line, build configuration and modules.
    pub kernel: Kernel,
    /// System-wide memory and default-size hugepages (`/proc/meminfo`).
    pub memory: Memory,
    /// Hugepage pools of every size, system-wide (`/sys/kernel/mm/hugepages`).
    pub hugepages: Vec<HugepagePool>,
    /// Transparent hugepage mode.
    pub thp: Thp,
    /// hugetlbfs mounts (`/proc/mounts`) and the files on them: who holds pages.
    #[serde(default)]
    pub hugetlbfs: Vec<hugetlb::HugetlbfsMount>,
    /// Processes mapping hugepages (`HugetlbPages:` of `/proc/PID/status`, kernel ≥ 4.4),
    /// largest first; live only: `null` under `--root` or on older kernels.
    #[serde(default)]
    pub hugepage_holders: Option<Vec<hugetlb::HugepageHolder>>,
    /// NUMA nodes.
    pub numa: Numa,
    /// PCI devices.
    pub pci: Pci,
    /// Network interfaces and InfiniBand devices.
    pub net: Net,
    /// IOMMU signals from firmware, kernel and VFIO.
    pub iommu: Iommu,
    /// Kernel clock synchronisation (live only; `null` under `--root`).
    pub time: Option<TimeSync>,
    /// Resource limits that matter to DAOS.
    pub limits: Limits,
    /// The sysctls the DAOS server RPM sets, as the kernel currently has them.
    pub sysctl: BTreeMap<String, Option<String>>,
    /// The systemd units of DAOS, as installed.
    pub services: Services,
    /// The cgroup this process runs in and the CPUs, memory nodes and memory it allows
    /// (as daos_server's `ExecStartPre=` hook: the service's own); under `--root`, that
    /// of the process the tree's `proc/self` captured. `null` when none is visible.
    #[serde(default)]
    pub cgroup: Option<cgroup::Cgroup>,
    /// Persistent memory (`/sys/bus/nd`): regions, namespaces, pmem mounts; `null`
    /// without a libnvdimm bus.
    #[serde(default)]
    pub pmem: Option<pmem::Pmem>,
    /// The files and directories the DAOS configuration names (log files, sockets,
    /// mount points, `file`/`kdev` bdevs, certificates), as found; empty when no
    /// configuration was read (`daos-preflight facts` alone).
    #[serde(default)]
    pub files: Vec<PathFact>,
    /// The DAOS users and groups of `/etc/passwd` and `/etc/group`.
    #[serde(default)]
    pub accounts: Accounts,
    /// Host firewall state (firewalld).
    #[serde(default)]
    pub firewall: Firewall,
    /// Files that could not be read while collecting (beyond plain absence), so a
    /// reader can tell "unknown because unreadable" from "absent".
    pub collection_errors: Vec<CollectionError>,
}

/// Where facts come from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq)]
pub struct Source {
    /// The root directory read (`/` for the live host).
    pub root: String,
    /// Whether syscall-based facts (clock, addresses, rlimits) describe this host.
    pub live: bool,
    /// Effective uid of the reading process (live only).
    pub euid: Option<u32>,
    /// A sysfs is visible (`/sys/devices` or `/sys/class`); false in bare containers
    /// and in captured trees that hold only `/proc`.
    pub sysfs: bool,
    /// A procfs is visible (`/proc/meminfo`).
    pub procfs: bool,
    /// Effective capabilities the reading process ran with (`CapEff`, hex; live only):
    /// a root run keeps only what reading needs (see `host::caps`).
    pub cap_effective: Option<String>,
}

/// A read that failed for a reason other than absence.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq)]
pub struct CollectionError {
    /// The path (including `--root`).
    pub path: String,
    /// `permission_denied`, `invalid_input`, `parse` or `other`.
    pub kind: String,
    /// Human-readable message.
    pub message: String,
}

/// Kernel identity and build.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq, Default)]
pub struct Kernel {
    /// `uname -r` (`/proc/sys/kernel/osrelease`).
    pub release: Option<String>,
    /// `/proc/cmdline` as one string.
    pub cmdline: Option<String>,
    /// The command line split into parameters.
    pub cmdline_args: Vec<CmdlineArg>,
    /// Build configuration options relevant to DAOS (only those set; absent = not set).
    pub config: KernelConfig,
    /// Loaded modules (`/proc/modules`), sorted; `null` when unreadable.
    pub modules: Option<Vec<String>>,
    /// Modules present in `/sys/module` among those DAOS needs (covers built-ins).
    pub sys_modules: Vec<String>,
}

/// Relevant kernel build options.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq, Default)]
pub struct KernelConfig {
    /// Where the config was read from (`/proc/config.gz`, `/boot/config-<release>`);
    /// `null` when neither exists.
    pub source: Option<String>,
    /// `CONFIG_*` → value (`y`, `m`, or the string value), only options that are set.
    pub options: BTreeMap<String, String>,
}

/// `/proc/meminfo` figures (KiB unless a count).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq, Default)]
pub struct Memory {
    /// MemTotal, KiB.
    pub mem_total_kib: Option<u64>,
    /// MemFree, KiB.
    pub mem_free_kib: Option<u64>,
    /// MemAvailable, KiB (kernel ≥ 3.14).
    pub mem_available_kib: Option<u64>,
    /// Hugepagesize (the default hugepage size), KiB.
    pub hugepage_size_kib: Option<u64>,
    /// HugePages_Total of the default size.
    pub hugepages_total: Option<u64>,
    /// HugePages_Free of the default size.
    pub hugepages_free: Option<u64>,
    /// HugePages_Rsvd of the default size.
    pub hugepages_rsvd: Option<u64>,
    /// HugePages_Surp of the default size.
    pub hugepages_surplus: Option<u64>,
    /// Hugetlb: memory in hugepages of all sizes, KiB (kernel ≥ 4.16).
    pub hugetlb_kib: Option<u64>,
    /// SwapTotal, KiB.
    pub swap_total_kib: Option<u64>,
}

/// A hugepage pool of one page size (system-wide or on one node).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq)]
pub struct HugepagePool {
    /// Page size in KiB (2048, 1048576).
    pub size_kib: u64,
    /// nr_hugepages.
    pub total: Option<u64>,
    /// free_hugepages.
    pub free: Option<u64>,
    /// surplus_hugepages.
    pub surplus: Option<u64>,
    /// resv_hugepages: promised to mappings not yet touched (counted as free, usable by
    /// no one else). System-wide pools only: the kernel keeps no per-node count, so
    /// `null` on nodes.
    #[serde(default)]
    pub reserved: Option<u64>,
}

/// Transparent hugepage settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq, Default)]
pub struct Thp {
    /// Selected mode of `/sys/kernel/mm/transparent_hugepage/enabled`
    /// (`always`, `madvise`, `never`); `null` when the kernel has no THP.
    pub enabled: Option<String>,
    /// Selected mode of `.../defrag`.
    pub defrag: Option<String>,
}

/// NUMA topology.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq, Default)]
pub struct Numa {
    /// `/sys/devices/system/node/online` as printed; `null` when the kernel exposes no
    /// NUMA information (CONFIG_NUMA off, or a container without /sys).
    pub online: Option<String>,
    /// Nodes, by id.
    pub nodes: Vec<NumaNode>,
    /// The online CPUs (`/sys/devices/system/cpu/online`) as a cpulist; `null` when the
    /// kernel does not say (before 2.6.26, some captured trees).
    #[serde(default)]
    pub online_cpus: Option<String>,
}

/// One NUMA node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq)]
pub struct NumaNode {
    /// Node id.
    pub id: u32,
    /// Online CPUs of the node (its `cpulist`, or `cpumap` on kernels without it, less
    /// the CPUs the kernel reports offline); empty for memory-only nodes.
    pub cpus: Vec<u32>,
    /// MemTotal of the node, KiB.
    pub mem_total_kib: Option<u64>,
    /// MemFree of the node, KiB.
    pub mem_free_kib: Option<u64>,
    /// Hugepage pools of the node, one per page size.
    pub hugepages: Vec<HugepagePool>,
    /// The node's row of the distance matrix (`nodeN/distance`: one entry per online
    /// node, in node order; ACPI SLIT values, 10 = local), `null` when absent or
    /// unparsable.
    #[serde(default)]
    pub distances: Option<Vec<u32>>,
}

/// PCI devices.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq, Default)]
pub struct Pci {
    /// All devices under `/sys/bus/pci/devices`, by address.
    pub devices: Vec<PciDevice>,
}

/// One PCI function.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq)]
pub struct PciDevice {
    /// `DDDD:BB:DD.F`.
    pub address: String,
    /// Class code, 6 hex digits (`010802` is NVMe).
    pub class: Option<String>,
    /// Vendor id, 4 hex digits.
    pub vendor: Option<String>,
    /// Device id, 4 hex digits.
    pub device: Option<String>,
    /// Bound driver (`nvme`, `vfio-pci`); `null` when unbound.
    pub driver: Option<String>,
    /// `driver_override`, when set.
    pub driver_override: Option<String>,
    /// NUMA node; `null` when the kernel says −1 (no affinity known).
    pub numa_node: Option<u32>,
    /// The CPUs local to the device (`local_cpulist`, or the `local_cpus` mask on
    /// kernels without the list), as a cpulist (`0-3,8`): where hwloc places a device
    /// whose `numa_node` is −1. `null` when the kernel gives neither.
    #[serde(default)]
    pub local_cpulist: Option<String>,
    /// IOMMU group number; `null` without an IOMMU.
    pub iommu_group: Option<u32>,
    /// NVMe controllers and namespaces, for NVMe devices (class 0108xx).
    pub nvme: Option<NvmeInfo>,
}

/// NVMe controllers and namespace block devices of one PCI function.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq, Default)]
pub struct NvmeInfo {
    /// Controller names (`nvme0`).
    pub controllers: Vec<String>,
    /// Namespace block devices (`nvme0n1`) and their use.
    pub namespaces: Vec<BlockDevice>,
}

/// A block device and whether something uses it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq)]
pub struct BlockDevice {
    /// Kernel name (`nvme0n1`).
    pub name: String,
    /// Size in bytes.
    pub size_bytes: Option<u64>,
    /// Partitions (`nvme0n1p1`).
    pub partitions: Vec<String>,
    /// Where it or its partitions are mounted.
    pub mountpoints: Vec<String>,
    /// Devices stacked on it or its partitions (dm-*, md*): LVM, MD, dm-crypt.
    pub holders: Vec<String>,
    /// It or one of its partitions is active swap.
    pub swap: bool,
}

impl BlockDevice {
    /// True when the device is mounted, held by a stacked device, or swap.
    pub fn in_use(&self) -> bool {
        !self.mountpoints.is_empty() || !self.holders.is_empty() || self.swap
    }
}

/// Networking.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq, Default)]
pub struct Net {
    /// Interfaces of `/sys/class/net`.
    pub interfaces: Vec<NetInterface>,
    /// RDMA devices of `/sys/class/infiniband`.
    pub infiniband: Vec<IbDevice>,
}

/// One network interface.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq)]
pub struct NetInterface {
    /// Name (`eth0`, `ib0`).
    pub name: String,
    /// `operstate` (`up`, `down`, `unknown`, ...).
    pub operstate: Option<String>,
    /// `carrier`; `null` when the kernel refuses to say (interface down: EINVAL).
    pub carrier: Option<bool>,
    /// Link speed in Mb/s; `null` when unknown (−1, EINVAL, empty).
    pub speed_mbps: Option<u64>,
    /// MTU.
    pub mtu: Option<u32>,
    /// Hardware address.
    pub mac: Option<String>,
    /// ARP hardware type (1 Ethernet, 32 InfiniBand, 772 loopback).
    pub link_type: Option<u32>,
    /// The PCI device behind it; `null` for virtual interfaces.
    pub pci_address: Option<String>,
    /// NUMA node of that PCI device.
    pub numa_node: Option<u32>,
    /// RDMA device behind it (`mlx5_0`), as `ibdev2netdev` would show.
    pub rdma_device: Option<String>,
    /// Addresses with prefix (`10.0.0.1/24`); `null` when not live.
    pub addresses: Option<Vec<String>>,
}

/// One RDMA (InfiniBand/RoCE/iWARP) device.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq)]
pub struct IbDevice {
    /// Name (`mlx5_0`).
    pub name: String,
    /// The PCI device.
    pub pci_address: Option<String>,
    /// Ports.
    pub ports: Vec<IbPort>,
}

/// One port of an RDMA device.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq)]
pub struct IbPort {
    /// Port number (from 1).
    pub port: u32,
    /// `state` as printed (`4: ACTIVE`).
    pub state: Option<String>,
    /// `phys_state` as printed (`5: LinkUp`).
    pub phys_state: Option<String>,
    /// `rate` (`100 Gb/sec (4X EDR)`).
    pub rate: Option<String>,
    /// `link_layer` (`InfiniBand`, `Ethernet`).
    pub link_layer: Option<String>,
    /// The netdev of this port (`ib0`), when one maps to it.
    pub netdev: Option<String>,
}

/// IOMMU signals.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq, Default)]
pub struct Iommu {
    /// `/sys/firmware/acpi/tables` exists: absence of a table there is meaningful.
    pub acpi_tables_visible: bool,
    /// `DMAR`, `IVRS`, or `null` when the firmware publishes neither.
    pub firmware_table: Option<String>,
    /// Both ACPI tables, present or not.
    pub tables: Vec<AcpiTableFact>,
    /// Kernel IOMMU units (`/sys/class/iommu`: `dmar0`, `ivhd0`).
    pub units: Vec<IommuUnit>,
    /// Number of IOMMU groups; `null` when `/sys/kernel/iommu_groups` is absent.
    pub groups: Option<u32>,
    /// Group count by default-domain type (`DMA`, `DMA-FQ`, `identity`, ...).
    pub group_types: BTreeMap<String, u32>,
    /// VFIO `enable_unsafe_noiommu_mode`; `null` when vfio is not loaded.
    pub noiommu_mode: Option<bool>,
    /// Decoding of the firmware table, when it was readable and parsed.
    pub firmware: Option<iommu::FirmwareSummary>,
}

/// Presence and readability of one ACPI table in `/sys/firmware/acpi/tables`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq)]
pub struct AcpiTableFact {
    /// `DMAR` or `IVRS`.
    pub name: String,
    /// The file exists.
    pub present: bool,
    /// Its size in bytes, when present.
    pub size: Option<u64>,
    /// Whether this process could read it (mode 0400: root only); `null` if absent.
    pub readable: Option<bool>,
}

/// One kernel IOMMU unit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq)]
pub struct IommuUnit {
    /// Name in `/sys/class/iommu`.
    pub name: String,
    /// NUMA node of the unit, from the firmware's RHSA structure when known.
    pub numa_node: Option<u32>,
}

/// Kernel clock state (adjtimex).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq)]
pub struct TimeSync {
    /// The kernel considers the clock synchronised (not TIME_ERROR, no STA_UNSYNC).
    pub synchronized: bool,
    /// adjtimex return value (0 TIME_OK ... 5 TIME_ERROR).
    pub clock_state: i32,
    /// `timex.status` bits.
    pub status: i32,
    /// Maximum error, µs.
    pub max_error_us: i64,
    /// Estimated error, µs.
    pub est_error_us: i64,
}

/// Reads every fact from `host`. Never fails: what can't be read is `null` and, unless
/// it is simply absent, listed in `collection_errors`.
pub fn collect(host: &Host) -> Facts {
    let mut errors = Vec::new();
    let kernel = kernel::collect(host, &mut errors);
    let memory = memory::collect_meminfo(host, &mut errors);
    let hugepages = memory::collect_pools(host, "/sys/kernel/mm/hugepages", &mut errors);
    let thp = memory::collect_thp(host);
    let hugetlbfs = hugetlb::collect_mounts(host, memory.hugepage_size_kib, &mut errors);
    let hugepage_holders = hugetlb::collect_holders(host);
    let numa = numa::collect(host, &mut errors);
    let pci = pci::collect(host, &mut errors);
    let net = net::collect(host, &pci, &mut errors);
    let iommu = iommu::collect(host, &mut errors);
    let time = system::collect_time(host, &mut errors);
    let limits = system::collect_limits(host);
    let sysctl = system::collect_sysctls(host);
    let services = system::collect_services(host, &mut errors);
    let cgroup = cgroup::collect(host, &mut errors);
    let pmem = pmem::collect(host, &mut errors);
    let accounts = accounts::collect(host, &services, &mut errors);
    let firewall = firewall::collect(host, &mut errors);
    Facts {
        schema: FACTS_SCHEMA.to_string(),
        source: Source {
            root: host.root().display().to_string(),
            live: host.is_live(),
            euid: host.effective_uid(),
            sysfs: host.exists("/sys/devices") || host.exists("/sys/class"),
            procfs: host.exists("/proc/meminfo"),
            cap_effective: host.effective_capabilities(),
        },
        kernel,
        memory,
        hugepages,
        thp,
        hugetlbfs,
        hugepage_holders,
        numa,
        pci,
        net,
        iommu,
        time,
        limits,
        sysctl,
        services,
        cgroup,
        pmem,
        files: Vec::new(),
        accounts,
        firewall,
        collection_errors: errors,
    }
}

/// Reads every fact, plus the paths the DAOS configuration names (`paths`, from
/// [`crate::daos::requirements::referenced_paths`]) into [`Facts::files`].
pub fn collect_with_paths(host: &Host, paths: &[String]) -> Facts {
    let mut facts = collect(host);
    facts.files = files::collect(host, paths);
    facts
}

/// Records a read error unless it is plain absence; returns the value when it was read.
pub(crate) fn note<T>(
    errors: &mut Vec<CollectionError>,
    r: Result<T, crate::host::HostError>,
) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) if e.is_not_found() => None,
        Err(e) => {
            errors.push(CollectionError {
                path: e.path.display().to_string(),
                kind: e.kind_name().to_string(),
                message: e.to_string(),
            });
            None
        }
    }
}
