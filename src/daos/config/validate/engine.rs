//! One engine of `daos_server.yml` (engine/config.go `Config.Validate`,
//! storage/config.go `TierConfigs.Validate`, `validateBdevRoles`).

use super::{Out, provider_uses_port_range};
use crate::daos::config::server::{EngineConfig, ServerConfig};

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
}
