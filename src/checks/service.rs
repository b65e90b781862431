//! Who daos_server and daos_agent really run as: the `User=`/`Group=` of their systemd
//! units after drop-ins (facts.services), else the user of the DAOS units
//! (daos-stack/daos utils/systemd/daos_server.service and daos_agent.service, v2.6.0
//! and v2.8.0: `User=daos_server`, `User=daos_agent`).

use serde::Serialize;

use crate::facts::{Facts, ServiceUnit};

/// The user a DAOS service runs as, and where that was learnt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceUser {
    /// User name (`root` when the unit sets no `User=`).
    pub user: String,
    /// Group name (`Group=`, else the user's own group as the DAOS units do).
    pub group: String,
    /// Where it came from.
    pub origin: String,
    /// The unit's `RuntimeDirectory=` (systemd creates `/run/<name>` owned by the user).
    pub runtime_directory: Option<String>,
}

impl ServiceUser {
    /// True for root (uid 0 by name: CAP_IPC_LOCK, no VFIO/IOMMU requirement).
    pub fn is_root(&self) -> bool {
        self.user == "root" || self.user == "0"
    }
}

fn of(unit: Option<&ServiceUnit>, unit_name: &str, default: &str) -> ServiceUser {
    match unit {
        Some(u) => {
            let user = u.user.clone().unwrap_or_else(|| "root".to_string());
            let origin = match &u.user {
                Some(_) => format!("User= of {unit_name} ({})", u.files.join(", ")),
                None => format!("{unit_name} sets no User=: systemd runs it as root"),
            };
            ServiceUser {
                group: u.group.clone().unwrap_or_else(|| user.clone()),
                user,
                origin,
                runtime_directory: u.runtime_directory.clone(),
            }
        }
        None => ServiceUser {
            user: default.to_string(),
            group: default.to_string(),
            origin: format!("{unit_name} not installed: assuming the DAOS unit's User={default}"),
            runtime_directory: Some(default.to_string()),
        },
    }
}

/// The user daos_server runs as.
pub fn server_user(f: &Facts) -> ServiceUser {
    of(
        f.services.daos_server.as_ref(),
        "daos_server.service",
        "daos_server",
    )
}

/// The user daos_agent runs as.
pub fn agent_user(f: &Facts) -> ServiceUser {
    of(
        f.services.daos_agent.as_ref(),
        "daos_agent.service",
        "daos_agent",
    )
}

/// True when `dir` is a directory systemd creates for the unit at start
/// (`RuntimeDirectory=name` → `/run/name`, also reached as `/var/run/name`).
pub fn is_runtime_dir(u: &ServiceUser, dir: &str) -> bool {
    let d = dir.trim_end_matches('/');
    u.runtime_directory.as_deref().is_some_and(|names| {
        names
            .split_whitespace()
            .any(|n| d == format!("/run/{n}") || d == format!("/var/run/{n}"))
    })
}
