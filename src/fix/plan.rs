//! Planning: failing checks → the exact actions that fix them. Pure: everything the
//! planner needs from the host (current file contents, which tools exist) is gathered
//! beforehand in [`FixInputs`], so `--dry-run` prints exactly what `fix` would do.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::cmdline::{self, KernelArg};
use crate::checks::Status;
use crate::daos::config::ServerConfig;
use crate::daos::requirements::HugepagePlan;
use crate::facts::Facts;
use crate::facts::system::DAOS_SYSCTLS;
use crate::report::CheckResult;

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

/// One change to the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Write a sysfs/procfs attribute; the value is read back.
    WriteAttribute {
        /// Host path.
        path: String,
        /// Value written.
        value: String,
        /// Value before (for the journal and the dry run), when readable.
        current: Option<String>,
    },
    /// Replace or create a file atomically (original kept as `.daos-preflight.bak`).
    WriteFile {
        /// Host path.
        path: String,
        /// Full new content.
        content: String,
        /// Mode for a new file.
        mode: u32,
        /// Unified diff against the current content (`null` for a new file).
        diff: Option<String>,
    },
    /// Grow a hugepage pool (a node's, or the system's when `node` is null) to `pages`;
    /// on a shortfall, compact memory and retry once. Never shrinks (as DAOS).
    AllocateHugepages {
        /// NUMA node, or `null` for the system-wide pool.
        node: Option<u32>,
        /// Page size, KiB.
        size_kib: u64,
        /// Pages wanted.
        pages: u64,
        /// Pages now.
        current: u64,
    },
    /// Bind a PCI device to a driver: driver_override, unbind, drivers_probe, verify,
    /// clear the override; rolled back to the original driver on failure.
    BindDriver {
        /// PCI address.
        address: String,
        /// Target driver (`vfio-pci`, `uio_pci_generic`).
        driver: String,
        /// Driver now.
        current: Option<String>,
        /// IOMMU group (its `/dev/vfio/<group>` node is given to `owner`).
        iommu_group: Option<u32>,
        /// The service user that must own `/dev/vfio/<group>` (`null`: root runs DAOS).
        owner: Option<Owner>,
    },
    /// Create a directory (with its parents) and/or give it to the service user.
    PrepareDirectory {
        /// Host path.
        path: String,
        /// Create it (it is missing).
        create: bool,
        /// Owner to give it (`null`: leave root's).
        owner: Option<Owner>,
    },
    /// Create (or grow) an emulated-NVMe `file` bdev to `bdev_size`, sparse: no
    /// gigabytes of zeros are written (DAOS fallocates it at format time).
    CreateSparseFile {
        /// Host path.
        path: String,
        /// Size in bytes.
        size_bytes: u64,
        /// Owner to give it.
        owner: Option<Owner>,
    },
    /// Remove the hugepage files of a dead SPDK process (`spdk_pid<pid>map*` directly in
    /// the directory), as daos_server does at start; each is checked again first.
    RemoveStaleHugepageFiles {
        /// Directory (`/dev/hugepages`).
        dir: String,
        /// The pid the names carry (its `/proc/<pid>` is gone).
        pid: String,
        /// Entry names.
        files: Vec<String>,
        /// Pages they hold.
        pages: u64,
    },
    /// Grow a pool (a node's, or the system's when `node` is null) until `free_wanted`
    /// pages are free beside what others hold, computed from the kernel's counts when
    /// applied. Never shrinks.
    GrowHugepagesPastHolders {
        /// NUMA node, or `null` for the system-wide pool.
        node: Option<u32>,
        /// Page size, KiB.
        size_kib: u64,
        /// Pages that must be free.
        free_wanted: u64,
        /// nr_hugepages when planned.
        total: u64,
        /// Pages in use by others when planned.
        in_use: u64,
    },
    /// Load a kernel module with modprobe.
    LoadModule {
        /// Module name.
        module: String,
    },
    /// Run a program.
    Run {
        /// Program and arguments.
        argv: Vec<String>,
    },
}

/// A user, resolved from `/etc/passwd`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// Name.
    pub user: String,
    /// uid.
    pub uid: u32,
    /// Primary gid.
    pub gid: u32,
}

