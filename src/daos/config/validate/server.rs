//! `daos_server.yml`: the top-level rules (server.go `Load`, `Validate`, `SetNrHugepages`,
//! `SetEngineAffinities`, server_utils.go `getEngineNUMANodes`).

use std::collections::{BTreeMap, BTreeSet};

use super::accel::validate_accel;
use super::engine::validate_engine;
use super::engine_env::validate_engine_env;
use super::fabric::split_multi;
use super::hostport::{AccessPoint, access_point};
use super::logmask::validate_engine_logging;
use super::multi_engine::validate_multi_engine;
use super::pci::canonical_bdev;
use super::storage::{validate_storage, validate_tier_decoding};
use super::{Out, effective_access_points, name_rule};
use crate::daos::DaosVersion;
use crate::daos::config::server::{ServerConfig, StorageClass};
use crate::daos::config::{DaosStage, Issue, Severity};

/// DAOS's validation of `daos_server.yml` (see the module doc for the sources).
pub fn validate_server(cfg: &ServerConfig, version: DaosVersion, file: &str) -> Vec<Issue> {
    let mut issues = server_rules(cfg, version, file);
    // server.go `(*Server).Validate` (2.0 to 2.8) defers one wrapper: an error without a
    // fault resolution of its own leaves as FaultBadConfig (code 701, "insufficient
    // information in configuration"), so that is the code daos_server reports for it.
    for i in &mut issues {
        if i.stage == DaosStage::Validate && i.severity == Severity::Error && i.fault.is_none() {
            i.fault = Some(BAD_CONFIG.into());
        }
    }
    issues
}

/// server.go `FaultBadConfig` (faults.go), the code of a plain validation error.
const BAD_CONFIG: &str = "code.ServerBadConfig";

