//! Files and directories: the DAOS sysctls (runtime and sysctl.d), file writes with
//! their diff, and the directories `daos.dirs` found missing or not writable.

use std::collections::BTreeMap;

use super::{
    Action, FixInputs, ManualStep, Plan, SYSCTL_FILE, Step, cmdline, manual, resolve_owner,
};
use crate::facts::Facts;
use crate::facts::system::DAOS_SYSCTLS;
use crate::report::CheckResult;

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

/// Adds a file write unless the file already has exactly `content`; true when added.
pub(super) fn push_file(
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

/// Directories the `daos.dirs` check found missing or not writable by the service user
/// (its `details.repairs`).
pub(super) fn plan_dirs(p: &mut Plan, r: &CheckResult, facts: &Facts) {
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

/// The DAOS sysctls below their value, written at runtime through /proc/sys.
pub(super) fn plan_sysctls(p: &mut Plan, r: &CheckResult, facts: &Facts) {
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

/// `/etc/sysctl.d/90-daos-preflight.conf` when the boot configuration (every sysctl.d
/// file, in systemd-sysctl's order) leaves a DAOS sysctl below its value.
pub(super) fn persist_sysctls(p: &mut Plan, results: &[CheckResult], inputs: &FixInputs) {
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
                p,
                inputs,
                "sysctl.daos",
                "persist the DAOS sysctls",
                SYSCTL_FILE,
                content,
                false,
            );
        }
    }
}
