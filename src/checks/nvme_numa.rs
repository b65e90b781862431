//! `nvme.numa`: each engine's NVMe SSDs (and VMD domains) on the engine's NUMA node.
//!
//! DAOS does not refuse an engine whose SSDs hang off the other socket: engine/config.go
//! `SetNUMAAffinity` (v2.6.0) gives the engine's storage tiers the engine's node, SPDK
//! reports each controller's socket (storage/bdev.go `NvmeController.SocketID`, what
//! `dmg storage scan --verbose` prints), and every I/O of that engine then crosses the
//! socket interconnect. With `enable_hotplug` and neither VMD nor `hotplug_busid_range`,
//! the engine's hotplug bus range is that of its node's PCI buses (storage/provider.go
//! `setHotplugRange`, storage/bdev.go `getNumaNodeBusidRange`), so a re-inserted SSD of
//! the other node is not picked up again either.

use std::collections::BTreeSet;

use super::config::server_for_requirements;
use super::locality::{device_node, engine_nodes};
use super::nvme::{is_vmd, pci};
use super::{Check, Context, Finding};
use crate::daos::requirements::{NvmeAddress, configured_nvme};

/// `nvme.numa`
pub struct Numa;

impl Check for Numa {
    fn id(&self) -> &'static str {
        "nvme.numa"
    }
    fn title(&self) -> &'static str {
        "Engines' NVMe on the engines' NUMA nodes"
    }
    fn explain(&self) -> &'static str {
        "Each engine's bdev_list SSDs (class nvme; for an address behind an Intel VMD controller, \
the VMD domain's controller) should sit on the engine's NUMA node. The engine's node is the one \
DAOS pins it to (config/server.go SetEngineAffinities: pinned_numa_node, else its fabric_iface's \
node, else 0; with first_core, or a single unpinned engine on node 0, the legacy allocation from \
that core, whose node is used). The device's node is its sysfs numa_node, and where the kernel \
says -1, the one node its local_cpulist falls in, as hwloc places it. DAOS only passes the node \
to the storage tiers (engine/config.go SetNUMAAffinity); SPDK reports the controller's socket \
(dmg storage scan --verbose); nothing stops the engine, but every I/O then crosses the socket \
interconnect, and with enable_hotplug the hotplug bus range is that of the engine's node \
(storage/provider.go setHotplugRange).\n\
pass: every SSD on its engine's node, or a single-node host. warn: an SSD on another node, or \
one whose node can't be told (numa_node -1 and local CPUs spanning nodes). skip: no nvme \
bdevs, no sysfs, or none of the devices exists (nvme.present)."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let cfg = match server_for_requirements(ctx) {
            Ok(c) => c,
            Err(f) => return f,
        };
        let f = ctx.facts;
        let nvme = configured_nvme(cfg);
        if nvme.is_empty() {
            return Finding::skip("no class nvme bdev_list entries");
        }
        if !f.source.sysfs {
            return Finding::skip("no sysfs visible: PCI devices can't be located");
        }
        let engines = engine_nodes(f, cfg);
        let host_nodes = f.numa.nodes.len();
        let (mut ok, mut warns, mut unknown) = (vec![], vec![], vec![]);
        let mut seen = BTreeSet::new();
        let mut remedies: Vec<String> = Vec::new();
        let mut devices: Vec<serde_json::Value> = Vec::new();
        for n in &nvme {
            let Some(addr) = n.sysfs_address() else {
                continue;
            };
            let Some(d) = pci(f, addr) else { continue };
            // several VMD-backed SSDs share one domain: judge the domain once per engine
            if !seen.insert((n.engine, addr.to_string())) {
                continue;
            }
            let what = match &n.address {
                NvmeAddress::VmdBacking { .. } => format!("{} (VMD domain {addr})", n.written),
                _ if is_vmd(d) => format!("VMD domain {addr}"),
                _ => addr.to_string(),
            };
            let e = &engines[n.engine];
            let dn = device_node(f, d);
            devices.push(serde_json::json!({
                "engine": n.engine, "entry": n.written, "address": addr,
                "node": dn.node, "how": dn.how, "engine_node": e.node,
            }));
            let (Some(en), Some(dnode)) = (e.node, dn.node) else {
                if host_nodes > 1 {
                    unknown.push(format!(
                        "engine {} {what}: NUMA node unknown ({}{})",
                        n.engine,
                        dn.how,
                        if e.node.is_none() {
                            format!("; the engine's node unknown: {}", e.how)
                        } else {
                            String::new()
                        }
                    ));
                }
                continue;
            };
            if en == dnode || host_nodes <= 1 {
                ok.push(format!(
                    "engine {} (node {en}): {what} on node {dnode} ({})",
                    n.engine, dn.how
                ));
                continue;
            }
            warns.push(format!(
                "engine {} is on node {en} ({}) but {what} is on node {dnode} ({}): every I/O crosses the socket interconnect",
                n.engine, e.how, dn.how
            ));
            let local: Vec<String> = engines
                .iter()
                .enumerate()
                .filter(|(_, x)| x.node == Some(dnode))
                .map(|(i, _)| format!("engine {i}"))
                .collect();
            remedies.push(if local.is_empty() {
                format!(
                    "{what}: move it to a slot of node {en}, or pin engine {} to node {dnode} (pinned_numa_node: {dnode}) with a fabric_iface there",
                    n.engine
                )
            } else {
                format!(
                    "{what}: list it under {} (on node {dnode}) instead of engine {}, or move it to a slot of node {en}",
                    local.join("/"),
                    n.engine
                )
            });
        }
        if ok.is_empty() && warns.is_empty() && unknown.is_empty() {
            return Finding::skip(
                "none of the configured NVMe devices exists on this host (see nvme.present)",
            );
        }
        let finding = if !warns.is_empty() || !unknown.is_empty() {
            let mut parts = warns.clone();
            parts.extend(unknown.iter().cloned());
            let mut actions = remedies;
            for d in &devices {
                if let Some(a) = d["address"].as_str()
                    && d["node"] != d["engine_node"]
                {
                    actions.push(format!(
                        "cat /sys/bus/pci/devices/{a}/numa_node /sys/bus/pci/devices/{a}/local_cpulist   # where the kernel places it"
                    ));
                }
            }
            Finding::warn(parts.join("; ")).fix(
                "give each engine the SSDs of its own NUMA node (bdev_list), or pin the engine to the node of its SSDs and NIC",
                &actions,
                false,
            )
        } else if host_nodes <= 1 {
            Finding::pass(format!(
                "one NUMA node: every SSD is local ({})",
                ok.join("; ")
            ))
        } else {
            Finding::pass(ok.join("; "))
        };
        finding
            .detail("devices", &devices)
            .detail("local", &ok)
            .detail("remote", &warns)
            .detail("unknown", &unknown)
            .detail(
                "engine_nodes",
                engines
                    .iter()
                    .map(|e| serde_json::json!({"node": e.node, "how": e.how}))
                    .collect::<Vec<_>>(),
            )
    }
}
