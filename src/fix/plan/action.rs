//! The actions a plan is made of, and how each is described for `--dry-run`.

use serde::{Deserialize, Serialize};

use crate::facts::Facts;

/// One change to the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Write a sysfs/procfs attribute; the value is read back.
    WriteAttribute {
        /// Host path.
        path: String,
        /// Value written.
        value: String,
        /// Value before (for the journal and the dry run), when readable.
        current: Option<String>,
    },
    /// Replace or create a file atomically (original kept as `.daos-preflight.bak`).
    WriteFile {
        /// Host path.
        path: String,
        /// Full new content.
        content: String,
        /// Mode for a new file.
        mode: u32,
        /// Unified diff against the current content (`null` for a new file).
        diff: Option<String>,
    },
    /// Grow a hugepage pool (a node's, or the system's when `node` is null) to `pages`;
    /// on a shortfall, compact memory and retry once. Never shrinks (as DAOS).
    AllocateHugepages {
        /// NUMA node, or `null` for the system-wide pool.
        node: Option<u32>,
        /// Page size, KiB.
        size_kib: u64,
        /// Pages wanted.
        pages: u64,
        /// Pages now.
        current: u64,
    },
    /// Bind a PCI device to a driver: driver_override, unbind, drivers_probe, verify,
    /// clear the override; rolled back to the original driver on failure.
    BindDriver {
        /// PCI address.
        address: String,
        /// Target driver (`vfio-pci`, `uio_pci_generic`).
        driver: String,
        /// Driver now.
        current: Option<String>,
        /// IOMMU group (its `/dev/vfio/<group>` node is given to `owner`).
        iommu_group: Option<u32>,
        /// The service user that must own `/dev/vfio/<group>` (`null`: root runs DAOS).
        owner: Option<Owner>,
    },
    /// Create a directory (with its parents) and/or give it to the service user.
    PrepareDirectory {
        /// Host path.
        path: String,
        /// Create it (it is missing).
        create: bool,
        /// Owner to give it (`null`: leave root's).
        owner: Option<Owner>,
    },
    /// Create (or grow) an emulated-NVMe `file` bdev to `bdev_size`, sparse: no
    /// gigabytes of zeros are written (DAOS fallocates it at format time).
    CreateSparseFile {
        /// Host path.
        path: String,
        /// Size in bytes.
        size_bytes: u64,
        /// Owner to give it.
        owner: Option<Owner>,
    },
    /// Remove the hugepage files of a dead SPDK process (`spdk_pid<pid>map*` directly in
    /// the directory), as daos_server does at start; each is checked again first.
    RemoveStaleHugepageFiles {
        /// Directory (`/dev/hugepages`).
        dir: String,
        /// The pid the names carry (its `/proc/<pid>` is gone).
        pid: String,
        /// Entry names.
        files: Vec<String>,
        /// Pages they hold.
        pages: u64,
    },
    /// Grow a pool (a node's, or the system's when `node` is null) until `free_wanted`
    /// pages are free beside what others hold, computed from the kernel's counts when
    /// applied. Never shrinks.
    GrowHugepagesPastHolders {
        /// NUMA node, or `null` for the system-wide pool.
        node: Option<u32>,
        /// Page size, KiB.
        size_kib: u64,
        /// Pages that must be free.
        free_wanted: u64,
        /// nr_hugepages when planned.
        total: u64,
        /// Pages in use by others when planned.
        in_use: u64,
    },
    /// Load a kernel module with modprobe.
    LoadModule {
        /// Module name.
        module: String,
    },
    /// Run a program.
    Run {
        /// Program and arguments.
        argv: Vec<String>,
        /// What `--undo` runs to take it back (`grubby --remove-args=...`), if anything.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        undo: Option<Vec<String>>,
        /// The undo runs after every other undo (regenerating grub.cfg once
        /// `/etc/default/grub` is restored).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        undo_last: bool,
    },
}

/// A user, resolved from `/etc/passwd`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// Name.
    pub user: String,
    /// uid.
    pub uid: u32,
    /// Primary gid.
    pub gid: u32,
}

/// Resolves `user` (and `group`, else the user's primary group) to an owner, from the
/// accounts the facts already read from `/etc/passwd` and `/etc/group`.
pub fn resolve_owner(facts: &Facts, user: &str, group: Option<&str>) -> Option<Owner> {
    let u = facts.accounts.users.iter().find(|a| a.name == user)?;
    let (label, gid) = match group {
        Some(g) => (
            format!("{user}:{g}"),
            facts.accounts.groups.iter().find(|a| a.name == g)?.gid,
        ),
        None => (user.to_string(), u.gid),
    };
    Some(Owner {
        user: label,
        uid: u.uid,
        gid,
    })
}

