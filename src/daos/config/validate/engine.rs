//! One engine of `daos_server.yml` (engine/config.go `Config.Validate`,
//! storage/config.go `TierConfigs.Validate`, `validateBdevRoles`).

use super::Out;
use crate::daos::config::server::{EngineConfig, ServerConfig};

pub(super) fn validate_engine(out: &mut Out, cfg: &ServerConfig, e: &EngineConfig, i: usize) {
    let base = format!("engines[{i}]");
    let pos = |k: &str| cfg.pos_of(&format!("{base}.{k}")).or(Some(e.pos));
    let k = |s: &str| format!("{base}.{s}");
    // Config.Validate refuses pinned_numa_node with a non-zero first_core, but
    // SetEngineAffinities (server.go, run before it) has already dropped one of the two:
    // first_core selects the legacy allocation and pinned_numa_node is ignored (a
    // warning in validate/server.rs). So DAOS loads such a file.
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
    super::fabric::validate_engine_fabric(out, cfg, e, i);
}
