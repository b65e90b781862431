//! `daos-preflight fix`: failing checks → a plan (pure, printable) → apply (host writes,
//! read back) → verify (a fresh check).
//!
//! Safety rules (issue #5): `--dry-run` shows exactly what would be written and changes
//! nothing; runtime fixes never need a reboot; boot-time changes (kernel command line,
//! sysctl.d) only with `--persistent`; BIOS settings are never "fixed"; files are replaced
//! atomically with a backup; sysfs writes are read back; a lock keeps two runs apart; a
//! write-ahead journal lets `--undo` restore what was changed and the next run finish or
//! roll back what a crash interrupted (issue #14); every path is walked safely
//! (`host::safe_path`); a second run plans nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::checks::Status;
use crate::host::Host;
use crate::report::Report;

pub mod apply;
pub mod cmdline;
pub mod held;
pub mod journal;
pub mod plan;
pub mod recover;

pub use apply::{ActionResult, Outcome};
pub use journal::Journal;
pub use plan::{Action, FixInputs, Plan, PlanOptions};

/// Schema of the fix report.
pub const FIX_SCHEMA: &str = "daos-preflight/fix/v1";

/// Files the planner may rewrite, read beforehand so the plan can diff them.
const PLANNED_FILES: &[&str] = &[
    plan::SYSCTL_FILE,
    plan::MEMLOCK_DROPIN,
    plan::MODULES_FILE,
    crate::checks::vendor_unit::SERVER_DROPIN,
    crate::checks::vendor_unit::AGENT_DROPIN,
    crate::checks::service_limits::LIMITS_DROPIN,
];

/// Reads what the planner needs from the host.
pub fn collect_inputs(host: &Host) -> FixInputs {
    let mut inputs = FixInputs {
        default_grub: host.read_string("/etc/default/grub").ok(),
        grubby: host.find_program("grubby"),
        systemd: host.exists("/run/systemd/system"),
        ..FixInputs::default()
    };
    let kernelopts = ["/boot/grub2/grubenv", "/boot/efi/EFI/redhat/grubenv"]
        .iter()
        .find_map(|p| host.read_string(p).ok())
        .and_then(|t| cmdline::grubenv_kernelopts(&t));
    for name in host.list_dir("/boot/loader/entries").unwrap_or_default() {
        if !name.ends_with(".conf") {
            continue;
        }
        let path = format!("/boot/loader/entries/{name}");
        if let Some(opts) = host
            .read_string(&path)
            .ok()
            .and_then(|t| cmdline::bls_options(&t, kernelopts.as_deref()))
        {
            inputs.bls_entries.insert(path, opts);
        }
    }
    // grub.cfg regeneration for hosts without grubby (Debian/Ubuntu/SUSE)
    for (cfg, tools) in [
        ("/boot/grub2/grub.cfg", ["grub2-mkconfig", "grub-mkconfig"]),
        ("/boot/grub/grub.cfg", ["grub-mkconfig", "grub2-mkconfig"]),
    ] {
        if inputs.grub_mkconfig.is_some() || !host.exists(cfg) {
            continue;
        }
        if let Some(tool) = tools.iter().find_map(|t| host.find_program(t)) {
            inputs.grub_mkconfig = Some(vec![tool, "-o".into(), cfg.into()]);
        }
    }
    for f in PLANNED_FILES {
        inputs.files.insert(f.to_string(), host.read_string(f).ok());
    }
    for dir in [
        "/etc/sysctl.d",
        "/run/sysctl.d",
        "/usr/lib/sysctl.d",
        "/lib/sysctl.d",
    ] {
        for name in host.list_dir(dir).unwrap_or_default() {
            if name.ends_with(".conf") {
                let p = format!("{dir}/{name}");
                if let Ok(t) = host.read_string(&p) {
                    inputs.sysctl_files.insert(p, t);
                }
            }
        }
    }
    if let Ok(t) = host.read_string("/etc/sysctl.conf") {
        inputs.sysctl_files.insert("/etc/sysctl.conf".into(), t);
    }
    inputs
}

/// What `fix` did (or would do).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixReport {
    /// Always [`FIX_SCHEMA`].
    pub schema: String,
    /// Nothing was changed.
    pub dry_run: bool,
    /// Boot-time changes were allowed.
    pub persistent: bool,
    /// The plan's actions.
    pub actions: Vec<plan::Step>,
    /// What a person must do.
    pub manual: Vec<plan::ManualStep>,
    /// Remarks.
    pub notes: Vec<String>,
    /// Unfinished changes of an earlier run (it crashed or was killed) found in the
    /// journal, each completed or rolled back before planning, saying which.
    #[serde(default)]
    pub recovered: Vec<String>,
    /// Per action, what happened (empty on a dry run).
    pub results: Vec<ActionResult>,
    /// Check statuses before.
    pub before: BTreeMap<String, Status>,
    /// Check statuses after (a fresh check; empty on a dry run).
    pub after: BTreeMap<String, Status>,
    /// A reboot is needed for applied changes to take effect.
    pub reboot_required: bool,
}

impl FixReport {
    /// Exit code (design.md §3): 3 when something was not applied, 4 when applied
    /// changes need a reboot, else 0.
    pub fn exit_code(&self) -> i32 {
        if self.results.iter().any(|r| r.outcome != Outcome::Applied) {
            3
        } else if self.reboot_required {
            4
        } else {
            0
        }
    }
}

fn statuses(report: &Report) -> BTreeMap<String, Status> {
    report
        .checks
        .iter()
        .map(|c| (c.id.clone(), c.status))
        .collect()
}

