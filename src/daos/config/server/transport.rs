//! The fabric keys (`engine.FabricConfig`, inline at the top level and in each engine) and
//! `transport_config` (security/config.go `TransportConfig`).

use crate::daos::DaosVersion::{V2_0, V2_2, V2_4, V2_6};
use crate::daos::config::walk::{Walker, join};
use crate::daos::config::yaml::Node;
use crate::daos::config::{KeySpec, TransportConfig, key};

/// Keys of `engine.FabricConfig`, accepted both at the top level (inline in `Server`) and
/// in each engine.
pub(super) const FABRIC_KEYS: &[KeySpec] = &[
    key("provider", V2_0, None),
    key("fabric_iface", V2_0, None),
    key("fabric_iface_port", V2_0, None),
    key("bypass_health_chk", V2_0, None),
    key("crt_timeout", V2_0, None),
    key("crt_ctx_share_addr", V2_0, Some(V2_4)),
    key("disable_srx", V2_2, None),
    key("fabric_auth_key", V2_4, None),
    key("secondary_provider_endpoints", V2_6, None),
];

/// `transport_config` keys (security.TransportConfig with CertificateConfig inline).
pub(crate) const TRANSPORT_KEYS: &[KeySpec] = &[
    key("allow_insecure", V2_0, None),
    key("client_cert_dir", V2_0, None),
    key("ca_cert", V2_0, None),
    key("cert", V2_0, None),
    key("key", V2_0, None),
];

pub(super) fn parse_transport(w: &mut Walker, node: &Node, path: &str) -> TransportConfig {
    let mut t = TransportConfig::default();
    for (name, k, v) in w.entries(node, path) {
        let p = join(path, name);
        if !w.known(TRANSPORT_KEYS, name) {
            w.unknown_key(k, name, path, TRANSPORT_KEYS, &[]);
            continue;
        }
        match name {
            "allow_insecure" => t.allow_insecure = w.bool(v, &p).unwrap_or(false),
            "client_cert_dir" => t.client_cert_dir = w.string(v, &p),
            "ca_cert" => t.ca_cert = w.string(v, &p),
            "cert" => t.cert = w.string(v, &p),
            "key" => t.key = w.string(v, &p),
            _ => {}
        }
    }
    t
}

/// Public for the agent and control parsers.
pub(crate) fn transport(w: &mut Walker, node: &Node, path: &str) -> TransportConfig {
    parse_transport(w, node, path)
}
