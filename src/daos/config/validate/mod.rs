//! DAOS's validation rules for the three files, mirrored as [`Issue`]s with the DAOS
//! fault code (src/control/fault/code/codes.go) where DAOS has one.
//!
//! Sources: src/control/server/config/server.go (`Load`, `Validate`,
//! `validateMultiEngineConfig`, `SetNrHugepages`, `SetEngineAffinities`),
//! server/engine/config.go (`Config.Validate`, `FabricConfig.Validate`),
//! server/storage/config.go (`TierConfigs.Validate`, `validateBdevRoles`,
//! `ScmConfig.Validate`, `BdevConfig.Validate`, `Config.Validate`),
//! server/server_utils.go (`getEngineNUMANodes`), cmd/daos_agent/config.go (`LoadConfig`)
//! and lib/control/config.go (`LoadConfig`). DAOS stops at the first error; we list them
//! all, so one run shows every edit to make.

use std::collections::BTreeSet;

use super::server::ServerConfig;
use super::yaml::Pos;
use super::{DEFAULT_CONTROL_PORT, DaosStage, Issue, Location, SYSTEM_NAME_MAX, Severity, host_of};
use crate::daos::DaosVersion;

mod accel;
mod agent;
mod control;
mod engine;
mod engine_env;
mod fabric;
pub mod hostlist;
mod hostport;
mod logmask;
mod mdonssd;
mod multi_engine;
mod pci;
mod server;
mod storage;

pub use agent::validate_agent;
pub use control::validate_control;
pub use server::validate_server;

/// Minimum RAM-disk size per engine, bytes (server/storage/scm.go `MinRamdiskMem`, 4 GiB).
pub const MIN_RAMDISK_BYTES: u64 = 4 << 30;

pub(super) struct Out<'a> {
    pub(super) file: &'a str,
    pub(super) issues: Vec<Issue>,
}

impl<'a> Out<'a> {
    pub(super) fn new(file: &'a str) -> Out<'a> {
        Out {
            file,
            issues: Vec::new(),
        }
    }
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        stage: DaosStage,
        sev: Severity,
        pos: Option<Pos>,
        key: &str,
        msg: String,
        fault: Option<&str>,
        fix: Option<String>,
    ) {
        self.issues.push(Issue {
            severity: sev,
            location: pos.map(|p| Location {
                file: self.file.to_string(),
                line: p.line,
                column: p.column,
            }),
            key: key.to_string(),
            message: msg,
            fault: fault.map(|f| format!("code.{f}")),
            fix,
            stage,
            decoder: false,
        });
    }
    pub(super) fn err(
        &mut self,
        pos: Option<Pos>,
        key: &str,
        msg: String,
        fault: Option<&str>,
        fix: Option<String>,
    ) {
        self.add(
            DaosStage::Validate,
            Severity::Error,
            pos,
            key,
            msg,
            fault,
            fix,
        );
    }
    pub(super) fn warn(
        &mut self,
        pos: Option<Pos>,
        key: &str,
        msg: String,
        fault: Option<&str>,
        fix: Option<String>,
    ) {
        self.add(
            DaosStage::Validate,
            Severity::Warning,
            pos,
            key,
            msg,
            fault,
            fix,
        );
    }
    /// An error DAOS raises while loading the file (`Load`, `LoadConfig`).
    pub(super) fn load_err(
        &mut self,
        pos: Option<Pos>,
        key: &str,
        msg: String,
        fault: Option<&str>,
        fix: Option<String>,
    ) {
        self.add(DaosStage::Parse, Severity::Error, pos, key, msg, fault, fix);
    }
    /// An error of one of DAOS's YAML decoders ([`Issue::decoder`]), met while loading.
    pub(super) fn decode_err(
        &mut self,
        pos: Option<Pos>,
        key: &str,
        msg: String,
        fault: Option<&str>,
        fix: Option<String>,
    ) {
        self.load_err(pos, key, msg, fault, fix);
        if let Some(i) = self.issues.last_mut() {
            i.decoder = true;
        }
    }
    /// An error DAOS only meets after `daos_server` started (hardware in hand).
    pub(super) fn start_err(
        &mut self,
        pos: Option<Pos>,
        key: &str,
        msg: String,
        fault: Option<&str>,
        fix: Option<String>,
    ) {
        self.add(DaosStage::Start, Severity::Error, pos, key, msg, fault, fix);
    }
    /// A warning about something DAOS only meets after it started.
    pub(super) fn start_warn(
        &mut self,
        pos: Option<Pos>,
        key: &str,
        msg: String,
        fault: Option<&str>,
        fix: Option<String>,
    ) {
        self.add(
            DaosStage::Start,
            Severity::Warning,
            pos,
            key,
            msg,
            fault,
            fix,
        );
    }
}

