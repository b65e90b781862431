//! `nic.present`, `nic.link`, `nic.address`, `nic.numa` for each engine's
//! `fabric_iface`, and `nic.agent` for the agent's `fabric_ifaces`.
//!
//! Sources: server/server_utils.go `checkFabricInterface` (the interface must exist and
//! have an address, else the engine does not start), config/server.go
//! `SetEngineAffinities` and engine/config.go `SetNUMAAffinity` (a pinned_numa_node
//! different from the interface's node is only a notice; no detected affinity means
//! node 0), and cmd/daos_agent/config.go (`fabric_ifaces[].devices[]` = `iface` +
//! `domain`, the domain of a verbs interface being its RDMA device, as `ibdev2netdev`
//! shows; of a tcp interface, the interface itself).
//!
//! The agent's interface checks are a check of their own (`nic.agent`) rather than part
//! of `config.agent`: `config.agent` judges the file as DAOS parses it, the same on every
//! host, while these depend on the host's NICs, so `--only nic` selects all of them. The
//! agent's `runtime_dir` is judged with the other directories in `daos.dirs`.

use super::config::server_for_requirements;
use super::{Check, Context, Finding};
use crate::daos::config::{FileLoad, Role, ServerConfig};
use crate::facts::{Facts, IbPort, NetInterface};

/// The engines' fabric interfaces: (engine index, interface name, provider).
fn engine_ifaces(cfg: &ServerConfig) -> Vec<(usize, String, String)> {
    cfg.engines
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            Some((
                i,
                cfg.engine_iface(e)?,
                cfg.engine_provider(e).unwrap_or_default(),
            ))
        })
        .collect()
}

fn iface<'a>(f: &'a Facts, name: &str) -> Option<&'a NetInterface> {
    f.net.interfaces.iter().find(|i| i.name == name)
}

/// The RDMA port behind a netdev: the port mapped to it, else the device's only port.
fn ib_port<'a>(f: &'a Facts, n: &NetInterface) -> Option<(&'a str, &'a IbPort)> {
    let dev = f
        .net
        .infiniband
        .iter()
        .find(|d| Some(&d.name) == n.rdma_device.as_ref())?;
    let port = dev
        .ports
        .iter()
        .find(|p| p.netdev.as_deref() == Some(&n.name))
        .or_else(|| (dev.ports.len() == 1).then(|| &dev.ports[0]))?;
    Some((&dev.name, port))
}

/// The engines' interfaces, or the finding that says why there are none.
#[allow(clippy::result_large_err)] // the Err is the finding itself
fn targets(ctx: &Context) -> Result<Vec<(usize, String, String)>, Finding> {
    let cfg = server_for_requirements(ctx)?;
    let v = engine_ifaces(cfg);
    if v.is_empty() {
        return Err(Finding::skip(
            "no engine sets fabric_iface (see config.server)",
        ));
    }
    if !ctx.facts.source.sysfs {
        return Err(Finding::skip(
            "no sysfs visible: network interfaces can't be looked up",
        ));
    }
    Ok(v)
}

fn verdict(
    fails: Vec<String>,
    warns: Vec<String>,
    ok: Vec<String>,
    fix: &str,
    actions: &[String],
) -> Finding {
    if !fails.is_empty() {
        Finding::fail(fails.join("; ")).fix(fix, actions, false)
    } else if !warns.is_empty() {
        Finding::warn(warns.join("; ")).fix(fix, actions, false)
    } else {
        Finding::pass(ok.join("; "))
    }
}

/// `nic.present`
pub struct Present;

