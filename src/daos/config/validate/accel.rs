//! An engine's `acceleration:` section, judged while DAOS loads the file
//! (src/control/server/storage/config.go `AccelProps.UnmarshalYAML`,
//! `AccelOptionBits.UnmarshalYAML` / `OptionBits.fromStrings`; engine names from
//! src/include/daos_srv/control.h `NVME_ACCEL_*`; DAOS 2.4 to 2.8).

use super::Out;
use crate::daos::config::server::{EngineConfig, ServerConfig};

pub(super) fn validate_accel(out: &mut Out, cfg: &ServerConfig, e: &EngineConfig, i: usize) {
    let Some(a) = &e.acceleration else { return };
    let key = format!("engines[{i}].acceleration");
    // options first: they are decoded inside the section, before the engine is judged
    for (j, o) in a.options.iter().enumerate() {
        if o.is_empty() {
            continue;
        }
        if o.eq_ignore_ascii_case("na") {
            break;
        }
        if o != "crc" && o != "move" {
            let k = format!("{key}.options");
            out.decode_err(
                cfg.pos_of(&format!("{k}[{j}]")).or(Some(a.pos)),
                &k,
                format!("unknown acceleration option {o:?}: DAOS knows crc and move (lower case)"),
                Some("BdevConfigOptFlagUnknown"),
                Some("use options: [crc, move] (or leave options out for both)".into()),
            );
            return;
        }
    }
    if let Some(eng) = &a.engine
        && !["none", "spdk", "dml"].contains(&eng.as_str())
    {
        let k = format!("{key}.engine");
        out.decode_err(
            cfg.pos_of(&k).or(Some(a.pos)),
            &k,
            format!(
                "unknown acceleration engine {eng:?}: DAOS knows none, spdk and dml (lower case)"
            ),
            Some("BdevAccelEngineUnknown"),
            Some("set engine: spdk or dml, or remove the acceleration section".into()),
        );
    }
}
