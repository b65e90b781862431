//! The cgroup this process runs in and what it allows: CPUs and memory nodes (cpuset)
//! and memory (`memory.max` / `memory.limit_in_bytes`). Run as daos_server's
//! `ExecStartPre=` hook, that is the service's own cgroup, so these are the limits the
//! engines will start under.
//!
//! Layout (the kernel's Documentation/admin-guide/cgroup-v2.rst: `cpuset.cpus.effective`,
//! `cpuset.mems.effective`, `memory.max`; cgroup-v1/cpusets.rst: `cpuset.cpus`,
//! `cpuset.mems`, or `cpus`/`mems` on the legacy cpuset file system and with `noprefix`;
//! cgroup-v1/memory.rst: `memory.limit_in_bytes`). The process's group comes from
//! `/proc/self/cgroup` (else `/proc/self/cpuset`, which older kernels and hwloc's captured
//! machines have), the mount points from `/proc/mounts` (they are anywhere: hwloc's trees
//! mount them on `/dev/cpuset`, `/cgroup/unified`), as hwloc finds them.

use procfs_core::{FromBufRead, MountEntry};
use serde::{Deserialize, Serialize};

use super::{CollectionError, note};
use crate::host::Host;

/// What the process's cgroup allows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Cgroup {
    /// `v2` (unified) or `v1`.
    pub version: String,
    /// The group's path (`/system.slice/daos_server.service`).
    pub path: String,
    /// Allowed CPUs (cpulist as the kernel prints it); `null` when no cpuset is mounted.
    pub cpus: Option<String>,
    /// Allowed memory nodes; `null` when no cpuset is mounted.
    pub mems: Option<String>,
    /// Memory limit, bytes; `null` for none (`max`, or v1's "unlimited" page-rounded
    /// LONG_MAX) or when no memory controller is mounted.
    pub memory_max_bytes: Option<u64>,
    /// The files read.
    pub files: Vec<String>,
}

/// The groups of `/proc/self/cgroup` (`hierarchy:controllers:path` lines): the unified
/// path (`0::`), the v1 cpuset path, the v1 memory path.
pub fn parse_self_cgroup(text: &str) -> (Option<String>, Option<String>, Option<String>) {
    let (mut unified, mut cpuset, mut memory) = (None, None, None);
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(ctrl), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let path = path.trim().to_string();
        if ctrl.is_empty() {
            unified = Some(path);
        } else {
            for c in ctrl.split(',') {
                match c {
                    "cpuset" => cpuset = Some(path.clone()),
                    "memory" => memory = Some(path.clone()),
                    _ => {}
                }
            }
        }
    }
    (unified, cpuset, memory)
}

/// A v1 `memory.limit_in_bytes` / v2 `memory.max` value: `None` for no limit.
pub fn parse_memory_limit(s: &str) -> Option<u64> {
    let v = s.trim();
    if v == "max" {
        return None;
    }
    // v1 prints "unlimited" as LONG_MAX rounded down to a page (9223372036854771712)
    v.parse::<u64>().ok().filter(|b| *b < 1 << 62)
}

fn join(mount: &str, path: &str) -> String {
    format!(
        "{}/{}",
        mount.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
    .trim_end_matches('/')
    .to_string()
}

/// Reads the first of `names` that exists in `dir`.
fn first(host: &Host, dir: &str, names: &[&str], files: &mut Vec<String>) -> Option<String> {
    names.iter().find_map(|n| {
        let p = format!("{dir}/{n}");
        let v = host.read_attr_opt(&p)?;
        files.push(p);
        Some(v)
    })
}

/// Collects the cgroup limits of this process (`None` when no cgroup is visible).
pub fn collect(host: &Host, errors: &mut Vec<CollectionError>) -> Option<Cgroup> {
    let (unified, v1_cpuset, v1_memory) = match host.read_string("/proc/self/cgroup") {
        Ok(t) => parse_self_cgroup(&t),
        Err(_) => {
            let p = host.read_attr_opt("/proc/self/cpuset")?;
            (Some(p.clone()), Some(p), None)
        }
    };
    let text = note(errors, host.read_bytes("/proc/mounts"))?;
    let mounts = Vec::<MountEntry>::from_buf_read(&text[..]).ok()?;
    let mut files = Vec::new();
    let v2 = mounts.iter().find(|m| m.fs_vfstype == "cgroup2");
    let v1_cs = mounts.iter().find(|m| {
        m.fs_vfstype == "cpuset" || (m.fs_vfstype == "cgroup" && m.fs_mntops.contains_key("cpuset"))
    });
    let v1_mem = mounts
        .iter()
        .find(|m| m.fs_vfstype == "cgroup" && m.fs_mntops.contains_key("memory"));
    // cgroup v2 when the unified hierarchy has the cpuset files for our group, else v1
    if let (Some(m), Some(path)) = (v2, &unified) {
        let dir = join(&m.fs_file, path);
        let cpus = first(host, &dir, &["cpuset.cpus.effective"], &mut files);
        if cpus.is_some() || v1_cs.is_none() {
            let mems = first(host, &dir, &["cpuset.mems.effective"], &mut files);
            let memory_max_bytes =
                first(host, &dir, &["memory.max"], &mut files).and_then(|v| parse_memory_limit(&v));
            return Some(Cgroup {
                version: "v2".into(),
                path: path.clone(),
                cpus,
                mems,
                memory_max_bytes,
                files,
            });
        }
    }
    let path = v1_cpuset.or(unified)?;
    let (mut cpus, mut mems) = (None, None);
    if let Some(m) = v1_cs {
        let dir = join(&m.fs_file, &path);
        cpus = first(
            host,
            &dir,
            &["cpuset.effective_cpus", "cpuset.cpus", "cpus"],
            &mut files,
        );
        mems = first(
            host,
            &dir,
            &["cpuset.effective_mems", "cpuset.mems", "mems"],
            &mut files,
        );
    }
    let memory_max_bytes = v1_mem.and_then(|m| {
        let dir = join(&m.fs_file, v1_memory.as_deref().unwrap_or(&path));
        first(host, &dir, &["memory.limit_in_bytes"], &mut files)
            .and_then(|v| parse_memory_limit(&v))
    });
    (cpus.is_some() || mems.is_some() || memory_max_bytes.is_some()).then(|| Cgroup {
        version: "v1".into(),
        path,
        cpus,
        mems,
        memory_max_bytes,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_self_cgroup_lines() {
        // EL8 (cgroup v1, systemd 239) and EL9 (unified) as /proc/self/cgroup shows them
        let v1 = "12:cpuset:/\n11:memory:/system.slice/daos_server.service\n1:name=systemd:/system.slice/daos_server.service\n";
        let (u, c, m) = parse_self_cgroup(v1);
        assert_eq!(
            (u, c.as_deref(), m.as_deref()),
            (None, Some("/"), Some("/system.slice/daos_server.service"))
        );
        let (u, c, _) = parse_self_cgroup("0::/system.slice/daos_server.service\n");
        assert_eq!(u.as_deref(), Some("/system.slice/daos_server.service"));
        assert_eq!(c, None);
        assert_eq!(parse_memory_limit("max\n"), None);
        assert_eq!(parse_memory_limit("9223372036854771712"), None);
        assert_eq!(parse_memory_limit("17179869184"), Some(16 << 30));
    }
}