impl Check for Present {
    fn id(&self) -> &'static str {
        "nic.present"
    }
    fn title(&self) -> &'static str {
        "Fabric interfaces exist"
    }
    fn explain(&self) -> &'static str {
        "Each engine's fabric_iface (inherited from the top level when the engine sets none) must \
be a network interface of this host (server_utils.go checkFabricInterface); an ofi+verbs (or \
ucx) provider also needs an RDMA device behind it (/sys/class/net/IF/device/infiniband).\n\
pass: all present. fail: an interface is missing, or verbs without an RDMA device. skip: no \
server configuration."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let t = match targets(ctx) {
            Ok(t) => t,
            Err(f) => return f,
        };
        let (mut ok, mut fails) = (Vec::new(), Vec::new());
        let names: Vec<&str> = ctx
            .facts
            .net
            .interfaces
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        for (i, name, provider) in &t {
            match iface(ctx.facts, name) {
                None => fails.push(format!(
                    "engine {i}: fabric_iface {name} does not exist (interfaces: {})",
                    names.join(", ")
                )),
                Some(n) => {
                    let rdma_needed = provider.contains("verbs") || provider.starts_with("ucx");
                    match (&n.rdma_device, rdma_needed) {
                        (None, true) => fails.push(format!(
                            "engine {i}: {name} has no RDMA device, but provider {provider} needs one (load the RDMA driver, e.g. mlx5_ib, or use ofi+tcp)"
                        )),
                        (Some(r), _) => ok.push(format!("engine {i}: {name} ({r})")),
                        (None, false) => ok.push(format!("engine {i}: {name}")),
                    }
                }
            }
        }
        verdict(
            fails,
            vec![],
            ok,
            "set fabric_iface to an interface of this host (ip -br link; ibdev2netdev)",
            &["ip -br link".to_string()],
        )
        .detail("interfaces", &names)
    }
}

/// `nic.link`
pub struct Link;

impl Check for Link {
    fn id(&self) -> &'static str {
        "nic.link"
    }
    fn title(&self) -> &'static str {
        "Fabric links are up"
    }
    fn explain(&self) -> &'static str {
        "Each engine's fabric_iface must be operationally up (operstate up); for an interface \
with an RDMA device (InfiniBand, RoCE) the RDMA port must also be 4: ACTIVE (an IB port stays \
INIT without a subnet manager).\n\
pass: up and active. warn: operstate unknown (some drivers never report). fail: down, or the \
RDMA port not active. skip: no server configuration, or the interface is missing (nic.present)."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let t = match targets(ctx) {
            Ok(t) => t,
            Err(f) => return f,
        };
        let (mut ok, mut warns, mut fails, mut actions) = (vec![], vec![], vec![], vec![]);
        for (i, name, _) in &t {
            let Some(n) = iface(ctx.facts, name) else {
                continue;
            };
            let state = n.operstate.as_deref().unwrap_or("unknown");
            match state {
                "up" => {}
                "unknown" => warns.push(format!("engine {i}: {name} operstate unknown")),
                s => {
                    fails.push(format!(
                        "engine {i}: {name} is {s}{}",
                        if n.carrier == Some(false) {
                            " (no carrier: cable/switch)"
                        } else {
                            ""
                        }
                    ));
                    actions.push(format!(
                        "ip link set {name} up   # and check the cable/switch port"
                    ));
                    continue;
                }
            }
            match ib_port(ctx.facts, n) {
                Some((dev, p)) => {
                    let st = p.state.as_deref().unwrap_or("unknown");
                    if st.contains("ACTIVE") && !st.contains("INACTIVE") {
                        ok.push(format!(
                            "engine {i}: {name} {state}, {dev} port {} {st}{}",
                            p.port,
                            p.rate
                                .as_deref()
                                .map(|r| format!(" ({r})"))
                                .unwrap_or_default()
                        ));
                    } else {
                        fails.push(format!(
                            "engine {i}: {name} is {state} but {dev} port {} is {st}, not 4: ACTIVE{}",
                            p.port,
                            if st.contains("INIT") { " (no subnet manager? start opensm or check the fabric's SM)" } else { "" }
                        ));
                        actions.push(format!(
                            "ibstat {dev} {}   # physical state: {}",
                            p.port,
                            p.phys_state.as_deref().unwrap_or("?")
                        ));
                    }
                }
                None => ok.push(format!("engine {i}: {name} {state}")),
            }
        }
        if ok.is_empty() && warns.is_empty() && fails.is_empty() {
            return Finding::skip("no configured fabric interface exists (see nic.present)");
        }
        verdict(fails, warns, ok, "bring the fabric link up", &actions)
    }
}

