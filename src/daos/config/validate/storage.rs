//! An engine's `storage:` tiers: src/control/server/storage/config.go
//! `TierConfigs.Validate`, `TierConfig.Validate`, `ScmConfig.Validate`,
//! `BdevConfig.Validate` (run from engine/config.go `Config.Validate`), and the
//! `bdev_list` / `bdev_busid_range` decoders that run while the file loads (pci.rs).
//! Non-fault errors are wrapped by DAOS into FaultBadConfig.

use super::mdonssd::{validate_md_on_ssd, validate_roles_spelling};
use super::pci::{check_bdev_list, parse_bus_range};
use super::{MIN_RAMDISK_BYTES, Out};
use crate::daos::DaosVersion;
use crate::daos::config::server::{EngineConfig, ServerConfig, StorageClass, StorageTier};

/// storage/config.go `maxScmDeviceLen`.
const MAX_SCM_DEVICES: usize = 1;

/// Load-time checks of every tier (they run even when `Validate` never does).
pub(super) fn validate_tier_decoding(
    out: &mut Out,
    cfg: &ServerConfig,
    e: &EngineConfig,
    i: usize,
) {
    for (t_idx, t) in e.storage.iter().enumerate() {
        let tk = format!("engines[{i}].storage[{t_idx}]");
        let tp = |f: &str| cfg.pos_of(&format!("{tk}.{f}")).or(Some(t.pos));
        if !t.bdev_list.is_empty() {
            check_bdev_list(
                out,
                &t.bdev_list,
                &format!("{tk}.bdev_list"),
                tp("bdev_list"),
            );
        }
        if let Some(r) = &t.bdev_busid_range
            && let Err(why) = parse_bus_range(r)
        {
            let key = format!("{tk}.bdev_busid_range");
            out.decode_err(
                tp("bdev_busid_range"),
                &key,
                format!("{key} {r:?} is refused by DAOS: {why}"),
                None,
                Some("write the PCI bus range as BEGIN-END, e.g. 0x80-0x8f (hex needs the 0x prefix), or remove it".into()),
            );
        }
        validate_roles_spelling(out, cfg, t, &tk);
    }
}

