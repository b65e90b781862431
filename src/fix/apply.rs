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
    /// A PCI device and the driver it had before (`null`: none).
    Driver {
        /// PCI address.
        address: String,
        /// Original driver.
        original: Option<String>,
    },
    /// A directory created and/or given to a user.
    Directory {
        /// Host path.
        path: String,
        /// daos-preflight created it.
        created: bool,
        /// (uid, gid) before a chown.
        original_owner: Option<(u32, u32)>,
    },
    /// A sparse bdev file daos-preflight created.
    CreatedFile {
        /// Host path.
        path: String,
    },
    /// Stale hugepage files of a dead process, removed (not restorable).
    RemovedHugepageFiles(super::held::RemovedFiles),
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
            Action::AllocateHugepages {
                node,
                size_kib,
                pages,
                ..
            } => allocate_hugepages(host, *node, *size_kib, *pages, journal),
            Action::BindDriver {
                address,
                driver,
                iommu_group,
                owner,
                ..
            } => {
                let original =
                    host.link_basename(&format!("/sys/bus/pci/devices/{address}/driver"));
                match bind_driver(host, address, Some(driver)) {
                    Ok(()) => {
                        if original.as_deref() != Some(driver.as_str()) {
                            journal.entries.push(JournalEntry::Driver {
                                address: address.clone(),
                                original: original.clone(),
                            });
                        }
                        let mut msg = format!("{address} bound to {driver}");
                        if let (Some(o), Some(g)) = (owner, iommu_group) {
                            match host.chown(&format!("/dev/vfio/{g}"), o.uid, o.gid) {
                                Ok(()) => {
                                    msg.push_str(&format!("; /dev/vfio/{g} owned by {}", o.user))
                                }
                                Err(e) => {
                                    results.push(ActionResult {
                                        index,
                                        outcome: Outcome::Failed,
                                        message: format!("{msg}, but {e}"),
                                    });
                                    continue;
                                }
                            }
                        }
                        (Outcome::Applied, msg)
                    }
                    Err(e) => {
                        // put the device back where it was
                        let rollback = match bind_driver(host, address, original.as_deref()) {
                            Ok(()) => format!(
                                "rolled back to {}",
                                original.as_deref().unwrap_or("no driver")
                            ),
                            Err(r) => format!("ROLLBACK FAILED: {r}"),
                        };
                        (Outcome::Failed, format!("{e}; {rollback}"))
                    }
                }
            }
            Action::PrepareDirectory {
                path,
                create,
                owner,
            } => {
                let existed = host.exists(path);
                let before = host.owner_of(path).ok();
                let r = (|| -> Result<String, crate::host::HostError> {
                    if *create && !existed {
                        host.create_dir_all(path)?;
                    }
                    if let Some(o) = owner {
                        host.chown(path, o.uid, o.gid)?;
                        return Ok(format!("{path} owned by {}", o.user));
                    }
                    Ok(format!("{path} created"))
                })();
                let created = *create && !existed && host.exists(path);
                if created || (owner.is_some() && r.is_ok()) {
                    journal.entries.push(JournalEntry::Directory {
                        path: path.clone(),
                        created,
                        original_owner: if created { None } else { before },
                    });
                }
                match r {
                    Ok(m) => (Outcome::Applied, m),
                    Err(e) => (Outcome::Failed, e.to_string()),
                }
            }
            Action::CreateSparseFile {
                path,
                size_bytes,
                owner,
            } => match host.create_sparse_file(path, *size_bytes) {
                Ok(created) => {
                    if created {
                        journal
                            .entries
                            .push(JournalEntry::CreatedFile { path: path.clone() });
                    }
                    match owner.as_ref().map(|o| host.chown(path, o.uid, o.gid)) {
                        Some(Err(e)) => (Outcome::Failed, format!("{path} sized, but {e}")),
                        _ => (
                            Outcome::Applied,
                            format!("{path}: {size_bytes} bytes (sparse)"),
                        ),
                    }
                }
                Err(e) => (Outcome::Failed, e.to_string()),
            },
            Action::RemoveStaleHugepageFiles {
                dir, pid, files, ..
            } => super::held::remove_stale(host, dir, pid, files, journal),
            Action::GrowHugepagesPastHolders {
                node,
                size_kib,
                free_wanted,
                ..
            } => super::held::grow_past_holders(host, *node, *size_kib, *free_wanted, journal),
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

fn pool_path(node: Option<u32>, size_kib: u64) -> String {
    match node {
        Some(n) => format!(
            "/sys/devices/system/node/node{n}/hugepages/hugepages-{size_kib}kB/nr_hugepages"
        ),
        None => format!("/sys/kernel/mm/hugepages/hugepages-{size_kib}kB/nr_hugepages"),
    }
}

