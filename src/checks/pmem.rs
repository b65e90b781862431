//! `scm.dcpm`: every `scm_list` entry of a `class: dcpm` tier is a pmem block device
//! DAOS 2.6 can format and mount.
//!
//! Sources (daos-stack/daos v2.6.0, src/control/server/storage/): scm/provider.go formats
//! the device ext4 and mounts it `-o dax,nodelalloc` at `scm_mount` (`dcpmFsType`,
//! `dcpmMountOpts`), so the namespace must be in fsdax mode and the device free;
//! scm/ndctl.go creates fsdax namespaces per region and logs a notice when a region's
//! `numa_node` is not the socket it serves; scm/ipmctl.go refuses regions that are not
//! AppDirect interleaved (faults.go `FaultScmNotInterleaved`,
//! `FaultScmUnknownMemoryMode`: code.ScmBadRegion); no PMem at all is `FaultScmNoPMem`
//! (code.ScmNoPMem), PMem that fails validation `FaultScmInvalidPMem`
//! (code.ScmInvalidPMem). The sysfs side is the kernel's libnvdimm layout (see
//! `facts::pmem`).

use super::config::server_for_requirements;
use super::locality::engine_nodes;
use super::{Check, Context, Finding};
use crate::daos::config::StorageClass;

/// `scm.dcpm`
pub struct Dcpm;