fn validate_tier(
    out: &mut Out,
    v: DaosVersion,
    t: &StorageTier,
    i: usize,
    tk: &str,
    tp: &dyn Fn(&str) -> Option<crate::daos::config::Pos>,
) {
    let Some(class) = t.class else {
        out.err(
            tp(""),
            tk,
            format!("engine {i} {tk}: no storage class set"),
            None,
            Some("add class: ram, dcpm, nvme, file or kdev".into()),
        );
        return;
    };
    let k = |f: &str| format!("{tk}.{f}");
    let cls = class.as_str();
    if class.is_scm() {
        if t.scm_mount.as_deref().unwrap_or("").is_empty() {
            out.err(
                tp(""),
                &k("scm_mount"),
                format!("engine {i}: the {cls} tier has no scm_mount"),
                None,
                Some("set scm_mount: to the mount point, e.g. /mnt/daos0".into()),
            );
            return;
        }
        if class == StorageClass::Dcpm {
            if t.scm_size.is_some_and(|s| s > 0) {
                out.err(
                    tp("scm_size"),
                    &k("scm_size"),
                    "scm_size may not be set when class is dcpm (it sizes a RAM-disk)".into(),
                    None,
                    Some("remove scm_size".into()),
                );
                return;
            }
            if t.scm_list.is_empty() {
                out.err(
                    tp(""),
                    &k("scm_list"),
                    format!(
                        "engine {i}: class dcpm needs scm_list (the pmem device, e.g. [/dev/pmem0])"
                    ),
                    None,
                    None,
                );
                return;
            }
            // 2.4 and 2.6 refuse it; 2.8 made the field a pointer and dropped the rule
            if v < DaosVersion::V2_8 && t.scm_hugepages_disabled == Some(true) {
                out.err(
                    tp("scm_hugepages_disabled"),
                    &k("scm_hugepages_disabled"),
                    format!("scm_hugepages_disabled may not be set when class is dcpm (DAOS {v})"),
                    None,
                    Some("remove scm_hugepages_disabled (it applies to class ram only)".into()),
                );
                return;
            }
        } else {
            if !t.scm_list.is_empty() {
                out.err(
                    tp("scm_list"),
                    &k("scm_list"),
                    "scm_list may not be set when class is ram".into(),
                    None,
                    Some("remove scm_list (it names pmem devices, class dcpm)".into()),
                );
                return;
            }
            if let Some(s) = t.scm_size
                && s != 0
                && s.wrapping_mul(1 << 30) < MIN_RAMDISK_BYTES
            {
                out.err(
                    tp("scm_size"),
                    &k("scm_size"),
                    format!(
                        "engine {i}: scm_size {s} GiB is below the 4 GiB minimum RAM-disk size"
                    ),
                    Some("ServerConfigRamdiskUnderMinMem"),
                    Some(
                        "set scm_size: 4 or more (or remove it to let DAOS size the RAM-disk)"
                            .into(),
                    ),
                );
                return;
            }
        }
        if t.scm_list.len() > MAX_SCM_DEVICES {
            out.err(
                tp("scm_list"),
                &k("scm_list"),
                format!(
                    "engine {i}: scm_list has {} devices; DAOS allows {MAX_SCM_DEVICES} per engine",
                    t.scm_list.len()
                ),
                None,
                Some("give each engine one pmem device (one engine per pmem namespace)".into()),
            );
        }
        return;
    }
    if t.bdev_size.is_some_and(|s| s < 0) {
        out.err(
            tp("bdev_size"),
            &k("bdev_size"),
            "bdev_size is negative".into(),
            None,
            Some("set bdev_size to the file size in GiB".into()),
        );
        return;
    }
    match class {
        StorageClass::File | StorageClass::Kdev if t.bdev_list.is_empty() => out.err(tp(""), &k("bdev_list"), format!("engine {i}: class {cls} requires a non-empty bdev_list"), None, None),
        StorageClass::File if t.bdev_size.unwrap_or(0) == 0 => out.err(tp(""), &k("bdev_size"), format!("engine {i}: class file requires a non-zero bdev_size (GiB)"), None, Some("set bdev_size: (GiB per file)".into())),
        StorageClass::Nvme if !t.bdev_list.iter().any(|a| super::pci::maybe_pci(a) && super::pci::parse_pci(a).is_ok()) => out.err(
            tp("bdev_list"),
            &k("bdev_list"),
            format!("engine {i}: class nvme requires PCI addresses in bdev_list, found {:?}", t.bdev_list),
            None,
            Some("list the SSDs' PCI addresses (e.g. [\"0000:81:00.0\"]), or use class file/kdev for paths".into()),
        ),
        _ => {}
    }
}

