//! Clock synchronisation, limits, sysctls and the DAOS systemd units.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CollectionError, Limits, ServiceUnit, Services, TimeSync, note};
use crate::host::Host;
use crate::host::syscalls::{STA_UNSYNC, TIME_ERROR};

/// Assignments of the `[Service]` section, as written (`null`: not assigned, or reset
/// by an empty assignment).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq, Default)]
pub struct UnitSettings {
    /// `User=`.
    pub user: Option<String>,
    /// `Group=`.
    pub group: Option<String>,
    /// `LimitMEMLOCK=`.
    pub limit_memlock: Option<String>,
    /// `CPUAffinity=` (systemd.exec(5): repeated assignments are merged, an empty one
    /// resets); space-joined when merged.
    pub cpu_affinity: Option<String>,
    /// `AllowedCPUs=` (cpuset controller, systemd.resource-control(5)); merged likewise.
    pub allowed_cpus: Option<String>,
    /// `AllowedMemoryNodes=` (cpuset controller); merged likewise.
    pub allowed_memory_nodes: Option<String>,
    /// `MemoryMax=` (bytes with K/M/G/T suffixes, a percentage, or `infinity`).
    pub memory_max: Option<String>,
}

/// The packaged unit file of a service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq)]
pub struct VendorUnit {
    /// Its path.
    pub path: String,
    /// What it assigns.
    pub settings: UnitSettings,
}

/// The sysctls the DAOS server RPM installs in `/usr/lib/sysctl.d/10-daos_server.conf`
/// (daos-stack/daos utils/rpms/10-daos_server.conf, identical in v2.6.0 and v2.8.0),
/// with the value it sets. The values are minimums: a larger value is fine.
pub const DAOS_SYSCTLS: &[(&str, u64)] = &[
    ("net.core.rmem_max", 1_048_576),
    ("net.core.rmem_default", 1_048_576),
    ("vm.max_map_count", 1_000_000),
];

/// Reads the kernel clock state (live only).
pub fn collect_time(host: &Host, errors: &mut Vec<CollectionError>) -> Option<TimeSync> {
    let state = note(errors, host.time_sync_state()?)?;
    Some(TimeSync {
        synchronized: state.clock_state != TIME_ERROR && state.status & STA_UNSYNC == 0,
        clock_state: state.clock_state,
        status: state.status,
        max_error_us: state.max_error_us,
        est_error_us: state.est_error_us,
    })
}

/// This process's memlock limit (live only).
pub fn collect_limits(host: &Host) -> Limits {
    match host.memlock_limit() {
        Some(l) => Limits {
            memlock_soft_bytes: l.soft,
            memlock_unlimited: Some(l.soft.is_none()),
        },
        None => Limits::default(),
    }
}

/// Current values of the DAOS sysctls (`/proc/sys/...`).
pub fn collect_sysctls(host: &Host) -> BTreeMap<String, Option<String>> {
    DAOS_SYSCTLS
        .iter()
        .map(|(name, _)| {
            let path = format!("/proc/sys/{}", name.replace('.', "/"));
            (name.to_string(), host.read_attr_opt(&path))
        })
        .collect()
}

/// Unit search path, highest precedence first (systemd.unit(5)).
const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// The `[Service]` assignments of one unit file or drop-in, in order (`None`: an empty
/// assignment, which resets).
pub fn service_assignments(text: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut in_service = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            in_service = line == "[Service]";
            continue;
        }
        if !in_service {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        out.push((k.trim().to_string(), (!v.is_empty()).then(|| v.to_string())));
    }
    out
}

/// Applies the `[Service]` assignments of one unit file or drop-in to `unit`.
/// Later assignments win; an empty assignment resets (systemd semantics).
pub fn apply_unit_text(unit: &mut ServiceUnit, text: &str) {
    for (k, v) in service_assignments(text) {
        match k.as_str() {
            "User" => unit.user = v,
            "LimitMEMLOCK" => unit.limit_memlock = v,
            "Group" => unit.group = v,
            "RuntimeDirectory" => unit.runtime_directory = v,
            _ => {}
        }
    }
    apply_settings(&mut unit.limits, text);
}

/// Applies one file's assignments to `s`: CPU sets merge (an empty assignment resets),
/// everything else is the last assignment.
pub fn apply_settings(s: &mut UnitSettings, text: &str) {
    let merge = |slot: &mut Option<String>, v: Option<String>| {
        *slot = match (slot.take(), v) {
            (_, None) => None,
            (Some(old), Some(new)) => Some(format!("{old} {new}")),
            (None, Some(new)) => Some(new),
        }
    };
    for (k, v) in service_assignments(text) {
        match k.as_str() {
            "User" => s.user = v,
            "Group" => s.group = v,
            "LimitMEMLOCK" => s.limit_memlock = v,
            "MemoryMax" => s.memory_max = v,
            "CPUAffinity" => merge(&mut s.cpu_affinity, v),
            "AllowedCPUs" => merge(&mut s.allowed_cpus, v),
            "AllowedMemoryNodes" => merge(&mut s.allowed_memory_nodes, v),
            _ => {}
        }
    }
}

