//! DAOS's validation rules for the three files, mirrored as [`Issue`]s with the DAOS
//! fault code (src/control/fault/code/codes.go) where DAOS has one.
//!
//! Sources: src/control/server/config/server.go (`Load`, `Validate`,
//! `validateMultiEngineConfig`, `SetNrHugepages`, `SetEngineAffinities`),
//! server/engine/config.go (`Config.Validate`, `FabricConfig.Validate`),
//! server/storage/config.go (`TierConfigs.Validate`, `validateBdevRoles`,
//! `ScmConfig.Validate`, `BdevConfig.Validate`, `Config.Validate`),
//! server/server_utils.go (`getEngineNUMANodes`), cmd/daos_agent/config.go (`LoadConfig`)
//! and lib/control/config.go (`LoadConfig`). DAOS stops at the first error; we list them
//! all, so one run shows every edit to make.

use std::collections::{BTreeMap, BTreeSet};

use super::agent::AgentConfig;
use super::control::ControlConfig;
use super::server::{EngineConfig, ServerConfig, StorageClass};
use super::yaml::Pos;
use super::{DEFAULT_CONTROL_PORT, Issue, Location, SYSTEM_NAME_MAX, Severity, host_of};
use crate::daos::DaosVersion;

/// Minimum RAM-disk size per engine, bytes (server/storage/scm.go `MinRamdiskMem`, 4 GiB).
pub const MIN_RAMDISK_BYTES: u64 = 4 << 30;

struct Out<'a> {
    file: &'a str,
    issues: Vec<Issue>,
}

impl Out<'_> {
    fn add(
        &mut self,
        sev: Severity,
        pos: Option<Pos>,
        key: &str,
        msg: String,
        fault: Option<&str>,
        fix: Option<String>,
    ) {
        self.issues.push(Issue {
            severity: sev,
            location: pos.map(|p| Location {
                file: self.file.to_string(),
                line: p.line,
                column: p.column,
            }),
            key: key.to_string(),
            message: msg,
            fault: fault.map(|f| format!("code.{f}")),
            fix,
        });
    }
    fn err(
        &mut self,
        pos: Option<Pos>,
        key: &str,
        msg: String,
        fault: Option<&str>,
        fix: Option<String>,
    ) {
        self.add(Severity::Error, pos, key, msg, fault, fix);
    }
    fn warn(
        &mut self,
        pos: Option<Pos>,
        key: &str,
        msg: String,
        fault: Option<&str>,
        fix: Option<String>,
    ) {
        self.add(Severity::Warning, pos, key, msg, fault, fix);
    }
}

/// True for a string DAOS takes as a PCI address (storage/config.go `maybePCI`).
pub fn looks_like_pci(addr: &str) -> bool {
    let c: Vec<&str> = addr.split(':').collect();
    c.len() == 3 && (c[0].len() == 6 || c[0].len() == 4) && c[1].len() == 2 && c[2].len() >= 2
}

/// The providers that use the 3 ports after `fabric_iface_port` too (tcp and sockets
/// open one listening port per context range; design.md §2).
pub fn provider_uses_port_range(provider: &str) -> bool {
    provider.contains("tcp") || provider.contains("sockets")
}

/// Which access points a server config names: `access_points`/`mgmt_svc_replicas`, or
/// the default `localhost` (server.go `DefaultServer`) when unset.
pub fn effective_access_points(cfg: &ServerConfig, version: DaosVersion) -> Vec<String> {
    let unset = cfg.access_points_key.is_none()
        || (version >= DaosVersion::V2_8 && cfg.access_points.is_empty());
    if unset {
        vec![format!("localhost:{DEFAULT_CONTROL_PORT}")]
    } else {
        cfg.access_points.clone()
    }
}

fn name_rule(out: &mut Out, name: Option<&str>, pos: Option<Pos>) {
    if let Some(n) = name
        && (n.is_empty() || n.chars().count() > SYSTEM_NAME_MAX)
    {
        out.err(
            pos,
            "name",
            format!(
                "invalid system name {n:?}: it must be 1 to {SYSTEM_NAME_MAX} characters (DAOS_SYS_NAME_MAX)"
            ),
            None,
            Some("shorten the system name, identically in daos_server.yml, daos_agent.yml and daos_control.yml".into()),
        );
    }
}