/// `nic.address`
pub struct Address;

impl Check for Address {
    fn id(&self) -> &'static str {
        "nic.address"
    }
    fn title(&self) -> &'static str {
        "Fabric interfaces have an address"
    }
    fn explain(&self) -> &'static str {
        "daos_server refuses an engine whose fabric_iface has no IPv4/IPv6 address \
(server_utils.go checkFabricInterface: \"no network addresses for interface\").\n\
pass: every interface has one. fail: one has none. skip: under --root (addresses are only \
known live), or no server configuration."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let t = match targets(ctx) {
            Ok(t) => t,
            Err(f) => return f,
        };
        let (mut ok, mut fails, mut actions) = (vec![], vec![], vec![]);
        for (i, name, _) in &t {
            let Some(n) = iface(ctx.facts, name) else {
                continue;
            };
            let Some(addrs) = &n.addresses else {
                return Finding::skip(
                    "addresses are only known on the live host (not under --root)",
                );
            };
            if addrs.is_empty() {
                fails.push(format!("engine {i}: {name} has no IP address"));
                actions.push(format!(
                    "nmcli connection up {name}   # or: ip addr add <addr>/<len> dev {name}"
                ));
            } else {
                ok.push(format!("engine {i}: {name} {}", addrs.join(" ")));
            }
        }
        if ok.is_empty() && fails.is_empty() {
            return Finding::skip("no configured fabric interface exists (see nic.present)");
        }
        verdict(
            fails,
            vec![],
            ok,
            "give the fabric interface an address",
            &actions,
        )
    }
}

/// `nic.numa`
pub struct Numa;

impl Check for Numa {
    fn id(&self) -> &'static str {
        "nic.numa"
    }
    fn title(&self) -> &'static str {
        "Engines and their NICs share a NUMA node"
    }
    fn explain(&self) -> &'static str {
        "An engine pinned to a NUMA node (pinned_numa_node) should use a fabric interface on that \
node: DAOS only logs a notice on a mismatch (engine/config.go SetNUMAAffinity), but every \
RPC then crosses the socket interconnect. An interface without NUMA affinity (numa_node -1, \
virtual NICs) makes DAOS assume node 0.\n\
pass: nodes match (or the engine follows its NIC). warn: a mismatch, or no NUMA affinity \
known. skip: no server configuration, or the interface is missing."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let cfg = match server_for_requirements(ctx) {
            Ok(c) => c,
            Err(f) => return f,
        };
        let t = match targets(ctx) {
            Ok(t) => t,
            Err(f) => return f,
        };
        let (mut ok, mut warns) = (vec![], vec![]);
        for (i, name, _) in &t {
            let Some(n) = iface(ctx.facts, name) else {
                continue;
            };
            let pinned = cfg.engines[*i].pinned_numa_node;
            let legacy = cfg.engines[*i].first_core.is_some_and(|c| c != 0);
            match (pinned, n.numa_node) {
                (_, None) => warns.push(format!(
                    "engine {i}: {name} reports no NUMA node: DAOS assumes node 0{}",
                    pinned.map(|p| format!(" (pinned_numa_node {p})")).unwrap_or_default()
                )),
                (Some(p), Some(m)) if p != i64::from(m) && !legacy => warns.push(format!(
                    "engine {i}: pinned_numa_node {p} but {name} is on node {m}: traffic crosses sockets"
                )),
                (Some(p), Some(_)) => ok.push(format!("engine {i}: node {p}, {name} on the same node")),
                (None, Some(m)) => ok.push(format!("engine {i}: follows {name} to node {m}")),
            }
        }
        if ok.is_empty() && warns.is_empty() {
            return Finding::skip("no configured fabric interface exists (see nic.present)");
        }
        verdict(
            vec![],
            warns,
            ok,
            "pin each engine to its NIC's NUMA node (pinned_numa_node) or pick a NIC on the engine's node",
            &[],
        )
    }
}

