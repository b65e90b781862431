//! `hugepages.total` and `hugepages.thp`.

use super::{Check, Context, Finding};
use crate::daos::DaosVersion;

/// DAOS fault code of the 2.8 THP refusal (src/control/server/faults.go
/// `FaultTransparentHugepageEnabled`).
pub const FAULT_THP_ENABLED: &str = "code.ServerTransparentHugepageEnabled";

/// `hugepages.total`
pub struct Total;

impl Check for Total {
    fn id(&self) -> &'static str {
        "hugepages.total"
    }
    fn title(&self) -> &'static str {
        "Hugepages for the DAOS engines"
    }
    fn explain(&self) -> &'static str {
        "Compares the hugepages the host has with what daos_server will need: 1 GiB of hugepage \
memory per target of every engine with bdevs, plus one per MD-on-SSD engine \
(src/control/server/storage/bdev.go CalcMinHugepages), in pages of Hugepagesize. The \
requirement comes from daos_server.yml, so without a server configuration this check is \
skipped with the reason."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let m = &ctx.facts.memory;
        Finding::skip(
            "no DAOS server configuration evaluated: the hugepage requirement derives from the engines' targets in daos_server.yml",
        )
        .detail("hugepages_total", m.hugepages_total)
        .detail("hugepage_size_kib", m.hugepage_size_kib)
    }
}

/// `hugepages.thp`
pub struct Thp;

impl Check for Thp {
    fn id(&self) -> &'static str {
        "hugepages.thp"
    }
    fn title(&self) -> &'static str {
        "Transparent hugepages"
    }
    fn explain(&self) -> &'static str {
        "Reads /sys/kernel/mm/transparent_hugepage/enabled. DAOS 2.8 refuses to start unless \
THP is [never] (or allow_thp: true), because SPDK needs exclusive control of hugepages \
(src/control/server/server_utils.go; fault code.ServerTransparentHugepageEnabled). DAOS 2.6 \
starts with THP enabled, but khugepaged competes for the same memory.\n\
pass: never, or no THP in this kernel. fail (2.8 rules): always/madvise. warn (older \
rules): always/madvise. skip: no sysfs visible."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let f = ctx.facts;
        if !f.source.sysfs {
            return Finding::skip("no sysfs visible: THP mode can't be read");
        }
        let Some(mode) = f.thp.enabled.as_deref() else {
            return Finding::pass("this kernel has no transparent hugepage support");
        };
        if mode == "never" {
            return Finding::pass("transparent hugepages disabled ([never])")
                .detail("enabled", mode);
        }
        let actions = [
            "echo never > /sys/kernel/mm/transparent_hugepage/enabled   # now".to_string(),
            "grubby --update-kernel=ALL --args=\"transparent_hugepage=never\"   # at every boot"
                .to_string(),
        ];
        let finding = if ctx.daos_version >= DaosVersion::V2_8 {
            Finding::fail(format!(
                "transparent hugepages are [{mode}]: DAOS {} refuses to start unless THP is [never]",
                ctx.daos_version
            ))
            .fault(FAULT_THP_ENABLED)
        } else {
            Finding::warn(format!(
                "transparent hugepages are [{mode}]: DAOS {} starts, but THP competes with SPDK for hugepages and DAOS 2.8 refuses it",
                ctx.daos_version
            ))
        };
        finding
            .detail("enabled", mode)
            .detail("defrag", &f.thp.defrag)
            .fix(
                "set transparent hugepages to never, now and on the kernel command line",
                &actions,
                false,
            )
    }
}