/// True for a string DAOS takes as a PCI address (storage/config.go `maybePCI`).
pub fn looks_like_pci(addr: &str) -> bool {
    let c: Vec<&str> = addr.split(':').collect();
    c.len() == 3 && (c[0].len() == 6 || c[0].len() == 4) && c[1].len() == 2 && c[2].len() >= 2
}

/// The providers whose engine listens on a range of TCP ports from `fabric_iface_port`
/// (tcp and sockets: one listening socket per CaRT context). cart/crt_hg.c
/// `crt_na_dict` marks verbs, cxi and ucx contiguous too, but their endpoints live in
/// the RDMA/fabric port space, which neither the host firewall nor a TCP probe sees.
pub fn provider_uses_port_range(provider: &str) -> bool {
    provider.contains("tcp") || provider.contains("sockets")
}

/// Number of consecutive ports from `fabric_iface_port` one engine opens: one per CaRT
/// context. cart/crt_hg.c `crt_get_info_string` gives context `i` the port
/// `fabric_iface_port + i` for contiguous-endpoint providers; engine/srv_internal.h
/// `DSS_CTX_NR_TOTAL` (= engine/srv.c `dss_ctx_nr_get`, the count `crt_init_opt` gets)
/// is `DAOS_TGT0_OFFSET` (2: the system and SWIM xstreams) + targets + min(nr_xs_helpers,
/// targets) (each target's main xstream and its first helper; engine/srv.c
/// `dss_start_one_xstream` `comm`). Same at v2.6.0 and v2.8.0. Other providers: 1.
/// Negative counts (refused by validation) count as 0.
pub fn engine_port_count(provider: &str, targets: i64, nr_xs_helpers: i64) -> i64 {
    if !provider_uses_port_range(provider) {
        return 1;
    }
    let t = targets.max(0);
    2 + t + nr_xs_helpers.max(0).min(t)
}

/// Which access points a server config names: `access_points`/`mgmt_svc_replicas`, or
/// the default `localhost` (server.go `DefaultServer`) when unset.
pub fn effective_access_points(cfg: &ServerConfig, version: DaosVersion) -> Vec<String> {
    let unset = cfg.access_points_key.is_none()
        || (version >= DaosVersion::V2_8 && cfg.access_points.is_empty());
    if unset {
        vec![format!("localhost:{DEFAULT_CONTROL_PORT}")]
    } else {
        cfg.access_points.clone()
    }
}

pub(super) fn name_rule(out: &mut Out, name: Option<&str>, pos: Option<Pos>) {
    if let Some(n) = name
        && (n.is_empty() || n.chars().count() > SYSTEM_NAME_MAX)
    {
        out.load_err(
            pos,
            "name",
            format!(
                "invalid system name {n:?}: it must be 1 to {SYSTEM_NAME_MAX} characters (DAOS_SYS_NAME_MAX)"
            ),
            None,
            Some("shorten the system name, identically in daos_server.yml, daos_agent.yml and daos_control.yml".into()),
        );
    }
}

/// Hosts named by a list of addresses, ports stripped (`node0:10001` → `node0`).
pub fn hosts(addrs: &[String]) -> BTreeSet<String> {
    addrs
        .iter()
        .flat_map(|a| super::expand_hostlist(a))
        .map(|a| host_of(&a).to_string())
        .collect()
}
