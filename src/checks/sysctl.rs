//! `sysctl.daos`: the kernel parameters the DAOS server RPM sets.

use super::{Check, Context, Finding};
use crate::facts::system::DAOS_SYSCTLS;

/// `sysctl.daos`
pub struct Daos;

impl Check for Daos {
    fn id(&self) -> &'static str {
        "sysctl.daos"
    }
    fn title(&self) -> &'static str {
        "DAOS sysctls"
    }
    fn explain(&self) -> &'static str {
        "Compares the live values of the sysctls that the daos-server RPM installs in \
/usr/lib/sysctl.d/10-daos_server.conf (net.core.rmem_max=1048576, \
net.core.rmem_default=1048576, vm.max_map_count=1000000; daos-stack/daos \
utils/rpms/10-daos_server.conf) with those values, as minimums. A lower vm.max_map_count \
makes engines with many targets fail to map memory; small socket buffers hurt the tcp and \
sockets providers.\n\
pass: all at least the DAOS value. warn: some lower (the file is missing or overridden). \
skip: /proc/sys not visible."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let f = ctx.facts;
        if f.sysctl.values().all(Option::is_none) {
            return Finding::skip("/proc/sys is not visible: sysctls can't be read");
        }
        let mut low = Vec::new();
        let mut unknown = Vec::new();
        for (name, want) in DAOS_SYSCTLS {
            match f
                .sysctl
                .get(*name)
                .cloned()
                .flatten()
                .map(|v| v.parse::<u64>())
            {
                Some(Ok(have)) if have >= *want => {}
                Some(Ok(have)) => low.push((name.to_string(), have, *want)),
                _ => unknown.push(name.to_string()),
            }
        }
        let finding = if low.is_empty() && unknown.is_empty() {
            Finding::pass(
                "net.core.rmem_max, net.core.rmem_default and vm.max_map_count are at least the DAOS values",
            )
        } else if low.is_empty() {
            Finding::warn(format!("could not read {}", unknown.join(", ")))
        } else {
            let what: Vec<String> = low
                .iter()
                .map(|(n, have, want)| format!("{n}={have} (DAOS sets {want})"))
                .collect();
            let mut actions: Vec<String> = low
                .iter()
                .map(|(n, _, want)| format!("sysctl -w {n}={want}"))
                .collect();
            actions.push(format!(
                "printf '{}' > /etc/sysctl.d/90-daos-preflight.conf   # persist, as `daos-preflight fix --persistent` does (a late name wins over the RPM's 10-daos_server.conf and distribution files)",
                DAOS_SYSCTLS
                    .iter()
                    .map(|(n, v)| format!("{n}={v}\\n"))
                    .collect::<String>()
            ));
            Finding::warn(format!("below the DAOS values: {}", what.join(", "))).fix(
                "set the DAOS sysctls now and persist them in /etc/sysctl.d",
                &actions,
                false,
            )
        };
        finding
            .detail("values", &f.sysctl)
            .detail("unreadable", &unknown)
    }
}