impl Check for Dcpm {
    fn id(&self) -> &'static str {
        "scm.dcpm"
    }
    fn title(&self) -> &'static str {
        "PMem (class dcpm) ready for DAOS"
    }
    fn explain(&self) -> &'static str {
        "For every scm_list entry of a class: dcpm tier (DAOS 2.6 still supports Optane PMem): \
the pmem block device exists and belongs to a namespace in fsdax mode (DAOS formats it ext4 and \
mounts it -o dax,nodelalloc: storage/scm/provider.go), the namespace's region is an \
interleaved AppDirect set (region mappings > 1, devtype nd_pmem; storage/scm/ipmctl.go), the \
region's numa_node is the engine's node (storage/scm/ndctl.go only logs a notice), and the \
device is mounted nowhere but its scm_mount, with dax when it is. Read from /sys/bus/nd/devices \
(Documentation/driver-api/nvdimm/nvdimm.rst, Documentation/ABI/testing/sysfs-bus-nd) and \
/proc/mounts.\n\
pass: all ready. warn: a region on another NUMA node, or mounted at scm_mount without dax. \
fail: no PMem (code.ScmNoPMem), a device without an fsdax namespace (code.ScmInvalidPMem), a \
region not interleaved or not AppDirect (code.ScmBadRegion), or the device mounted elsewhere. \
skip: no dcpm tier."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let cfg = match server_for_requirements(ctx) {
            Ok(c) => c,
            Err(f) => return f,
        };
        let entries: Vec<(usize, String, Option<String>)> = cfg
            .engines
            .iter()
            .enumerate()
            .flat_map(|(i, e)| {
                e.scm_tiers()
                    .filter(|t| t.class == Some(StorageClass::Dcpm))
                    .flat_map(move |t| {
                        t.scm_list
                            .iter()
                            .map(move |d| (i, d.clone(), t.scm_mount.clone()))
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        if entries.is_empty() {
            return Finding::skip("no class dcpm tier: the engines use no PMem");
        }
        let f = ctx.facts;
        if !f.source.sysfs {
            return Finding::skip("no sysfs visible: PMem can't be looked up");
        }
        let Some(pm) = f.pmem.as_ref().filter(|p| !p.regions.is_empty()) else {
            return Finding::fail(
                "the configuration uses class dcpm, but this host has no persistent memory (no region under /sys/bus/nd/devices): DAOS fails with \"No PMem modules exist\"",
            )
            .fault("code.ScmNoPMem")
            .fix(
                "install and enable the PMem modules (BIOS), or use class: ram for the SCM tier",
                &["ipmctl show -dimm".to_string(), "ndctl list -R".to_string()],
                true,
            );
        };
        let engines = engine_nodes(f, cfg);
        let (mut ok, mut warns, mut fails, mut actions) = (vec![], vec![], vec![], vec![]);
        let mut fault: Option<&str> = None;
        for (i, dev, mount) in &entries {
            let name = dev.trim_start_matches("/dev/");
            let at = format!("engine {i} {dev}");
            let Some(ns) = pm
                .namespaces
                .iter()
                .find(|n| n.blockdev.as_deref() == Some(name))
            else {
                let have: Vec<String> = pm
                    .namespaces
                    .iter()
                    .map(|n| {
                        format!(
                            "{} {} → {}",
                            n.name,
                            n.mode.as_deref().unwrap_or("?"),
                            n.blockdev.as_deref().unwrap_or("no block device")
                        )
                    })
                    .collect();
                fails.push(format!(
                    "{at}: no pmem namespace provides {name} (namespaces: {})",
                    if have.is_empty() {
                        "none".to_string()
                    } else {
                        have.join(", ")
                    }
                ));
                fault.get_or_insert("code.ScmInvalidPMem");
                actions.push("daos_server scm prepare   # creates the fsdax namespaces, one pmem device per region".to_string());
                continue;
            };
            let mode = ns.mode.as_deref().unwrap_or("unknown");
            if !matches!(mode, "fsdax" | "memory") {
                fails.push(format!(
                    "{at}: {} is in mode {mode}, DAOS needs fsdax (it mounts ext4 -o dax)",
                    ns.name
                ));
                fault.get_or_insert("code.ScmInvalidPMem");
                actions.push(format!(
                    "ndctl create-namespace --force --reconfig={} --mode=fsdax   # erases {name}",
                    ns.name
                ));
            }
            let region = pm.regions.iter().find(|r| r.name == ns.region);
            if let Some(r) = region {
                if r.mappings == Some(1) {
                    fails.push(format!(
                        "{at}: {} spans one DIMM: not an interleaved AppDirect set, which DAOS does not support",
                        r.name
                    ));
                    fault = Some("code.ScmBadRegion");
                    actions.push("daos_server scm prepare --reset, reboot, daos_server scm prepare (interleaved AppDirect regions), reboot, daos_server scm prepare".into());
                }
                if r.devtype.as_deref().is_some_and(|t| t != "nd_pmem") {
                    fails.push(format!(
                        "{at}: {} is {}, not a persistent-memory (AppDirect) region",
                        r.name,
                        r.devtype.as_deref().unwrap_or("?")
                    ));
                    fault = Some("code.ScmBadRegion");
                }
            }
            let rnode = region.and_then(|r| r.numa_node).or(ns.numa_node);
            match (engines[*i].node, rnode) {
                (Some(en), Some(rn)) if en != rn => warns.push(format!(
                    "{at}: engine {i} is on node {en} ({}) but {} is on node {rn}: every SCM access crosses sockets",
                    engines[*i].how, ns.region
                )),
                _ => {}
            }
            let mounts: Vec<_> = pm.mounts.iter().filter(|m| m.device == *dev).collect();
            for m in &mounts {
                if Some(&m.mountpoint) != mount.as_ref() {
                    fails.push(format!(
                        "{at}: mounted on {} (DAOS formats and mounts it on {})",
                        m.mountpoint,
                        mount.as_deref().unwrap_or("its scm_mount")
                    ));
                    actions.push(format!("umount {}", m.mountpoint));
                } else if !m.dax {
                    warns.push(format!(
                        "{at}: mounted on {} without dax ({}): DAOS mounts it -o dax,nodelalloc",
                        m.mountpoint, m.fstype
                    ));
                    actions.push(format!(
                        "umount {}   # daos_server mounts it with dax itself",
                        m.mountpoint
                    ));
                }
            }
            ok.push(format!(
                "{at}: {} ({mode}, {}{})",
                ns.name,
                ns.region,
                rnode.map(|n| format!(", node {n}")).unwrap_or_default()
            ));
        }
        let finding = if !fails.is_empty() {
            let mut all = fails;
            all.extend(warns);
            let mut f = Finding::fail(all.join("; ")).fix(
                "give each dcpm engine its own fsdax pmem device on an interleaved region of its node",
                &actions,
                false,
            );
            if let Some(code) = fault {
                f = f.fault(code);
            }
            f
        } else if !warns.is_empty() {
            Finding::warn(warns.join("; ")).fix(
                "keep each engine's PMem on its node and leave the mounting to daos_server",
                &actions,
                false,
            )
        } else {
            Finding::pass(ok.join("; "))
        };
        finding.detail("devices", &ok)
    }
}
