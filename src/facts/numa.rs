//! NUMA topology from `/sys/devices/system/node`.

use super::{CollectionError, Numa, NumaNode, memory, note, parse};
use crate::host::Host;

const NODE_DIR: &str = "/sys/devices/system/node";
const CPU_DIR: &str = "/sys/devices/system/cpu";

/// CPUs the kernel does not run: those missing from `cpu/online`, or, on kernels without
/// that file (before 2.6.26), those whose `cpuN/online` is `0`. `None` when neither says.
///
/// Recent kernels drop an offlined CPU from its node's mask, but older ones kept it
/// there (hwloc's `linux_16em64t-4s2c2t-offlines`: node0 `cpumap` `0000ffff` while CPUs
/// 2, 5, 13 and 14 are offline), and an offline CPU can't run an engine's targets.
fn offline_filter(host: &Host, errors: &mut Vec<CollectionError>) -> Option<OnlineCpus> {
    let path = format!("{CPU_DIR}/online");
    if let Some(text) = note(errors, host.read_attr(&path)) {
        return match parse::parse_cpulist(&text) {
            Ok(cpus) => Some(OnlineCpus::Only(cpus)),
            Err(e) => {
                errors.push(CollectionError {
                    path: host.path(&path).display().to_string(),
                    kind: "parse".into(),
                    message: e.to_string(),
                });
                None
            }
        };
    }
    let offline: Vec<u32> = host
        .list_dir(CPU_DIR)
        .ok()?
        .iter()
        .filter_map(|n| n.strip_prefix("cpu")?.parse::<u32>().ok())
        .filter(|cpu| {
            host.read_attr_opt(&format!("{CPU_DIR}/cpu{cpu}/online"))
                .as_deref()
                == Some("0")
        })
        .collect();
    Some(OnlineCpus::AllBut(offline))
}

/// Which CPUs are online, as far as the kernel says.
enum OnlineCpus {
    /// Exactly these (`cpu/online`).
    Only(Vec<u32>),
    /// All but these (per-CPU `online` files).
    AllBut(Vec<u32>),
}

impl OnlineCpus {
    fn contains(&self, cpu: u32) -> bool {
        match self {
            OnlineCpus::Only(cpus) => cpus.binary_search(&cpu).is_ok(),
            OnlineCpus::AllBut(cpus) => !cpus.contains(&cpu),
        }
    }
}

/// Collects the NUMA nodes. The node set is the `online` list when present, else the
/// `nodeN` directories (some captured trees lack `online`).
pub fn collect(host: &Host, errors: &mut Vec<CollectionError>) -> Numa {
    let online = note(errors, host.read_attr(&format!("{NODE_DIR}/online")));
    let mut ids: Vec<u32> = match online.as_deref().map(parse::parse_cpulist) {
        Some(Ok(ids)) => ids,
        Some(Err(e)) => {
            errors.push(CollectionError {
                path: host
                    .path(&format!("{NODE_DIR}/online"))
                    .display()
                    .to_string(),
                kind: "parse".into(),
                message: e.to_string(),
            });
            Vec::new()
        }
        None => Vec::new(),
    };
    if ids.is_empty() {
        ids = host
            .list_dir(NODE_DIR)
            .unwrap_or_default()
            .iter()
            .filter_map(|n| n.strip_prefix("node")?.parse().ok())
            .collect();
        ids.sort_unstable();
    }
    let online_cpus = offline_filter(host, errors);
    let nodes = ids
        .into_iter()
        .map(|id| {
            let dir = format!("{NODE_DIR}/node{id}");
            // `cpulist` is the readable form; `cpumap` (the same bitmap as a hex mask) is
            // older and is all that kernels before 2.6.26 and several captured trees
            // have (hwloc's ia64/POWER machines such as linux_256ppc-8n8s4t): without
            // the fallback those nodes looked CPU-less. hwloc reads `cpumap` too.
            let list_path = format!("{dir}/cpulist");
            let map_path = format!("{dir}/cpumap");
            let parsed = match note(errors, host.read_attr(&list_path)) {
                Some(s) => Some((list_path, parse::parse_cpulist(&s))),
                None => note(errors, host.read_attr(&map_path))
                    .map(|s| (map_path, parse::parse_cpumask(&s))),
            };
            let cpus = match parsed {
                Some((_, Ok(c))) => match &online_cpus {
                    Some(on) => c.into_iter().filter(|cpu| on.contains(*cpu)).collect(),
                    None => c,
                },
                Some((path, Err(e))) => {
                    errors.push(CollectionError {
                        path: host.path(&path).display().to_string(),
                        kind: "parse".into(),
                        message: e.to_string(),
                    });
                    Vec::new()
                }
                None => Vec::new(),
            };
            let meminfo = note(errors, host.read_string(&format!("{dir}/meminfo")))
                .map(|t| parse::parse_meminfo(&t))
                .unwrap_or_default();
            NumaNode {
                distances: host
                    .read_attr_opt(&format!("{dir}/distance"))
                    .and_then(|d| parse_distance_row(&d)),
                id,
                cpus,
                mem_total_kib: meminfo.get("MemTotal").copied(),
                mem_free_kib: meminfo.get("MemFree").copied(),
                hugepages: memory::collect_pools(host, &format!("{dir}/hugepages"), errors),
            }
        })
        .collect();
    let online_cpus = match &online_cpus {
        Some(OnlineCpus::Only(cpus)) => Some(parse::format_cpulist(cpus)),
        _ => None,
    };
    Numa {
        online,
        nodes,
        online_cpus,
    }
}