fn port_rule(
    out: &mut Out,
    key: &str,
    port: Option<i64>,
    pos: Option<Pos>,
    fault: Option<&str>,
    allow_zero: bool,
) {
    if let Some(p) = port {
        let bad = if allow_zero { p < 0 } else { p <= 0 } || p > 65535;
        if bad {
            out.err(
                pos,
                key,
                format!("{key} {p} is not a valid TCP port (1-65535)"),
                fault,
                None,
            );
        }
    }
}

/// DAOS's validation of `daos_server.yml` (see the module doc for the sources).
pub fn validate_server(cfg: &ServerConfig, version: DaosVersion, file: &str) -> Vec<Issue> {
    let mut out = Out {
        file,
        issues: Vec::new(),
    };
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

    // Load: system name, single provider
    name_rule(&mut out, cfg.name.as_deref(), pos("name"));
    if let Some(p) = &cfg.provider
        && p.split(',').filter(|s| !s.trim().is_empty()).count() > 1
    {
        out.err(
            pos("provider"),
            "provider",
            format!("fabric provider string {p:?} includes more than one provider"),
            None,
            None,
        );
    }

    // Validate: access points, with the control port appended when missing
    let control_port = cfg.control_port();
    let aps = effective_access_points(cfg, version);
    let mut normalized = Vec::new();
    for (i, ap) in aps.iter().enumerate() {
        let key = format!("{ap_key}[{i}]");
        let has_port = ap
            .rsplit_once(':')
            .is_some_and(|(h, _)| !h.contains(':') || ap.starts_with('['));
        if has_port {
            let port = ap.rsplit_once(':').map(|(_, p)| p).unwrap_or("");
            match port.parse::<i64>() {
                Ok(n) if n > 0 => normalized.push(ap.clone()),
                _ => out.err(
                    pos(&key),
                    &key,
                    format!("{ap_key} entry {ap:?} has an invalid port {port:?}"),
                    Some("ServerConfigBadControlPort"),
                    None,
                ),
            }
        } else {
            normalized.push(format!("{ap}:{control_port}"));
        }
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
    if let Some(md) = &cfg.control_metadata
        && md.device.is_some()
        && md.path.is_none()
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

    // server/server.go Start -> cfg.Fabric.GetProviders (common/... FabricConfig):
    // "provider not set" when no provider is configured, engines or not
    if cfg.provider.as_deref().is_none_or(|p| p.trim().is_empty())
        && cfg
            .engines
            .iter()
            .all(|e| e.provider.as_deref().is_none_or(|p| p.trim().is_empty()))
    {
        out.err(
            pos("provider"),
            "provider",
            "provider is not set: daos_server refuses to start without a fabric provider".into(),
            None,
            Some("set the top-level provider: (e.g. ofi+tcp, ofi+verbs, ucx+dc_x)".into()),
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

    if cfg.provider.is_none() && cfg.engines.iter().all(|e| e.provider.is_none()) {
        out.err(
            pos("provider"),
            "provider",
            "no fabric provider set (provider: ofi+tcp, ofi+verbs;ofi_rxm, ucx+...)".into(),
            Some("ServerConfigBadProvider"),
            Some("set provider: at the top level of daos_server.yml".into()),
        );
    }
    if control_port <= 0 || control_port > 65535 {
        out.err(
            pos("port"),
            "port",
            format!("control port {control_port} is not a valid TCP port (1-65535)"),
            Some("ServerConfigBadControlPort"),
            None,
        );
    }
    port_rule(
        &mut out,
        "telemetry_port",
        cfg.telemetry_port,
        pos("telemetry_port"),
        Some("ServerConfigBadTelemetryPort"),
        true,
    );

    for (i, e) in cfg.engines.iter().enumerate() {
        validate_engine(&mut out, cfg, e, i);
    }
    if cfg.engines.len() > 1 {
        validate_multi_engine(&mut out, cfg);
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

    // bdev_exclude ∩ bdev_list: a check of Validate from 2.8; earlier releases pass both
    // lists to SPDK setup and the engine then misses its device.
    let nvme: BTreeSet<String> = cfg
        .engines
        .iter()
        .flat_map(|e| {
            e.bdev_tiers()
                .filter(|t| t.class == Some(StorageClass::Nvme))
        })
        .flat_map(|t| t.bdev_list.iter().map(|a| a.to_ascii_lowercase()))
        .collect();
    for (i, x) in cfg.bdev_exclude.iter().enumerate() {
        if nvme.contains(&x.to_ascii_lowercase()) {
            let key = format!("bdev_exclude[{i}]");
            out.err(
                pos(&key),
                &key,
                format!("{x} is both in bdev_exclude and in an engine's bdev_list"),
                v28.then_some("ServerConfigBdevExcludeClash"),
                Some(format!("remove {x} from bdev_exclude or from bdev_list")),
            );
        }
    }

    // SetNrHugepages: hugepages disabled with bdevs
    let any_bdevs = cfg.engines.iter().any(|e| e.has_bdevs());
    let real_nvme = cfg.engines.iter().any(|e| e.has_real_nvme());
    if cfg.disable_hugepages {
        if v28 {
            if cfg.nr_hugepages != 0 {
                out.err(
                    pos("disable_hugepages"),
                    "disable_hugepages",
                    "disable_hugepages is true but nr_hugepages is set".into(),
                    Some("ServerConfigHugepagesDisabledWithNrSet"),
                    None,
                );
            }
            if real_nvme {
                out.err(pos("disable_hugepages"), "disable_hugepages", "disable_hugepages is true but engines have NVMe SSDs in bdev_list: SPDK needs hugepages".into(), Some("ServerConfigHugepagesDisabledWithNvmeBdevs"), Some("remove disable_hugepages".into()));
            } else if any_bdevs {
                out.warn(
                    pos("disable_hugepages"),
                    "disable_hugepages",
                    "hugepages disabled with emulated bdevs: DAOS 2.8 calls this experimental"
                        .into(),
                    None,
                    None,
                );
            }
        } else if any_bdevs {
            out.err(pos("disable_hugepages"), "disable_hugepages", format!("disable_hugepages is true but engines have bdevs: DAOS {version} needs hugepages for any bdev class"), Some("ServerConfigHugepagesDisabledWithBdevs"), Some("remove disable_hugepages, or remove the bdev tiers".into()));
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
            out.err(
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

fn validate_engine(out: &mut Out, cfg: &ServerConfig, e: &EngineConfig, i: usize) {
    let base = format!("engines[{i}]");
    let pos = |k: &str| cfg.pos_of(&format!("{base}.{k}")).or(Some(e.pos));
    let k = |s: &str| format!("{base}.{s}");
    if e.pinned_numa_node.is_some() && e.first_core.is_some_and(|c| c != 0) {
        out.err(
            pos("first_core"),
            &k("first_core"),
            format!("engine {i}: cannot specify both pinned_numa_node and first_core"),
            None,
            Some(
                "remove first_core (pinned_numa_node is the modern way) or pinned_numa_node".into(),
            ),
        );
    }
    for (key, v) in [
        ("targets", e.targets),
        ("nr_xs_helpers", e.nr_xs_helpers),
        ("first_core", e.first_core.unwrap_or(0)),
    ] {
        if v < 0 {
            out.err(
                pos(key),
                &k(key),
                format!("engine {i}: {key} must not be negative"),
                None,
                None,
            );
        }
    }
    if e.targets == 0 {
        out.err(
            pos("targets"),
            &k("targets"),
            format!("engine {i}: targets is not set: the target count must be nonzero"),
            None,
            Some("set targets: to the number of I/O targets (e.g. one per SSD-backed core)".into()),
        );
    }
    // FabricConfig.Validate (after inheriting top-level values)
    if cfg.engine_iface(e).is_none() {
        out.err(
            pos("fabric_iface"),
            &k("fabric_iface"),
            format!("engine {i}: fabric_iface not set"),
            None,
            None,
        );
    }
    match cfg.engine_port(e) {
        None | Some(0) => out.err(
            pos("fabric_iface_port"),
            &k("fabric_iface_port"),
            format!("engine {i}: fabric_iface_port not set"),
            None,
            None,
        ),
        Some(p) if !(1..=65535).contains(&p) => out.err(
            pos("fabric_iface_port"),
            &k("fabric_iface_port"),
            format!("engine {i}: fabric_iface_port {p} is not a valid port (1-65535)"),
            None,
            None,
        ),
        Some(p) => {
            let provider = cfg.engine_provider(e).unwrap_or_default();
            if provider_uses_port_range(&provider) && p + 3 > 65535 {
                out.err(
                    pos("fabric_iface_port"),
                    &k("fabric_iface_port"),
                    format!(
                        "engine {i}: {provider} uses ports {p}-{} and that passes 65535",
                        p + 3
                    ),
                    None,
                    None,
                );
            }
        }
    }
    // storage (TierConfigs.Validate, Config.Validate)
    let sk = k("storage");
    if e.storage.is_empty() {
        out.err(
            pos("storage"),
            &sk,
            format!("engine {i}: no storage tiers configured"),
            None,
            Some("add a storage: list whose first tier is class ram or dcpm".into()),
        );
        return;
    }
    let scm: Vec<_> = e.scm_tiers().collect();
    if scm.is_empty() {
        out.err(
            pos("storage"),
            &sk,
            format!("engine {i}: no SCM tier (class ram or dcpm) in storage"),
            Some("ScmConfigTierMissing"),
            None,
        );
    }
    let real = e.has_real_nvme();
    let emulated = e
        .bdev_tiers()
        .any(|t| t.class != Some(StorageClass::Nvme) && !t.bdev_list.is_empty());
    if real && emulated {
        out.err(
            pos("storage"),
            &sk,
            format!("engine {i}: mixes NVMe and emulated (file/kdev) bdev tiers"),
            Some("BdevConfigTierTypeMismatch"),
            None,
        );
    }
    for (t_idx, t) in e.storage.iter().enumerate() {
        let tk = format!("{sk}[{t_idx}]");
        let tpos = cfg.pos_of(&tk).or(Some(t.pos));
        let tp = |f: &str| cfg.pos_of(&format!("{tk}.{f}")).or(tpos);
        let Some(class) = t.class else {
            if cfg.pos_of(&format!("{tk}.class")).is_none() {
                out.err(
                    tpos,
                    &tk,
                    format!("engine {i} storage tier {t_idx}: no storage class set"),
                    None,
                    None,
                );
            }
            continue;
        };
        if t_idx == 0 && !class.is_scm() {
            out.err(
                tp("class"),
                &format!("{tk}.class"),
                format!(
                    "engine {i}: the first storage tier is class {} but must be scm (ram or dcpm)",
                    class.as_str()
                ),
                None,
                None,
            );
        }
        match class {
            StorageClass::Ram | StorageClass::Dcpm => {
                if t.scm_mount.is_none() {
                    out.err(
                        tpos,
                        &format!("{tk}.scm_mount"),
                        format!("engine {i}: no scm_mount set"),
                        None,
                        None,
                    );
                }
                if class == StorageClass::Dcpm {
                    if t.scm_size.is_some_and(|s| s > 0) {
                        out.err(
                            tp("scm_size"),
                            &format!("{tk}.scm_size"),
                            "scm_size may not be set when class is dcpm".into(),
                            None,
                            None,
                        );
                    }
                    if t.scm_list.is_empty() {
                        out.err(
                            tpos,
                            &format!("{tk}.scm_list"),
                            "scm_list must be set when class is dcpm".into(),
                            None,
                            None,
                        );
                    }
                } else {
                    if !t.scm_list.is_empty() {
                        out.err(
                            tp("scm_list"),
                            &format!("{tk}.scm_list"),
                            "scm_list may not be set when class is ram".into(),
                            None,
                            None,
                        );
                    }
                    if let Some(s) = t.scm_size
                        && s != 0
                        && (s < 0 || (s as u64) << 30 < MIN_RAMDISK_BYTES)
                    {
                        out.err(tp("scm_size"), &format!("{tk}.scm_size"), format!("engine {i}: scm_size {s} GiB is below the 4 GiB minimum RAM-disk size"), Some("ServerConfigRamdiskUnderMinMem"), Some("set scm_size: 4 or more (or remove it to let DAOS size the RAM-disk)".into()));
                    }
                }
            }
            StorageClass::File | StorageClass::Kdev | StorageClass::Nvme => {
                if t.bdev_size.is_some_and(|s| s < 0) {
                    out.err(
                        tp("bdev_size"),
                        &format!("{tk}.bdev_size"),
                        "negative bdev_size".into(),
                        None,
                        None,
                    );
                }
                if t.bdev_list.is_empty() {
                    out.err(
                        tpos,
                        &format!("{tk}.bdev_list"),
                        format!(
                            "engine {i}: class {} requires a non-empty bdev_list",
                            class.as_str()
                        ),
                        None,
                        None,
                    );
                }
                if class == StorageClass::File && t.bdev_size.unwrap_or(0) == 0 {
                    out.err(
                        tpos,
                        &format!("{tk}.bdev_size"),
                        format!("engine {i}: class file requires a non-zero bdev_size (GiB)"),
                        None,
                        None,
                    );
                }
                let pci = t.bdev_list.iter().filter(|a| looks_like_pci(a)).count();
                if class == StorageClass::Nvme && pci == 0 && !t.bdev_list.is_empty() {
                    out.err(tp("bdev_list"), &format!("{tk}.bdev_list"), format!("engine {i}: class nvme requires PCI addresses in bdev_list, found {:?}", t.bdev_list), None, None);
                }
                if pci > 0 && pci < t.bdev_list.len() {
                    out.err(
                        tp("bdev_list"),
                        &format!("{tk}.bdev_list"),
                        "bdev_list: cannot mix PCI and non-PCI block device addresses".into(),
                        None,
                        None,
                    );
                }
                let mut seen = BTreeSet::new();
                for a in &t.bdev_list {
                    if !seen.insert(a.to_ascii_lowercase()) {
                        out.err(
                            tp("bdev_list"),
                            &format!("{tk}.bdev_list"),
                            format!("bdev_list: duplicate entry {a}"),
                            None,
                            None,
                        );
                    }
                }
            }
        }
    }
    // validateBdevRoles
    let bdevs: Vec<_> = e.bdev_tiers().collect();
    let with_roles = bdevs
        .iter()
        .filter(|t| t.bdev_roles.iter().any(|r| !r.eq_ignore_ascii_case("none")))
        .count();
    if with_roles == 0 {
        if bdevs.len() > 1 {
            out.err(pos("storage"), &sk, format!("engine {i}: {} bdev tiers without bdev_roles: only one is allowed unless roles are set (MD-on-SSD)", bdevs.len()), Some("BdevConfigMultiTierWithoutRoles"), None);
        }
    } else {
        if with_roles != bdevs.len() {
            out.err(
                pos("storage"),
                &sk,
                format!("engine {i}: bdev_roles set on some bdev tiers but not all"),
                Some("BdevConfigRolesMissing"),
                None,
            );
        }
        if scm
            .first()
            .is_some_and(|t| t.class == Some(StorageClass::Dcpm))
        {
            out.err(
                pos("storage"),
                &sk,
                format!("engine {i}: bdev_roles (MD-on-SSD) can't be used with a dcpm SCM tier"),
                Some("BdevConfigRolesWithDCPM"),
                None,
            );
        }
        if bdevs.len() > 3 {
            out.err(
                pos("storage"),
                &sk,
                format!(
                    "engine {i}: {} bdev tiers with roles; at most 3",
                    bdevs.len()
                ),
                Some("BdevConfigBadNrTiersWithRoles"),
                None,
            );
        }
        for role in ["wal", "meta", "data"] {
            let n = bdevs
                .iter()
                .filter(|t| t.bdev_roles.iter().any(|r| r.eq_ignore_ascii_case(role)))
                .count();
            if n != 1 {
                out.err(
                    pos("storage"),
                    &sk,
                    format!(
                        "engine {i}: the {role} role is on {n} bdev tiers; exactly one is required"
                    ),
                    Some("BdevConfigRolesBadNr"),
                    None,
                );
            }
        }
        for t in &bdevs {
            let has = |r: &str| t.bdev_roles.iter().any(|x| x.eq_ignore_ascii_case(r));
            if has("wal") && has("data") && !has("meta") {
                out.err(
                    Some(t.pos),
                    &sk,
                    format!("engine {i}: a tier with wal and data roles must also have meta"),
                    Some("BdevConfigRolesWalDataNoMeta"),
                    None,
                );
            }
        }
    }
    // storage Config.Validate: MD-on-SSD needs control_metadata.path and vice versa
    if !bdevs.is_empty() {
        let md_path = cfg
            .control_metadata
            .as_ref()
            .is_some_and(|m| m.path.is_some());
        let meta = e.is_md_on_ssd();
        if md_path && !meta {
            out.err(
                pos("storage"),
                &sk,
                format!(
                    "engine {i}: control_metadata.path is set but no bdev tier has the meta role"
                ),
                Some("BdevConfigControlMetadataNoRoles"),
                None,
            );
        } else if meta && !md_path {
            out.err(pos("storage"), &sk, format!("engine {i}: bdev_roles include meta (MD-on-SSD) but control_metadata.path is not set"), Some("BdevConfigRolesNoControlMetadata"), Some("add control_metadata: {path: /var/daos/config}".into()));
        }
    }
}

fn validate_multi_engine(out: &mut Out, cfg: &ServerConfig) {
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
            let width = if provider_uses_port_range(&provider) {
                3
            } else {
                0
            };
            for (j, other_iface, lo, hi) in &ports {
                if *other_iface == iface && port <= *hi && port + width >= *lo {
                    out.err(pos("fabric_iface_port"), &key("fabric_iface_port"), format!("engine {i} ports {port}-{} on {iface} overlap engine {j} ports {lo}-{hi}", port + width), None, Some(format!("space the fabric_iface_port of engines on {iface} at least 4 apart")));
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
                if let Some(seen) = bdevs.insert(d.to_ascii_lowercase(), i)
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

/// `daos_agent.yml` rules (cmd/daos_agent/config.go `LoadConfig`, plus what the agent
/// needs at run time: every manual fabric device names an interface).
pub fn validate_agent(cfg: &AgentConfig, version: DaosVersion, file: &str) -> Vec<Issue> {
    let mut out = Out {
        file,
        issues: Vec::new(),
    };
    name_rule(&mut out, cfg.name.as_deref(), cfg.name_pos);
    if version >= DaosVersion::V2_6 {
        if cfg.telemetry_retain_set && cfg.telemetry_port.is_none() {
            out.err(
                None,
                "telemetry_retain",
                "telemetry_retain requires telemetry_port".into(),
                None,
                None,
            );
        }
        if cfg.telemetry_enabled && cfg.telemetry_port.is_none() {
            out.err(
                None,
                "telemetry_enabled",
                "telemetry_enabled requires telemetry_port".into(),
                None,
                None,
            );
        }
    }
    port_rule(
        &mut out,
        "port",
        cfg.port,
        None,
        Some("ClientConfigBadControlPort"),
        false,
    );
    if cfg.access_points_pos.is_some() && cfg.access_points.is_empty() {
        out.err(
            cfg.access_points_pos,
            "access_points",
            "access_points is empty: the agent can't reach any server".into(),
            Some("ClientConfigBadAccessPoints"),
            None,
        );
    }
    for (i, nf) in cfg.fabric_ifaces.iter().enumerate() {
        if nf.devices.is_empty() {
            out.err(
                Some(nf.pos),
                &format!("fabric_ifaces[{i}].devices"),
                format!(
                    "fabric_ifaces[{i}] (NUMA node {}) lists no devices",
                    nf.numa_node.unwrap_or(0)
                ),
                None,
                None,
            );
        }
        for (j, d) in nf.devices.iter().enumerate() {
            if d.iface.as_deref().is_none_or(str::is_empty) {
                let what = match &d.domain {
                    Some(dom) => format!(
                        "has domain {dom:?} but no iface: a separate `- domain:` list item is a device of its own; put iface and domain in one item"
                    ),
                    None => "has no iface".to_string(),
                };
                out.err(Some(d.pos), &format!("fabric_ifaces[{i}].devices[{j}]"), format!("fabric_ifaces[{i}].devices[{j}] {what}"), None, Some("write `- iface: <netdev>` and, on the next line indented to match, `domain: <rdma device>`".into()));
            }
        }
    }
    out.issues
}

/// `daos_control.yml` rules (lib/control/config.go `LoadConfig` and the client checks).
pub fn validate_control(cfg: &ControlConfig, _version: DaosVersion, file: &str) -> Vec<Issue> {
    let mut out = Out {
        file,
        issues: Vec::new(),
    };
    name_rule(&mut out, cfg.name.as_deref(), cfg.name_pos);
    port_rule(
        &mut out,
        "port",
        cfg.port,
        None,
        Some("ClientConfigBadControlPort"),
        false,
    );
    if cfg.hostlist_pos.is_some() && cfg.hostlist.is_empty() {
        out.err(
            cfg.hostlist_pos,
            "hostlist",
            "hostlist is empty: dmg has no server to talk to".into(),
            Some("ClientConfigEmptyHostList"),
            None,
        );
    }
    out.issues
}

/// Hosts named by a list of addresses, ports stripped (`node0:10001` → `node0`).
pub fn hosts(addrs: &[String]) -> BTreeSet<String> {
    addrs
        .iter()
        .flat_map(|a| super::expand_hostlist(a))
        .map(|a| host_of(&a).to_string())
        .collect()
}
