//! The checks: one trait, one registry, stable IDs (design.md §3).
//!
//! A check is a pure function of the facts (and, as it grows, the DAOS configuration)
//! that returns a [`Finding`]. A failing check is data, not an error: `Err` is reserved
//! for "could not evaluate", which is itself reported as status `error`.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::daos::DaosVersion;
use crate::daos::config::LoadedConfigs;
use crate::facts::Facts;

pub mod config;
pub mod cpu;
pub mod daos_setup;
pub mod firewall;
pub mod hugepage_holders;
pub mod hugepages;
pub mod iommu;
pub mod limits;
pub mod locality;
pub mod memory;
pub mod nic;
pub mod numa;
pub mod numa_tables;
pub mod nvme;
pub mod nvme_numa;
pub mod pmem;
pub mod security;
pub mod service;
pub mod service_limits;
pub mod sysctl;
pub mod time;
pub mod vendor_unit;

/// Outcome of one check.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Ready as far as this check can tell.
    Pass,
    /// Works, but not as recommended (performance, a future release, safety margin).
    Warn,
    /// DAOS will fail or misbehave.
    Fail,
    /// Not applicable here (with the reason).
    Skip,
    /// Could not be evaluated (e.g. permission denied).
    Error,
}

impl Status {
    /// All statuses, in report order.
    pub const ALL: [Status; 5] = [
        Status::Pass,
        Status::Warn,
        Status::Fail,
        Status::Skip,
        Status::Error,
    ];

    /// `pass`, `warn`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
            Status::Error => "error",
        }
    }

    /// Severity for "worst status" folding: error and fail dominate warn, which
    /// dominates pass, which dominates skip.
    pub fn severity(self) -> u8 {
        match self {
            Status::Skip => 0,
            Status::Pass => 1,
            Status::Warn => 2,
            Status::Error => 3,
            Status::Fail => 4,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to fix a non-passing check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Remediation {
    /// One line: what to do.
    pub summary: String,
    /// Exact commands or edits, in order.
    pub actions: Vec<String>,
    /// The fix only takes effect after a reboot (kernel command line, BIOS).
    pub reboot_required: bool,
}

/// The verdict of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The status.
    pub status: Status,
    /// One line: what was found.
    pub summary: String,
    /// The numbers and signals behind the verdict.
    pub details: Map<String, Value>,
    /// How to fix it (non-pass only).
    pub remediation: Option<Remediation>,
    /// The DAOS fault code this mirrors (`code.ServerIommuDisabled` = ...), when any.
    pub daos_fault_code: Option<String>,
}

impl Finding {
    fn new(status: Status, summary: impl Into<String>) -> Self {
        Finding {
            status,
            summary: summary.into(),
            details: Map::new(),
            remediation: None,
            daos_fault_code: None,
        }
    }

    /// A passing finding.
    pub fn pass(summary: impl Into<String>) -> Self {
        Self::new(Status::Pass, summary)
    }

    /// A warning.
    pub fn warn(summary: impl Into<String>) -> Self {
        Self::new(Status::Warn, summary)
    }

    /// A failure.
    pub fn fail(summary: impl Into<String>) -> Self {
        Self::new(Status::Fail, summary)
    }

    /// Not applicable, with the reason.
    pub fn skip(reason: impl Into<String>) -> Self {
        Self::new(Status::Skip, reason)
    }

    /// Could not be evaluated.
    pub fn error(reason: impl Into<String>) -> Self {
        Self::new(Status::Error, reason)
    }

    /// Adds a detail.
    pub fn detail(mut self, key: &str, value: impl Serialize) -> Self {
        self.details.insert(
            key.to_string(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }

    /// Sets the remediation.
    pub fn fix(mut self, summary: impl Into<String>, actions: &[String], reboot: bool) -> Self {
        self.remediation = Some(Remediation {
            summary: summary.into(),
            actions: actions.to_vec(),
            reboot_required: reboot,
        });
        self
    }

    /// Sets the DAOS fault code.
    pub fn fault(mut self, code: &str) -> Self {
        self.daos_fault_code = Some(code.to_string());
        self
    }
}

/// What a check may look at.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The host facts.
    pub facts: &'a Facts,
    /// The DAOS rules profile.
    pub daos_version: DaosVersion,
    /// The DAOS configuration files as read and judged (`None`: not read).
    pub config: Option<&'a LoadedConfigs>,
}

impl<'a> Context<'a> {
    /// A context without DAOS configuration (checks that need it skip).
    pub fn new(facts: &'a Facts, daos_version: DaosVersion) -> Self {
        Context {
            facts,
            daos_version,
            config: None,
        }
    }
}

/// A check: stable id, title, explanation, and a pure evaluation.
pub trait Check: Sync {
    /// Stable dotted id (`iommu.kernel`).
    fn id(&self) -> &'static str;
    /// Short title for reports.
    fn title(&self) -> &'static str;
    /// What it checks, why DAOS cares, and what the statuses mean (for `explain`).
    fn explain(&self) -> &'static str;
    /// Evaluates the check.
    fn run(&self, ctx: &Context) -> Finding;
}

/// Every check, in report order. IDs are a contract: never rename one.
pub fn registry() -> &'static [&'static dyn Check] {
    &[
        &iommu::Firmware,
        &iommu::Kernel,
        &iommu::Mode,
        &numa::Topology,
        &numa_tables::Consistency,
        &hugepages::Total,
        &hugepages::Numa,
        &hugepages::Thp,
        &memory::Ramdisk,
        &memory::Available,
        &cpu::Cores,
        &nvme::Present,
        &nvme::Driver,
        &nvme::IommuGroup,
        &nvme_numa::Numa,
        &pmem::Dcpm,
        &nic::Present,
        &nic::Link,
        &nic::Address,
        &nic::Numa,
        &nic::Agent,
        &time::Sync,
        &firewall::Ports,
        &limits::Memlock,
        &service_limits::Service,
        &sysctl::Daos,
        &daos_setup::User,
        &daos_setup::Dirs,
        &vendor_unit::VendorUnit,
        &config::Server,
        &config::Agent,
        &config::Control,
        &config::Consistency,
        &security::Security,
    ]
}

/// Looks a check up by id.
pub fn find(id: &str) -> Option<&'static dyn Check> {
    registry().iter().copied().find(|c| c.id() == id)
}

