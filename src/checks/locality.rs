//! Where things are: the NUMA node an engine runs on and the node a PCI device hangs
//! off, as DAOS and hwloc decide them. Shared by the locality checks (`nvme.numa`, the
//! PMem region check).
//!
//! Engine side, config/server.go `SetEngineAffinities` (v2.6.0): in legacy mode (an
//! engine sets a non-zero `first_core`) nothing is pinned and each engine's xstreams take
//! consecutive cores from `first_core`; a single engine with no `pinned_numa_node` whose
//! detected node is 0 also gets the legacy allocation (from core 0); otherwise the engine
//! is pinned to `pinned_numa_node`, else to its fabric interface's node, else 0, and
//! engine/config.go `SetNUMAAffinity` hands that node to its storage tiers
//! (`Storage.SetNUMAAffinity`).
//!
//! Device side: the kernel's `numa_node` (Documentation/ABI/testing/sysfs-bus-pci), and
//! when that is −1 (firmware without a _PXM for the host bridge) the device's
//! `local_cpulist`, mapped to the one node whose CPUs it falls in, which is how hwloc
//! places a PCI device (its `local_cpus` cpuset; a set spanning nodes attaches it above
//! them, i.e. no node).

use crate::daos::config::ServerConfig;
use crate::daos::requirements::{detected_numa_node, engine_numa_nodes};
use crate::facts::parse::parse_cpulist;
use crate::facts::{Facts, PciDevice};

/// The node of an engine and how it was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineNode {
    /// The NUMA node; `None` when the host shows no node holding the engine's first core.
    pub node: Option<u32>,
    /// How: `pinned_numa_node 1`, `fabric_iface ib1`, `first_core 8 (legacy allocation)`.
    pub how: String,
}

/// The node of each engine of `cfg`, in engine order.
pub fn engine_nodes(f: &Facts, cfg: &ServerConfig) -> Vec<EngineNode> {
    let legacy = cfg.engines.iter().any(|e| {
        e.first_core
            .is_some_and(|c| !(c == 0 && e.pinned_numa_node.is_some()))
    });
    let nodes = engine_numa_nodes(cfg, &|e| detected_numa_node(f, cfg, e));
    cfg.engines
        .iter()
        .zip(nodes)
        .map(|(e, n)| {
            let detected = detected_numa_node(f, cfg, e);
            let single_unpinned = cfg.engines.len() == 1 && e.pinned_numa_node.is_none() && n == 0;
            if legacy || single_unpinned {
                let core = u32::try_from(e.first_core.unwrap_or(0)).unwrap_or(0);
                EngineNode {
                    node: node_of_cpu(f, core),
                    how: format!("legacy core allocation from core {core}"),
                }
            } else if let Some(p) = e.pinned_numa_node {
                EngineNode {
                    node: Some(n),
                    how: format!("pinned_numa_node {p}"),
                }
            } else if detected.is_some() {
                EngineNode {
                    node: Some(n),
                    how: format!(
                        "the node of fabric_iface {}",
                        cfg.engine_iface(e).unwrap_or_default()
                    ),
                }
            } else {
                EngineNode {
                    node: Some(n),
                    how: "no affinity detected: DAOS defaults to node 0".into(),
                }
            }
        })
        .collect()
}

/// The online node whose CPUs include `cpu`.
pub fn node_of_cpu(f: &Facts, cpu: u32) -> Option<u32> {
    f.numa
        .nodes
        .iter()
        .find(|n| n.cpus.binary_search(&cpu).is_ok())
        .map(|n| n.id)
}

/// The node of a PCI device and how it was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    /// The NUMA node; `None` when neither `numa_node` nor `local_cpulist` places it.
    pub node: Option<u32>,
    /// How: `numa_node 1`, `numa_node -1, local_cpulist 0-3 → node 0`, or why unknown.
    pub how: String,
}

/// Where a PCI device is: its `numa_node`, else the single node its `local_cpulist`
/// falls in (offline CPUs ignored).
pub fn device_node(f: &Facts, d: &PciDevice) -> DeviceNode {
    if let Some(n) = d.numa_node {
        return DeviceNode {
            node: Some(n),
            how: format!("numa_node {n}"),
        };
    }
    let Some(list) = &d.local_cpulist else {
        return DeviceNode {
            node: None,
            how: "numa_node -1 and no local_cpulist".into(),
        };
    };
    let local = parse_cpulist(list).unwrap_or_default();
    let touched: Vec<u32> = f
        .numa
        .nodes
        .iter()
        .filter(|n| n.cpus.iter().any(|c| local.binary_search(c).is_ok()))
        .map(|n| n.id)
        .collect();
    match touched.as_slice() {
        [one] => DeviceNode {
            node: Some(*one),
            how: format!("numa_node -1, local_cpulist {list} → node {one}"),
        },
        [] => DeviceNode {
            node: None,
            how: format!("numa_node -1, local_cpulist {list} holds no online node's CPU"),
        },
        many => DeviceNode {
            node: None,
            how: format!(
                "numa_node -1, local_cpulist {list} spans nodes {}",
                many.iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::NumaNode;

    /// Facts of an empty tree, with these nodes.
    fn facts(nodes: &[(u32, &str)]) -> Facts {
        let empty = std::env::temp_dir().join(format!("dp-loc-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&empty);
        let mut f = crate::facts::collect(&crate::host::Host::at(&empty));
        f.numa.nodes = nodes
            .iter()
            .map(|(id, cpus)| NumaNode {
                id: *id,
                cpus: parse_cpulist(cpus).unwrap(),
                mem_total_kib: Some(1 << 20),
                mem_free_kib: None,
                hugepages: vec![],
                distances: None,
            })
            .collect();
        f
    }

    fn dev(numa: Option<u32>, local: Option<&str>) -> PciDevice {
        PciDevice {
            address: "0000:00:02.0".into(),
            class: Some("010802".into()),
            vendor: None,
            device: None,
            driver: None,
            driver_override: None,
            numa_node: numa,
            local_cpulist: local.map(str::to_string),
            iommu_group: None,
            nvme: None,
        }
    }

    #[test]
    fn devices_are_placed_as_hwloc_places_them() {
        // the nodes of hwloc's linux_32em64t-2n8c+dax+nvme+mic+dimms: 0-7 and 8-15
        let f = facts(&[(0, "0-7"), (1, "8-15")]);
        assert_eq!(device_node(&f, &dev(Some(1), Some("0-3"))).node, Some(1));
        // its NVMe: numa_node -1, local_cpulist 0-3; lstopo puts it under node 0
        assert_eq!(device_node(&f, &dev(None, Some("0-3"))).node, Some(0));
        assert_eq!(device_node(&f, &dev(None, Some("9"))).node, Some(1));
        // all CPUs: attached to the machine, no node
        let all = device_node(&f, &dev(None, Some("0-15")));
        assert_eq!(all.node, None);
        assert!(all.how.contains("spans nodes 0,1"), "{}", all.how);
        assert_eq!(device_node(&f, &dev(None, Some("64"))).node, None);
        assert_eq!(device_node(&f, &dev(None, None)).node, None);
    }
}