pub(super) fn validate_storage(
    out: &mut Out,
    cfg: &ServerConfig,
    v: DaosVersion,
    e: &EngineConfig,
    i: usize,
) {
    let sk = format!("engines[{i}].storage");
    let spos = cfg.pos_of(&sk).or(Some(e.pos));
    if e.storage.is_empty() {
        out.err(
            spos,
            &sk,
            format!("engine {i}: no storage tiers configured"),
            None,
            Some("add a storage: list whose first tier is class ram or dcpm".into()),
        );
        return;
    }
    if e.scm_tiers().next().is_none() {
        out.err(
            spos,
            &sk,
            format!("engine {i}: no SCM tier (class ram or dcpm) in storage"),
            Some("ScmConfigTierMissing"),
            Some("make the first tier class ram (with scm_mount) or dcpm".into()),
        );
        return;
    }
    let emulated = e
        .bdev_tiers()
        .any(|t| t.class != Some(StorageClass::Nvme) && !t.bdev_list.is_empty());
    if e.has_real_nvme() && emulated {
        out.err(
            spos,
            &sk,
            format!("engine {i}: mixes NVMe and emulated (file/kdev) bdev tiers"),
            Some("BdevConfigTierTypeMismatch"),
            Some("use either class nvme or class file/kdev tiers in one engine".into()),
        );
        return;
    }
    let before = out.issues.len();
    for (t_idx, t) in e.storage.iter().enumerate() {
        let tk = format!("{sk}[{t_idx}]");
        let tpos = cfg.pos_of(&tk).or(Some(t.pos));
        let tp = |f: &str| {
            if f.is_empty() {
                tpos
            } else {
                cfg.pos_of(&format!("{tk}.{f}")).or(tpos)
            }
        };
        validate_tier(out, v, t, i, &tk, &tp);
    }
    if out.issues.len() > before {
        return; // DAOS stops at the first tier that fails
    }
    // validateBdevRoles: exactly one SCM tier, and it is the first
    let scm: Vec<usize> = (0..e.storage.len())
        .filter(|&t| e.storage[t].class.is_some_and(StorageClass::is_scm))
        .collect();
    if scm != [0] {
        out.err(spos, &sk, format!("engine {i}: the first storage tier must be the only SCM tier (class ram or dcpm); found SCM at tier(s) {scm:?}"), None, Some("put one ram or dcpm tier first, then the nvme/file/kdev tiers".into()));
        return;
    }
    // the roles (TierConfigs.validateBdevRoles) are judged before 2.8 meets an SSD in
    // two tiers, and their error ends the engine's validation
    let errors = |out: &Out| {
        out.issues
            .iter()
            .filter(|x| x.severity == crate::daos::config::Severity::Error)
            .count()
    };
    let before = errors(out);
    validate_md_on_ssd(out, cfg, e, i, &sk, spos);
    if errors(out) == before {
        shared_across_tiers(out, cfg, v, e, i);
    }
}

/// One NVMe in two bdev tiers of an engine (MD-on-SSD roles split the SSDs between
/// tiers). DAOS 2.8 builds the engine's PCI address set from all tiers and stops on the
/// duplicate (the v2.8.0 oracle panics: "bdev_list: duplicate PCI address"); DAOS 2.6
/// loads the file and hands SPDK the same controller for two roles.
fn shared_across_tiers(
    out: &mut Out,
    cfg: &ServerConfig,
    v: DaosVersion,
    e: &EngineConfig,
    i: usize,
) {
    let mut seen: Vec<(String, usize)> = Vec::new();
    for (t_idx, t) in e.storage.iter().enumerate() {
        if t.class != Some(StorageClass::Nvme) {
            continue;
        }
        let mut here: Vec<String> = Vec::new();
        for a in &t.bdev_list {
            let c = super::pci::canonical_bdev(a);
            if here.contains(&c) {
                continue; // a duplicate inside one tier is BdevConfig.Validate's
            }
            here.push(c.clone());
            let Some((_, first)) = seen.iter().find(|(s, _)| *s == c) else {
                seen.push((c, t_idx));
                continue;
            };
            let key = format!("engines[{i}].storage[{t_idx}].bdev_list");
            let pos = cfg.pos_of(&key).or(Some(t.pos));
            let msg = format!(
                "engine {i}: NVMe {c} is in the bdev_list of storage tiers {first} and {t_idx}"
            );
            let fix = Some(format!(
                "list {c} in one tier only: each SSD serves one tier (its bdev_roles)"
            ));
            if v >= DaosVersion::V2_8 {
                out.err(
                    pos,
                    &key,
                    format!("{msg}: DAOS 2.8 refuses the file (duplicate PCI address)"),
                    None,
                    fix,
                );
            } else {
                out.warn(pos, &key, format!("{msg}: DAOS {v} loads it, but one SSD cannot hold two tiers' roles, and DAOS 2.8 refuses the file"), None, fix);
            }
            return;
        }
    }
}
