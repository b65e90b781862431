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

/// `grubby --update-kernel=ALL --remove-args=...` of the arguments no boot entry had
/// before (an argument some entry already had is left alone by `--undo`: removing it
/// would take away what the administrator set).
fn grubby_undo(grubby: &str, inputs: &FixInputs, args: &[KernelArg]) -> Option<Vec<String>> {
    let added: Vec<String> = args
        .iter()
        .filter(|a| {
            inputs
                .bls_entries
                .values()
                .all(|opts| cmdline::edit_args(opts, std::slice::from_ref(*a)).is_some())
        })
        .map(KernelArg::to_string)
        .collect();
    (!added.is_empty()).then(|| {
        vec![
            grubby.to_string(),
            "--update-kernel=ALL".into(),
            format!("--remove-args={}", added.join(" ")),
        ]
    })
}
