//! Applying a plan: every action through [`Host`] (whose writes walk each path safely),
//! sysfs writes read back, files replaced atomically with a backup, and each change
//! journaled before it is made (intent) and after (done), so that a crash at any point
//! can be completed or rolled back (`recover.rs`) and `fix --undo` can put things back.

use serde::{Deserialize, Serialize};

use super::journal::{Change, Journal, sha256_hex};
use super::plan::{Action, Plan};
use crate::facts::parse::parse_bracket_choice;
use crate::host::Host;
use crate::host::failpoint;
use crate::host::write::BACKUP_SUFFIX;

/// Outcome of one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done and verified.
    Applied,
    /// Tried and failed (nothing half-done: attribute writes are single writes, files
    /// are replaced atomically, a failed bind is rolled back).
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

/// True when the read-back value shows `wanted` took effect: equal, or the selected
/// word of a choice file (`always madvise [never]`).
pub fn readback_matches(readback: &str, wanted: &str) -> bool {
    readback == wanted || parse_bracket_choice(readback).as_deref() == Some(wanted)
}

/// The current value of an attribute (the selected word of a choice file).
pub fn current_attr(host: &Host, path: &str) -> Option<String> {
    let v = host.read_attr_safe(path).ok()?;
    Some(parse_bracket_choice(&v).unwrap_or(v))
}

/// Journals `change` as intent, or explains why the action is not attempted: nothing is
/// changed on the host unless its intent is on disk.
fn begin(host: &Host, journal: &mut Journal, change: Change) -> Result<usize, (Outcome, String)> {
    journal.begin(host, change).map_err(|e| {
        (
            Outcome::Skipped,
            format!("not attempted: the journal could not be written: {e}"),
        )
    })
}

/// Records the result of record `i`: done with `change`, or forgotten (`None`: nothing
/// left to undo). A journal that can't be saved turns the result into a failure.
fn end(
    host: &Host,
    journal: &mut Journal,
    i: usize,
    change: Option<Change>,
    result: (Outcome, String),
) -> (Outcome, String) {
    let saved = match change {
        Some(c) => journal.finish(host, i, c),
        None => journal.forget(host, i),
    };
    match saved {
        Ok(()) => result,
        Err(e) => (
            Outcome::Failed,
            format!("{}; but the journal could not be written: {e}", result.1),
        ),
    }
}

/// Applies the plan in order, journaling what can be undone.
pub fn apply(host: &Host, plan: &Plan, journal: &mut Journal) -> Vec<ActionResult> {
    let mut results = Vec::new();
    for (index, step) in plan.actions.iter().enumerate() {
        let (outcome, message) = apply_one(host, &step.action, journal).unwrap_or_else(|e| e);
        results.push(ActionResult {
            index,
            outcome,
            message,
        });
    }
    results
}

pub(super) type Applied = Result<(Outcome, String), (Outcome, String)>;

