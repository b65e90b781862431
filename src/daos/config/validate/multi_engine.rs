//! Rules across the engines of one server (server.go `validateMultiEngineConfig`).

use std::collections::BTreeMap;

use super::pci::canonical_bdev;
use super::{Out, engine_port_count};
use crate::daos::DaosVersion;
use crate::daos::config::server::ServerConfig;

pub(super) fn validate_multi_engine(out: &mut Out, cfg: &ServerConfig, version: DaosVersion) {
    let mut fabric: BTreeMap<(String, String, i64), usize> = BTreeMap::new();
    let mut logs: BTreeMap<String, usize> = BTreeMap::new();
    let mut mounts: BTreeMap<String, usize> = BTreeMap::new();
    let mut scm_devs: BTreeMap<String, usize> = BTreeMap::new();
    let mut bdevs: BTreeMap<String, usize> = BTreeMap::new();
    let mut ports: Vec<(usize, String, i64, i64)> = Vec::new();
    let first = &cfg.engines[0];
    let first_class = first.scm_tiers().next().and_then(|t| t.class);
    let first_bdev_count: usize = first.bdev_tiers().map(|t| t.bdev_list.len()).sum();
    for (i, e) in cfg.engines.iter().enumerate() {
        let pos = |k: &str| cfg.pos_of(&format!("engines[{i}].{k}")).or(Some(e.pos));
        let key = |k: &str| format!("engines[{i}].{k}");
        let provider = cfg.engine_provider(e).unwrap_or_default();
        let iface = cfg.engine_iface(e).unwrap_or_default();
        let port = cfg.engine_port(e).unwrap_or(0);
        if let Some(seen) = fabric.insert((provider.clone(), iface.clone(), port), i) {
            out.err(pos("fabric_iface_port"), &key("fabric_iface_port"), format!("engine {i} uses the same fabric provider, interface and port as engine {seen} ({provider} {iface}:{port})"), Some("ServerConfigDuplicateFabric"), Some("give each engine its own fabric_iface or fabric_iface_port".into()));
        } else if port > 0 {
            let width = engine_port_count(&provider, e.targets, e.nr_xs_helpers) - 1;
            for (j, other_iface, lo, hi) in &ports {
                if *other_iface == iface && port <= *hi && port + width >= *lo {
                    out.start_err(pos("fabric_iface_port"), &key("fabric_iface_port"), format!("engine {i} ports {port}-{} on {iface} overlap engine {j} ports {lo}-{hi}: DAOS loads the file, the second engine fails to bind at start", port + width), None, Some(format!("space the fabric_iface_port of engines on {iface} at least {} apart (one port per CaRT context: 2 + targets + min(nr_xs_helpers, targets))", width + 1)));
                }
            }
            ports.push((i, iface, port, port + width));
        }
        if let Some(l) = &e.log_file
            && let Some(seen) = logs.insert(l.clone(), i)
        {
            out.err(
                pos("log_file"),
                &key("log_file"),
                format!("engine {i} log_file {l} is also engine {seen}'s"),
                Some("ServerConfigDuplicateLogFile"),
                None,
            );
        }
        for t in e.scm_tiers() {
            let m = t.scm_mount.clone().unwrap_or_default();
            if let Some(seen) = mounts.insert(m.clone(), i) {
                out.err(
                    Some(t.pos),
                    &key("storage"),
                    format!("engine {i} scm_mount {m} is also engine {seen}'s"),
                    Some("ServerConfigDuplicateScmMount"),
                    None,
                );
            }
            for d in &t.scm_list {
                if let Some(seen) = scm_devs.insert(d.clone(), i) {
                    out.err(
                        Some(t.pos),
                        &key("storage"),
                        format!("engine {i} scm_list entry {d} is also in engine {seen}"),
                        Some("ServerConfigDuplicateScmDeviceList"),
                        None,
                    );
                }
            }
            // 2.8 server.go validateMultiEngineConfig: FaultConfigScmDiffHugeEnabled (the
            // *bool must be set alike, set or unset, in every engine)
            if version >= DaosVersion::V2_8
                && i > 0
                && let Some(t0) = first.scm_tiers().next()
                && (
                    t0.scm_hugepages_set,
                    t0.scm_hugepages_disabled.unwrap_or(false),
                ) != (
                    t.scm_hugepages_set,
                    t.scm_hugepages_disabled.unwrap_or(false),
                )
            {
                out.err(
                    pos("storage"),
                    &key("storage"),
                    format!("engine {i} scm_hugepages_disabled differs from engine 0's"),
                    Some("ServerConfigScmHugeEnabled"),
                    Some(
                        "write scm_hugepages_disabled the same way in every engine (or in none)"
                            .into(),
                    ),
                );
            }
            if i > 0 && t.class != first_class {
                out.err(
                    Some(t.pos),
                    &key("storage"),
                    format!("engine {i} SCM class differs from engine 0's"),
                    Some("ServerConfigScmDiffClass"),
                    None,
                );
            }
        }
        let mut count = 0;
        for t in e.bdev_tiers() {
            for d in &t.bdev_list {
                count += 1;
                if let Some(seen) = bdevs.insert(canonical_bdev(d), i)
                    && seen != i
                {
                    out.err(
                        Some(t.pos),
                        &key("storage"),
                        format!(
                            "engine {i} bdev_list entry {d} is also in engine {seen}'s bdev_list"
                        ),
                        Some("ServerConfigOverlappingBdevDeviceList"),
                        None,
                    );
                }
            }
        }
        if i > 0 {
            if count != first_bdev_count {
                out.warn(
                    pos("storage"),
                    &key("storage"),
                    format!("engine {i} has {count} bdevs, engine 0 has {first_bdev_count}"),
                    Some("ServerConfigBdevCountMismatch"),
                    None,
                );
            }
            if e.targets != first.targets {
                out.err(pos("targets"), &key("targets"), format!("engine {i} has {} targets, engine 0 has {}: every engine must have the same target count", e.targets, first.targets), Some("ServerConfigTargetCountMismatch"), None);
            }
            if e.nr_xs_helpers != first.nr_xs_helpers {
                out.err(
                    pos("nr_xs_helpers"),
                    &key("nr_xs_helpers"),
                    format!(
                        "engine {i} has {} nr_xs_helpers, engine 0 has {}",
                        e.nr_xs_helpers, first.nr_xs_helpers
                    ),
                    Some("ServerConfigHelperStreamCountMismatch"),
                    None,
                );
            }
        }
    }
}