/// True when `pattern` selects `id`: equal, or a family prefix (`iommu` selects
/// `iommu.kernel`; `iommu.` too).
pub fn matches(pattern: &str, id: &str) -> bool {
    let p = pattern.trim().trim_end_matches('.');
    !p.is_empty() && (id == p || id.strip_prefix(p).is_some_and(|r| r.starts_with('.')))
}

/// Which checks to run, from `--only` and `--skip`.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// When non-empty, only checks matching one of these.
    pub only: Vec<String>,
    /// Checks matching one of these are not run.
    pub skip: Vec<String>,
}

impl Selection {
    /// Rejects patterns that match no check (a typo in an ignore list must not
    /// silently disable nothing, or everything).
    pub fn validate(&self) -> Result<(), String> {
        for p in self.only.iter().chain(&self.skip) {
            if !registry().iter().any(|c| matches(p, c.id())) {
                let ids: Vec<&str> = registry().iter().map(|c| c.id()).collect();
                return Err(format!(
                    "unknown check or family {p:?}; known checks: {}",
                    ids.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Whether the check with `id` runs.
    pub fn selects(&self, id: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|p| matches(p, id)))
            && !self.skip.iter().any(|p| matches(p, id))
    }
}

/// One evaluated check, ready for a report.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluated {
    /// The check's id.
    pub id: &'static str,
    /// The check's title.
    pub title: &'static str,
    /// Its finding.
    pub finding: Finding,
}

/// Host checks that mirror what DAOS only meets after `daos_server` started, with the
/// hardware in hand (hugepage allocation and sizing, RAM-disk size, core affinity,
/// fabric interface lookup, NVMe prepare and binding, IOMMU/VFIO, THP in 2.8, the
/// directories it writes): their findings carry `daos_stage: "start"`, so an admin
/// knows the daemon would report them late, not when it reads its configuration.
/// (`config.*` findings carry the stage of their first error instead.)
pub const START_STAGE_CHECKS: &[&str] = &[
    "iommu.",
    "hugepages.",
    "memory.ramdisk",
    "memory.available",
    "cpu.cores",
    "scm.dcpm",
    "nvme.",
    "nic.",
    "daos.dirs",
    "daos.user",
    "limits.memlock",
    "limits.service",
];

/// The DAOS stage a host check mirrors, when it mirrors one.
pub fn daos_stage_of(id: &str) -> Option<&'static str> {
    START_STAGE_CHECKS
        .iter()
        .any(|p| id == *p || (p.ends_with('.') && id.starts_with(p)))
        .then_some("start")
}

/// Runs the selected checks.
pub fn run_all(ctx: &Context, selection: &Selection) -> Vec<Evaluated> {
    registry()
        .iter()
        .filter(|c| selection.selects(c.id()))
        .map(|c| {
            let mut finding = c.run(ctx);
            if finding.status != Status::Skip
                && let Some(stage) = daos_stage_of(c.id())
            {
                finding = finding.detail("daos_stage", stage);
            }
            Evaluated {
                id: c.id(),
                title: c.title(),
                finding,
            }
        })
        .collect()
}

pub use crate::units::human_kib;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_select_families() {
        assert!(matches("iommu", "iommu.kernel"));
        assert!(matches("iommu.", "iommu.kernel"));
        assert!(matches("iommu.kernel", "iommu.kernel"));
        assert!(!matches("iommu.k", "iommu.kernel"));
        assert!(!matches("io", "iommu.kernel"));
        assert!(!matches("", "iommu.kernel"));
        let sel = Selection {
            only: vec!["iommu".into()],
            skip: vec!["iommu.mode".into()],
        };
        assert!(sel.selects("iommu.kernel"));
        assert!(!sel.selects("iommu.mode"));
        assert!(!sel.selects("time.sync"));
        assert!(sel.validate().is_ok());
        let bad = Selection {
            only: vec!["iomu".into()],
            skip: vec![],
        };
        assert!(bad.validate().unwrap_err().contains("iomu"));
    }

    #[test]
    fn registry_ids_are_unique_and_well_formed() {
        let mut ids: Vec<&str> = registry().iter().map(|c| c.id()).collect();
        for id in &ids {
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '.' || c == '-'),
                "{id}"
            );
            assert!(id.contains('.'), "{id}");
            assert!(!find(id).unwrap().explain().is_empty());
        }
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }

    #[test]
    fn start_time_checks_are_marked() {
        assert_eq!(daos_stage_of("hugepages.total"), Some("start"));
        assert_eq!(daos_stage_of("nic.link"), Some("start"));
        assert_eq!(daos_stage_of("daos.dirs"), Some("start"));
        assert_eq!(daos_stage_of("config.server"), None);
        assert_eq!(daos_stage_of("time.sync"), None);
        for p in START_STAGE_CHECKS {
            assert!(
                registry().iter().any(|c| matches(p, c.id())),
                "{p} names no check"
            );
        }
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_kib(16 * 1024 * 1024), "16.0 GiB");
        assert_eq!(human_kib(2048), "2.0 MiB");
        assert_eq!(human_kib(0), "0 B");
    }
}
