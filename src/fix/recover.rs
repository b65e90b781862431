//! After a crash, and for `--undo`: unfinished journal records (`intent`) are completed
//! or rolled back, and finished ones undone, each judged by what the host shows now.
//!
//! Completing or rolling back an unfinished record:
//!
//! | change | completed when | else rolled back to |
//! |---|---|---|
//! | attribute (sysctl, THP, hugepages) | it reads the value wanted | the original value |
//! | driver (NVMe rebind) | a bind to the wanted driver succeeds now | the original driver |
//! | file replacement | the file has the new content (its SHA-256) | the untouched original (the rename never happened; the temporary file and a backup made for it are removed) |
//! | directory | it exists with the owner wanted | removed (if created) / owner restored |
//! | sparse file | it exists at its size | removed |
//! | program with an undo (grubby, grub-mkconfig) | running it again succeeds | its undo |
//!
//! A driver is completed rather than rolled back because either way the device ends on
//! a driver, and the bind is what the run was for.

use super::apply::{bind_driver, current_attr, readback_matches};
use super::journal::{Change, Journal, RecordState, sha256_hex};
use crate::host::Host;

fn run_ok(host: &Host, argv: &[String]) -> Result<String, String> {
    match host.run_command(argv) {
        Ok(o) if o.code == Some(0) => Ok(format!("ran {}", argv.join(" "))),
        Ok(o) => Err(format!(
            "{} exited with {:?}: {}",
            argv.join(" "),
            o.code,
            o.stderr.trim()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// Whether the unfinished `change` already took effect (or can be finished now).
fn complete(host: &Host, change: &Change) -> Result<String, String> {
    match change {
        Change::Attribute { path, wanted, .. } => match current_attr(host, path) {
            Some(v) if readback_matches(&v, wanted) => Ok(format!("{path} reads {wanted:?}")),
            v => Err(format!("{path} reads {v:?}, not {wanted:?}")),
        },
        Change::Driver {
            address,
            wanted,
            device_owner,
            ..
        } => {
            bind_driver(host, address, wanted.as_deref())?;
            if let Some((dev, uid, gid)) = device_owner {
                host.chown(dev, *uid, *gid).map_err(|e| e.to_string())?;
            }
            Ok(format!(
                "{address} bound to {}",
                wanted.as_deref().unwrap_or("its default driver")
            ))
        }
        Change::File { path, sha256, .. } => {
            let _ = host.remove_replace_leftovers(path);
            match host.read_string_safe(path) {
                Ok(t) if sha256_hex(t.as_bytes()) == *sha256 => {
                    Ok(format!("{path} has its new content"))
                }
                _ => Err(format!("{path} was not replaced")),
            }
        }
        Change::Directory {
            path, wanted_owner, ..
        } => match host.owner_of(path) {
            Ok(o) if wanted_owner.is_none_or(|w| w == o) => Ok(format!("{path} is in place")),
            _ => Err(format!("{path} is not in place")),
        },
        Change::CreatedFile { path, size } => match host.metadata(path) {
            Ok(m) if m.is_file && m.size >= *size => Ok(format!("{path} has its size")),
            _ => Err(format!("{path} is not complete")),
        },
        Change::Command { argv, .. } => run_ok(host, argv),
        Change::RemovedHugepageFiles(r) => Ok(super::held::undo_line(r)),
    }
}

/// Puts the host back as it was before `change`; `unfinished` tolerates a change that
/// stopped anywhere (a backup never made, a file never renamed).
pub fn rollback(host: &Host, change: &Change, unfinished: bool) -> Result<String, String> {
    let e = |e: crate::host::HostError| e.to_string();
    match change {
        Change::Attribute { path, original, .. } => {
            if current_attr(host, path).is_some_and(|v| readback_matches(&v, original)) {
                // never written (a crash before the write), or already back
                return Ok(format!("{path} reads {original:?}"));
            }
            let back = host.write_attr(path, original).map_err(e)?;
            if readback_matches(&back, original) {
                Ok(format!("restored {path} to {original:?}"))
            } else {
                Err(format!(
                    "{path} reads back {back:?} after restoring {original:?}"
                ))
            }
        }
        Change::Driver {
            address, original, ..
        } => bind_driver(host, address, original.as_deref()).map(|_| {
            format!(
                "gave {address} back to {}",
                original.as_deref().unwrap_or("no driver")
            )
        }),
        Change::Directory {
            path,
            created,
            original_owner,
            ..
        } => {
            if !host.exists(path) {
                return Ok(format!("{path}: not there, nothing to undo"));
            }
            if *created {
                return host
                    .remove_dir(path)
                    .map(|_| format!("removed {path}"))
                    .map_err(|e| format!("{e} (left in place: not empty?)"));
            }
            match original_owner {
                Some((uid, gid)) => host
                    .chown(path, *uid, *gid)
                    .map(|_| format!("gave {path} back to {uid}:{gid}"))
                    .map_err(e),
                None => Ok(format!("{path}: nothing to undo")),
            }
        }
        Change::CreatedFile { path, .. } => {
            if unfinished && !host.exists(path) {
                return Ok(format!("{path}: never created"));
            }
            host.remove_file(path)
                .map(|_| format!("removed {path}"))
                .map_err(e)
        }
        Change::File {
            path,
            backup,
            backup_made,
            ..
        } => {
            host.remove_replace_leftovers(path).map_err(e)?;
            match backup {
                None if unfinished && !host.exists(path) => Ok(format!("{path}: never created")),
                None => host
                    .remove_file(path)
                    .map(|_| format!("removed {path}"))
                    .map_err(e),
                Some(bak) => match host.restore_backup(path).map_err(e)? {
                    true => Ok(format!("restored {path} from {bak}")),
                    // the backup is made before the rename: no backup of our own, no change
                    false if unfinished && *backup_made => Ok(format!("{path}: left unchanged")),
                    false => Err(format!("{path}: its backup {bak} is missing")),
                },
            }
        }
        Change::RemovedHugepageFiles(r) => Ok(super::held::undo_line(r)),
        Change::Command { argv, undo, .. } => match undo {
            Some(u) => run_ok(host, u),
            None => Ok(format!("{}: nothing to undo", argv.join(" "))),
        },
    }
}

/// Completes or rolls back every unfinished record, saving the journal after each;
/// returns one line per record saying which.
pub fn recover(host: &Host, journal: &mut Journal) -> Vec<String> {
    let mut lines = Vec::new();
    let mut i = 0;
    while i < journal.entries.len() {
        if journal.entries[i].state != RecordState::Intent {
            i += 1;
            continue;
        }
        let change = journal.entries[i].change.clone();
        let subject = change.subject();
        match complete(host, &change) {
            Ok(how) => {
                // a program without an undo leaves nothing to keep
                if matches!(&change, Change::Command { undo: None, .. }) {
                    journal.entries.remove(i);
                } else {
                    journal.entries[i].state = RecordState::Done;
                    i += 1;
                }
                lines.push(format!("unfinished change to {subject}: completed ({how})"));
            }
            Err(why) => match rollback(host, &change, true) {
                Ok(how) => {
                    journal.entries.remove(i);
                    lines.push(format!(
                        "unfinished change to {subject}: rolled back ({why}; {how})"
                    ));
                }
                Err(e) => {
                    lines.push(format!(
                        "unfinished change to {subject}: FAILED to complete ({why}) or roll back ({e}); left in the journal"
                    ));
                    i += 1;
                }
            },
        }
        if let Err(e) = journal.save(host) {
            lines.push(format!("FAILED to save the journal: {e}"));
            break;
        }
    }
    lines
}

/// Undoes the journal, newest first (programs marked `undo_last` after the rest);
/// returns one line per record and whether all worked. Records that failed stay.
pub fn undo(host: &Host, journal: &mut Journal) -> (Vec<String>, bool) {
    let mut lines = Vec::new();
    let mut ok = true;
    let last = |c: &Change| {
        matches!(
            c,
            Change::Command {
                undo_last: true,
                ..
            }
        )
    };
    let order: Vec<usize> = (0..journal.entries.len())
        .rev()
        .filter(|i| !last(&journal.entries[*i].change))
        .chain(
            (0..journal.entries.len())
                .rev()
                .filter(|i| last(&journal.entries[*i].change)),
        )
        .collect();
    let mut failed = Vec::new();
    for i in order {
        let r = &journal.entries[i];
        let unfinished = r.state == RecordState::Intent;
        match rollback(host, &r.change, unfinished) {
            Ok(l) if unfinished => lines.push(format!("{l} (an unfinished change)")),
            Ok(l) => lines.push(l),
            Err(l) => {
                ok = false;
                failed.push(i);
                lines.push(format!("FAILED: {l}"));
            }
        }
    }
    failed.sort();
    journal.entries = failed
        .into_iter()
        .map(|i| journal.entries[i].clone())
        .collect();
    (lines, ok)
}
