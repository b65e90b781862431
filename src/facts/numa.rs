//! NUMA topology from `/sys/devices/system/node`.

use super::{CollectionError, Numa, NumaNode, memory, note, parse};
use crate::host::Host;

const NODE_DIR: &str = "/sys/devices/system/node";

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
                Some((_, Ok(c))) => c,
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
                id,
                cpus,
                mem_total_kib: meminfo.get("MemTotal").copied(),
                mem_free_kib: meminfo.get("MemFree").copied(),
                hugepages: memory::collect_pools(host, &format!("{dir}/hugepages"), errors),
            }
        })
        .collect();
    Numa { online, nodes }
}

#[cfg(test)]
mod tests {
    use super::*;

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
