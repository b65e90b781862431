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
            let cpu_path = format!("{dir}/cpulist");
            let cpus =
                match note(errors, host.read_attr(&cpu_path)).map(|s| parse::parse_cpulist(&s)) {
                    Some(Ok(c)) => c,
                    Some(Err(e)) => {
                        errors.push(CollectionError {
                            path: host.path(&cpu_path).display().to_string(),
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
