//! `limits.memlock`: the memlock limit daos_server will really get.
//!
//! SPDK locks its hugepage memory and VFIO pins DMA mappings against RLIMIT_MEMLOCK; the
//! DAOS unit sets `LimitMEMLOCK=infinity` (daos-stack/daos utils/systemd/
//! daos_server.service, v2.6.0 and v2.8.0). A drop-in or an edited unit can lower it, and
//! a daos_server started from a shell inherits the shell's limit.

use super::{Check, Context, Finding, human_kib};
use crate::facts::parse::parse_systemd_limit;

/// `limits.memlock`
pub struct Memlock;

fn fmt_limit(v: Option<u64>) -> String {
    match v {
        None => "unlimited".into(),
        Some(b) => human_kib(b / 1024),
    }
}

impl Check for Memlock {
    fn id(&self) -> &'static str {
        "limits.memlock"
    }
    fn title(&self) -> &'static str {
        "Memlock limit of daos_server"
    }
    fn explain(&self) -> &'static str {
        "Works out the RLIMIT_MEMLOCK daos_server will run with: LimitMEMLOCK= of \
daos_server.service and its drop-ins, else systemd's DefaultLimitMEMLOCK, else systemd's \
small built-in default. Without an installed unit, the limit of this process (what a \
daos_server started from this shell would inherit). SPDK and VFIO must lock all hugepage \
memory, so anything but unlimited makes NVMe setup fail.\n\
pass: unlimited. fail: a finite limit in the unit. warn: no unit, and this shell's limit \
is finite, or a finite limit for a unit that runs as root (CAP_IPC_LOCK lifts the limit; the User= of the unit and its drop-ins decides). skip: no unit in a captured tree."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let f = ctx.facts;
        let fix_actions = [
            "mkdir -p /etc/systemd/system/daos_server.service.d".to_string(),
            "printf '[Service]\\nLimitMEMLOCK=infinity\\n' > /etc/systemd/system/daos_server.service.d/memlock.conf".to_string(),
            "systemctl daemon-reload && systemctl restart daos_server".to_string(),
        ];
        if let Some(unit) = &f.services.daos_server {
            let (value, origin) = match (&unit.limit_memlock, &f.services.default_limit_memlock) {
                (Some(v), _) => (
                    Some(v.clone()),
                    "LimitMEMLOCK in daos_server.service".to_string(),
                ),
                (None, Some(v)) => (
                    Some(v.clone()),
                    "DefaultLimitMEMLOCK in systemd's system.conf".to_string(),
                ),
                (None, None) => (None, "systemd's built-in default".to_string()),
            };
            // Item 5: the user the unit really runs as (User= after drop-ins). Root has
            // CAP_IPC_LOCK, which lifts RLIMIT_MEMLOCK for mlock and for VFIO's DMA
            // pinning (vfio_iommu_type1), so a finite limit only hurts a non-root service.
            let user = super::service::server_user(f);
            let base = |fd: Finding| {
                let fd = if user.is_root() && fd.status == super::Status::Fail {
                    Finding {
                        status: super::Status::Warn,
                        summary: format!(
                            "{} — tolerated while daos_server runs as root (CAP_IPC_LOCK lifts the limit), fatal once it runs as a non-root user",
                            fd.summary
                        ),
                        ..fd
                    }
                } else {
                    fd
                };
                fd.detail("unit_files", &unit.files)
                    .detail("limit_memlock", &value)
                    .detail("origin", &origin)
                    .detail("service_user", &user.user)
            };
            return match value.as_deref().map(parse_systemd_limit) {
                Some(Ok(None)) => base(Finding::pass(format!(
                    "daos_server.service runs with unlimited memlock ({origin})"
                ))),
                Some(Ok(Some(bytes))) => base(Finding::fail(format!(
                    "daos_server.service runs with memlock limited to {} ({origin}): SPDK/VFIO can't lock hugepage memory",
                    fmt_limit(Some(bytes))
                )))
                .fix("set LimitMEMLOCK=infinity for daos_server.service", &fix_actions, false),
                Some(Err(e)) => base(Finding::fail(format!(
                    "LimitMEMLOCK value {:?} is not valid ({e}); systemd ignores it and uses its default",
                    value.as_deref().unwrap_or("")
                )))
                .fix("set LimitMEMLOCK=infinity for daos_server.service", &fix_actions, false),
                None => base(Finding::fail(
                    "daos_server.service sets no LimitMEMLOCK: it gets systemd's small default (64 KiB–8 MiB)",
                ))
                .fix("set LimitMEMLOCK=infinity for daos_server.service", &fix_actions, false),
            };
        }
        match f.limits.memlock_unlimited {
            Some(true) => Finding::pass(
                "no daos_server.service installed; this shell's memlock limit is unlimited",
            ),
            Some(false) => Finding::warn(format!(
                "no daos_server.service installed; a daos_server started from this shell would get memlock {}",
                fmt_limit(f.limits.memlock_soft_bytes)
            ))
            .detail("memlock_soft_bytes", f.limits.memlock_soft_bytes)
            .fix(
                "start daos_server from its systemd unit (LimitMEMLOCK=infinity), or raise the shell's limit",
                &["ulimit -l unlimited   # in the shell that starts daos_server".to_string()],
                false,
            ),
            None => Finding::skip("no daos_server.service in this tree and no live process limit to read"),
        }
    }
}