/// The packaged unit: `/usr/lib/systemd/system`, else `/lib/systemd/system`.
fn read_vendor(host: &Host, name: &str, errors: &mut Vec<CollectionError>) -> Option<VendorUnit> {
    let path = ["/usr/lib/systemd/system", "/lib/systemd/system"]
        .iter()
        .map(|d| format!("{d}/{name}"))
        .find(|p| host.exists(p))?;
    let text = note(errors, host.read_string(&path))?;
    let mut settings = UnitSettings::default();
    apply_settings(&mut settings, &text);
    Some(VendorUnit { path, settings })
}

fn read_unit(host: &Host, name: &str, errors: &mut Vec<CollectionError>) -> Option<ServiceUnit> {
    let main = UNIT_DIRS
        .iter()
        .map(|d| format!("{d}/{name}"))
        .find(|p| host.exists(p))?;
    let mut unit = ServiceUnit {
        files: vec![main.clone()],
        user: None,
        limit_memlock: None,
        group: None,
        runtime_directory: None,
        limits: UnitSettings::default(),
        from_dropins: UnitSettings::default(),
        vendor: read_vendor(host, name, errors),
    };
    if let Some(text) = note(errors, host.read_string(&main)) {
        apply_unit_text(&mut unit, &text);
    }
    // Drop-ins: all *.conf of every <name>.d, a file name in a higher-precedence
    // directory masks the same name below it; applied in file-name order.
    let mut dropins: BTreeMap<String, String> = BTreeMap::new();
    for d in UNIT_DIRS.iter().rev() {
        let dir = format!("{d}/{name}.d");
        for f in host.list_dir(&dir).unwrap_or_default() {
            if f.ends_with(".conf") {
                dropins.insert(f.clone(), format!("{dir}/{f}"));
            }
        }
    }
    for path in dropins.into_values() {
        if let Some(text) = note(errors, host.read_string(&path)) {
            apply_unit_text(&mut unit, &text);
            apply_settings(&mut unit.from_dropins, &text);
            unit.files.push(path);
        }
    }
    Some(unit)
}

fn default_limit_memlock(host: &Host) -> Option<String> {
    let mut value = None;
    let mut files = vec!["/etc/systemd/system.conf".to_string()];
    for d in [
        "/usr/lib/systemd/system.conf.d",
        "/etc/systemd/system.conf.d",
    ] {
        for f in host.list_dir(d).unwrap_or_default() {
            if f.ends_with(".conf") {
                files.push(format!("{d}/{f}"));
            }
        }
    }
    for f in files {
        for line in host.read_string(&f).unwrap_or_default().lines() {
            if let Some(v) = line.trim().strip_prefix("DefaultLimitMEMLOCK=") {
                value = Some(v.trim().to_string()).filter(|v| !v.is_empty());
            }
        }
    }
    value
}

/// Reads the DAOS server unit and systemd's defaults.
pub fn collect_services(host: &Host, errors: &mut Vec<CollectionError>) -> Services {
    Services {
        daos_server: read_unit(host, "daos_server.service", errors),
        daos_agent: read_unit(host, "daos_agent.service", errors),
        default_limit_memlock: default_limit_memlock(host),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_assignments_last_wins_and_reset() {
        // daos-stack/daos v2.6.0 utils/systemd/daos_server.service, abridged
        let main = "[Unit]\nDescription=DAOS Server\n\n[Service]\nType=simple\nUser=daos_server\nGroup=daos_server\nRuntimeDirectory=daos_server\nLimitMEMLOCK=infinity\nLimitCORE=infinity\n";
        let mut u = ServiceUnit {
            files: vec![],
            user: None,
            limit_memlock: None,
            group: None,
            runtime_directory: None,
            limits: UnitSettings::default(),
            from_dropins: UnitSettings::default(),
            vendor: None,
        };
        apply_unit_text(&mut u, main);
        assert_eq!(u.group.as_deref(), Some("daos_server"));
        assert_eq!(u.user.as_deref(), Some("daos_server"));
        assert_eq!(u.limit_memlock.as_deref(), Some("infinity"));
        assert_eq!(u.runtime_directory.as_deref(), Some("daos_server"));
        apply_unit_text(&mut u, "[Service]\nUser=\nLimitMEMLOCK=64K\n");
        assert_eq!(u.user, None);
        assert_eq!(u.limit_memlock.as_deref(), Some("64K"));
        apply_unit_text(&mut u, "[Install]\nLimitMEMLOCK=1\n");
        assert_eq!(u.limit_memlock.as_deref(), Some("64K"));
        // CPU sets merge, an empty assignment resets; MemoryMax is the last one
        apply_unit_text(
            &mut u,
            "[Service]\nCPUAffinity=0-3\nCPUAffinity=8\nAllowedCPUs=\nAllowedCPUs=0-7\nMemoryMax=8G\nMemoryMax=16G\n",
        );
        assert_eq!(u.limits.cpu_affinity.as_deref(), Some("0-3 8"));
        assert_eq!(u.limits.allowed_cpus.as_deref(), Some("0-7"));
        assert_eq!(u.limits.memory_max.as_deref(), Some("16G"));
        apply_unit_text(&mut u, "[Service]\nCPUAffinity=\n");
        assert_eq!(u.limits.cpu_affinity, None);
    }
}
