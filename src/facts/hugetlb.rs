//! Who holds the hugepages: hugetlbfs mounts (`/proc/mounts`) and the files in them, and
//! the processes that map hugepages (`HugetlbPages:` of `/proc/PID/status`).
//!
//! Pages in a pool are either free or held: by a file on a hugetlbfs mount (a DPDK/SPDK
//! process's memory, a database's shared segment, a file someone `fallocate`d), by a
//! process mapping them (`MAP_HUGETLB`, a file it maps, SysV `SHM_HUGETLB`), or promised
//! to a mapping not yet touched (HugePages_Rsvd). Kernel reference:
//! Documentation/admin-guide/mm/hugetlbpage.rst.

use serde::{Deserialize, Serialize};

use super::{CollectionError, note};
use crate::host::Host;
use crate::host::hugetlb::EntryKind;

/// Files listed per mount at most (a DPDK process with 2 MiB pages makes one file per
/// page: tens of thousands on a big host); beyond this `truncated` is set.
pub const MAX_FILES_PER_MOUNT: usize = 20_000;
/// Directory levels walked below a mount point.
const MAX_DEPTH: usize = 4;

/// One hugetlbfs mount and what is in it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct HugetlbfsMount {
    /// Mount point (`/dev/hugepages`).
    pub mountpoint: String,
    /// Page size of the mount (`pagesize=` option), KiB; the default Hugepagesize when
    /// the option is absent.
    pub page_size_kib: Option<u64>,
    /// Files on it (not directories), by path.
    pub files: Vec<HugetlbfsFile>,
    /// More files than [`MAX_FILES_PER_MOUNT`] were there.
    pub truncated: bool,
    /// Why the mount could not be listed (permission denied...).
    pub error: Option<String>,
}

/// One file on a hugetlbfs mount.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct HugetlbfsFile {
    /// Host path.
    pub path: String,
    /// `st_size`, bytes.
    pub size_bytes: u64,
    /// `st_blocks × 512`, bytes: what hugetlbfs has allocated to it (live only; a
    /// captured tree is not a hugetlbfs, so `null` there).
    pub allocated_bytes: Option<u64>,
    /// Hugepages it holds: allocated bytes / page size on the live host; in a captured
    /// tree, its size rounded up to pages.
    pub pages: u64,
    /// Owner uid.
    pub uid: u32,
    /// A symbolic link (holds no pages).
    #[serde(default)]
    pub symlink: bool,
    /// `spdk` (the name matches DAOS's `spdk_pid([0-9]+)map`: an SPDK process's memory),
    /// `dpdk` (DPDK's `<prefix>map_<n>`, eal_filesystem.h `HUGEFILE_FMT`), or `other`.
    pub kind: String,
    /// The process id the name carries (SPDK names only), as written.
    pub named_pid: Option<String>,
    /// Whether `/proc/<named_pid>` exists (daos_server's test); `null` when unknown: no
    /// pid in the name, or a captured tree without process directories.
    pub named_pid_alive: Option<bool>,
}

/// A process that maps hugepages.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct HugepageHolder {
    /// Process id.
    pub pid: u32,
    /// Command name (`Name:` of its status, as `comm`).
    pub name: String,
    /// Real uid.
    pub uid: Option<u32>,
    /// `HugetlbPages:`, KiB of hugepages of all sizes it maps (kernel ≥ 4.4; shared
    /// mappings are counted in every process mapping them).
    pub hugetlb_kib: u64,
}

/// The pid DAOS reads from an SPDK hugepage file name: the first match of the regular
/// expression `spdk_pid([0-9]+)map` anywhere in the name (server/storage/bdev/backend.go
/// `spdkHugepagePattern`, `createHugepageWalkFunc`, the same in v2.2.0–v2.8.0), digits
/// as written.
pub fn spdk_named_pid(name: &str) -> Option<&str> {
    const LEAD: &str = "spdk_pid";
    let mut from = 0;
    while let Some(i) = name[from..].find(LEAD) {
        let start = from + i + LEAD.len();
        let digits = name[start..].bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && name[start + digits..].starts_with("map") {
            return Some(&name[start..start + digits]);
        }
        from = from + i + 1;
    }
    None
}

