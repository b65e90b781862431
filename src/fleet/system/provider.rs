//! `system.provider`: one fabric provider on every engine of every server, and the
//! agents' manual `fabric_ifaces` fit it.
//!
//! What "fit" means, from DAOS's agent (v2.6.0/v2.8.0 src/control/cmd/daos_agent/): an
//! agent with `fabric_ifaces` builds a static fabric cache (`infocache.go`
//! `EnableStaticFabricCache`, `fabric.go` `NUMAFabricFromConfig`) whose entries it never
//! tests against the provider ("Manually-provided interfaces can be assumed to support
//! what's needed by the system", `fabric.go` `getDeviceFromNUMA`); it hands each client
//! the servers' provider with that iface, and the `domain` — or the iface name when none
//! is written (`mgmt_rpc.go` `selectAttachInfo`). From a scan, the same code names the
//! domain only when libfabric's interface is not the network interface, e.g. verbs'
//! `mlx5_0` behind `ib0` (`fabric.go` `fabricInterfacesFromHardware`). So:
//! - a device-domain provider (verbs, cxi, opx, psm2, UCX except `ucx+tcp`) needs each
//!   agent device's `domain` written, and not the iface name: else the client opens the
//!   provider on a domain that does not exist and cannot join;
//! - a tcp/sockets provider's domain is the interface itself: a `domain` that is another
//!   name is wrong.
//!
//! The per-host `nic.agent` check already holds the domain to the RDMA device behind the
//! iface; this rule adds what only the fleet knows, the servers' provider.

use std::collections::BTreeMap;

use serde_json::json;

use super::common::{finding, groups, values_json};
use super::{Finding, SysHost};
use crate::checks::Status;
use crate::fleet::nodeset::fold;

/// Explain text of `system.provider`.
pub(super) const EXPLAIN: &str = "Every engine of every server must use one fabric provider, and the agents' manual fabric_ifaces must fit it: DAOS's agent hands clients each listed iface with its domain (the iface name when none is written) without testing them, so a verbs (or cxi, opx, psm2, UCX RDMA) provider needs each device's domain written as its RDMA device (ibdev2netdev), and a tcp/sockets provider a domain that is the interface itself or none. Agents without fabric_ifaces detect interfaces for the servers' provider themselves.";

/// How a provider names its domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Domains {
    /// The network interface (`ofi+tcp`, `ofi+sockets`, `ucx+tcp`).
    Iface,
    /// A device behind the interface (`mlx5_0`, `cxi0`, `hfi1_0`).
    Device,
    /// Unknown provider: not judged.
    Unknown,
}

fn domains(provider: &str) -> Domains {
    // the core provider is the first of `a;b` (`ofi+verbs;ofi_rxm`)
    let core = provider.split(';').next().unwrap_or("").trim();
    match core.to_ascii_lowercase().as_str() {
        "ofi+tcp" | "ofi+sockets" | "ucx+tcp" => Domains::Iface,
        "ofi+verbs" | "ofi+cxi" | "ofi+opx" | "ofi+psm2" => Domains::Device,
        c if c.starts_with("ucx+") => Domains::Device,
        _ => Domains::Unknown,
    }
}

/// Agent devices that do not fit `provider`: (problem, hosts).
fn misfits<'a>(hosts: &'a [SysHost], provider: &str) -> BTreeMap<String, Vec<&'a str>> {
    let kind = domains(provider);
    groups(hosts.iter().flat_map(|h| {
        h.agent.iter().flat_map(move |a| {
            a.ifaces.iter().filter_map(move |d| {
                let dom = d.domain.as_deref().filter(|x| *x != &*d.iface);
                let problem = match (kind, dom) {
                    (Domains::Device, None) => format!(
                        "iface {} without a domain ({provider} needs its RDMA device)",
                        d.iface
                    ),
                    (Domains::Iface, Some(x)) => format!(
                        "iface {} with domain {x} ({provider} domains are interface names)",
                        d.iface
                    ),
                    _ => return None,
                };
                Some((problem, &*h.name))
            })
        })
    }))
}

/// The `system.provider` finding.
pub(super) fn judge(hosts: &[SysHost]) -> Finding {
    let id = "system.provider";
    let g = groups(hosts.iter().filter_map(|h| {
        h.server.as_ref().map(|s| {
            (
                s.providers
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    // not "+": it is part of provider names (`ofi+tcp;ofi_rxm`)
                    .join(" & "),
                &*h.name,
            )
        })
    }));
    // agents' devices as `iface/domain`, grouped: 10,000 clients stay a few lines
    let agents = groups(hosts.iter().filter_map(|h| {
        let a = h.agent.as_ref().filter(|a| !a.ifaces.is_empty())?;
        let list: Vec<String> = a
            .ifaces
            .iter()
            .map(|d| match &d.domain {
                Some(x) => format!("{}/{x}", d.iface),
                None => d.iface.to_string(),
            })
            .collect();
        Some((list.join(" "), &*h.name))
    }));
    let mixed = g.len() > 1 || g.keys().any(|k| k.contains(" & "));
    let one = g.keys().next().map_or("", |s| s.as_str());
    let bad = if mixed {
        BTreeMap::new()
    } else {
        misfits(hosts, one)
    };
    let details = json!({
        "providers": values_json(&g),
        "agent_fabric_ifaces": values_json(&agents),
        "agent_misfits": values_json(&bad),
    });
    let n_agents: usize = agents.values().map(Vec::len).sum();
    match g.len() {
        0 => finding(
            id,
            Status::Skip,
            "no server in the reports".into(),
            details,
            None,
        ),
        _ if mixed => finding(
            id,
            Status::Fail,
            format!(
                "servers use several providers: {}",
                g.iter()
                    .map(|(v, hs)| format!("{v} on {}", fold(hs.iter().copied())))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            details,
            Some("use one provider for every engine of every server"),
        ),
        _ if !bad.is_empty() => finding(
            id,
            Status::Fail,
            format!(
                "agents' fabric_ifaces do not fit the servers' provider {one}: {}",
                bad.iter()
                    .map(|(v, hs)| format!("{v} on {}", fold(hs.iter().copied())))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            details,
            Some(if domains(one) == Domains::Device {
                "write each agent device's domain as the RDMA device behind its iface (ibdev2netdev), or drop fabric_ifaces to let the agent detect them"
            } else {
                "drop the agent devices' domain (a tcp domain is the interface itself), or drop fabric_ifaces to let the agent detect them"
            }),
        ),
        _ => finding(
            id,
            Status::Pass,
            match (n_agents, domains(one)) {
                (0, _) => format!("one provider {one}"),
                (n, Domains::Unknown) => {
                    format!(
                        "one provider {one}; {n} agent(s) list fabric_ifaces (not judged for this provider)"
                    )
                }
                (n, _) => format!("one provider {one}; the fabric_ifaces of {n} agent(s) fit it"),
            },
            details,
            None,
        ),
    }
}
