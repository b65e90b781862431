//! Planning: failing checks → the exact actions that fix them. Pure: everything the
//! planner needs from the host (current file contents, which tools exist) is gathered
//! beforehand in [`FixInputs`], so `--dry-run` prints exactly what `fix` would do.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::cmdline::{self, KernelArg};
use crate::checks::Status;
use crate::facts::Facts;
use crate::facts::system::DAOS_SYSCTLS;
use crate::report::CheckResult;

/// Where `fix` persists the DAOS sysctls. A late name so it wins over distribution files
/// (sysctl.d(5): files are applied in name order, the last assignment wins).
pub const SYSCTL_FILE: &str = "/etc/sysctl.d/90-daos-preflight.conf";
/// The drop-in `fix` writes for `daos_server.service` (drop-ins apply in name order).
pub const MEMLOCK_DROPIN: &str =
    "/etc/systemd/system/daos_server.service.d/90-daos-preflight-memlock.conf";
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
pub fn plan(facts: &Facts, results: &[CheckResult], inputs: &FixInputs, opts: PlanOptions) -> Plan {
    let mut p = Plan::default();
    let mut cmdline_want: Vec<(String, KernelArg)> = Vec::new();
    for r in results.iter().filter(|r| needs_fix(r)) {
        match r.id.as_str() {
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