/// DPDK names its hugepage files `<file-prefix>map_<n>` (lib/eal/linux/eal_filesystem.h
/// `HUGEFILE_FMT` "%s/%smap_%d"; the default prefix is `rte`, SPDK sets `spdk_pid<pid>`).
pub fn is_dpdk_name(name: &str) -> bool {
    name.rsplit_once("map_")
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A `pagesize=` mount option (`2M`, `1G`, `2048K`, or bytes) in KiB.
pub fn parse_pagesize_kib(v: &str) -> Option<u64> {
    let v = v.trim();
    let (num, mul) = match v.chars().last()? {
        'K' | 'k' => (&v[..v.len() - 1], 1),
        'M' | 'm' => (&v[..v.len() - 1], 1024),
        'G' | 'g' => (&v[..v.len() - 1], 1024 * 1024),
        _ => return v.parse::<u64>().ok().map(|b| b / 1024),
    };
    num.parse::<u64>().ok().map(|n| n * mul)
}

/// `Name:`, real `Uid:` and `HugetlbPages:` (KiB) of a `/proc/PID/status`; the last is
/// `None` on kernels before 4.4 (no such line).
pub fn parse_status(text: &str) -> (Option<String>, Option<u32>, Option<u64>) {
    let mut name = None;
    let mut uid = None;
    let mut huge = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("Name:") {
            name = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("Uid:") {
            uid = v.split_whitespace().next().and_then(|u| u.parse().ok());
        } else if let Some(v) = line.strip_prefix("HugetlbPages:") {
            huge = v.split_whitespace().next().and_then(|n| n.parse().ok());
        }
    }
    (name, uid, huge)
}

/// Reads the hugetlbfs mounts of `/proc/mounts` and lists their files.
/// `default_size_kib` is Hugepagesize (for mounts without `pagesize=`).
pub fn collect_mounts(
    host: &Host,
    default_size_kib: Option<u64>,
    errors: &mut Vec<CollectionError>,
) -> Vec<HugetlbfsMount> {
    use procfs_core::{FromBufRead, MountEntry};
    let Some(text) = note(errors, host.read_bytes("/proc/mounts")) else {
        return Vec::new();
    };
    let entries = Vec::<MountEntry>::from_buf_read(&text[..]).unwrap_or_default();
    // process directories in a captured tree say whether a named pid lives; a tree
    // without any says nothing
    let procs_known = host.is_live()
        || host
            .list_dir("/proc")
            .unwrap_or_default()
            .iter()
            .any(|n| n.bytes().all(|b| b.is_ascii_digit()));
    let mut mounts: Vec<HugetlbfsMount> = Vec::new();
    for m in entries.iter().filter(|m| m.fs_vfstype == "hugetlbfs") {
        if mounts.iter().any(|x| x.mountpoint == m.fs_file) {
            continue;
        }
        let page_size_kib = m
            .fs_mntops
            .get("pagesize")
            .and_then(|v| v.as_deref())
            .and_then(parse_pagesize_kib)
            .or(default_size_kib);
        let mut mount = HugetlbfsMount {
            mountpoint: m.fs_file.clone(),
            page_size_kib,
            files: Vec::new(),
            truncated: false,
            error: None,
        };
        walk(host, &m.fs_file, 0, procs_known, &mut mount);
        mounts.push(mount);
    }
    mounts
}

fn walk(host: &Host, dir: &str, depth: usize, procs_known: bool, mount: &mut HugetlbfsMount) {
    let entries = match host.dir_entries(dir) {
        Ok(e) => e,
        Err(e) => {
            if depth == 0 {
                mount.error = Some(e.to_string());
            }
            return;
        }
    };
    let page_bytes = mount.page_size_kib.unwrap_or(0) * 1024;
    for e in entries {
        let path = format!("{}/{}", dir.trim_end_matches('/'), e.name);
        if e.kind == EntryKind::Dir {
            if depth + 1 < MAX_DEPTH {
                walk(host, &path, depth + 1, procs_known, mount);
            }
            continue;
        }
        if mount.files.len() >= MAX_FILES_PER_MOUNT {
            mount.truncated = true;
            return;
        }
        let live = host.is_live();
        let held = if live { e.allocated } else { e.size };
        let pages = if e.kind == EntryKind::Symlink || page_bytes == 0 {
            0
        } else {
            held.div_ceil(page_bytes)
        };
        let named_pid = spdk_named_pid(&e.name).map(str::to_string);
        let kind = if named_pid.is_some() {
            "spdk"
        } else if is_dpdk_name(&e.name) {
            "dpdk"
        } else {
            "other"
        };
        let named_pid_alive = named_pid
            .as_deref()
            .filter(|_| procs_known)
            .and_then(|p| host.pid_alive(p).ok());
        mount.files.push(HugetlbfsFile {
            path,
            size_bytes: e.size,
            allocated_bytes: live.then_some(e.allocated),
            pages,
            uid: e.uid,
            symlink: e.kind == EntryKind::Symlink,
            kind: kind.into(),
            named_pid,
            named_pid_alive,
        });
    }
}

/// The processes mapping hugepages, largest first (live only: `None` under `--root`, and
/// `None` on kernels without `HugetlbPages:` in the status files).
pub fn collect_holders(host: &Host) -> Option<Vec<HugepageHolder>> {
    if !host.is_live() {
        return None;
    }
    let mut seen_field = false;
    let mut out = Vec::new();
    for p in host.list_dir("/proc").ok()? {
        let Ok(pid) = p.parse::<u32>() else { continue };
        // processes exit while we read: a missing status is not an error
        let Ok(text) = host.read_string(&format!("/proc/{pid}/status")) else {
            continue;
        };
        let (name, uid, huge) = parse_status(&text);
        seen_field |= huge.is_some();
        if let Some(kib) = huge.filter(|k| *k > 0) {
            out.push(HugepageHolder {
                pid,
                name: name.unwrap_or_default(),
                uid,
                hugetlb_kib: kib,
            });
        }
    }
    if !seen_field {
        return None;
    }
    out.sort_by(|a, b| b.hugetlb_kib.cmp(&a.hugetlb_kib).then(a.pid.cmp(&b.pid)));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spdk_names_as_daos_reads_them() {
        // SPDK's DPDK file prefix is spdk_pid<pid> (lib/env_dpdk/init.c), DPDK appends
        // "map_<n>": what daos_server finds in /dev/hugepages after an engine crash
        assert_eq!(spdk_named_pid("spdk_pid48213map_0"), Some("48213"));
        assert_eq!(spdk_named_pid("spdk_pid48213map_1023"), Some("48213"));
        // unanchored, leftmost match, digits as written (Go regexp FindStringSubmatch)
        assert_eq!(spdk_named_pid("xspdk_pid0012map"), Some("0012"));
        assert_eq!(spdk_named_pid("spdk_pidxspdk_pid9map_3"), Some("9"));
        assert_eq!(spdk_named_pid("spdk_pid12_map_0"), None);
        assert_eq!(spdk_named_pid("spdk_pidmap_0"), None);
        assert_eq!(spdk_named_pid("rtemap_0"), None);
        assert!(is_dpdk_name("rtemap_0"));
        assert!(is_dpdk_name("spdk_pid1map_12"));
        assert!(!is_dpdk_name("pgsql_shm"));
        assert!(!is_dpdk_name("rtemap_"));
    }

    #[test]
    fn mount_page_sizes_and_status_lines() {
        // hugetlbfs_show_options prints pagesize=2M / 1024M / 1G (fs/hugetlbfs/inode.c)
        assert_eq!(parse_pagesize_kib("2M"), Some(2048));
        assert_eq!(parse_pagesize_kib("1G"), Some(1048576));
        assert_eq!(parse_pagesize_kib("1024M"), Some(1048576));
        assert_eq!(parse_pagesize_kib("2048K"), Some(2048));
        assert_eq!(parse_pagesize_kib("2097152"), Some(2048));
        assert_eq!(parse_pagesize_kib("huge"), None);
        // an EL8 (4.18) /proc/PID/status, abridged to the lines read
        let status = "Name:\tqemu-kvm\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\n\
Pid:\t4242\nUid:\t107\t107\t107\t107\nGid:\t107\t107\t107\t107\nVmRSS:\t  812344 kB\n\
HugetlbPages:\t 8388608 kB\nThreads:\t9\n";
        assert_eq!(
            parse_status(status),
            (Some("qemu-kvm".into()), Some(107), Some(8388608))
        );
        // kernels before 4.4 have no HugetlbPages line
        assert_eq!(
            parse_status("Name:\tbash\nUid:\t0\t0\t0\t0\n"),
            (Some("bash".into()), Some(0), None)
        );
    }
}
