//! Planning: failing checks → the exact actions that fix them. Pure: everything the
//! planner needs from the host (current file contents, which tools exist) is gathered
//! beforehand in [`FixInputs`], so `--dry-run` prints exactly what `fix` would do.
//!
//! One module per action family: `hugepages` (pools, THP), `devices` (NVMe binding,
//! file bdevs), `files` (sysctls, file writes, directories), `boot` (kernel command
//! line), `services` (firewalld, the memlock drop-in); `action` is what they produce.

use std::collections::BTreeMap;

use super::cmdline::{self, KernelArg};
use crate::checks::Status;
use crate::daos::config::ServerConfig;
use crate::facts::Facts;
use crate::report::CheckResult;

mod action;
mod boot;
mod devices;
mod files;
mod hugepages;
mod services;

use action::service_owner;
pub use action::{Action, ManualStep, Owner, Plan, Step, resolve_owner, shell_join};
pub use files::persisted_sysctls;

/// Where `fix` persists the DAOS sysctls. A late name so it wins over distribution files
/// (sysctl.d(5): files are applied in name order, the last assignment wins).
pub const SYSCTL_FILE: &str = "/etc/sysctl.d/90-daos-preflight.conf";
/// The drop-in `fix` writes for `daos_server.service` (drop-ins apply in name order).
pub const MEMLOCK_DROPIN: &str =
    "/etc/systemd/system/daos_server.service.d/90-daos-preflight-memlock.conf";
/// Where `fix --persistent` asks systemd-modules-load for the NVMe driver module.
pub const MODULES_FILE: &str = "/etc/modules-load.d/90-daos-preflight.conf";
/// THP mode file.
pub const THP_ENABLED: &str = "/sys/kernel/mm/transparent_hugepage/enabled";

/// What the planner needs to know about the host beyond the facts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixInputs {
    /// `/etc/default/grub`, when present.
    pub default_grub: Option<String>,
    /// Host path of `grubby`, when installed (EL8/EL9).
    pub grubby: Option<String>,
    /// Kernel arguments of each BLS entry (`/boot/loader/entries/*.conf`), by path.
    pub bls_entries: BTreeMap<String, String>,
    /// The grub config regeneration command for hosts without grubby.
    pub grub_mkconfig: Option<Vec<String>>,
    /// Current content of files the planner may write (absent = `None`).
    pub files: BTreeMap<String, Option<String>>,
    /// Whether systemd is the init system (for daemon-reload).
    pub systemd: bool,
    /// sysctl configuration files (`/etc/sysctl.d`, `/run/sysctl.d`, `/usr/lib/sysctl.d`,
    /// `/etc/sysctl.conf`) by host path, with their content.
    pub sysctl_files: BTreeMap<String, String>,
}

/// Planner options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Also make boot-time changes (kernel command line, sysctl.d).
    pub persistent: bool,
}

pub(crate) fn needs_fix(r: &CheckResult) -> bool {
    matches!(r.status, Status::Fail | Status::Warn)
}

pub(crate) fn manual(r: &CheckResult, reason: &str) -> ManualStep {
    ManualStep {
        check: r.id.clone(),
        reason: reason.to_string(),
        actions: r
            .remediation
            .as_ref()
            .map(|m| {
                let mut a = vec![m.summary.clone()];
                a.extend(m.actions.iter().cloned());
                a
            })
            .unwrap_or_default(),
    }
}

/// Builds the plan for the checks in `results` that fail or warn.
pub fn plan(
    facts: &Facts,
    results: &[CheckResult],
    config: Option<&ServerConfig>,
    inputs: &FixInputs,
    opts: PlanOptions,
) -> Plan {
    let mut p = Plan::default();
    let mut cmdline_want: Vec<(String, KernelArg)> = Vec::new();
    let mut hugepages_done = false;
    for r in results.iter().filter(|r| needs_fix(r)) {
        match r.id.as_str() {
            "hugepages.total" | "hugepages.numa" if !hugepages_done => {
                hugepages_done = true;
                hugepages::plan_hugepages(&mut p, facts, results);
                if let Some(hp) = hugepages::hugepage_plan_of(results) {
                    super::held::plan_held(&mut p, results, &hp);
                }
            }
            "hugepages.total" | "hugepages.numa" => {}
            "daos.dirs" => files::plan_dirs(&mut p, r, facts),
            "firewall.ports" => services::plan_firewall(&mut p, r),
            "nvme.present" => match config {
                Some(cfg) => devices::plan_bdev_files(&mut p, facts, cfg, r),
                None => p.manual.push(manual(r, "no server configuration loaded")),
            },
            "nvme.driver" => match config {
                Some(cfg) => devices::plan_nvme(&mut p, facts, cfg, inputs, &r.id, opts),
                None => p.manual.push(manual(r, "no server configuration loaded")),
            },
            "hugepages.thp" => hugepages::plan_thp(&mut p, r, facts),
            "sysctl.daos" => files::plan_sysctls(&mut p, r, facts),
            "limits.memlock" if facts.services.daos_server.is_some() => {
                services::plan_memlock(&mut p, r, inputs)
            }
            "daos.unit" => services::plan_dropins(
                &mut p,
                r,
                inputs,
                Some(
                    "then restore the packaged unit: dnf reinstall daos-server (daos-client for daos_agent.service)",
                ),
            ),
            "limits.service" => services::plan_dropins(&mut p, r, inputs, None),
            "iommu.kernel" => boot::plan_iommu(&mut p, r, facts, opts, &mut cmdline_want),
            "iommu.firmware" => p
                .manual
                .push(manual(r, "BIOS settings are never changed by fix")),
            "time.sync" => p
                .manual
                .push(manual(r, "time service configuration is site-specific")),
            _ => p.manual.push(manual(r, "no automatic fix for this check")),
        }
    }
    if opts.persistent {
        // Persistence is judged on the boot configuration, not the check's status, so a
        // runtime fix made earlier without --persistent still gets persisted now.
        files::persist_sysctls(&mut p, results, inputs);
        hugepages::boot_args(&mut p, facts, results, &mut cmdline_want);
    }
    if opts.persistent && !cmdline_want.is_empty() {
        boot::plan_cmdline(&mut p, facts, inputs, &cmdline_want);
    } else if results
        .iter()
        .any(|r| r.id == "hugepages.thp" && needs_fix(r))
    {
        p.notes.push(
            "runtime fixes only: add --persistent to keep them across reboots (kernel command line, sysctl.d)".into(),
        );
    }
    p
}
