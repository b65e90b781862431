//! Human-readable rendering: one aligned line per check, an indented hint for every
//! non-pass, colour only when asked for (a TTY without NO_COLOR).

use std::fmt::Write;

use super::Report;
use crate::checks::Status;

/// Rendering options.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextOptions {
    /// ANSI colours.
    pub color: bool,
    /// Only warn/fail/error lines, no header or footer: silent when all is well
    /// (for `ExecStartPre=`, whose output lands in the journal).
    pub quiet: bool,
}

fn paint(s: &str, code: &str, on: bool) -> String {
    if on {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

fn status_label(s: Status, color: bool) -> String {
    let (label, code) = match s {
        Status::Pass => ("PASS ", "32"),
        Status::Warn => ("WARN ", "33"),
        Status::Fail => ("FAIL ", "1;31"),
        Status::Skip => ("SKIP ", "2"),
        Status::Error => ("ERROR", "35"),
    };
    paint(label, code, color)
}

/// Renders the report as text.
pub fn render(report: &Report, opts: TextOptions) -> String {
    let mut out = String::new();
    let shown: Vec<_> = report
        .checks
        .iter()
        .filter(|c| !opts.quiet || matches!(c.status, Status::Warn | Status::Fail | Status::Error))
        .collect();
    if !opts.quiet {
        let _ = writeln!(
            out,
            "{} {} · host {} · kernel {} · DAOS rules {}",
            report.tool.name,
            report.tool.version,
            report.host.hostname.as_deref().unwrap_or("?"),
            report.host.kernel.as_deref().unwrap_or("?"),
            report.daos_version
        );
        if report.facts.source.root != "/" {
            let _ = writeln!(out, "(reading the tree at {})", report.facts.source.root);
        }
        out.push('\n');
    }
    let width = shown.iter().map(|c| c.id.len()).max().unwrap_or(0);
    let indent = " ".repeat(5 + 2 + width + 2);
    for c in &shown {
        let _ = writeln!(
            out,
            "{}  {:width$}  {}",
            status_label(c.status, opts.color),
            c.id,
            c.summary
        );
        if c.status == Status::Pass {
            continue;
        }
        if let Some(r) = &c.remediation {
            let _ = writeln!(
                out,
                "{indent}{} {}{}",
                paint("fix:", "1", opts.color),
                r.summary,
                if r.reboot_required {
                    " (reboot required)"
                } else {
                    ""
                }
            );
            for a in &r.actions {
                let _ = writeln!(out, "{indent}  $ {a}");
            }
        }
        if let Some(code) = &c.daos_fault_code {
            let _ = writeln!(out, "{indent}DAOS fault: {code}");
        }
    }
    if !opts.quiet {
        let s = &report.summary;
        let verdict = if s.fail > 0 {
            paint("NOT READY", "1;31", opts.color)
        } else if s.warn > 0 || s.error > 0 {
            paint("READY, with warnings", "33", opts.color)
        } else {
            paint("READY", "32", opts.color)
        };
        let _ = writeln!(
            out,
            "\n{} checks: {} pass, {} warn, {} fail, {} skip, {} error — {}",
            report.checks.len(),
            s.pass,
            s.warn,
            s.fail,
            s.skip,
            s.error,
            verdict
        );
    }
    out
}