/// The non-root user `daos_server.service` runs as, resolved; `None` for root.
pub(super) fn service_owner(facts: &Facts) -> Option<Owner> {
    let user = facts.services.daos_server.as_ref()?.user.as_deref()?;
    (user != "root")
        .then(|| resolve_owner(facts, user, None))
        .flatten()
}

impl Action {
    /// Runs `argv`; nothing to undo.
    pub fn run(argv: Vec<String>) -> Action {
        Action::Run {
            argv,
            undo: None,
            undo_last: false,
        }
    }

    /// One line describing the action (for text output).
    pub fn describe(&self) -> String {
        match self {
            Action::WriteAttribute {
                path,
                value,
                current,
            } => format!(
                "write {value:?} to {path}{}",
                current
                    .as_deref()
                    .map(|c| format!(" (now {c:?})"))
                    .unwrap_or_default()
            ),
            Action::WriteFile { path, diff, .. } => match diff {
                Some(_) => format!("edit {path}"),
                None => format!("create {path}"),
            },
            Action::AllocateHugepages {
                node,
                size_kib,
                pages,
                current,
            } => format!(
                "reserve {pages} hugepages of {} on {} (now {current})",
                crate::checks::human_kib(*size_kib),
                node.map(|n| format!("NUMA node {n}"))
                    .unwrap_or_else(|| "the system".into())
            ),
            Action::BindDriver {
                address,
                driver,
                current,
                owner,
                iommu_group,
            } => format!(
                "bind {address} to {driver} (now {}){}",
                current.as_deref().unwrap_or("no driver"),
                match (owner, iommu_group) {
                    (Some(o), Some(g)) => format!("; /dev/vfio/{g} to {}", o.user),
                    _ => String::new(),
                }
            ),
            Action::PrepareDirectory {
                path,
                create,
                owner,
            } => format!(
                "{}{path}{}",
                if *create {
                    "create directory "
                } else {
                    "give "
                },
                match (owner, create) {
                    (Some(o), true) => format!(" owned by {}", o.user),
                    (Some(o), false) => format!(" to {}", o.user),
                    (None, _) => String::new(),
                }
            ),
            Action::CreateSparseFile {
                path,
                size_bytes,
                owner,
            } => format!(
                "create {path} as a sparse file of {}{}",
                crate::checks::human_kib(size_bytes / 1024),
                owner
                    .as_ref()
                    .map(|o| format!(" owned by {}", o.user))
                    .unwrap_or_default()
            ),
            Action::RemoveStaleHugepageFiles {
                dir,
                pid,
                files,
                pages,
            } => format!(
                "remove {} stale hugepage file(s) of dead pid {pid} from {dir} ({pages} pages back)",
                files.len()
            ),
            Action::GrowHugepagesPastHolders {
                node,
                size_kib,
                free_wanted,
                total,
                in_use,
            } => format!(
                "grow the {} hugepage pool of {} until {free_wanted} are free beside the {in_use} others hold (now {total})",
                crate::checks::human_kib(*size_kib),
                node.map(|n| format!("NUMA node {n}"))
                    .unwrap_or_else(|| "the system".into())
            ),
            Action::LoadModule { module } => format!("load kernel module {module} (modprobe)"),
            Action::Run { argv, .. } => format!("run: {}", shell_join(argv)),
        }
    }
}

/// Joins argv for display, single-quoting words a shell would split.
pub fn shell_join(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_=./,:+@%".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A planned action and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The check it fixes.
    pub check: String,
    /// Why, in one line.
    pub reason: String,
    /// What is done.
    pub action: Action,
    /// Takes effect only after a reboot.
    pub reboot_required: bool,
}

/// Something `fix` does not do, with the instructions (BIOS settings, time service...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualStep {
    /// The check.
    pub check: String,
    /// Why `fix` leaves it to a person.
    pub reason: String,
    /// The instructions.
    pub actions: Vec<String>,
}

/// The plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Plan {
    /// Actions, in the order they are applied.
    pub actions: Vec<Step>,
    /// What a person must do.
    pub manual: Vec<ManualStep>,
    /// Remarks (e.g. a persistent change already made, waiting for a reboot).
    pub notes: Vec<String>,
}
