//! Applying a plan: every action through [`Host`], sysfs writes read back, files
//! replaced atomically with a backup, and a journal under `/run/daos-preflight` so
//! `fix --undo` can put things back.

use serde::{Deserialize, Serialize};

use super::plan::{Action, Plan};
use crate::facts::parse::parse_bracket_choice;
use crate::host::Host;

/// Where the journal lives (tmpfs: it describes this boot's runtime changes).
pub const JOURNAL: &str = "/run/daos-preflight/journal.json";

/// Outcome of one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done and verified.
    Applied,
    /// Tried and failed (nothing half-done: attribute writes are single writes, files
    /// are replaced atomically).
    Failed,
    /// Not attempted (an earlier step it depends on failed, or not possible here).
    Skipped,
}

/// The result of one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResult {
    /// Index in the plan's `actions`.
    pub index: usize,
    /// Outcome.
    pub outcome: Outcome,
    /// What happened (read-back value, error, command output).
    pub message: String,
}

/// One undoable change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JournalEntry {
    /// An attribute and the value it had.
    Attribute {
        /// Host path.
        path: String,
        /// Value before (the selected word for choice files like THP).
        original: String,
    },
    /// A file replaced or created.
    File {
        /// Host path.
        path: String,
        /// Backup of the original (`null`: the file did not exist before).
        backup: Option<String>,
    },
}

/// The journal: what `fix` changed since boot, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// Entries.
    pub entries: Vec<JournalEntry>,
}

impl Journal {
    /// Reads the journal (empty when absent).
    pub fn load(host: &Host) -> Result<Journal, String> {
        match host.read_string(JOURNAL) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| format!("{}: corrupt journal: {e}", host.path(JOURNAL).display())),
            Err(e) if e.is_not_found() => Ok(Journal::default()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Writes the journal atomically.
    pub fn save(&self, host: &Host) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        host.replace_file(JOURNAL, &(text + "\n"), 0o600)
            .map(|_| ())
            .map_err(|e| e.to_string())?;
        // the journal's own backup is meaningless
        let _ = host.remove_file(&format!("{JOURNAL}{}", crate::host::write::BACKUP_SUFFIX));
        Ok(())
    }
}

/// True when the read-back value shows `wanted` took effect: equal, or the selected
/// word of a choice file (`always madvise [never]`).
pub fn readback_matches(readback: &str, wanted: &str) -> bool {
    readback == wanted || parse_bracket_choice(readback).as_deref() == Some(wanted)
}

fn current_attr(host: &Host, path: &str) -> Option<String> {
    let v = host.read_attr(path).ok()?;
    Some(parse_bracket_choice(&v).unwrap_or(v))
}

/// Applies the plan in order, journaling what can be undone.
pub fn apply(host: &Host, plan: &Plan, journal: &mut Journal) -> Vec<ActionResult> {
    let mut results = Vec::new();
    for (index, step) in plan.actions.iter().enumerate() {
        let (outcome, message) = match &step.action {
            Action::WriteAttribute { path, value, .. } => {
                let original = current_attr(host, path);
                match host.write_attr(path, value) {
                    Ok(back) if readback_matches(&back, value) => {
                        if let Some(original) = original.filter(|o| o != value) {
                            journal.entries.push(JournalEntry::Attribute {
                                path: path.clone(),
                                original,
                            });
                        }
                        (Outcome::Applied, format!("{path} now reads {back:?}"))
                    }
                    Ok(back) => (
                        Outcome::Failed,
                        format!("wrote {value:?} to {path} but it reads back {back:?}"),
                    ),
                    Err(e) => (Outcome::Failed, e.to_string()),
                }
            }
            Action::WriteFile {
                path,
                content,
                mode,
                ..
            } => {
                let existed = host.exists(path);
                match host.replace_file(path, content, *mode) {
                    Ok(backup) => {
                        // a file we made earlier keeps its first journal entry
                        let known = journal
                            .entries
                            .iter()
                            .any(|e| matches!(e, JournalEntry::File { path: p, .. } if p == path));
                        if !known {
                            journal.entries.push(JournalEntry::File {
                                path: path.clone(),
                                backup: if existed {
                                    backup.or_else(|| {
                                        Some(format!("{path}{}", crate::host::write::BACKUP_SUFFIX))
                                    })
                                } else {
                                    None
                                },
                            });
                        }
                        (Outcome::Applied, format!("{path} written"))
                    }
                    Err(e) => (Outcome::Failed, e.to_string()),
                }
            }
            Action::LoadModule { module } => {
                let argv = vec!["modprobe".to_string(), module.clone()];
                match host.run_command(&argv) {
                    Ok(out)
                        if out.code == Some(0)
                            && host
                                .exists(&format!("/sys/module/{}", module.replace('-', "_"))) =>
                    {
                        (Outcome::Applied, format!("{module} loaded"))
                    }
                    Ok(out) => (
                        Outcome::Failed,
                        format!("modprobe {module} failed: {}", out.stderr.trim()),
                    ),
                    Err(e) => (Outcome::Skipped, e.to_string()),
                }
            }
            Action::Run { argv } => match host.run_command(argv) {
                Ok(out) if out.code == Some(0) => (Outcome::Applied, out.stdout.trim().to_string()),
                Ok(out) => (
                    Outcome::Failed,
                    format!(
                        "{} exited with {:?}: {}",
                        argv.join(" "),
                        out.code,
                        out.stderr.trim()
                    ),
                ),
                Err(e) => (Outcome::Skipped, e.to_string()),
            },
        };
        results.push(ActionResult {
            index,
            outcome,
            message,
        });
    }
    results
}

/// Undoes the journal, newest first; returns one line per entry and whether all worked.
pub fn undo(host: &Host, journal: &Journal) -> (Vec<String>, bool) {
    let mut lines = Vec::new();
    let mut ok = true;
    for e in journal.entries.iter().rev() {
        let r = match e {
            JournalEntry::Attribute { path, original } => host
                .write_attr(path, original)
                .map_err(|e| e.to_string())
                .and_then(|back| {
                    if readback_matches(&back, original) {
                        Ok(format!("restored {path} to {original:?}"))
                    } else {
                        Err(format!(
                            "{path} reads back {back:?} after restoring {original:?}"
                        ))
                    }
                }),
            JournalEntry::File { path, backup: None } => host
                .remove_file(path)
                .map(|_| format!("removed {path}"))
                .map_err(|e| e.to_string()),
            JournalEntry::File {
                path,
                backup: Some(bak),
            } => host
                .read_string(bak)
                .map_err(|e| e.to_string())
                .and_then(|orig| {
                    host.replace_file(path, &orig, 0o644)
                        .map_err(|e| e.to_string())
                })
                .map(|_| format!("restored {path} from {bak}")),
        };
        match r {
            Ok(l) => lines.push(l),
            Err(l) => {
                ok = false;
                lines.push(format!("FAILED: {l}"));
            }
        }
    }
    (lines, ok)
}
