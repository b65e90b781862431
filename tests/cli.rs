//! The real CLI against fixture trees (tests/fixtures/<scenario>/, see make-fixtures.py)
//! and the live host: verdicts per scenario, exit codes, output contracts.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_daos-preflight"));
    c.env_remove("NO_COLOR");
    c
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run daos-preflight")
}

fn json_report(root: &Path, extra: &[&str]) -> (Value, i32) {
    let mut args = vec![
        "check",
        "--format",
        "json",
        "--root",
        root.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = run(&args);
    let code = out.status.code().expect("exit code");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "invalid JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, code)
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("check {id} missing"))
}

/// (scenario, check, expected status, text that must appear in summary or remediation)
const VERDICTS: &[(&str, &str, &str, &str)] = &[
    ("iommu-firmware-off", "iommu.firmware", "fail", "BIOS"),
    (
        "iommu-firmware-off",
        "iommu.kernel",
        "fail",
        "no DMAR/IVRS table",
    ),
    ("iommu-firmware-off", "iommu.mode", "skip", "iommu.kernel"),
    (
        "iommu-kernel-off-el8",
        "iommu.firmware",
        "pass",
        "DMAR table present (352 bytes)",
    ),
    (
        "iommu-kernel-off-el8",
        "iommu.kernel",
        "fail",
        "intel_iommu=on",
    ),
    (
        "iommu-kernel-off-el8",
        "iommu.kernel",
        "fail",
        "grubby --update-kernel=ALL",
    ),
    ("iommu-kernel-off-el8", "limits.memlock", "fail", "64.0 KiB"),
    (
        "iommu-kernel-off-el8",
        "sysctl.daos",
        "warn",
        "vm.max_map_count=65530",
    ),
    (
        "iommu-kernel-off-cmdline",
        "iommu.kernel",
        "fail",
        "intel_iommu=off",
    ),
    (
        "iommu-kernel-off-cmdline",
        "hugepages.thp",
        "warn",
        "[madvise]",
    ),
    (
        "iommu-kernel-off-cmdline",
        "limits.memlock",
        "skip",
        "no daos_server.service",
    ),
    ("iommu-on", "iommu.kernel", "pass", "3 unit(s)"),
    ("iommu-on", "iommu.mode", "pass", "translated"),
    ("iommu-passthrough", "iommu.mode", "pass", "passthrough"),
    ("iommu-passthrough", "hugepages.thp", "pass", "[never]"),
    ("iommu-passthrough", "limits.memlock", "pass", "unlimited"),
    ("iommu-passthrough", "sysctl.daos", "pass", "DAOS values"),
    (
        "iommu-passthrough",
        "numa.topology",
        "pass",
        "node1 48 CPU(s) [24-47,72-95]",
    ),
    (
        "iommu-passthrough",
        "hugepages.total",
        "skip",
        "daos_server.yml",
    ),
    ("iommu-passthrough", "time.sync", "skip", "live host"),
    ("iommu-noiommu", "iommu.mode", "warn", "no-IOMMU"),
    ("iommu-amd", "iommu.firmware", "pass", "IVRS"),
    ("iommu-amd", "iommu.kernel", "pass", "ivhd0"),
];