/// Grows a hugepage pool; on a shortfall compacts memory and retries once, then reports
/// the fragmentation the buddy allocator shows.
pub(super) fn allocate_hugepages(
    host: &Host,
    node: Option<u32>,
    size_kib: u64,
    pages: u64,
    journal: &mut Journal,
) -> (Outcome, String) {
    let path = pool_path(node, size_kib);
    let where_ = node
        .map(|n| format!("node {n}"))
        .unwrap_or_else(|| "the system".into());
    let original = host.read_attr(&path).ok();
    if original
        .as_deref()
        .and_then(|o| o.parse::<u64>().ok())
        .is_some_and(|o| o >= pages)
    {
        return (
            Outcome::Applied,
            format!("{where_} already has {pages} pages"),
        );
    }
    let attempt = |host: &Host| -> Result<u64, String> {
        let back = host
            .write_attr(&path, &pages.to_string())
            .map_err(|e| e.to_string())?;
        back.parse::<u64>()
            .map_err(|_| format!("{path} reads back {back:?}"))
    };
    let mut got = match attempt(host) {
        Ok(n) => n,
        Err(e) => return (Outcome::Failed, e),
    };
    let mut compacted = false;
    if got < pages {
        compacted = host
            .write_trigger("/proc/sys/vm/compact_memory", "1")
            .is_ok();
        got = attempt(host).unwrap_or(got);
    }
    if let Some(o) = original.filter(|o| o.parse::<u64>().ok() != Some(got)) {
        journal.entries.push(JournalEntry::Attribute {
            path: path.clone(),
            original: o,
        });
    }
    if got >= pages {
        return (
            Outcome::Applied,
            format!(
                "{where_}: {got} pages of {size_kib} kB{}",
                if compacted {
                    " (after compacting memory)"
                } else {
                    ""
                }
            ),
        );
    }
    let buddy = host
        .read_string("/proc/buddyinfo")
        .map(|b| {
            b.lines()
                .filter(|l| node.is_none_or(|n| l.starts_with(&format!("Node {n},"))))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default();
    (
        Outcome::Failed,
        format!(
            "{where_}: only {got} of {pages} pages after {}; free blocks per order (/proc/buddyinfo): {buddy}; memory is fragmented: reserve hugepages at boot (fix --persistent) or reboot",
            if compacted {
                "compacting memory"
            } else {
                "one try"
            }
        ),
    )
}

/// Binds `address` to `driver` (or lets the kernel pick with `None`) the sysfs way
/// (Documentation/ABI/testing/sysfs-bus-pci): driver_override, unbind from the current
/// driver, drivers_probe, verify, clear the override.
fn bind_driver(host: &Host, address: &str, driver: Option<&str>) -> Result<(), String> {
    let dev = format!("/sys/bus/pci/devices/{address}");
    let err = |e: crate::host::HostError| e.to_string();
    host.write_trigger(&format!("{dev}/driver_override"), driver.unwrap_or("\n"))
        .map_err(err)?;
    if host.link_basename(&format!("{dev}/driver")).is_some() {
        host.write_trigger(&format!("{dev}/driver/unbind"), address)
            .map_err(err)?;
    }
    let probe = host.write_trigger("/sys/bus/pci/drivers_probe", address);
    let now = host.link_basename(&format!("{dev}/driver"));
    let _ = host.write_trigger(&format!("{dev}/driver_override"), "\n");
    probe.map_err(err)?;
    match driver {
        Some(d) if now.as_deref() != Some(d) => Err(format!(
            "{address} is bound to {} after probing, not {d}",
            now.as_deref().unwrap_or("no driver")
        )),
        _ => Ok(()),
    }
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
            JournalEntry::Driver { address, original } => {
                bind_driver(host, address, original.as_deref()).map(|_| {
                    format!(
                        "gave {address} back to {}",
                        original.as_deref().unwrap_or("no driver")
                    )
                })
            }
            JournalEntry::Directory {
                path,
                created: true,
                ..
            } => host
                .remove_dir(path)
                .map(|_| format!("removed {path}"))
                .map_err(|e| format!("{e} (left in place: not empty?)")),
            JournalEntry::Directory {
                path,
                original_owner: Some((uid, gid)),
                ..
            } => host
                .chown(path, *uid, *gid)
                .map(|_| format!("gave {path} back to {uid}:{gid}"))
                .map_err(|e| e.to_string()),
            JournalEntry::Directory { path, .. } => Ok(format!("{path}: nothing to undo")),
            JournalEntry::CreatedFile { path } => host
                .remove_file(path)
                .map(|_| format!("removed {path}"))
                .map_err(|e| e.to_string()),
            JournalEntry::RemovedHugepageFiles(r) => Ok(super::held::undo_line(r)),
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