/// Parses a node's `distance` row (`10 21`, whitespace-separated decimal SLIT values);
/// `None` when empty or when any entry is not a number.
pub fn parse_distance_row(s: &str) -> Option<Vec<u32>> {
    let row: Option<Vec<u32>> = s
        .trim_matches(|c: char| c.is_whitespace() || c == '\0')
        .split_whitespace()
        .map(|v| v.parse().ok())
        .collect();
    row.filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_rows() {
        // linux_32em64t-2n8c+dax+nvme+mic+dimms node0 and linux_8ia64-2s2c2t node0
        assert_eq!(parse_distance_row("10 21\n"), Some(vec![10, 21]));
        assert_eq!(parse_distance_row("0"), Some(vec![0]));
        assert_eq!(parse_distance_row(""), None);
        assert_eq!(parse_distance_row("10 x"), None);
    }

    #[test]
    fn offline_cpus_are_not_node_cpus() {
        // linux_16em64t-4s2c2t-offlines of the hwloc test suite (BSD-3-Clause): an old
        // kernel without cpu/online keeps offline CPUs in node0's cpumap; lstopo's
        // oracle gives node0 the CPUs 0-1,3-4,6-12,15.
        let dir = std::env::temp_dir().join(format!("dp-offl-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let sys = dir.join("sys/devices/system");
        std::fs::create_dir_all(sys.join("node/node0")).unwrap();
        std::fs::write(sys.join("node/node0/cpumap"), "00000000,0000ffff\n").unwrap();
        for cpu in 0..16 {
            let d = sys.join(format!("cpu/cpu{cpu}"));
            std::fs::create_dir_all(&d).unwrap();
            // cpu0 can't be offlined and has no `online` file
            if cpu > 0 {
                let on = if [2, 5, 13, 14].contains(&cpu) {
                    "0\n"
                } else {
                    "1\n"
                };
                std::fs::write(d.join("online"), on).unwrap();
            }
        }
        let mut errors = Vec::new();
        let numa = collect(&Host::at(&dir), &mut errors);
        assert_eq!(
            numa.nodes[0].cpus,
            vec![0, 1, 3, 4, 6, 7, 8, 9, 10, 11, 12, 15]
        );
        // a kernel with cpu/online: linux_offline-cpu0-node0 (node1 cpulist lists the
        // odd CPUs 1-23, cpu/online is 4-20; lstopo: 5,7,...,19)
        std::fs::write(sys.join("cpu/online"), "4-20\n").unwrap();
        std::fs::write(
            sys.join("node/node0/cpulist"),
            "1,3,5,7,9,11,13,15,17,19,21,23\n",
        )
        .unwrap();
        let numa = collect(&Host::at(&dir), &mut errors);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(numa.nodes[0].cpus, vec![5, 7, 9, 11, 13, 15, 17, 19]);
    }

    #[test]
    fn node_cpus_from_cpumap_when_cpulist_is_missing() {
        // linux_8ia64-2n2s2c of the hwloc test suite (BSD-3-Clause): the nodes have
        // `cpumap` but no `cpulist`. `online` is that of linux_32em64t-2n8c+dax+nvme+mic+dimms,
        // with the trailing NUL hwloc's capture left.
        let dir = std::env::temp_dir().join(format!("dp-numa-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let node = dir.join("sys/devices/system/node");
        std::fs::create_dir_all(node.join("node0")).unwrap();
        std::fs::create_dir_all(node.join("node1")).unwrap();
        std::fs::write(node.join("online"), "0-1\n\0").unwrap();
        std::fs::write(node.join("node0/cpumap"), "00000000,0000000f\n").unwrap();
        std::fs::write(node.join("node1/cpumap"), "00000000,000000f0\n").unwrap();
        std::fs::write(
            node.join("node1/meminfo"),
            "\nNode 1 MemTotal:     16777216 kB\nNode 1 MemFree:      14419136 kB\n",
        )
        .unwrap();
        let mut errors = Vec::new();
        let numa = collect(&Host::at(&dir), &mut errors);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(numa.online.as_deref(), Some("0-1"));
        assert_eq!(numa.nodes.len(), 2);
        assert_eq!(numa.nodes[0].cpus, vec![0, 1, 2, 3]);
        assert_eq!(numa.nodes[1].cpus, vec![4, 5, 6, 7]);
        assert_eq!(numa.nodes[1].mem_total_kib, Some(16777216));
    }
}
