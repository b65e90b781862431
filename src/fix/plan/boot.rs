//! Boot entries: the kernel command line through grubby (BLS) and
//! `/etc/default/grub`, with the grub configuration regenerated where there is no grubby.

use super::cmdline::{self, KernelArg};
use super::{Action, FixInputs, ManualStep, Plan, PlanOptions, Step, manual};
use crate::facts::Facts;
use crate::report::CheckResult;

pub(super) fn plan_cmdline(
    p: &mut Plan,
    facts: &Facts,
    inputs: &FixInputs,
    want: &[(String, KernelArg)],
) {
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
                    undo: grubby_undo(grubby, inputs, &args),
                    undo_last: false,
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
                            // undo: once /etc/default/grub is restored, regenerate again
                            action: Action::Run {
                                argv: argv.clone(),
                                undo: Some(argv.clone()),
                                undo_last: true,
                            },
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

/// `iommu.kernel` failing because of the command line on an Intel host: the flags are
/// added with `--persistent` (a reboot), else a manual step says so.
pub(super) fn plan_iommu(
    p: &mut Plan,
    r: &CheckResult,
    facts: &Facts,
    opts: PlanOptions,
    cmdline_want: &mut Vec<(String, KernelArg)>,
) {
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
                reason: "changing the kernel command line needs --persistent (and a reboot)".into(),
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

/// What `--undo` runs to take grubby's change back: `--remove-args=` of the arguments
/// no boot entry had before, and `--args=` of the value every entry had for a key the
/// fix changed (`intel_iommu=off` where it set `intel_iommu=on`: grubby's `--args`
/// replaces a key's value, so the entries get their own value back rather than losing the
/// key, which on a kernel built IOMMU-on would leave the IOMMU on). An argument some
/// entries already had, or a key whose values differ between entries, is left as the
/// fix set it: a single `--update-kernel=ALL` cannot give each entry its own value back,
/// and removing it would take away what the administrator set. Without BLS entries
/// (grubby then edits whatever entries exist) every argument counts as added.
fn grubby_undo(grubby: &str, inputs: &FixInputs, args: &[KernelArg]) -> Option<Vec<String>> {
    let mut remove: Vec<String> = Vec::new();
    let mut restore: Vec<String> = Vec::new();
    let entries: Vec<&String> = inputs.bls_entries.values().collect();
    for a in args {
        let before: Vec<Vec<&str>> = entries
            .iter()
            .map(|opts| cmdline::values_of(opts, &a.key))
            .collect();
        if before.iter().all(|v| v.is_empty()) {
            remove.push(a.to_string());
            continue;
        }
        let wanted = a.to_string();
        if before.iter().all(|v| v.iter().all(|t| *t == wanted)) {
            continue; // nothing changed for this key
        }
        if let Some(first) = before.first().and_then(|v| v.first())
            && before.iter().all(|v| v == &before[0])
            && !before[0].contains(&wanted.as_str())
        {
            restore.push(first.to_string());
        }
    }
    if remove.is_empty() && restore.is_empty() {
        return None;
    }
    let mut undo = vec![grubby.to_string(), "--update-kernel=ALL".into()];
    if !remove.is_empty() {
        undo.push(format!("--remove-args={}", remove.join(" ")));
    }
    if !restore.is_empty() {
        undo.push(format!("--args={}", restore.join(" ")));
    }
    Some(undo)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn undo_of(entries: &[&str]) -> Option<Vec<String>> {
        let inputs = FixInputs {
            bls_entries: entries
                .iter()
                .enumerate()
                .map(|(i, o)| (format!("/boot/loader/entries/{i}.conf"), o.to_string()))
                .collect(),
            ..FixInputs::default()
        };
        let args: Vec<KernelArg> = ["intel_iommu=on", "iommu=pt"]
            .iter()
            .map(|a| KernelArg::parse(a))
            .collect();
        grubby_undo("/usr/sbin/grubby", &inputs, &args)
    }

    fn argv(v: &[&str]) -> Option<Vec<String>> {
        let mut a = vec!["/usr/sbin/grubby".to_string(), "--update-kernel=ALL".into()];
        a.extend(v.iter().map(|s| s.to_string()));
        Some(a)
    }

    #[test]
    fn grubby_undo_removes_what_it_added_and_restores_what_it_replaced() {
        // no BLS entries known: both were added
        assert_eq!(
            undo_of(&[]),
            argv(&["--remove-args=intel_iommu=on iommu=pt"])
        );
        // neither was there
        assert_eq!(
            undo_of(&["ro quiet", "ro rhgb quiet"]),
            argv(&["--remove-args=intel_iommu=on iommu=pt"])
        );
        // intel_iommu=off on every entry comes back as it was
        assert_eq!(
            undo_of(&["ro intel_iommu=off", "ro intel_iommu=off quiet"]),
            argv(&["--remove-args=iommu=pt", "--args=intel_iommu=off"])
        );
        // iommu=pt was already set everywhere: left alone
        assert_eq!(
            undo_of(&["ro iommu=pt", "iommu=pt"]),
            argv(&["--remove-args=intel_iommu=on"])
        );
        // everything already there: nothing to undo
        assert_eq!(undo_of(&["intel_iommu=on iommu=pt"]), None);
        // some entries had it: kept (removing it would take the admin's setting away)
        assert_eq!(
            undo_of(&["ro iommu=pt", "ro"]),
            argv(&["--remove-args=intel_iommu=on"])
        );
        // values differ between entries: no single value to give back
        assert_eq!(
            undo_of(&["intel_iommu=off", "intel_iommu=igfx_off"]),
            argv(&["--remove-args=iommu=pt"])
        );
    }
}
