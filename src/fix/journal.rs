//! The journal: what `fix` changed, so that `--undo` can put it back and a `fix` that
//! died half way (power loss, OOM kill, `systemctl stop` of the boot unit) can be
//! completed or rolled back by the next run.
//!
//! Write-ahead: before an action touches the host its record is saved as `intent`
//! (with everything needed to roll it back: the original value, driver, owner, whether
//! a backup will be made), and after it as `done`; each save is an atomic, fsynced file
//! replacement. A record still `intent` when a run starts is unfinished (see
//! `recover.rs`).
//!
//! The journal lives in `/var/lib/daos-preflight` (it must survive a reboot: boot-time
//! changes such as `/etc/default/grub` and grubby's arguments stay undoable); each
//! record carries the boot it was made in, and records of runtime state (sysfs and
//! procfs values, drivers) from an earlier boot are dropped when it is read: the reboot
//! undid them.

use serde::{Deserialize, Serialize};

use crate::host::Host;
use crate::host::failpoint;

/// Where the journal lives.
pub const JOURNAL: &str = "/var/lib/daos-preflight/journal.json";
/// The running kernel's boot id (random per boot; proc(5)).
const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// Whether a change finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordState {
    /// About to act (or acting): the host may be half-way.
    Intent,
    /// Done and verified.
    Done,
}

/// One change to the host, with what is needed to complete it or take it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// A sysfs/procfs attribute (THP, a sysctl, a hugepage pool).
    Attribute {
        /// Host path.
        path: String,
        /// Value before (the selected word for choice files like THP).
        original: String,
        /// Value written.
        #[serde(default)]
        wanted: String,
    },
    /// A PCI device moved between drivers.
    Driver {
        /// PCI address.
        address: String,
        /// Driver before (`null`: none).
        original: Option<String>,
        /// Driver wanted.
        #[serde(default)]
        wanted: Option<String>,
        /// `/dev/vfio/<group>` and the (uid, gid) it is given to after the bind.
        #[serde(default)]
        device_owner: Option<(String, u32, u32)>,
    },
    /// A directory created and/or given to a user.
    Directory {
        /// Host path.
        path: String,
        /// daos-preflight created it.
        created: bool,
        /// (uid, gid) before a chown.
        original_owner: Option<(u32, u32)>,
        /// (uid, gid) wanted.
        #[serde(default)]
        wanted_owner: Option<(u32, u32)>,
    },
    /// A sparse bdev file daos-preflight created.
    CreatedFile {
        /// Host path.
        path: String,
        /// Size wanted, bytes.
        #[serde(default)]
        size: u64,
    },
    /// A file replaced or created (atomically).
    File {
        /// Host path.
        path: String,
        /// Backup of the original (`null`: the file did not exist before).
        backup: Option<String>,
        /// The backup is this record's (made by this change, removed on roll-back).
        #[serde(default)]
        backup_made: bool,
        /// SHA-256 of the new content (tells a finished replacement from one that
        /// never reached its rename).
        #[serde(default)]
        sha256: String,
    },
    /// Stale hugepage files of a dead process, removed (not restorable).
    RemovedHugepageFiles(crate::fix::held::RemovedFiles),
    /// A program run (grubby, grub2-mkconfig, modprobe, firewall-cmd, systemctl).
    Command {
        /// What was run.
        argv: Vec<String>,
        /// What `--undo` runs.
        undo: Option<Vec<String>>,
        /// The undo runs after every other undo.
        #[serde(default)]
        undo_last: bool,
    },
}

impl Change {
    /// Runtime state, gone after a reboot.
    pub fn is_runtime(&self) -> bool {
        matches!(
            self,
            Change::Attribute { .. } | Change::Driver { .. } | Change::RemovedHugepageFiles(_)
        )
    }

    /// A short name of what changed, for messages.
    pub fn subject(&self) -> String {
        match self {
            Change::Attribute { path, .. }
            | Change::Directory { path, .. }
            | Change::CreatedFile { path, .. }
            | Change::File { path, .. } => path.clone(),
            Change::Driver { address, .. } => address.clone(),
            Change::RemovedHugepageFiles(r) => r.dir.clone(),
            Change::Command { argv, .. } => crate::fix::plan::shell_join(argv),
        }
    }
}

/// A journal record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Finished or not.
    pub state: RecordState,
    /// The boot it was made in (`null` for a captured tree).
    #[serde(default)]
    pub boot_id: Option<String>,
    /// The change.
    #[serde(flatten)]
    pub change: Change,
}

/// The journal, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// Records.
    pub entries: Vec<Record>,
    /// Why records were dropped when it was read (not saved).
    #[serde(skip)]
    pub dropped: Vec<String>,
    #[serde(skip)]
    boot_id: Option<String>,
}

/// SHA-256 of `data`, hex.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Journal {
    /// Reads the journal (empty when absent) through the safe walk, dropping runtime
    /// records of an earlier boot.
    pub fn load(host: &Host) -> Result<Journal, String> {
        let boot_id = host.read_attr(BOOT_ID).ok();
        let mut j = match host.read_string_safe(JOURNAL) {
            Ok(text) => serde_json::from_str::<Journal>(&text)
                .map_err(|e| format!("{}: corrupt journal: {e}", host.path(JOURNAL).display()))?,
            Err(e) if e.is_not_found() => Journal::default(),
            Err(e) => return Err(e.to_string()),
        };
        j.boot_id = boot_id.clone();
        let (keep, gone): (Vec<Record>, Vec<Record>) = j
            .entries
            .into_iter()
            .partition(|r| !r.change.is_runtime() || r.boot_id.is_none() || r.boot_id == boot_id);
        j.entries = keep;
        j.dropped = gone
            .iter()
            .map(|r| {
                format!(
                    "{}: changed in an earlier boot, undone by the reboot (journal record dropped)",
                    r.change.subject()
                )
            })
            .collect();
        Ok(j)
    }

    /// Writes the journal atomically (fsynced file and directory), no backup.
    pub fn save(&self, host: &Host) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        host.write_file_atomic(JOURNAL, &(text + "\n"), 0o600)
            .map_err(|e| e.to_string())
    }

    /// Records the intent of `change` (saved before the caller acts); returns its index.
    pub fn begin(&mut self, host: &Host, change: Change) -> Result<usize, String> {
        self.entries.push(Record {
            state: RecordState::Intent,
            boot_id: self.boot_id.clone(),
            change,
        });
        self.save(host)?;
        failpoint::hit(
            "journal.intent",
            &self.entries[self.entries.len() - 1].change.subject(),
        );
        Ok(self.entries.len() - 1)
    }

    /// Adds a record of a change already made (saved with the next save).
    pub fn record_done(&mut self, change: Change) {
        self.entries.push(Record {
            state: RecordState::Done,
            boot_id: self.boot_id.clone(),
            change,
        });
    }

    /// Marks record `i` done (with `change` as it turned out) and saves.
    pub fn finish(&mut self, host: &Host, i: usize, change: Change) -> Result<(), String> {
        failpoint::hit("journal.done", &change.subject());
        self.entries[i].state = RecordState::Done;
        self.entries[i].change = change;
        self.save(host)
    }

    /// Forgets record `i` (nothing to undo: unchanged, rolled back, or superseded) and
    /// saves.
    pub fn forget(&mut self, host: &Host, i: usize) -> Result<(), String> {
        self.entries.remove(i);
        self.save(host)
    }

    /// Records still `intent`.
    pub fn unfinished(&self) -> usize {
        self.entries
            .iter()
            .filter(|r| r.state == RecordState::Intent)
            .count()
    }
}