#[test]
fn fixture_verdicts() {
    let mut failures = Vec::new();
    for (scenario, id, status, text) in VERDICTS {
        let (report, _) = json_report(&fixture(scenario), &[]);
        let c = check(&report, id);
        let all = format!("{} {}", c["summary"], c["remediation"]);
        if c["status"] != *status || !all.contains(text) {
            failures.push(format!(
                "{scenario} {id}: want {status} with {text:?}, got {} {all}",
                c["status"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn exit_codes_follow_the_contract() {
    // a failing host exits 1; a ready host 0; --strict turns warnings into 1
    let (_, code) = json_report(&fixture("iommu-kernel-off-el8"), &[]);
    assert_eq!(code, 1);
    let (r, code) = json_report(&fixture("iommu-passthrough"), &[]);
    assert_eq!(code, 0, "{}", r["summary"]);
    let (_, code) = json_report(&fixture("iommu-on"), &[]);
    assert_eq!(code, 0);
    let (_, code) = json_report(&fixture("iommu-on"), &["--strict"]);
    assert_eq!(code, 1);
    // usage errors: 2, with the reason on stderr and nothing on stdout
    for args in [
        &["check", "--only", "iommu.kernal"][..],
        &["check", "--daos-version", "1.2"],
        &["check", "--root", "/nonexistent/tree"],
        &["check", "--format", "yaml"],
        &["explain", "no.such"],
        &["frobnicate"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn only_and_skip_select_by_id_and_family() {
    let root = fixture("iommu-on");
    let (r, _) = json_report(&root, &["--only", "iommu"]);
    let ids: Vec<&str> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["iommu.firmware", "iommu.kernel", "iommu.mode"]);
    let (r, _) = json_report(&root, &["--skip", "iommu,time.sync"]);
    assert!(r["checks"].as_array().unwrap().iter().all(|c| {
        let id = c["id"].as_str().unwrap();
        !id.starts_with("iommu.") && id != "time.sync"
    }));
    // the exit code follows the selection: the EL8 host fails iommu.kernel, not sysctl
    let (_, code) = json_report(&fixture("iommu-kernel-off-el8"), &["--only", "sysctl"]);
    assert_eq!(code, 0);
}

#[test]
fn quiet_is_silent_on_success_and_prints_only_problems() {
    let out = run(&[
        "check",
        "--quiet",
        "--root",
        fixture("iommu-passthrough").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = run(&[
        "check",
        "-q",
        "--root",
        fixture("iommu-kernel-off-el8").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ')).collect();
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("FAIL") || l.starts_with("WARN")),
        "{text}"
    );
    assert!(lines.iter().any(|l| l.contains("iommu.kernel")));
    assert!(!text.contains("PASS") && !text.contains("SKIP"));
}

#[test]
fn text_report_is_aligned_with_hints_and_colour_only_when_asked() {
    let root = fixture("iommu-kernel-off-el8");
    let out = run(&["check", "--root", root.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\x1b'), "no colour on a pipe");
    let status_lines: Vec<&str> = text
        .lines()
        .filter(|l| {
            ["PASS", "WARN", "FAIL", "SKIP", "ERROR"]
                .iter()
                .any(|s| l.starts_with(s))
        })
        .collect();
    assert_eq!(status_lines.len(), 9);
    // the summary column starts at the same offset on every line
    let col = |l: &str| {
        l.find("  ")
            .map(|i| i + l[i..].find(|c: char| c != ' ').unwrap_or(0))
    };
    let id_col: Vec<_> = status_lines.iter().map(|l| col(l)).collect();
    assert!(id_col.windows(2).all(|w| w[0] == w[1]), "{text}");
    assert!(text.contains("fix: add intel_iommu=on"));
    assert!(text.contains("NOT READY"));
    let out = run(&[
        "check",
        "--color",
        "always",
        "--root",
        root.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\x1b[1;31mFAIL"));
}

#[test]
fn json_report_contract() {
    let (r, _) = json_report(&fixture("iommu-kernel-off-el8"), &[]);
    assert_eq!(r["schema"], "daos-preflight/report/v1");
    assert_eq!(r["tool"]["name"], "daos-preflight");
    assert_eq!(r["daos_version"], "2.6");
    assert_eq!(r["host"]["hostname"], "iommu-kernel-off-el8");
    assert_eq!(r["host"]["machine_id"], "0123456789abcdef0123456789abcdef");
    assert_eq!(r["host"]["kernel"], "4.18.0-513.5.1.el8_9.x86_64");
    let ts = r["generated_at"].as_str().unwrap();
    assert!(
        ts.len() == 20 && ts.ends_with('Z') && ts.as_bytes()[10] == b'T',
        "{ts}"
    );
    assert_eq!(r["facts"]["schema"], "daos-preflight/facts/v1");
    // summary counts agree with the checks
    let checks = r["checks"].as_array().unwrap();
    for s in ["pass", "warn", "fail", "skip", "error"] {
        let n = checks.iter().filter(|c| c["status"] == s).count();
        assert_eq!(r["summary"][s], n as u64, "{s}");
    }
    assert_eq!(r["summary"]["status"], "fail");
    let k = check(&r, "iommu.kernel");
    assert_eq!(k["daos_fault_code"], "code.ServerIommuDisabled");
    assert_eq!(k["remediation"]["reboot_required"], true);
    assert_eq!(k["details"]["cause"], "cmdline");
    // facts embedded: the fixture's node 0 (DAOS testdata: MemTotal 97673756 kB)
    let n0 = &r["facts"]["numa"]["nodes"][0];
    assert_eq!(n0["mem_total_kib"], 97673756);
    assert_eq!(n0["cpus"].as_array().unwrap().len(), 48);
    assert_eq!(r["facts"]["memory"]["hugepages_total"], 2560);
    assert_eq!(
        r["facts"]["time"],
        Value::Null,
        "live-only fact is null under --root"
    );
}

#[test]
fn list_and_explain_describe_every_check() {
    let out = run(&["list"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let ids: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for id in [
        "iommu.firmware",
        "iommu.kernel",
        "iommu.mode",
        "numa.topology",
        "hugepages.total",
        "hugepages.thp",
        "time.sync",
        "limits.memlock",
        "sysctl.daos",
    ] {
        assert!(ids.contains(&id), "{id} not listed");
    }
    for id in &ids {
        let out = run(&["explain", id]);
        assert_eq!(out.status.code(), Some(0));
        let t = String::from_utf8(out.stdout).unwrap();
        assert!(t.starts_with(id) && t.len() > 200, "{id}: {t}");
    }
    let t = String::from_utf8(run(&["explain", "iommu.kernel"]).stdout).unwrap();
    assert!(t.contains("intel_iommu=on") && t.contains("/sys/class/iommu"));
}

#[test]
fn closed_pipe_is_not_an_error() {
    let mut child = bin()
        .args(["facts", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away at once, like `| head -0`
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bare_invocation_runs_check() {
    let root = fixture("iommu-on");
    let out = bin()
        .args(["--root", root.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "daos-preflight/report/v1");
}

#[test]
fn check_on_this_machine() {
    // The live host (CI: a VM without an IOMMU). Whatever it is, the verdicts must be
    // sensible: every check evaluated, live-only facts present, exit code 0 or 1.
    let out = run(&["check", "--format", "json"]);
    let code = out.status.code().unwrap();
    assert!(
        code == 0 || code == 1,
        "exit {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["facts"]["source"]["live"], true);
    let fail = r["summary"]["fail"].as_u64().unwrap();
    assert_eq!(code == 1, fail > 0);
    // time.sync is judged live (never "not the live host")
    assert_ne!(check(&r, "time.sync")["status"], "skip");
    // the kernel release equals uname -r
    let uname = Command::new("uname").arg("-r").output().unwrap();
    assert_eq!(
        r["host"]["kernel"].as_str().unwrap(),
        String::from_utf8_lossy(&uname.stdout).trim()
    );
    // the IOMMU verdict agrees with the kernel's own view
    let units = std::fs::read_dir("/sys/class/iommu")
        .map(|d| d.count())
        .unwrap_or(0);
    let k = check(&r, "iommu.kernel");
    assert_eq!(k["status"] == "pass", units > 0, "{k}");
}

/// Golden files: the facts and report contracts can't drift silently. Regenerate with
/// `UPDATE_GOLDEN=1 cargo test --test cli golden` and review the diff.
#[test]
fn golden_facts_and_report() {
    let root = fixture("iommu-kernel-off-el8");
    let out = run(&[
        "facts",
        "--format",
        "json",
        "--root",
        root.to_str().unwrap(),
    ]);
    let mut facts: Value = serde_json::from_slice(&out.stdout).unwrap();
    facts["source"]["root"] = Value::from("<root>");
    let (mut report, _) = json_report(&root, &[]);
    report["generated_at"] = Value::from("<time>");
    report["duration_ms"] = Value::from(0);
    report["tool"]["version"] = Value::from("<version>");
    report["facts"]["source"]["root"] = Value::from("<root>");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for (name, value) in [("facts.json", &facts), ("report.json", &report)] {
        let path = dir.join(name);
        let text = serde_json::to_string_pretty(value).unwrap() + "\n";
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let want = std::fs::read_to_string(&path).expect("golden file");
        assert!(
            want == text,
            "{name} drifted from tests/golden/{name}; if intended, UPDATE_GOLDEN=1 and review"
        );
    }
}

#[test]
fn unreadable_table_as_non_root() {
    // ACPI tables are mode 0400. Run the binary as an unprivileged user (setpriv from
    // util-linux when we are root) on a tree whose DMAR is 0400 root-owned.
    let is_root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    let tmp = std::env::temp_dir().join(format!("dp-nonroot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let status = Command::new("cp")
        .args([
            "-a",
            fixture("iommu-on").to_str().unwrap(),
            tmp.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let dmar = tmp.join("sys/firmware/acpi/tables/DMAR");
    let chmod = |p: &Path, mode: &str| {
        assert!(
            Command::new("chmod")
                .args([mode, p.to_str().unwrap()])
                .status()
                .unwrap()
                .success()
        )
    };
    chmod(&tmp, "755");
    chmod(&dmar, "400");
    let mut cmd = if is_root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        c.arg(env!("CARGO_BIN_EXE_daos-preflight"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_daos-preflight"))
    };
    // the binary must be reachable by uid 65534: target/ is under a root-owned checkout
    let out = cmd
        .args(["check", "--format", "json", "--only", "iommu", "--root"])
        .arg(&tmp)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&tmp);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    let dmar_fact = &r["facts"]["iommu"]["tables"][0];
    assert_eq!(dmar_fact["name"], "DMAR");
    assert_eq!(dmar_fact["present"], true);
    assert_eq!(dmar_fact["readable"], false);
    let fw = check(&r, "iommu.firmware");
    assert_ne!(
        fw["status"], "fail",
        "an unreadable table is not a missing one: {fw}"
    );
}
