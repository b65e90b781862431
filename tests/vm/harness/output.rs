//! What a guest printed: console sections and the [`GuestRun`] a test judges.

use super::*;

pub(super) fn write(path: &Path, data: &[u8]) {
    fs::write(path, data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

// ---------------------------------------------------------------------------------------
// Results.

/// The output of one capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Exit code of the command.
    pub rc: i32,
    /// Its output (stdout and stderr as they reached the console).
    pub text: String,
}

/// The console as text: no `\r`, no terminal escapes (SeaBIOS clears the screen, which
/// would garble a CI log that prints the console).
pub fn clean_console(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {}
            // ESC [ ... final byte (CSI), or ESC + one character (ESC c: reset).
            '\x1b' => {
                if chars.next() == Some('[') {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Splits a console log into captures (see tests/vm/init.sh for the markers). A marker
/// must be a whole line; anything outside markers is ignored.
pub fn parse_sections(console: &str) -> BTreeMap<String, Section> {
    let mut out = BTreeMap::new();
    let mut open: Option<(String, String)> = None;
    for line in console.lines() {
        if let Some(name) = line
            .strip_prefix("@@DPF-BEGIN ")
            .and_then(|r| r.strip_suffix("@@"))
        {
            open = Some((name.to_string(), String::new()));
        } else if let Some(rest) = line
            .strip_prefix("@@DPF-END ")
            .and_then(|r| r.strip_suffix("@@"))
        {
            let (name, rc) = rest.split_once(" rc=").unwrap_or((rest, "-1"));
            if let Some((open_name, text)) = open.take()
                && open_name == name
            {
                // init.sh adds one newline before the end marker.
                let text = text.strip_suffix('\n').unwrap_or(&text).to_string();
                out.insert(
                    name.to_string(),
                    Section {
                        rc: rc.parse().unwrap_or(-1),
                        text,
                    },
                );
            }
        } else if let Some((_, text)) = open.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    out
}

/// What one boot produced.
#[derive(Debug)]
pub struct GuestRun {
    /// Scenario name.
    pub name: String,
    /// Where its files are.
    pub dir: PathBuf,
    /// The whole serial console, `\r` removed.
    pub console: String,
    /// Captures by name.
    pub sections: BTreeMap<String, Section>,
    /// Time QEMU ran.
    pub elapsed: Duration,
    /// The kernel command line it was given.
    pub cmdline: String,
    /// The `check --format json` report.
    pub(super) report: Value,
    /// The `facts --format json` facts.
    pub(super) facts: Value,
    /// The busybox view of the guest.
    pub(super) sysfs: SysfsView,
    /// When the host saw each capture's end marker (Unix seconds, host clock).
    pub(super) end_seen: BTreeMap<String, f64>,
}

impl GuestRun {
    /// Fails the test with `msg` and the full console log.
    #[track_caller]
    pub fn fail(&self, msg: impl Display) -> ! {
        panic!(
            "[vm scenario {}] {msg}\n\n===== console log ({}) =====\n{}\n===== end of console log =====\n[vm scenario {}] {msg}",
            self.name,
            self.dir.join("console.log").display(),
            self.console,
            self.name
        )
    }

    /// Something the guest protocol says went wrong, if anything.
    pub(super) fn protocol_problem(&self, captures: &[Capture]) -> Option<String> {
        let marker = |m: &str| -> Vec<&str> {
            self.console
                .lines()
                .filter_map(|l| l.strip_prefix(m).and_then(|r| r.strip_suffix("@@")))
                .collect()
        };
        if !self.console.contains("@@DPF-BOOTED ") {
            return Some("init never started (kernel panic or bad initramfs?)".into());
        }
        let failed = marker("@@DPF-INSMOD-FAILED ");
        if !failed.is_empty() {
            return Some(format!("kernel modules failed to load: {failed:?}"));
        }
        let waits = marker("@@DPF-WAIT-TIMEOUT ");
        if !waits.is_empty() {
            return Some(format!("devices never showed up: {waits:?}"));
        }
        if !self.console.lines().any(|l| l == "@@DPF-DONE@@") {
            return Some("the guest script did not reach its end".into());
        }
        let missing: Vec<&str> = captures
            .iter()
            .map(|c| c.name.as_str())
            .filter(|n| !self.sections.contains_key(*n))
            .collect();
        if !missing.is_empty() {
            return Some(format!("captures missing from the console: {missing:?}"));
        }
        None
    }

    /// A capture; fails the test when it is missing.
    #[track_caller]
    pub fn section(&self, name: &str) -> &Section {
        self.sections
            .get(name)
            .unwrap_or_else(|| self.fail(format!("no capture named {name:?}")))
    }

    /// When the host saw a capture end (Unix seconds by the host's clock, within the
    /// harness's 10 ms polling).
    #[track_caller]
    pub fn end_seen(&self, name: &str) -> f64 {
        self.end_seen
            .get(name)
            .copied()
            .unwrap_or_else(|| self.fail(format!("the host never saw capture {name:?} end")))
    }

    /// A capture parsed as JSON.
    #[track_caller]
    pub fn json(&self, name: &str) -> Value {
        let s = self.section(name);
        serde_json::from_str(&s.text).unwrap_or_else(|e| {
            self.fail(format!(
                "capture {name:?} (rc {}) is not JSON: {e}:\n{}",
                s.rc, s.text
            ))
        })
    }

    /// The `check --format json` report.
    pub fn report(&self) -> &Value {
        &self.report
    }

    /// The `facts --format json` facts.
    pub fn facts(&self) -> &Value {
        &self.facts
    }

    /// One check of the report, by id.
    #[track_caller]
    pub fn check(&self, id: &str) -> &Value {
        self.report["checks"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["id"] == id))
            .unwrap_or_else(|| self.fail(format!("the report has no check {id:?}")))
    }

    /// The busybox view of the guest.
    pub fn sysfs(&self) -> &SysfsView {
        &self.sysfs
    }

    /// A firmware table's bytes as the guest kernel exposes them (read as root),
    /// `None` when the table is absent.
    #[track_caller]
    pub fn acpi_table(&self, signature: &str) -> Option<Vec<u8>> {
        let text = &self.section(&format!("table-{signature}")).text;
        if text.trim() == "absent" {
            return None;
        }
        let hex: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        let digit = |b: u8| (b as char).to_digit(16).expect("hex digit") as u8;
        Some(
            hex.chunks(2)
                .map(|p| digit(p[0]) << 4 | digit(p[1]))
                .collect(),
        )
    }

    /// The contract every report must keep, whatever the scenario: it parses, its
    /// summary counts its checks, and the exit code follows design.md §3 (1 iff a
    /// check failed).
    #[track_caller]
    pub(super) fn check_report_contract(&self) {
        let rc = self.section("check").rc;
        let report = self.report();
        if report["schema"] != "daos-preflight/report/v1" {
            self.fail(format!("report schema is {}", report["schema"]));
        }
        let checks = report["checks"].as_array().cloned().unwrap_or_default();
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for c in &checks {
            *counts
                .entry(c["status"].as_str().unwrap_or("?").to_string())
                .or_default() += 1;
        }
        for status in ["pass", "warn", "fail", "skip", "error"] {
            let want = counts.get(status).copied().unwrap_or(0);
            if report["summary"][status].as_u64() != Some(want) {
                self.fail(format!(
                    "summary.{status} is {} but {want} check(s) have that status",
                    report["summary"][status]
                ));
            }
        }
        let want_rc = if counts.contains_key("fail") { 1 } else { 0 };
        if rc != want_rc {
            self.fail(format!(
                "`check` exited {rc}, expected {want_rc} for statuses {counts:?}"
            ));
        }
        if self.section("facts").rc != 0 {
            self.fail(format!("`facts` exited {}", self.section("facts").rc));
        }
    }
}

/// Asserts inside a scenario; a failure shows the guest's console log.
macro_rules! vm_assert {
    ($run:expr, $cond:expr, $($fmt:tt)+) => {
        if !$cond {
            $run.fail(format!("assertion `{}` failed: {}", stringify!($cond), format!($($fmt)+)))
        }
    };
}
pub(crate) use vm_assert;

/// `assert_eq!` inside a scenario; a failure shows the guest's console log.
macro_rules! vm_assert_eq {
    ($run:expr, $left:expr, $right:expr, $($fmt:tt)+) => {
        // `match` keeps temporaries alive for the comparison, as in `assert_eq!`.
        match (&$left, &$right) {
            (l, r) => {
                if l != r {
                    $run.fail(format!(
                        "{}\n  left ({}): {:?}\n right ({}): {:?}",
                        format!($($fmt)+),
                        stringify!($left),
                        l,
                        stringify!($right),
                        r
                    ))
                }
            }
        }
    };
}
pub(crate) use vm_assert_eq;