/// Resolves `user` (and `group`, else the user's primary group) to an owner, from the
/// accounts the facts already read from `/etc/passwd` and `/etc/group`.
pub fn resolve_owner(facts: &Facts, user: &str, group: Option<&str>) -> Option<Owner> {
    let u = facts.accounts.users.iter().find(|a| a.name == user)?;
    let (label, gid) = match group {
        Some(g) => (
            format!("{user}:{g}"),
            facts.accounts.groups.iter().find(|a| a.name == g)?.gid,
        ),
        None => (user.to_string(), u.gid),
    };
    Some(Owner {
        user: label,
        uid: u.uid,
        gid,
    })
}

/// The non-root user `daos_server.service` runs as, resolved; `None` for root.
fn service_owner(facts: &Facts) -> Option<Owner> {
    let user = facts.services.daos_server.as_ref()?.user.as_deref()?;
    (user != "root")
        .then(|| resolve_owner(facts, user, None))
        .flatten()
}

impl Action {
    /// One line describing the action (for text output).
    pub fn describe(&self) -> String {
        match self {
            Action::WriteAttribute {
                path,
                value,
                current,
            } => format!(
                "write {value:?} to {path}{}",
                current
                    .as_deref()
                    .map(|c| format!(" (now {c:?})"))
                    .unwrap_or_default()
            ),
            Action::WriteFile { path, diff, .. } => match diff {
                Some(_) => format!("edit {path}"),
                None => format!("create {path}"),
            },
            Action::AllocateHugepages {
                node,
                size_kib,
                pages,
                current,
            } => format!(
                "reserve {pages} hugepages of {} on {} (now {current})",
                crate::checks::human_kib(*size_kib),
                node.map(|n| format!("NUMA node {n}"))
                    .unwrap_or_else(|| "the system".into())
            ),
            Action::BindDriver {
                address,
                driver,
                current,
                owner,
                iommu_group,
            } => format!(
                "bind {address} to {driver} (now {}){}",
                current.as_deref().unwrap_or("no driver"),
                match (owner, iommu_group) {
                    (Some(o), Some(g)) => format!("; /dev/vfio/{g} to {}", o.user),
                    _ => String::new(),
                }
            ),
            Action::PrepareDirectory {
                path,
                create,
                owner,
            } => format!(
                "{}{path}{}",
                if *create {
                    "create directory "
                } else {
                    "give "
                },
                match (owner, create) {
                    (Some(o), true) => format!(" owned by {}", o.user),
                    (Some(o), false) => format!(" to {}", o.user),
                    (None, _) => String::new(),
                }
            ),
            Action::CreateSparseFile {
                path,
                size_bytes,
                owner,
            } => format!(
                "create {path} as a sparse file of {}{}",
                crate::checks::human_kib(size_bytes / 1024),
                owner
                    .as_ref()
                    .map(|o| format!(" owned by {}", o.user))
                    .unwrap_or_default()
            ),
            Action::RemoveStaleHugepageFiles {
                dir,
                pid,
                files,
                pages,
            } => format!(
                "remove {} stale hugepage file(s) of dead pid {pid} from {dir} ({pages} pages back)",
                files.len()
            ),
            Action::GrowHugepagesPastHolders {
                node,
                size_kib,
                free_wanted,
                total,
                in_use,
            } => format!(
                "grow the {} hugepage pool of {} until {free_wanted} are free beside the {in_use} others hold (now {total})",
                crate::checks::human_kib(*size_kib),
                node.map(|n| format!("NUMA node {n}"))
                    .unwrap_or_else(|| "the system".into())
            ),
            Action::LoadModule { module } => format!("load kernel module {module} (modprobe)"),
            Action::Run { argv } => format!("run: {}", shell_join(argv)),
        }
    }
}

/// Joins argv for display, single-quoting words a shell would split.
pub fn shell_join(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_=./,:+@%".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A planned action and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The check it fixes.
    pub check: String,
    /// Why, in one line.
    pub reason: String,
    /// What is done.
    pub action: Action,
    /// Takes effect only after a reboot.
    pub reboot_required: bool,
}

/// Something `fix` does not do, with the instructions (BIOS settings, time service...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualStep {
    /// The check.
    pub check: String,
    /// Why `fix` leaves it to a person.
    pub reason: String,
    /// The instructions.
    pub actions: Vec<String>,
}

