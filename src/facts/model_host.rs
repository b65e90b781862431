//! The facts about the host's services, accounts, paths and firewall: `limits`,
//! `services`, `paths`, `accounts`, `firewall` of the facts model (re-exported by
//! [`super`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{UnitSettings, VendorUnit};

/// Resource limits.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq, Default)]
pub struct Limits {
    /// RLIMIT_MEMLOCK soft limit of this process, bytes; `null` = unlimited or not live.
    pub memlock_soft_bytes: Option<u64>,
    /// Whether this process's memlock soft limit is unlimited; `null` when not live.
    pub memlock_unlimited: Option<bool>,
}

/// DAOS systemd units as installed on the host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq, Default)]
pub struct Services {
    /// `daos_server.service` with its drop-ins; `null` when not installed.
    pub daos_server: Option<ServiceUnit>,
    /// `daos_agent.service` with its drop-ins; `null` when not installed.
    #[serde(default)]
    pub daos_agent: Option<ServiceUnit>,
    /// systemd's `DefaultLimitMEMLOCK` from `/etc/systemd/system.conf` (and
    /// `system.conf.d`), as written; `null` when not set.
    pub default_limit_memlock: Option<String>,
}

/// What a unit file and its drop-ins say (last assignment wins, as in systemd).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq)]
pub struct ServiceUnit {
    /// Unit file and drop-ins that were read, in order.
    pub files: Vec<String>,
    /// `User=`.
    pub user: Option<String>,
    /// `LimitMEMLOCK=` as written.
    pub limit_memlock: Option<String>,
    /// `Group=`.
    #[serde(default)]
    pub group: Option<String>,
    /// `RuntimeDirectory=`: directories systemd creates under `/run` at start, owned by
    /// `User=` (space-separated names, as written).
    #[serde(default)]
    pub runtime_directory: Option<String>,
    /// The settings of the unit and its drop-ins as systemd combines them: the CPU and
    /// memory limits (`CPUAffinity=`, `AllowedCPUs=`, `AllowedMemoryNodes=`,
    /// `MemoryMax=`), and `User=`/`Group=`/`LimitMEMLOCK=` again.
    #[serde(default)]
    pub limits: UnitSettings,
    /// What the drop-ins alone assign (`null` fields: no drop-in assigns it).
    #[serde(default)]
    pub from_dropins: UnitSettings,
    /// The packaged unit file itself (`/usr/lib/systemd/system/NAME`, else
    /// `/lib/systemd/system/NAME`) and what it alone assigns; `null` when there is none.
    #[serde(default)]
    pub vendor: Option<VendorUnit>,
}

/// One path the DAOS configuration names, as found on the host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct PathFact {
    /// The path on the host (without `--root`).
    pub path: String,
    /// It exists (following symlinks); `null` when that could not be told (permission
    /// denied on a parent directory).
    pub exists: Option<bool>,
    /// `file`, `directory`, `block`, `char`, `socket`, `fifo`, `other`.
    pub kind: Option<String>,
    /// Size in bytes (regular files).
    pub size_bytes: Option<u64>,
    /// Permission bits, octal (`0640`), including setuid/setgid/sticky.
    pub mode: Option<String>,
    /// Owner uid.
    pub uid: Option<u32>,
    /// Owner gid.
    pub gid: Option<u32>,
    /// Owner user name, from `/etc/passwd`.
    pub owner: Option<String>,
    /// Owner group name, from `/etc/group`.
    pub group: Option<String>,
    /// Free space for unprivileged users on the filesystem holding this directory,
    /// bytes (statvfs `f_bavail × f_frsize`); live only, directories only.
    pub free_bytes: Option<u64>,
    /// Why it could not be examined (other than absence).
    pub error: Option<String>,
}

/// Local accounts relevant to DAOS (`/etc/passwd`, `/etc/group`; NSS sources such as
/// LDAP or SSSD are not consulted).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default, schemars::JsonSchema)]
pub struct Accounts {
    /// `/etc/passwd` was readable.
    pub passwd_readable: bool,
    /// `/etc/group` was readable.
    pub group_readable: bool,
    /// The DAOS users (`daos_server`, `daos_agent`, and the units' `User=`), when present.
    pub users: Vec<UserAccount>,
    /// The DAOS groups (`daos_server`, `daos_agent`, `daos_daemons`, `daos_metrics`, and
    /// the units' `Group=`), when present.
    pub groups: Vec<GroupAccount>,
}

/// One `/etc/passwd` entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct UserAccount {
    /// Login name.
    pub name: String,
    /// uid.
    pub uid: u32,
    /// Primary gid.
    pub gid: u32,
    /// Name of the primary group, when `/etc/group` has it.
    pub primary_group: Option<String>,
    /// Supplementary groups (those of `/etc/group` listing the user).
    pub groups: Vec<String>,
}

/// One `/etc/group` entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct GroupAccount {
    /// Group name.
    pub name: String,
    /// gid.
    pub gid: u32,
    /// Members listed in the file (not users whose primary group it is).
    pub members: Vec<String>,
}

/// Host firewall state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default, schemars::JsonSchema)]
pub struct Firewall {
    /// firewalld, when installed (`/usr/lib/firewalld` or `/etc/firewalld` exists).
    pub firewalld: Option<Firewalld>,
}

/// firewalld's permanent configuration and whether it runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Firewalld {
    /// It runs (live: `/run/firewalld.pid` names a live process, or a process named
    /// `firewalld` exists); `null` under `--root`.
    pub running: Option<bool>,
    /// `firewalld.service` is enabled (a `*.wants/firewalld.service` link in
    /// `/etc/systemd/system`).
    pub enabled: bool,
    /// `DefaultZone=` of `/etc/firewalld/firewalld.conf` (firewalld's default: `public`).
    pub default_zone: String,
    /// Zones: `/etc/firewalld/zones/*.xml` overriding `/usr/lib/firewalld/zones/*.xml`.
    pub zones: Vec<FirewallZone>,
    /// Ports of the services the zones name (`ssh` → `22/tcp`), from
    /// `/etc/firewalld/services` or `/usr/lib/firewalld/services`.
    pub services: BTreeMap<String, Vec<String>>,
}

/// One firewalld zone (permanent configuration).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct FirewallZone {
    /// Zone name (file name without `.xml`).
    pub name: String,
    /// The file it was read from.
    pub file: String,
    /// `target` attribute (`ACCEPT` in `trusted`, `%%REJECT%%`, `DROP`, `default`).
    pub target: Option<String>,
    /// Interfaces bound to the zone.
    pub interfaces: Vec<String>,
    /// Source addresses bound to the zone.
    pub sources: Vec<String>,
    /// Open ports (`10001/tcp`, `31416-31419/tcp`).
    pub ports: Vec<String>,
    /// Allowed services.
    pub services: Vec<String>,
    /// Rich rules (not evaluated; counted so a report can say they exist).
    pub rich_rules: u32,
}