/// `nic.agent`
pub struct Agent;

impl Check for Agent {
    fn id(&self) -> &'static str {
        "nic.agent"
    }
    fn title(&self) -> &'static str {
        "Agent fabric interfaces and domains exist"
    }
    fn explain(&self) -> &'static str {
        "daos_agent.yml may list the interfaces clients use per NUMA node \
(fabric_ifaces[].devices[] with iface and domain). Each entry needs an iface that exists on \
this host; a domain, when given, must be the RDMA device behind that interface (what \
ibdev2netdev shows, e.g. mlx5_1 for ib1), or the interface itself for tcp. A fabric_ifaces \
entry's numa_node should be the interface's node.\n\
pass: all match. warn: a numa_node differs. fail: a missing iface or a wrong domain. skip: no \
agent file, or it lists no fabric_ifaces (the agent then detects interfaces itself)."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let Some(c) = ctx.config else {
            return Finding::skip("no DAOS configuration was read");
        };
        let a = match &c.agent {
            FileLoad::Loaded { config, .. } => config,
            FileLoad::Absent { path } if c.role == Role::Server => {
                return Finding::skip(format!("server node: {path} not present"));
            }
            FileLoad::Absent { path } => {
                return Finding::skip(format!("{path} not found"));
            }
            other => {
                return Finding::skip(format!("{} not loaded (see config.agent)", other.path()));
            }
        };
        if a.fabric_ifaces.is_empty() {
            return Finding::skip(
                "daos_agent.yml sets no fabric_ifaces: the agent detects interfaces itself",
            );
        }
        let f = ctx.facts;
        let (mut ok, mut warns, mut fails) = (vec![], vec![], vec![]);
        for (i, nf) in a.fabric_ifaces.iter().enumerate() {
            for (j, d) in nf.devices.iter().enumerate() {
                let at = format!("fabric_ifaces[{i}].devices[{j}] (line {})", d.pos.line);
                let Some(name) = &d.iface else {
                    fails.push(format!(
                        "{at}: no iface{}",
                        d.domain
                            .as_deref()
                            .map(|dm| format!(" (domain {dm} is a separate list item: put it under the iface, without '- ')"))
                            .unwrap_or_default()
                    ));
                    continue;
                };
                let Some(n) = iface(f, name) else {
                    fails.push(format!("{at}: iface {name} does not exist on this host"));
                    continue;
                };
                match (&d.domain, &n.rdma_device) {
                    (Some(dm), Some(r)) if dm != r && dm != name => fails.push(format!(
                        "{at}: domain {dm}, but the RDMA device behind {name} is {r}"
                    )),
                    (Some(dm), None) if dm != name => fails.push(format!(
                        "{at}: domain {dm}, but {name} has no RDMA device (a tcp domain is the interface name)"
                    )),
                    _ => ok.push(format!(
                        "{name}{}",
                        n.rdma_device.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
                    )),
                }
                if let (Some(want), Some(have)) = (nf.numa_node, n.numa_node)
                    && want != i64::from(have)
                {
                    warns.push(format!(
                        "{at}: listed under numa_node {want}, but {name} is on node {have}"
                    ));
                }
            }
        }
        verdict(
            fails,
            warns,
            ok,
            "list each interface with its own iface and matching domain (ibdev2netdev shows the pairs)",
            &["ibdev2netdev   # or: rdma link show".to_string()],
        )
    }
}