/// The plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Plan {
    /// Actions, in the order they are applied.
    pub actions: Vec<Step>,
    /// What a person must do.
    pub manual: Vec<ManualStep>,
    /// Remarks (e.g. a persistent change already made, waiting for a reboot).
    pub notes: Vec<String>,
}

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

/// The values the sysctl configuration files set at boot (systemd-sysctl order: files
/// from all directories sorted by name, a name in /etc masking the same name in /run and
/// /usr/lib; `/etc/sysctl.conf` last; the last assignment wins).
pub fn persisted_sysctls(files: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut by_name: BTreeMap<String, (u8, &String)> = BTreeMap::new();
    let mut legacy = None;
    for (path, text) in files {
        if path == "/etc/sysctl.conf" {
            legacy = Some(text);
            continue;
        }
        let name = path.rsplit('/').next().unwrap_or(path).to_string();
        let rank = if path.starts_with("/etc/") {
            0
        } else if path.starts_with("/run/") {
            1
        } else {
            2
        };
        match by_name.get(&name) {
            Some((r, _)) if *r <= rank => {}
            _ => {
                by_name.insert(name, (rank, text));
            }
        }
    }
    let mut values = BTreeMap::new();
    for text in by_name.values().map(|(_, t)| *t).chain(legacy) {
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                let key = k.trim().trim_start_matches('-').replace('/', ".");
                values.insert(key, v.trim().to_string());
            }
        }
    }
    values
}

/// Planner options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Also make boot-time changes (kernel command line, sysctl.d).
    pub persistent: bool,
}

fn needs_fix(r: &CheckResult) -> bool {
    matches!(r.status, Status::Fail | Status::Warn)
}

