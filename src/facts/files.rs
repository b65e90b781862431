//! The files and directories the DAOS configuration names, as found on the host:
//! existence, type, size, mode and owner (and free space of directories, live only).
//!
//! Which paths to look at is decided by the caller from the configuration
//! ([`crate::daos::requirements::referenced_paths`]); this module only looks.

use super::PathFact;
use super::accounts::AccountDb;
use crate::host::Host;

/// `file`, `directory`, ... from the `st_mode` file type bits.
pub fn kind_of(mode: u32) -> &'static str {
    match mode & 0o170000 {
        0o100000 => "file",
        0o040000 => "directory",
        0o060000 => "block",
        0o020000 => "char",
        0o140000 => "socket",
        0o010000 => "fifo",
        _ => "other",
    }
}

/// Examines one path.
pub fn examine(host: &Host, path: &str, db: &AccountDb) -> PathFact {
    let mut f = PathFact {
        path: path.to_string(),
        exists: None,
        kind: None,
        size_bytes: None,
        mode: None,
        uid: None,
        gid: None,
        owner: None,
        group: None,
        free_bytes: None,
        error: None,
    };
    match host.metadata(path) {
        Ok(m) => {
            f.exists = Some(true);
            f.kind = Some(kind_of(m.mode).to_string());
            f.size_bytes = m.is_file.then_some(m.size);
            f.mode = Some(format!("{:04o}", m.mode & 0o7777));
            f.uid = Some(m.uid);
            f.gid = Some(m.gid);
            f.owner = db.user_name(m.uid);
            f.group = db.group_name(m.gid);
            if m.is_dir {
                f.free_bytes = host.fs_free_bytes(path);
            }
        }
        Err(e) if e.is_not_found() => f.exists = Some(false),
        Err(e) => f.error = Some(e.to_string()),
    }
    f
}

/// Examines every path (deduplicated, in the order given).
/// Unreadable `/etc/passwd` or `/etc/group` is noted by the accounts collector, not here.
pub fn collect(host: &Host, paths: &[String]) -> Vec<PathFact> {
    let db = AccountDb::read(host, &mut Vec::new());
    let mut seen = std::collections::BTreeSet::new();
    paths
        .iter()
        .filter(|p| p.starts_with('/') && seen.insert(p.as_str()))
        .map(|p| examine(host, p, &db))
        .collect()
}
