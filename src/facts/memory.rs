//! System memory, hugepage pools and transparent hugepages.

use super::{CollectionError, HugepagePool, Memory, Thp, note, parse};
use crate::host::Host;

/// Builds [`Memory`] from the text of `/proc/meminfo`.
pub fn memory_from_meminfo(text: &str) -> Memory {
    let m = parse::parse_meminfo(text);
    let get = |k: &str| m.get(k).copied();
    Memory {
        mem_total_kib: get("MemTotal"),
        mem_free_kib: get("MemFree"),
        mem_available_kib: get("MemAvailable"),
        hugepage_size_kib: get("Hugepagesize"),
        hugepages_total: get("HugePages_Total"),
        hugepages_free: get("HugePages_Free"),
        hugepages_rsvd: get("HugePages_Rsvd"),
        hugepages_surplus: get("HugePages_Surp"),
        hugetlb_kib: get("Hugetlb"),
        swap_total_kib: get("SwapTotal"),
    }
}

/// Reads `/proc/meminfo`.
pub fn collect_meminfo(host: &Host, errors: &mut Vec<CollectionError>) -> Memory {
    note(errors, host.read_string("/proc/meminfo"))
        .map(|t| memory_from_meminfo(&t))
        .unwrap_or_default()
}

/// Reads the hugepage pools under `dir` (`/sys/kernel/mm/hugepages` or a node's
/// `hugepages`), one per `hugepages-<size>kB` directory, sorted by size.
pub fn collect_pools(
    host: &Host,
    dir: &str,
    errors: &mut Vec<CollectionError>,
) -> Vec<HugepagePool> {
    let Some(names) = note(errors, host.list_dir(dir)) else {
        return Vec::new();
    };
    let mut pools: Vec<HugepagePool> = names
        .iter()
        .filter_map(|name| {
            let size_kib = parse::parse_hugepage_dir(name)?;
            let num = |attr: &str| {
                host.read_attr_opt(&format!("{dir}/{name}/{attr}"))
                    .and_then(|v| v.parse::<u64>().ok())
            };
            Some(HugepagePool {
                size_kib,
                total: num("nr_hugepages"),
                free: num("free_hugepages"),
                surplus: num("surplus_hugepages"),
                // only /sys/kernel/mm/hugepages has it (hugetlbpage.rst)
                reserved: num("resv_hugepages"),
            })
        })
        .collect();
    pools.sort_by_key(|p| p.size_kib);
    pools
}

/// Reads the transparent hugepage mode.
pub fn collect_thp(host: &Host) -> Thp {
    let choice = |f: &str| {
        host.read_attr_opt(&format!("/sys/kernel/mm/transparent_hugepage/{f}"))
            .and_then(|s| parse::parse_bracket_choice(&s))
    };
    Thp {
        enabled: choice("enabled"),
        defrag: choice("defrag"),
    }
}