fn manual(r: &CheckResult, reason: &str) -> ManualStep {
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
                plan_hugepages(&mut p, facts, results);
                if let Some(hp) = hugepage_plan_of(results) {
                    super::held::plan_held(&mut p, results, &hp);
                }
            }
            "hugepages.total" | "hugepages.numa" => {}
            "daos.dirs" => plan_dirs(&mut p, r, facts),
            "firewall.ports" => plan_firewall(&mut p, r),
            "nvme.present" => match config {
                Some(cfg) => plan_bdev_files(&mut p, facts, cfg, r),
                None => p.manual.push(manual(r, "no server configuration loaded")),
            },
            "nvme.driver" => match config {
                Some(cfg) => plan_nvme(&mut p, facts, cfg, inputs, &r.id, opts),
                None => p.manual.push(manual(r, "no server configuration loaded")),
            },
            "hugepages.thp" => {
                p.actions.push(Step {
                    check: r.id.clone(),
                    reason: "transparent hugepages must be [never] for DAOS".into(),
                    action: Action::WriteAttribute {
                        path: THP_ENABLED.into(),
                        value: "never".into(),
                        current: facts.thp.enabled.clone(),
                    },
                    reboot_required: false,
                });
            }
            "sysctl.daos" => {
                for (name, want) in DAOS_SYSCTLS {
                    let have = facts.sysctl.get(*name).cloned().flatten();
                    if have
                        .as_deref()
                        .and_then(|v| v.parse::<u64>().ok())
                        .is_some_and(|h| h >= *want)
                    {
                        continue;
                    }
                    p.actions.push(Step {
                        check: r.id.clone(),
                        reason: format!("{name} below the DAOS value {want}"),
                        action: Action::WriteAttribute {
                            path: format!("/proc/sys/{}", name.replace('.', "/")),
                            value: want.to_string(),
                            current: have,
                        },
                        reboot_required: false,
                    });
                }
            }
            "limits.memlock" if facts.services.daos_server.is_some() => {
                let content = "# Written by daos-preflight fix: SPDK and VFIO must lock all hugepage memory.\n[Service]\nLimitMEMLOCK=infinity\n".to_string();
                if push_file(
                    &mut p,
                    inputs,
                    &r.id,
                    "daos_server.service needs LimitMEMLOCK=infinity",
                    MEMLOCK_DROPIN,
                    content,
                    false,
                ) && inputs.systemd
                {
                    p.actions.push(Step {
                        check: r.id.clone(),
                        reason: "make systemd read the new drop-in".into(),
                        action: Action::Run {
                            argv: vec!["systemctl".into(), "daemon-reload".into()],
                        },
                        reboot_required: false,
                    });
                }
            }
            "iommu.kernel" => {
                let cause = r
                    .details
                    .get("cause")
                    .and_then(|v| v.as_str())
                    .unwrap_or("");
                let intel = facts.iommu.firmware_table.as_deref() == Some("DMAR");
                if cause == "cmdline" && intel {
                    if opts.persistent {
                        cmdline_want.push((r.id.clone(), KernelArg::parse("intel_iommu=on")));
                        cmdline_want.push((r.id.clone(), KernelArg::parse("iommu=pt")));
                    } else {
                        p.manual.push(ManualStep {
                            check: r.id.clone(),
                            reason:
                                "changing the kernel command line needs --persistent (and a reboot)"
                                    .into(),
                            actions: vec!["daos-preflight fix --persistent".into()],
                        });
                    }
                } else {
                    p.manual.push(manual(
                        r,
                        "the cause is outside what fix changes (BIOS, kernel build or unknown)",
                    ));
                }
            }
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
        if results.iter().any(|r| r.id == "sysctl.daos") {
            let boot = persisted_sysctls(&inputs.sysctl_files);
            let short = DAOS_SYSCTLS.iter().any(|(n, want)| {
                boot.get(*n)
                    .and_then(|v| v.parse::<u64>().ok())
                    .is_none_or(|v| v < *want)
            });
            if short {
                let content = format!(
                    "# Written by daos-preflight fix --persistent: the values the daos-server RPM\n# sets in /usr/lib/sysctl.d/10-daos_server.conf, as minimums.\n{}",
                    DAOS_SYSCTLS
                        .iter()
                        .map(|(n, v)| format!("{n} = {v}\n"))
                        .collect::<String>()
                );
                push_file(
                    &mut p,
                    inputs,
                    "sysctl.daos",
                    "persist the DAOS sysctls",
                    SYSCTL_FILE,
                    content,
                    false,
                );
            }
        }
        // Boot-time hugepages: the kernel spreads `hugepages=N` over all nodes with
        // memory, so it matches DAOS's even split only when the engines use them all.
        let hp = hugepage_plan_of(results);
        if let Some(hp) = hp {
            let memory_nodes: Vec<u32> = facts
                .numa
                .nodes
                .iter()
                .filter(|n| n.mem_total_kib.unwrap_or(0) > 0)
                .map(|n| n.id)
                .collect();
            if memory_nodes.is_empty() || memory_nodes == hp.numa_nodes {
                if hp.hugepage_size_kib == 1_048_576 {
                    cmdline_want.push((
                        "hugepages.total".into(),
                        KernelArg::parse("default_hugepagesz=1G"),
                    ));
                    cmdline_want
                        .push(("hugepages.total".into(), KernelArg::parse("hugepagesz=1G")));
                }
                cmdline_want.push((
                    "hugepages.total".into(),
                    KernelArg::parse(&format!("hugepages={}", hp.total_pages)),
                ));
            } else {
                p.notes.push(format!(
                    "no hugepages= on the kernel command line: the kernel would spread them over nodes {memory_nodes:?}, DAOS wants them on {:?}; enable the boot unit with DAOS_PREFLIGHT_FIX=yes instead",
                    hp.numa_nodes
                ));
            }
        }
        if facts.thp.enabled.is_some() && results.iter().any(|r| r.id == "hugepages.thp") {
            cmdline_want.push((
                "hugepages.thp".into(),
                KernelArg::parse("transparent_hugepage=never"),
            ));
        }
    }
    if opts.persistent && !cmdline_want.is_empty() {
        plan_cmdline(&mut p, facts, inputs, &cmdline_want);
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

/// Adds a file write unless the file already has exactly `content`; true when added.
fn push_file(
    p: &mut Plan,
    inputs: &FixInputs,
    check: &str,
    reason: &str,
    path: &str,
    content: String,
    reboot: bool,
) -> bool {
    let current = inputs.files.get(path).cloned().flatten();
    if current.as_deref() == Some(content.as_str()) {
        return false;
    }
    p.actions.push(Step {
        check: check.to_string(),
        reason: reason.to_string(),
        action: Action::WriteFile {
            path: path.to_string(),
            diff: current
                .as_deref()
                .map(|c| cmdline::line_diff(path, c, &content)),
            content,
            mode: 0o644,
        },
        reboot_required: reboot,
    });
    true
}

fn plan_cmdline(p: &mut Plan, facts: &Facts, inputs: &FixInputs, want: &[(String, KernelArg)]) {
    let args: Vec<KernelArg> = want.iter().map(|(_, a)| a.clone()).collect();
    let checks: Vec<String> = {
        let mut c: Vec<String> = want.iter().map(|(c, _)| c.clone()).collect();
        c.dedup();
        c
    };
    let check = checks.join(",");
    let arg_text = args
        .iter()
        .map(KernelArg::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    let mut changed = false;
    if let Some(grubby) = &inputs.grubby {
        let stale: Vec<&String> = inputs
            .bls_entries
            .iter()
            .filter(|(_, opts)| cmdline::edit_args(opts, &args).is_some())
            .map(|(path, _)| path)
            .collect();
        if !stale.is_empty() || inputs.bls_entries.is_empty() {
            p.actions.push(Step {
                check: check.clone(),
                reason: format!("set {arg_text} on every installed kernel's boot entry"),
                action: Action::Run {
                    argv: vec![
                        grubby.clone(),
                        "--update-kernel=ALL".into(),
                        format!("--args={arg_text}"),
                    ],
                },
                reboot_required: true,
            });
            changed = true;
        }
    }
    match &inputs.default_grub {
        Some(text) => match cmdline::edit_default_grub(text, &args) {
            Ok(Some(new)) => {
                p.actions.push(Step {
                    check: check.clone(),
                    reason: format!(
                        "set {arg_text} in GRUB_CMDLINE_LINUX for kernels installed later"
                    ),
                    action: Action::WriteFile {
                        path: "/etc/default/grub".into(),
                        diff: Some(cmdline::line_diff("/etc/default/grub", text, &new)),
                        content: new,
                        mode: 0o644,
                    },
                    reboot_required: true,
                });
                if inputs.grubby.is_none() {
                    match &inputs.grub_mkconfig {
                        Some(argv) => p.actions.push(Step {
                            check: check.clone(),
                            reason: "regenerate the grub configuration".into(),
                            action: Action::Run { argv: argv.clone() },
                            reboot_required: true,
                        }),
                        None => p.manual.push(ManualStep {
                            check: check.clone(),
                            reason: "no grub configuration found to regenerate".into(),
                            actions: vec!["regenerate your boot loader configuration".into()],
                        }),
                    }
                }
                changed = true;
            }
            Ok(None) => {}
            Err(e) => p.manual.push(ManualStep {
                check: check.clone(),
                reason: format!("/etc/default/grub {e}"),
                actions: vec![format!("add {arg_text} to GRUB_CMDLINE_LINUX by hand")],
            }),
        },
        None if inputs.grubby.is_none() => p.manual.push(ManualStep {
            check: check.clone(),
            reason: "neither grubby nor /etc/default/grub found".into(),
            actions: vec![format!(
                "add {arg_text} to the kernel command line of your boot loader"
            )],
        }),
        None => {}
    }
    let running = facts.kernel.cmdline.as_deref().unwrap_or("");
    let has_boot_config = inputs.default_grub.is_some() || !inputs.bls_entries.is_empty();
    if !changed && has_boot_config && cmdline::edit_args(running, &args).is_some() {
        p.notes.push(format!(
            "the boot configuration already has {arg_text}; reboot to make it take effect"
        ));
    }
}

/// The DAOS hugepage plan the hugepages checks computed (their `details.plan`).
fn hugepage_plan_of(results: &[CheckResult]) -> Option<HugepagePlan> {
    ["hugepages.numa", "hugepages.total"].iter().find_map(|id| {
        let r = results.iter().find(|r| r.id == *id)?;
        serde_json::from_value(r.details.get("plan")?.clone()).ok()
    })
}

/// Plans hugepage allocation from the DAOS plan the hugepages checks computed (their
/// `details.plan`): each engine node grows to its share; without per-node information,
/// the system pool grows to the total. Nodes that don't exist or can't hold their share
/// are left to the person (the check says why).
fn plan_hugepages(p: &mut Plan, facts: &Facts, results: &[CheckResult]) {
    let plan = hugepage_plan_of(results);
    let Some(plan) = plan else { return };
    let size = plan.hugepage_size_kib;
    let reason = format!("DAOS needs {}", plan.arithmetic);
    if facts.numa.nodes.is_empty() {
        let current = facts
            .hugepages
            .iter()
            .find(|h| h.size_kib == size)
            .and_then(|h| h.total)
            .unwrap_or(0);
        if current < plan.total_pages {
            p.actions.push(Step {
                check: "hugepages.total".into(),
                reason,
                action: Action::AllocateHugepages {
                    node: None,
                    size_kib: size,
                    pages: plan.total_pages,
                    current,
                },
                reboot_required: false,
            });
        }
        return;
    }
    for id in &plan.numa_nodes {
        let Some(node) = facts.numa.nodes.iter().find(|n| n.id == *id) else {
            p.manual.push(ManualStep {
                check: "hugepages.numa".into(),
                reason: format!(
                    "NUMA node {id} does not exist: fix pinned_numa_node in daos_server.yml"
                ),
                actions: vec![],
            });
            continue;
        };
        let Some(current) = node
            .hugepages
            .iter()
            .find(|h| h.size_kib == size)
            .and_then(|h| h.total)
        else {
            p.manual.push(ManualStep {
                check: "hugepages.numa".into(),
                reason: format!(
                    "NUMA node {id} has no {} hugepage pool in sysfs (hugetlbfs missing?)",
                    crate::checks::human_kib(size)
                ),
                actions: vec![],
            });
            continue;
        };
        if current >= plan.per_node_pages {
            continue;
        }
        if node
            .mem_total_kib
            .is_some_and(|t| t < plan.per_node_pages * size)
        {
            p.manual.push(ManualStep {
                check: "hugepages.numa".into(),
                reason: format!(
                    "NUMA node {id} has too little memory for {} pages: lower targets or nr_hugepages",
                    plan.per_node_pages
                ),
                actions: vec![],
            });
            continue;
        }
        p.actions.push(Step {
            check: "hugepages.numa".into(),
            reason: reason.clone(),
            action: Action::AllocateHugepages {
                node: Some(*id),
                size_kib: size,
                pages: plan.per_node_pages,
                current,
            },
            reboot_required: false,
        });
    }
}

/// VMD controllers (Intel Volume Management Device) are handed to SPDK by DAOS's own
/// VMD support, not bound like an NVMe drive.
fn is_vmd(dev: &crate::facts::PciDevice) -> bool {
    dev.vendor.as_deref() == Some("8086")
        && matches!(
            dev.device.as_deref(),
            Some("201d") | Some("28c0") | Some("467f") | Some("4c3d") | Some("9a0b")
        )
}

/// Plans binding every configured NVMe controller to the driver DAOS uses, refusing
/// anything that could hurt the host: a device that is not an NVMe controller (a wrong
/// address in bdev_list could name the NIC that carries the default route), a namespace
/// that is mounted, swap, or held by LVM/MD/dm, an IOMMU group shared with devices on
/// other drivers, and vfio-pci without an IOMMU.
fn plan_nvme(
    p: &mut Plan,
    facts: &Facts,
    cfg: &ServerConfig,
    inputs: &FixInputs,
    check: &str,
    opts: PlanOptions,
) {
    let target = if cfg.disable_vfio {
        "uio_pci_generic"
    } else {
        "vfio-pci"
    };
    // the same device list nvme.present/nvme.driver judge (bdev_exclude removed,
    // addresses normalized as SPDK parses them); VMD-backed SSDs are DAOS's to prepare
    let configured = crate::daos::requirements::configured_nvme(cfg);
    let mut wanted: Vec<String> = configured
        .iter()
        .filter_map(|c| match &c.address {
            crate::daos::requirements::NvmeAddress::Pci { address } => Some(address.clone()),
            _ => None,
        })
        .collect();
    wanted.sort();
    wanted.dedup();
    let owner = service_owner(facts);
    let iommu_on = !facts.iommu.units.is_empty() || facts.iommu.noiommu_mode == Some(true);
    let refuse = |p: &mut Plan, why: String| {
        p.manual.push(ManualStep {
            check: check.to_string(),
            reason: format!("refused: {why}"),
            actions: vec![],
        })
    };
    let mut binds = Vec::new();
    for addr in &wanted {
        let Some(dev) = facts.pci.devices.iter().find(|d| &d.address == addr) else {
            refuse(
                p,
                format!("{addr} is not a PCI device on this host (see nvme.present)"),
            );
            continue;
        };
        if dev.driver.as_deref() == Some(target) {
            continue;
        }
        if is_vmd(dev) {
            refuse(
                p,
                format!(
                    "{addr} is a VMD controller: set enable_vmd/disable_vmd in daos_server.yml, DAOS prepares it"
                ),
            );
            continue;
        }
        if !dev.class.as_deref().is_some_and(|c| c.starts_with("0108")) {
            refuse(
                p,
                format!(
                    "{addr} is not an NVMe controller (class {}, driver {}): check bdev_list",
                    dev.class.as_deref().unwrap_or("?"),
                    dev.driver.as_deref().unwrap_or("none")
                ),
            );
            continue;
        }
        let busy: Vec<String> = dev
            .nvme
            .iter()
            .flat_map(|n| &n.namespaces)
            .filter(|ns| ns.in_use())
            .map(|ns| {
                let mut why = Vec::new();
                if !ns.mountpoints.is_empty() {
                    why.push(format!("mounted on {}", ns.mountpoints.join(", ")));
                }
                if !ns.holders.is_empty() {
                    why.push(format!("held by {} (LVM/MD/dm)", ns.holders.join(", ")));
                }
                if ns.swap {
                    why.push("active swap".to_string());
                }
                format!("{} {}", ns.name, why.join(", "))
            })
            .collect();
        if !busy.is_empty() {
            refuse(p, format!("{addr} is in use: {}", busy.join("; ")));
            continue;
        }
        if target == "vfio-pci" && !iommu_on {
            refuse(
                p,
                format!("{addr}: vfio-pci needs an active IOMMU (see iommu.kernel)"),
            );
            continue;
        }
        if let Some(g) = dev.iommu_group {
            let blockers: Vec<String> = facts
                .pci
                .devices
                .iter()
                .filter(|d| {
                    d.iommu_group == Some(g) && d.address != *addr && !wanted.contains(&d.address)
                })
                .filter(|d| {
                    !matches!(
                        d.driver.as_deref(),
                        None | Some("vfio-pci") | Some("pcieport")
                    )
                })
                .map(|d| format!("{} ({})", d.address, d.driver.as_deref().unwrap_or("")))
                .collect();
            if !blockers.is_empty() {
                refuse(
                    p,
                    format!(
                        "{addr}: IOMMU group {g} also holds {} on other drivers, so the group can't be given to VFIO",
                        blockers.join(", ")
                    ),
                );
                continue;
            }
        }
        binds.push(Step {
            check: check.to_string(),
            reason: format!("DAOS (SPDK) drives {addr} through {target}"),
            action: Action::BindDriver {
                address: addr.clone(),
                driver: target.to_string(),
                current: dev.driver.clone(),
                iommu_group: dev.iommu_group,
                owner: owner.clone().filter(|_| target == "vfio-pci"),
            },
            reboot_required: false,
        });
    }
    if binds.is_empty() {
        return;
    }
    let module = target.replace('-', "_");
    if opts.persistent {
        push_file(
            p,
            inputs,
            check,
            &format!("load {target} at every boot"),
            MODULES_FILE,
            format!(
                "# Written by daos-preflight fix --persistent: DAOS (SPDK) drives NVMe through it.\n{target}\n"
            ),
            false,
        );
    }
    if !facts.kernel.sys_modules.contains(&module) {
        p.actions.push(Step {
            check: check.to_string(),
            reason: format!("{target} must be loaded before devices can bind to it"),
            action: Action::LoadModule {
                module: target.to_string(),
            },
            reboot_required: false,
        });
    }
    p.actions.extend(binds);
}

/// Directories the `daos.dirs` check found missing or not writable by the service user
/// (its `details.repairs`).
fn plan_dirs(p: &mut Plan, r: &CheckResult, facts: &Facts) {
    let Some(repairs) = r.details.get("repairs").and_then(|v| v.as_array()) else {
        return p.manual.push(manual(r, "nothing structured to repair"));
    };
    for rep in repairs {
        let Some(path) = rep.get("path").and_then(|v| v.as_str()) else {
            continue;
        };
        let create = rep.get("create").and_then(|v| v.as_bool()).unwrap_or(false);
        let user = rep.get("user").and_then(|v| v.as_str());
        let group = rep.get("group").and_then(|v| v.as_str());
        let owner = match (user, group) {
            (Some(u), Some(g)) => match resolve_owner(facts, u, Some(g)) {
                Some(o) => Some(o),
                None => {
                    p.manual.push(ManualStep {
                        check: r.id.clone(),
                        reason: format!(
                            "{path}: user {u} or group {g} does not exist (see daos.user)"
                        ),
                        actions: vec![],
                    });
                    continue;
                }
            },
            _ => None,
        };
        if !create && owner.is_none() {
            continue;
        }
        // several configuration items can name one directory (control and engine logs)
        if p.actions
            .iter()
            .any(|s| matches!(&s.action, Action::PrepareDirectory { path: q, .. } if q == path))
        {
            continue;
        }
        p.actions.push(Step {
            check: r.id.clone(),
            reason: if create {
                format!("{path} is missing")
            } else {
                format!("{path} is not writable by the service user")
            },
            action: Action::PrepareDirectory {
                path: path.to_string(),
                create,
                owner,
            },
            reboot_required: false,
        });
    }
}

/// Ports `firewall.ports` found closed (its `details.to_open`): opened permanently in
/// their zone, then one reload. Never a firewall disable.
fn plan_firewall(p: &mut Plan, r: &CheckResult) {
    let Some(list) = r.details.get("to_open").and_then(|v| v.as_array()) else {
        return p.manual.push(manual(r, "nothing structured to open"));
    };
    let mut any = false;
    for o in list {
        let (Some(zone), Some(port)) = (
            o.get("zone").and_then(|v| v.as_str()),
            o.get("port").and_then(|v| v.as_str()),
        ) else {
            continue;
        };
        any = true;
        p.actions.push(Step {
            check: r.id.clone(),
            reason: format!("DAOS needs {port} open in firewalld zone {zone}"),
            action: Action::Run {
                argv: vec![
                    "firewall-cmd".into(),
                    "--permanent".into(),
                    format!("--zone={zone}"),
                    format!("--add-port={port}"),
                ],
            },
            reboot_required: false,
        });
    }
    if any {
        p.actions.push(Step {
            check: r.id.clone(),
            reason: "make the permanent configuration the running one".into(),
            action: Action::Run {
                argv: vec!["firewall-cmd".into(), "--reload".into()],
            },
            reboot_required: false,
        });
    }
}

/// `file` bdevs that are missing or smaller than `bdev_size`, in an existing directory:
/// created sparse at their size and given to the service user.
fn plan_bdev_files(p: &mut Plan, facts: &Facts, cfg: &ServerConfig, r: &CheckResult) {
    use crate::daos::config::StorageClass;
    let owner = service_owner(facts);
    for b in crate::daos::requirements::configured_emulated_bdevs(cfg) {
        if b.class != StorageClass::File {
            continue;
        }
        let Some(gib) = b
            .size_gib
            .and_then(|g| u64::try_from(g).ok())
            .filter(|g| *g > 0)
        else {
            continue;
        };
        let want = gib << 30;
        let fact = facts.files.iter().find(|f| f.path == b.path);
        let have = fact
            .filter(|f| f.exists == Some(true))
            .and_then(|f| f.size_bytes);
        if have.is_some_and(|h| h >= want) {
            continue;
        }
        if fact.is_some_and(|f| f.exists == Some(true) && f.kind.as_deref() != Some("file")) {
            p.manual.push(ManualStep {
                check: r.id.clone(),
                reason: format!(
                    "{} exists and is not a regular file: refusing to touch it",
                    b.path
                ),
                actions: vec![],
            });
            continue;
        }
        let parent = crate::daos::requirements::parent_dir(&b.path);
        let parent_ok = parent
            .as_deref()
            .and_then(|d| facts.files.iter().find(|f| f.path == d))
            .is_some_and(|f| f.kind.as_deref() == Some("directory"));
        if !parent_ok {
            p.manual.push(ManualStep {
                check: r.id.clone(),
                reason: format!("{}: its directory is missing (see daos.dirs)", b.path),
                actions: vec![],
            });
            continue;
        }
        p.actions.push(Step {
            check: r.id.clone(),
            reason: format!("bdev_size {gib} GiB for the emulated NVMe {}", b.path),
            action: Action::CreateSparseFile {
                path: b.path.clone(),
                size_bytes: want,
                owner: owner.clone(),
            },
            reboot_required: false,
        });
    }
}
