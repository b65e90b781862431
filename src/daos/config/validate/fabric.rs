//! An engine's fabric settings after inheriting the top-level ones
//! (src/control/server/engine/config.go `FabricConfig.Update`, `FabricConfig.Validate`,
//! DAOS 2.6 and 2.8; 2.0-2.4 have no secondary providers). Port ranges beyond
//! 65535 and overlapping tcp port ranges are not checked by DAOS: the engine fails when it
//! binds, after daos_server started, so they are start-time errors here.

use super::{Out, engine_port_count};
use crate::daos::config::server::{EngineConfig, ServerConfig};

/// engine/config.go `splitMultiProviderStr`: comma-separated, blanks dropped.
pub fn split_multi(s: &str) -> Vec<&str> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .collect()
}

pub(super) fn validate_engine_fabric(
    out: &mut Out,
    cfg: &ServerConfig,
    e: &EngineConfig,
    i: usize,
) {
    let base = format!("engines[{i}]");
    let pos = |k: &str| cfg.pos_of(&format!("{base}.{k}")).or(Some(e.pos));
    let k = |s: &str| format!("{base}.{s}");
    let provider = cfg.engine_provider(e).unwrap_or_default();
    let providers = split_multi(&provider);
    if providers.is_empty() {
        return; // "provider not set": reported once, at the top level (validate/server.rs)
    }
    if let (Some(own), Some(top)) = (&e.provider, &cfg.provider)
        && own.trim() != top.trim()
    {
        out.warn(pos("provider"), &k("provider"), format!("engine {i}: provider {own:?} is ignored: daos_server runs every engine with the top-level provider {top:?}"), None, Some("remove the engine's provider line (set the provider once, at the top level)".into()));
    }
    let iface = cfg.engine_iface(e).unwrap_or_default();
    let ifaces = split_multi(&iface);
    if ifaces.is_empty() {
        out.err(
            pos("fabric_iface"),
            &k("fabric_iface"),
            format!("engine {i}: fabric_iface not set"),
            None,
            Some("set fabric_iface: to the engine's network interface (e.g. ib0)".into()),
        );
        return;
    }
    let port = cfg.engine_port(e).unwrap_or(0);
    if port == 0 {
        out.err(
            pos("fabric_iface_port"),
            &k("fabric_iface_port"),
            format!("engine {i}: fabric_iface_port not set"),
            None,
            Some("set fabric_iface_port: (e.g. 31416; 31316+100*i for engine i)".into()),
        );
        return;
    }
    if port < 0 {
        out.err(
            pos("fabric_iface_port"),
            &k("fabric_iface_port"),
            format!("engine {i}: fabric_iface_port {port} is negative"),
            None,
            Some("use a port from 1024 to 65535 (DAOS examples: 31416)".into()),
        );
        return;
    }
    if ifaces.len() != providers.len() {
        out.err(
            pos("fabric_iface"),
            &k("fabric_iface"),
            format!("engine {i}: {} provider(s) ({provider}) but {} fabric_iface(s) ({iface}): DAOS needs one interface per provider, comma-separated in the same order", providers.len(), ifaces.len()),
            None,
            Some("list as many fabric_iface entries as providers, e.g. provider: ofi+tcp,ofi+verbs with fabric_iface: eth0,ib0".into()),
        );
        return;
    }
    let secondary = providers.len() - 1;
    let sec = if e.secondary_provider_endpoints.is_empty() {
        &cfg.secondary_provider_endpoints
    } else {
        &e.secondary_provider_endpoints
    };
    if secondary > 0 {
        if !sec.is_empty() && sec.len() != secondary {
            out.err(pos("secondary_provider_endpoints"), &k("secondary_provider_endpoints"), format!("engine {i}: secondary_provider_endpoints has {} value(s) for {secondary} secondary provider(s)", sec.len()), None, Some("give one endpoint count per secondary provider (each provider after the first)".into()));
            return;
        }
        if let Some(n) = sec.iter().find(|n| **n < 1) {
            out.err(pos("secondary_provider_endpoints"), &k("secondary_provider_endpoints"), format!("engine {i}: secondary_provider_endpoints value {n}: every value must be at least 1"), None, None);
            return;
        }
    }
    // start time: the engine binds the port (and, for tcp/sockets, one port per CaRT
    // context after it: engine_port_count)
    let width = engine_port_count(&provider, e.targets, e.nr_xs_helpers) - 1;
    if port + width > 65535 {
        out.start_err(
            pos("fabric_iface_port"),
            &k("fabric_iface_port"),
            format!("engine {i}: fabric_iface_port {port}{} passes 65535: DAOS loads the file but the engine can't bind it when it starts", if width > 0 { format!(" (with {provider}, ports {port}-{})", port + width) } else { String::new() }),
            None,
            Some(format!("use a port from 1024 to {}", 65535 - width)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_provider_split() {
        assert_eq!(split_multi("ofi+tcp, ofi+verbs"), ["ofi+tcp", "ofi+verbs"]);
        assert!(split_multi(" , ").is_empty());
        assert_eq!(split_multi("eth0,"), ["eth0"]);
    }
}
