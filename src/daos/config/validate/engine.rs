//! One engine of `daos_server.yml` (engine/config.go `Config.Validate`,
//! storage/config.go `TierConfigs.Validate`, `validateBdevRoles`).

use std::collections::BTreeSet;

use super::{MIN_RAMDISK_BYTES, Out, looks_like_pci, provider_uses_port_range};
use crate::daos::config::server::{EngineConfig, ServerConfig, StorageClass};

pub(super) fn validate_engine(out: &mut Out, cfg: &ServerConfig, e: &EngineConfig, i: usize) {
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