fn apply_one(host: &Host, action: &Action, journal: &mut Journal) -> Applied {
    Ok(match action {
        Action::WriteAttribute { path, value, .. } => {
            let Some(original) = current_attr(host, path).filter(|o| o != value) else {
                // unreadable (nothing to restore) or already so: a plain write
                return Ok(match host.write_attr(path, value) {
                    Ok(back) if readback_matches(&back, value) => {
                        (Outcome::Applied, format!("{path} now reads {back:?}"))
                    }
                    Ok(back) => (
                        Outcome::Failed,
                        format!("wrote {value:?} to {path} but it reads back {back:?}"),
                    ),
                    Err(e) => (Outcome::Failed, e.to_string()),
                });
            };
            let change = Change::Attribute {
                path: path.clone(),
                original: original.clone(),
                wanted: value.clone(),
            };
            let i = begin(host, journal, change.clone())?;
            let r = host.write_attr(path, value);
            failpoint::hit("attr.written", path);
            match r {
                Ok(back) if readback_matches(&back, value) => end(
                    host,
                    journal,
                    i,
                    Some(change),
                    (Outcome::Applied, format!("{path} now reads {back:?}")),
                ),
                other => {
                    let why = match other {
                        Ok(back) => format!("wrote {value:?} to {path} but it reads back {back:?}"),
                        Err(e) => e.to_string(),
                    };
                    let _ = host.write_attr(path, &original);
                    end(host, journal, i, None, (Outcome::Failed, why))
                }
            }
        }
        Action::WriteFile {
            path,
            content,
            mode,
            ..
        } => {
            let existed = host.exists(path);
            let bak = format!("{path}{BACKUP_SUFFIX}");
            // a file changed earlier keeps its first record (it has the original)
            let known = journal
                .entries
                .iter()
                .any(|r| matches!(&r.change, Change::File { path: p, .. } if p == path));
            let change = Change::File {
                path: path.clone(),
                backup: existed.then(|| bak.clone()),
                backup_made: existed && !host.exists(&bak),
                sha256: sha256_hex(content.as_bytes()),
            };
            let i = begin(host, journal, change.clone())?;
            match host.replace_file(path, content, *mode) {
                Ok(_) => end(
                    host,
                    journal,
                    i,
                    (!known).then_some(change),
                    (Outcome::Applied, format!("{path} written")),
                ),
                Err(e) => {
                    let _ = super::recover::rollback(host, &change, true);
                    end(host, journal, i, None, (Outcome::Failed, e.to_string()))
                }
            }
        }
        Action::AllocateHugepages {
            node,
            size_kib,
            pages,
            ..
        } => allocate_hugepages(host, *node, *size_kib, *pages, journal)?,
        Action::BindDriver {
            address,
            driver,
            iommu_group,
            owner,
            ..
        } => {
            let original = host.link_basename(&format!("/sys/bus/pci/devices/{address}/driver"));
            let device_owner = match (owner, iommu_group) {
                (Some(o), Some(g)) => Some((format!("/dev/vfio/{g}"), o.uid, o.gid)),
                _ => None,
            };
            let change = Change::Driver {
                address: address.clone(),
                original: original.clone(),
                wanted: Some(driver.clone()),
                device_owner: device_owner.clone(),
            };
            let i = if original.as_deref() != Some(driver.as_str()) {
                Some(begin(host, journal, change.clone())?)
            } else {
                None
            };
            let r = bind_driver(host, address, Some(driver)).and_then(|()| {
                let mut msg = format!("{address} bound to {driver}");
                if let (Some((dev, uid, gid)), Some(o)) = (&device_owner, owner) {
                    host.chown(dev, *uid, *gid)
                        .map_err(|e| format!("{msg}, but {e}"))?;
                    msg.push_str(&format!("; {dev} owned by {}", o.user));
                }
                Ok(msg)
            });
            match (r, i) {
                (Ok(msg), Some(i)) => end(host, journal, i, Some(change), (Outcome::Applied, msg)),
                (Ok(msg), None) => (Outcome::Applied, msg),
                (Err(e), i) => {
                    // put the device back where it was
                    let (rolled, rollback) = match bind_driver(host, address, original.as_deref()) {
                        Ok(()) => (
                            true,
                            format!(
                                "rolled back to {}",
                                original.as_deref().unwrap_or("no driver")
                            ),
                        ),
                        Err(r) => (false, format!("ROLLBACK FAILED: {r}")),
                    };
                    let result = (Outcome::Failed, format!("{e}; {rollback}"));
                    match i {
                        // rolled back: nothing to undo; else the intent stays for the next run
                        Some(i) if rolled => end(host, journal, i, None, result),
                        _ => result,
                    }
                }
            }
        }
        Action::PrepareDirectory {
            path,
            create,
            owner,
        } => {
            let existed = host.exists(path);
            let wanted_owner = owner.as_ref().map(|o| (o.uid, o.gid));
            let intent = Change::Directory {
                path: path.clone(),
                created: *create && !existed,
                original_owner: if existed {
                    host.owner_of(path).ok()
                } else {
                    None
                },
                wanted_owner,
            };
            let i = begin(host, journal, intent.clone())?;
            match host.prepare_directory(path, *create, wanted_owner) {
                Ok(ch) => {
                    let msg = match owner {
                        Some(o) => format!("{path} owned by {}", o.user),
                        None => format!("{path} created"),
                    };
                    let done =
                        (ch.created || ch.original_owner.is_some()).then(|| Change::Directory {
                            path: path.clone(),
                            created: ch.created,
                            original_owner: ch.original_owner,
                            wanted_owner,
                        });
                    end(host, journal, i, done, (Outcome::Applied, msg))
                }
                Err(e) => {
                    let _ = super::recover::rollback(host, &intent, true);
                    end(host, journal, i, None, (Outcome::Failed, e.to_string()))
                }
            }
        }
        Action::CreateSparseFile {
            path,
            size_bytes,
            owner,
        } => {
            let change = Change::CreatedFile {
                path: path.clone(),
                size: *size_bytes,
            };
            let i = if host.exists(path) {
                None
            } else {
                Some(begin(host, journal, change.clone())?)
            };
            let r =
                host.create_sparse_file(path, *size_bytes, owner.as_ref().map(|o| (o.uid, o.gid)));
            let result = match &r {
                Ok(_) => (
                    Outcome::Applied,
                    format!("{path}: {size_bytes} bytes (sparse)"),
                ),
                Err(e) => (Outcome::Failed, e.to_string()),
            };
            match (r, i) {
                (Ok(true), Some(i)) => end(host, journal, i, Some(change), result),
                (Ok(false), Some(i)) => end(host, journal, i, None, result),
                (Err(_), Some(i)) => {
                    let _ = super::recover::rollback(host, &change, true);
                    end(host, journal, i, None, result)
                }
                (_, None) => result,
            }
        }
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
                        && host.exists(&format!("/sys/module/{}", module.replace('-', "_"))) =>
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
        Action::Run {
            argv,
            undo,
            undo_last,
        } => {
            // idempotent programs (firewall-cmd, daemon-reload) are simply planned again;
            // one with an undo (grubby, grub-mkconfig) is journaled
            let change = Change::Command {
                argv: argv.clone(),
                undo: undo.clone(),
                undo_last: *undo_last,
            };
            let i = match undo {
                Some(_) if host.is_live() => Some(begin(host, journal, change.clone())?),
                _ => None,
            };
            let out = host.run_command(argv);
            failpoint::hit("cmd.ran", &argv.join(" "));
            let ok = matches!(&out, Ok(o) if o.code == Some(0));
            let result = match out {
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
            };
            match i {
                Some(i) => end(host, journal, i, ok.then_some(change), result),
                None => result,
            }
        }
    })
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
) -> Applied {
    let path = pool_path(node, size_kib);
    let where_ = node
        .map(|n| format!("node {n}"))
        .unwrap_or_else(|| "the system".into());
    let original = host.read_attr_safe(&path).ok();
    if original
        .as_deref()
        .and_then(|o| o.parse::<u64>().ok())
        .is_some_and(|o| o >= pages)
    {
        return Ok((
            Outcome::Applied,
            format!("{where_} already has {pages} pages"),
        ));
    }
    let record = match &original {
        Some(o) => Some(begin(
            host,
            journal,
            Change::Attribute {
                path: path.clone(),
                original: o.clone(),
                wanted: pages.to_string(),
            },
        )?),
        None => None,
    };
    let attempt = |host: &Host| -> Result<u64, String> {
        let back = host
            .write_attr(&path, &pages.to_string())
            .map_err(|e| e.to_string())?;
        back.parse::<u64>()
            .map_err(|_| format!("{path} reads back {back:?}"))
    };
    let mut got = match attempt(host) {
        Ok(n) => n,
        Err(e) => {
            return Ok(match record {
                Some(i) => end(host, journal, i, None, (Outcome::Failed, e)),
                None => (Outcome::Failed, e),
            });
        }
    };
    failpoint::hit("attr.written", &path);
    let mut compacted = false;
    if got < pages {
        compacted = host
            .write_trigger("/proc/sys/vm/compact_memory", "1")
            .is_ok();
        got = attempt(host).unwrap_or(got);
    }
    // the pool as it is now is what the record keeps (a shortfall is undone too)
    let changed = original
        .as_ref()
        .filter(|o| o.parse::<u64>().ok() != Some(got))
        .map(|o| Change::Attribute {
            path: path.clone(),
            original: o.clone(),
            wanted: got.to_string(),
        });
    let finish = |journal: &mut Journal, result: (Outcome, String)| match record {
        Some(i) => end(host, journal, i, changed.clone(), result),
        None => result,
    };
    if got >= pages {
        return Ok(finish(
            journal,
            (
                Outcome::Applied,
                format!(
                    "{where_}: {got} pages of {size_kib} kB{}",
                    if compacted {
                        " (after compacting memory)"
                    } else {
                        ""
                    }
                ),
            ),
        ));
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
    Ok(finish(
        journal,
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
        ),
    ))
}

/// Binds `address` to `driver` (or lets the kernel pick with `None`) the sysfs way
/// (Documentation/ABI/testing/sysfs-bus-pci): driver_override, unbind from the current
/// driver, drivers_probe, verify, clear the override.
pub(crate) fn bind_driver(host: &Host, address: &str, driver: Option<&str>) -> Result<(), String> {
    let dev = format!("/sys/bus/pci/devices/{address}");
    let err = |e: crate::host::HostError| e.to_string();
    host.write_trigger(&format!("{dev}/driver_override"), driver.unwrap_or("\n"))
        .map_err(err)?;
    failpoint::hit("driver.override", address);
    if host.link_basename(&format!("{dev}/driver")).is_some() {
        host.write_trigger(&format!("{dev}/driver/unbind"), address)
            .map_err(err)?;
    }
    failpoint::hit("driver.unbound", address);
    let probe = host.write_trigger("/sys/bus/pci/drivers_probe", address);
    failpoint::hit("driver.probed", address);
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