/// Plans (and unless `dry_run`, applies and verifies) the fixes. `report` produces a
/// fresh check report: before planning (after unfinished changes of an earlier run were
/// completed or rolled back) and after applying.
pub fn run(
    host: &Host,
    config: Option<&crate::daos::config::ServerConfig>,
    opts: PlanOptions,
    dry_run: bool,
    report: impl Fn() -> Report,
) -> Result<FixReport, String> {
    let mut held = None;
    let mut recovered = Vec::new();
    let mut extra_notes = Vec::new();
    if dry_run {
        let journal = Journal::load(host)?;
        if journal.unfinished() > 0 {
            extra_notes.push(format!(
                "the journal has {} unfinished change(s) of an interrupted run: the next fix completes or rolls them back first",
                journal.unfinished()
            ));
        }
    } else {
        let lock = host.lock_fix().map_err(|e| e.to_string())?;
        let mut journal = Journal::load(host)?;
        extra_notes.append(&mut journal.dropped);
        recovered = recover::recover(host, &mut journal);
        held = Some((lock, journal));
    }
    let before = report();
    let inputs = collect_inputs(host);
    let plan = plan::plan(&before.facts, &before.checks, config, &inputs, opts);
    let mut report_out = FixReport {
        schema: FIX_SCHEMA.into(),
        dry_run,
        persistent: opts.persistent,
        reboot_required: false,
        before: statuses(&before),
        after: BTreeMap::new(),
        results: Vec::new(),
        actions: plan.actions.clone(),
        manual: plan.manual.clone(),
        notes: plan.notes.iter().cloned().chain(extra_notes).collect(),
        recovered,
    };
    let Some((_lock, mut journal)) = held else {
        return Ok(report_out);
    };
    if plan.actions.is_empty() {
        if !report_out.recovered.is_empty() {
            report_out.after = statuses(&report());
        }
        return Ok(report_out);
    }
    report_out.results = apply::apply(host, &plan, &mut journal);
    journal.save(host)?;
    report_out.reboot_required = plan
        .actions
        .iter()
        .zip(&report_out.results)
        .any(|(s, r)| s.reboot_required && r.outcome == Outcome::Applied);
    report_out.after = statuses(&report());
    Ok(report_out)
}

/// `fix --undo`: restores what the journal recorded (finished or not), keeping only
/// what could not be restored.
pub fn undo(host: &Host) -> Result<(Vec<String>, bool), String> {
    let _lock = host.lock_fix().map_err(|e| e.to_string())?;
    let mut journal = Journal::load(host)?;
    let mut lines: Vec<String> = journal.dropped.drain(..).collect();
    if journal.entries.is_empty() {
        lines.push("nothing to undo: the journal is empty".into());
        return Ok((lines, true));
    }
    let (undone, ok) = recover::undo(host, &mut journal);
    lines.extend(undone);
    journal.save(host)?;
    Ok((lines, ok))
}

/// Renders a fix report as text.
pub fn render_text(r: &FixReport) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let title = if r.dry_run { "fix --dry-run" } else { "fix" };
    if r.actions.is_empty() {
        let _ = writeln!(o, "{title}: nothing to do");
    } else {
        let _ = writeln!(o, "{title}: {} action(s)", r.actions.len());
    }
    for (i, s) in r.actions.iter().enumerate() {
        let result = r.results.iter().find(|x| x.index == i);
        let mark = match result.map(|x| x.outcome) {
            None => "  ",
            Some(Outcome::Applied) => "ok",
            Some(Outcome::Failed) => "!!",
            Some(Outcome::Skipped) => "--",
        };
        let _ = writeln!(
            o,
            "{mark} [{}] {}{}",
            s.check,
            s.action.describe(),
            if s.reboot_required {
                " (after reboot)"
            } else {
                ""
            }
        );
        let _ = writeln!(o, "     why: {}", s.reason);
        if let Action::WriteFile { diff, content, .. } = &s.action {
            let text = diff
                .clone()
                .unwrap_or_else(|| content.lines().map(|l| format!("+{l}\n")).collect());
            for l in text.lines() {
                let _ = writeln!(o, "     {l}");
            }
        }
        if let Action::RemoveStaleHugepageFiles { dir, files, .. } = &s.action {
            const SHOWN: usize = 50;
            for f in files.iter().take(SHOWN) {
                let _ = writeln!(o, "     - {dir}/{f}");
            }
            if files.len() > SHOWN {
                let _ = writeln!(
                    o,
                    "     ... and {} more (--format json lists all)",
                    files.len() - SHOWN
                );
            }
        }
        if let Some(x) = result {
            let _ = writeln!(o, "     {:?}: {}", x.outcome, x.message);
        }
    }
    if !r.manual.is_empty() {
        let _ = writeln!(o, "\nnot done by fix (do these by hand):");
        for m in &r.manual {
            let _ = writeln!(o, "   [{}] {}", m.check, m.reason);
            for a in &m.actions {
                let _ = writeln!(o, "       {a}");
            }
        }
    }
    for n in &r.notes {
        let _ = writeln!(o, "\nnote: {n}");
    }
    for n in &r.recovered {
        let _ = writeln!(o, "\nrecovered: {n}");
    }
    if !r.after.is_empty() {
        let _ = writeln!(o, "\nbefore → after:");
        for (id, b) in &r.before {
            let a = r.after.get(id).copied().unwrap_or(Status::Skip);
            if *b != a {
                let _ = writeln!(o, "   {id}: {b} → {a}");
            }
        }
    }
    if r.reboot_required {
        let _ = writeln!(o, "\nreboot required for the changes marked (after reboot)");
    }
    o
}