fn server_rules(cfg: &ServerConfig, version: DaosVersion, file: &str) -> Vec<Issue> {
    let mut out = Out::new(file);
    let v28 = version >= DaosVersion::V2_8;
    let pos = |k: &str| cfg.pos_of(k);
    let ap_key = cfg.access_points_key.clone().unwrap_or_else(|| {
        if v28 {
            "mgmt_svc_replicas".into()
        } else {
            "access_points".into()
        }
    });
    let (bad_ap, even_ap) = if v28 {
        (
            "ServerConfigBadMgmtSvcReplicas",
            "ServerConfigEvenMgmtSvcReplicas",
        )
    } else {
        (
            "ServerConfigBadAccessPoints",
            "ServerConfigEvenAccessPoints",
        )
    };

    // Load: the decoders of bdev_list, bdev_busid_range, bdev_roles (storage/config.go)
    for (i, e) in cfg.engines.iter().enumerate() {
        validate_tier_decoding(&mut out, cfg, e, i);
        validate_accel(&mut out, cfg, e, i);
    }

    // Load: system name, single provider
    name_rule(&mut out, cfg.name.as_deref(), pos("name"));
    // server.go Load: more than one top-level provider is refused while loading
    if let Some(p) = &cfg.provider
        && split_multi(p).len() > 1
    {
        out.load_err(
            pos("provider"),
            "provider",
            format!("fabric provider string {p:?} includes more than one provider: DAOS {version} supports one"),
            None,
            Some("set one provider at the top level (multi-provider engines are not enabled)".into()),
        );
    }

    // Validate: access points, with the control port appended when missing
    let control_port = cfg.control_port();
    let aps = effective_access_points(cfg, version);
    let mut normalized = Vec::new();
    for (i, ap) in aps.iter().enumerate() {
        let key = format!("{ap_key}[{i}]");
        let (msg, code, fix) = match access_point(ap) {
            AccessPoint::NoPort => {
                normalized.push(format!("{ap}:{control_port}"));
                continue;
            }
            AccessPoint::WithPort(_) => {
                normalized.push(ap.clone());
                continue;
            }
            AccessPoint::BadAddress(why) => (
                format!(
                    "{ap_key} entry {ap:?} is not host or host:port ({why}); an IPv6 address needs brackets: [addr]:port"
                ),
                bad_ap,
                Some(format!(
                    "write {ap_key} entries as host, host:port or [ipv6]:port"
                )),
            ),
            AccessPoint::BadPort(port) => (
                format!("{ap_key} entry {ap:?} has an invalid port {port:?}"),
                "ServerConfigBadControlPort",
                None,
            ),
        };
        out.err(pos(&key), &key, msg, Some(code), fix);
        // getAccessPointAddrWithPort's error ends Validate at the first bad entry
        break;
    }
    let unique: BTreeSet<&String> = normalized.iter().collect();
    if unique.len() != normalized.len() {
        out.err(
            pos(&ap_key),
            &ap_key,
            format!("{ap_key} lists the same server twice: {}", aps.join(", ")),
            Some(bad_ap),
            Some(format!("list each server once in {ap_key}")),
        );
    }
    // `cfg.Metadata.DevicePath != "" && cfg.Metadata.Path == ""`: null and empty alike
    if let Some(md) = &cfg.control_metadata
        && md.device.as_deref().is_some_and(|d| !d.is_empty())
        && md.path.as_deref().is_none_or(str::is_empty)
    {
        out.err(
            pos("control_metadata"),
            "control_metadata",
            "control_metadata.device is set without control_metadata.path".into(),
            Some("ServerConfigControlMetadataNoPath"),
            None,
        );
    }
    if version >= DaosVersion::V2_4
        && let Some(r) = cfg.system_ram_reserved
        && r <= 0
    {
        out.err(
            pos("system_ram_reserved"),
            "system_ram_reserved",
            format!("system_ram_reserved is {r}: it must be a positive number of GiB"),
            Some("ServerConfigSysRsvdZero"),
            Some(
                "remove system_ram_reserved to use the default, or set a positive GiB value".into(),
            ),
        );
    }

    // server/server.go Start -> cfg.Fabric.GetProviders (engine/config.go): the
    // top-level provider must be set, whatever the engines say ("provider not set"; the
    // FaultConfigNoProvider of Validate comes after it and is never reached).
    if split_multi(cfg.provider.as_deref().unwrap_or("")).is_empty() {
        out.err(
            pos("provider"),
            "provider",
            "provider is not set at the top level: daos_server refuses to start without it (an engine's own provider is not enough)".into(),
            None,
            Some("set the top-level provider: (e.g. ofi+tcp, ofi+verbs, ucx+dc_x)".into()),
        );
    }

    // 2.8 server.go Validate
    if v28
        && let Some(d) = cfg.engine_auto_restart_min_delay
        && d < 0
    {
        out.err(
            pos("engine_auto_restart_min_delay"),
            "engine_auto_restart_min_delay",
            format!("engine_auto_restart_min_delay is {d}: it must be 0 or more (seconds)"),
            None,
            Some("remove it or set a number of seconds".into()),
        );
    }

    if cfg.engines.is_empty() {
        // server.go Validate: a config without engines is valid (discovery mode)
        out.warn(pos("engines"), "engines", "no engines configured: daos_server starts in discovery mode and serves no storage".into(), None, Some("add an engines: section (see /usr/share/daos/... examples or `dmg config generate`)".into()));
        return out.issues;
    }

    // access point count
    match aps.len() {
        0 => out.err(pos(&ap_key), &ap_key, format!("{ap_key} is empty: the servers need at least one management service replica"), Some(bad_ap), None),
        n if n % 2 == 0 => out.err(pos(&ap_key), &ap_key, format!("{ap_key} lists {n} servers ({}): DAOS requires an odd number of management service replicas", aps.join(", ")), Some(even_ap), Some(format!("list 1, 3 or 5 servers in {ap_key} (an even count can't form a majority)"))),
        1 if cfg.access_points_key.is_some() => out.warn(pos(&ap_key), &ap_key, format!("{ap_key} names a single server ({}): no redundancy if it fails", aps[0]), None, None),
        1 => out.warn(None, &ap_key, format!("{ap_key} is not set: DAOS defaults to localhost, a single-server system"), None, None),
        _ => {}
    }

    // Validate checks port <= 0 and telemetry_port < 0; a port above 65535 is loaded
    // and fails when daos_server binds it (start time).
    if control_port <= 0 {
        out.err(
            pos("port"),
            "port",
            format!("control port {control_port} is not a valid TCP port (1-65535)"),
            Some("ServerConfigBadControlPort"),
            Some("remove port to use 10001, or set a port from 1 to 65535".into()),
        );
    } else if control_port > 65535 {
        out.start_err(pos("port"), "port", format!("control port {control_port} is above 65535: DAOS loads the file but can't listen on it"), None, Some("set a port from 1 to 65535 (default 10001)".into()));
    }
    if let Some(t) = cfg.telemetry_port {
        if t < 0 {
            out.err(
                pos("telemetry_port"),
                "telemetry_port",
                format!("telemetry_port {t} is negative"),
                Some("ServerConfigBadTelemetryPort"),
                Some("set 0 to disable telemetry, or a port from 1 to 65535 (e.g. 9191)".into()),
            );
        } else if t > 65535 {
            // lib/telemetry/promexp/httpd.go StartExporter: the exporter listens in a
            // goroutine and only logs "Prometheus web exporter stopped" when that
            // fails; daos_server runs on without metrics
            out.start_warn(
                pos("telemetry_port"),
                "telemetry_port",
                format!(
                    "telemetry_port {t} is above 65535: daos_server starts, but its Prometheus exporter can't listen and DAOS serves no metrics"
                ),
                None,
                Some("set a port from 1 to 65535 (e.g. 9191)".into()),
            );
        }
    }

    for (i, e) in cfg.engines.iter().enumerate() {
        validate_engine(&mut out, cfg, e, i);
        validate_storage(&mut out, cfg, version, e, i);
        validate_engine_logging(&mut out, cfg, e, i);
        if v28 {
            validate_engine_env(&mut out, cfg, e, i);
        }
    }
    if cfg.engines.len() > 1 {
        validate_multi_engine(&mut out, cfg, version);
    }

    if cfg.nr_hugepages < 0 || cfg.nr_hugepages > i64::from(i32::MAX) {
        out.err(
            pos("nr_hugepages"),
            "nr_hugepages",
            format!(
                "nr_hugepages {} is out of range (0-{})",
                cfg.nr_hugepages,
                i32::MAX
            ),
            Some("ServerConfigNrHugepagesOutOfRange"),
            None,
        );
    }

    // bdev_exclude ∩ bdev_list: a check of Validate from 2.8 (an exclude entry spelled as
    // DAOS prints the engine's PCI address); earlier releases pass both lists to SPDK
    // setup and the engine then misses its device: a warning there.
    let nvme: BTreeSet<String> = cfg
        .engines
        .iter()
        .flat_map(|e| {
            e.bdev_tiers()
                .filter(|t| t.class == Some(StorageClass::Nvme))
        })
        .flat_map(|t| t.bdev_list.iter().map(|a| canonical_bdev(a)))
        .collect();
    for (i, x) in cfg.bdev_exclude.iter().enumerate() {
        let clash = if v28 {
            nvme.contains(x)
        } else {
            nvme.contains(&canonical_bdev(x))
        };
        if clash {
            let key = format!("bdev_exclude[{i}]");
            let msg = format!("{x} is both in bdev_exclude and in an engine's bdev_list");
            let fix = Some(format!("remove {x} from bdev_exclude or from bdev_list"));
            if v28 {
                out.err(
                    pos(&key),
                    &key,
                    msg,
                    Some("ServerConfigBdevExcludeClash"),
                    fix,
                );
            } else {
                out.warn(
                    pos(&key),
                    &key,
                    format!(
                        "{msg}: DAOS {version} loads the file but the engine will not get that SSD"
                    ),
                    None,
                    fix,
                );
            }
        }
    }

    // SetNrHugepages (server.go; run by server.Start with the host's /proc/meminfo, so a
    // start-time rule): hugepages disabled with bdevs
    let any_bdevs = cfg.engines.iter().any(|e| e.has_bdevs());
    let real_nvme = cfg.engines.iter().any(|e| e.has_real_nvme());
    if cfg.disable_hugepages {
        if v28 {
            if cfg.nr_hugepages != 0 {
                out.start_err(
                    pos("disable_hugepages"),
                    "disable_hugepages",
                    "disable_hugepages is true but nr_hugepages is set".into(),
                    Some("ServerConfigHugepagesDisabledWithNrSet"),
                    None,
                );
            }
            if real_nvme {
                out.start_err(pos("disable_hugepages"), "disable_hugepages", "disable_hugepages is true but engines have NVMe SSDs in bdev_list: SPDK needs hugepages".into(), Some("ServerConfigHugepagesDisabledWithNvmeBdevs"), Some("remove disable_hugepages".into()));
            } else if any_bdevs {
                out.start_warn(
                    pos("disable_hugepages"),
                    "disable_hugepages",
                    "hugepages disabled with emulated bdevs: DAOS 2.8 calls this experimental"
                        .into(),
                    None,
                    None,
                );
            }
        } else if any_bdevs {
            out.start_err(pos("disable_hugepages"), "disable_hugepages", format!("disable_hugepages is true but engines have bdevs: DAOS {version} needs hugepages for any bdev class"), Some("ServerConfigHugepagesDisabledWithBdevs"), Some("remove disable_hugepages, or remove the bdev tiers".into()));
        }
    }

    // SetEngineAffinities: a non-zero first_core anywhere selects the legacy core
    // allocation for all engines, and pinned_numa_node is then ignored.
    let legacy = cfg.engines.iter().any(|e| {
        e.first_core
            .is_some_and(|c| !(c == 0 && e.pinned_numa_node.is_some()))
    });
    if legacy {
        for (i, e) in cfg.engines.iter().enumerate() {
            if e.pinned_numa_node.is_some() && e.first_core.is_none_or(|c| c == 0) {
                let key = format!("engines[{i}].pinned_numa_node");
                out.warn(pos(&key), &key, format!("engine {i}: pinned_numa_node is ignored because first_core selects the legacy core allocation"), None, Some("use either first_core or pinned_numa_node in all engines".into()));
            }
        }
    }

    // start time (server_utils.go prepBdevStorage, after the hardware scan):
    // server_utils.go getEngineNUMANodes (2.8: config.go GetNumaNodes): engines spread
    // unevenly over NUMA nodes are refused when they have bdevs.
    if any_bdevs
        && !(v28 && cfg.allow_numa_imbalance)
        && cfg.engines.iter().all(|e| e.pinned_numa_node.is_some())
        && !legacy
    {
        let mut per: BTreeMap<i64, usize> = BTreeMap::new();
        for e in &cfg.engines {
            *per.entry(e.pinned_numa_node.unwrap_or(0)).or_default() += 1;
        }
        let counts: BTreeSet<usize> = per.values().copied().collect();
        if counts.len() > 1 {
            let shown: Vec<String> = per.iter().map(|(n, c)| format!("node {n}: {c}")).collect();
            out.start_err(
                pos("engines"),
                "engines",
                format!(
                    "engines are spread unevenly over NUMA nodes ({})",
                    shown.join(", ")
                ),
                Some("ServerConfigEngineNUMAImbalance"),
                None,
            );
        }
    }
    out.issues
}
