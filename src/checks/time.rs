//! `time.sync`: the kernel clock must be disciplined (NTP/PTP).
//!
//! DAOS orders transactions by hybrid logical clocks and rejects messages whose clock is
//! further off than the HLC tolerance, 1 s by default (src/common/hlc.c, `DAOS_HLC_EPSILON`
//! is set through the environment). The kernel knows whether chronyd/ntpd disciplines the
//! clock: adjtimex(2) clears STA_UNSYNC and reports the estimated error.

use super::{Check, Context, Finding};

/// DAOS HLC tolerance, microseconds.
pub const HLC_TOLERANCE_US: i64 = 1_000_000;

/// `time.sync`
pub struct Sync;

impl Check for Sync {
    fn id(&self) -> &'static str {
        "time.sync"
    }
    fn title(&self) -> &'static str {
        "Clock synchronised"
    }
    fn explain(&self) -> &'static str {
        "Asks the kernel (adjtimex, read-only) whether the system clock is synchronised by \
NTP/PTP and how large its error bound is. DAOS needs every server and client within the HLC \
tolerance (1 s).\n\
pass: synchronised, estimated error below 1 s. warn: synchronised but the maximum error \
exceeds 1 s. fail: not synchronised (start chronyd). skip: not the live host (--root)."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let f = ctx.facts;
        let Some(t) = &f.time else {
            return if f.source.live {
                Finding::error(
                    "adjtimex(2) failed: the clock state can't be read (seccomp in a container?)",
                )
            } else {
                Finding::skip("clock state is only known on the live host (not under --root)")
            };
        };
        let base = |fd: Finding| {
            fd.detail("synchronized", t.synchronized)
                .detail("clock_state", t.clock_state)
                .detail("status", format!("{:#06x}", t.status))
                .detail("max_error_us", t.max_error_us)
                .detail("est_error_us", t.est_error_us)
        };
        let chrony = [
            "dnf install -y chrony && systemctl enable --now chronyd".to_string(),
            "chronyc tracking   # 'Leap status : Normal' when synchronised".to_string(),
        ];
        if !t.synchronized {
            return base(Finding::fail(
                "the kernel clock is not synchronised (STA_UNSYNC): DAOS requires clocks within 1 s across nodes",
            ))
            .fix("run chronyd (or ntpd/ptp4l) against the site's time servers", &chrony, false);
        }
        if t.max_error_us > HLC_TOLERANCE_US {
            return base(Finding::warn(format!(
                "clock synchronised but its maximum error is {} ms, above the 1 s HLC tolerance",
                t.max_error_us / 1000
            )))
            .fix(
                "check the time source reachability and chronyc sources",
                &chrony,
                false,
            );
        }
        base(Finding::pass(format!(
            "clock synchronised (estimated error {} µs, maximum {} ms)",
            t.est_error_us,
            t.max_error_us / 1000
        )))
    }
}
