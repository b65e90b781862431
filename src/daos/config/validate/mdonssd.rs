//! MD-on-SSD: `bdev_roles` and `control_metadata` (src/control/server/storage/config.go
//! `BdevRoles.UnmarshalYAML` / `OptionBits.fromStrings` at load, `validateBdevRoles` and
//! `Config.Validate` from engine/config.go `Config.Validate`; DAOS 2.4 to 2.8).

use super::Out;
use crate::daos::config::Pos;
use crate::daos::config::server::{EngineConfig, ServerConfig, StorageClass, StorageTier};

/// `bdev_roles` names as `fromStrings` reads them: `wal`, `meta`, `data` exactly (lower
/// case), empty entries skipped, `na` (any case) ends the list; anything else is
/// FaultBdevConfigOptFlagUnknown while the file loads.
pub(super) fn validate_roles_spelling(
    out: &mut Out,
    cfg: &ServerConfig,
    t: &StorageTier,
    tk: &str,
) {
    let key = format!("{tk}.bdev_roles");
    for (j, r) in t.bdev_roles.iter().enumerate() {
        if r.is_empty() {
            continue;
        }
        if r.eq_ignore_ascii_case("na") {
            break;
        }
        if !["wal", "meta", "data"].contains(&r.as_str()) {
            let lower = r.to_ascii_lowercase();
            let fix = if ["wal", "meta", "data"].contains(&lower.as_str()) {
                format!("write {lower:?} in lower case")
            } else {
                "use wal, meta and data (lower case); leave bdev_roles out for no roles".into()
            };
            out.decode_err(
                cfg.pos_of(&format!("{key}[{j}]")).or(Some(t.pos)),
                &key,
                format!("unknown bdev role {r:?}: DAOS knows data, meta, wal (lower case)"),
                Some("BdevConfigOptFlagUnknown"),
                Some(fix),
            );
            return;
        }
    }
}

/// `validateBdevRoles` (in DAOS's order, first failure only) and the control_metadata
/// rules of storage `Config.Validate`.
pub(super) fn validate_md_on_ssd(
    out: &mut Out,
    cfg: &ServerConfig,
    e: &EngineConfig,
    i: usize,
    sk: &str,
    spos: Option<Pos>,
) {
    let bdevs: Vec<&StorageTier> = e.bdev_tiers().collect();
    let (mut wal, mut meta, mut data) = (0, 0, 0);
    let mut fail = |code: &str, msg: String, fix: &str| {
        out.err(
            spos,
            sk,
            format!("engine {i}: {msg}"),
            Some(code),
            Some(fix.into()),
        );
    };
    for (j, t) in bdevs.iter().enumerate() {
        let roles = t.roles();
        let has_roles = wal + meta + data > 0;
        if roles.is_empty() {
            if has_roles {
                return fail(
                    "BdevConfigRolesMissing",
                    "bdev_roles are set on some bdev tiers but not on all".into(),
                    "give every bdev tier bdev_roles (wal, meta, data), or none of them",
                );
            }
            continue;
        }
        if j != 0 && !has_roles {
            return fail(
                "BdevConfigRolesMissing",
                "bdev_roles are set on some bdev tiers but not on all".into(),
                "give every bdev tier bdev_roles (wal, meta, data), or none of them",
            );
        }
        let (w, m, d) = (
            roles.contains(&"wal"),
            roles.contains(&"meta"),
            roles.contains(&"data"),
        );
        if w && d && !m {
            return fail(
                "BdevConfigRolesWalDataNoMeta",
                "a tier has the wal and data roles without meta".into(),
                "add meta to that tier, or split wal and data over two tiers",
            );
        }
        wal += w as usize;
        meta += m as usize;
        data += d as usize;
    }
    if wal + meta + data == 0 {
        if bdevs.len() > 1 {
            return fail(
                "BdevConfigMultiTierWithoutRoles",
                format!(
                    "{} bdev tiers without bdev_roles: only one is allowed unless roles are set (MD-on-SSD)",
                    bdevs.len()
                ),
                "merge the bdev tiers into one, or set bdev_roles on each",
            );
        }
    } else {
        if e.scm_tiers()
            .next()
            .is_some_and(|t| t.class == Some(StorageClass::Dcpm))
        {
            return fail(
                "BdevConfigRolesWithDCPM",
                "bdev_roles (MD-on-SSD) can't be used with a dcpm SCM tier".into(),
                "use class ram for the first tier, or remove bdev_roles",
            );
        }
        if bdevs.len() > 3 {
            return fail(
                "BdevConfigBadNrTiersWithRoles",
                format!(
                    "{} bdev tiers with roles; MD-on-SSD allows 1 to 3",
                    bdevs.len()
                ),
                "merge the bdev tiers into at most 3",
            );
        }
        for (role, n) in [("wal", wal), ("meta", meta), ("data", data)] {
            if n != 1 {
                return fail(
                    "BdevConfigRolesBadNr",
                    format!("the {role} role is on {n} bdev tiers; exactly one is required"),
                    "assign each of wal, meta and data to exactly one tier",
                );
            }
        }
    }
    let md_path = cfg
        .control_metadata
        .as_ref()
        .is_some_and(|m| m.path.as_deref().is_some_and(|p| !p.is_empty()));
    let has_meta = e.is_md_on_ssd();
    if md_path && !has_meta {
        out.err(spos, sk, format!("engine {i}: control_metadata.path is set but no bdev tier has the meta role"), Some("BdevConfigControlMetadataNoRoles"), Some("remove control_metadata (not MD-on-SSD), or give the bdev tiers bdev_roles wal, meta, data".into()));
    } else if has_meta && !md_path {
        out.err(spos, sk, format!("engine {i}: bdev_roles include meta (MD-on-SSD) but control_metadata.path is not set"), Some("BdevConfigRolesNoControlMetadata"), Some("add control_metadata: {path: /var/daos/config}".into()));
    }
}
