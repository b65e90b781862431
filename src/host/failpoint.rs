//! Fault injection for the crash tests, compiled in only with the cargo feature
//! `failpoints` (tests enable it; the release binary and the RPM are built without it,
//! and then [`hit`] is an empty inline function).
//!
//! `DAOS_PREFLIGHT_FAILPOINTS="name=action;name:detail=action"` arms failpoints; `name`
//! is a point in the code (`journal.intent`, `driver.unbound`, ...), `detail` narrows it
//! to one path or device (`walk.component:/var/log/daos`). Actions:
//!
//! - `exit`: `_exit(137)` at once, as a `kill -9` would end the process (no destructors,
//!   nothing flushed; the kernel drops the lock);
//! - `sleep(MS)`: print `@@FAILPOINT <name> <detail>@@` on stderr, then sleep, so that a
//!   test can act on the host (kill the process, plant a link) at exactly that point.

/// Passes the failpoint `name` for `detail` (a path, a PCI address).
#[cfg(feature = "failpoints")]
pub fn hit(name: &str, detail: &str) {
    let Ok(spec) = std::env::var("DAOS_PREFLIGHT_FAILPOINTS") else {
        return;
    };
    for item in spec.split(';') {
        let Some((point, action)) = item.split_once('=') else {
            continue;
        };
        let (p, d) = point.split_once(':').unwrap_or((point, ""));
        if p != name || (!d.is_empty() && d != detail) {
            continue;
        }
        if action == "exit" {
            eprintln!("@@FAILPOINT {name} {detail} exit@@");
            // SAFETY: _exit ends the process without running anything else.
            unsafe { libc::_exit(137) };
        }
        if let Some(ms) = action
            .strip_prefix("sleep(")
            .and_then(|a| a.strip_suffix(')'))
            .and_then(|a| a.parse::<u64>().ok())
        {
            eprintln!("@@FAILPOINT {name} {detail} sleep@@");
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
    }
}

/// Passes the failpoint `name` (no-op: built without the `failpoints` feature).
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str, _detail: &str) {}

/// Whether this build has failpoints (reported by tests that need them).
pub const ENABLED: bool = cfg!(feature = "failpoints");
