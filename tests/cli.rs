//! The real CLI against fixture trees (tests/fixtures/<scenario>/, see make-fixtures.py)
//! and the live host: verdicts per scenario, exit codes, output contracts.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod common;
use common::fixtree::{copy_fixture, fixture};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_daos-preflight"));
    c.env_remove("NO_COLOR");
    c
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
    // ecclesia's real AMI table (3 DRHDs, width 46, as Google's dmar_test.cc asserts),
    // then the same table broken in three ways, and its RMRR device configured for DAOS
    (
        "iommu-dmar-truncated",
        "iommu.firmware",
        "fail",
        "offset 0x78",
    ),
    (
        "iommu-dmar-nounits",
        "iommu.firmware",
        "fail",
        "no remapping unit (DRHD)",
    ),
    (
        "iommu-dmar-badsum",
        "iommu.firmware",
        "warn",
        "checksum is wrong",
    ),
    ("iommu-dmar-badsum", "iommu.kernel", "pass", "3 unit(s)"),
    (
        "iommu-rmrr",
        "iommu.firmware",
        "warn",
        "0000:00:14.0 (0x75460000–0x75470fff)",
    ),
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
        "DMAR valid: 3 remapping unit(s), 46-bit",
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
    (
        "iommu-amd",
        "iommu.firmware",
        "pass",
        "IVRS valid: 1 remapping unit(s)",
    ),
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
    // the host checks come first, then a blank line and the system rules
    let listed = String::from_utf8(run(&["list"]).stdout)
        .unwrap()
        .lines()
        .take_while(|l| !l.is_empty())
        .count();
    assert_eq!(status_lines.len(), listed, "one line per check");
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
    let (checks, rules) = text.split_once("\n\n").unwrap();
    let ids: Vec<&str> = checks
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
    // the system rules of `fleet`: the ids its output carries, each explained
    let (head, rules) = rules.split_once('\n').unwrap();
    assert!(head.starts_with("system rules"), "{head}");
    let sys: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for id in [
        "system.name",
        "system.access-points",
        "system.agents",
        "system.control",
        "system.provider",
        "system.version",
        "system.security",
        "system.time",
    ] {
        assert!(sys.contains(&id), "{id} not listed: {rules}");
    }
    for id in &sys {
        let out = run(&["explain", id]);
        assert_eq!(out.status.code(), Some(0), "{id}");
        let t = String::from_utf8(out.stdout).unwrap();
        assert!(
            t.starts_with(id) && t.contains("system rule") && t.contains("fleet"),
            "{id}: {t}"
        );
    }
    let t = String::from_utf8(run(&["explain", "system.provider"]).stdout).unwrap();
    assert!(t.contains("fabric_ifaces") && t.contains("verbs"), "{t}");
    let out = run(&["explain", "system.nosuch"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn root_runs_keep_only_the_capabilities_they_need() {
    let is_root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    let out = run(&["facts", "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let eff = v["facts"]["source"]["cap_effective"]
        .as_str()
        .or(v["source"]["cap_effective"].as_str())
        .unwrap()
        .to_string();
    let mask = u64::from_str_radix(&eff, 16).unwrap();
    if is_root {
        // CAP_DAC_READ_SEARCH (2) only (linux/capability.h)
        assert_eq!(mask, 1 << 2, "CapEff {eff}");
    } else {
        assert_eq!(mask, 0, "CapEff {eff}");
    }
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
        // the checkout's location must not matter
        let text = (serde_json::to_string_pretty(value).unwrap() + "\n")
            .replace(root.to_str().unwrap(), "<root>");
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

// ---------------------------------------------------------------------------------
// fix, against writable copies of the fixture trees

/// Every file under `root` with its content and mode, for "nothing changed" checks.
fn snapshot(root: &Path) -> Vec<(String, Vec<u8>, u32)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            if md.is_dir() {
                stack.push(p);
            } else if md.is_file() {
                out.push((
                    p.display().to_string(),
                    std::fs::read(&p).unwrap(),
                    md.mode(),
                ));
            } else {
                out.push((p.display().to_string(), Vec::new(), md.mode()));
            }
        }
    }
    out.sort();
    out
}

fn fix_json(root: &Path, extra: &[&str]) -> (Value, i32) {
    let mut args = vec!["fix", "--format", "json", "--root", root.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = run(&args);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    (v, out.status.code().unwrap())
}

fn read(root: &Path, p: &str) -> String {
    std::fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"))
}

#[test]
fn fix_dry_run_changes_nothing_and_shows_everything() {
    let root = copy_fixture("iommu-kernel-off-el8", "dry");
    let before = snapshot(&root);
    let (plan, code) = fix_json(&root, &["--dry-run", "--persistent"]);
    assert_eq!(code, 0);
    assert_eq!(snapshot(&root), before, "a dry run wrote something");
    assert_eq!(plan["schema"], "daos-preflight/fix/v1");
    assert_eq!(plan["dry_run"], true);
    let actions = plan["actions"].as_array().unwrap();
    let find = |kind: &str, key: &str, val: &str| {
        actions
            .iter()
            .find(|a| {
                a["action"]["kind"] == kind && a["action"][key].as_str().unwrap_or("").contains(val)
            })
            .unwrap_or_else(|| panic!("no {kind} {key}~{val} in {plan}"))
    };
    let thp = find("write_attribute", "path", "transparent_hugepage/enabled");
    assert_eq!(thp["action"]["value"], "never");
    assert_eq!(thp["action"]["current"], "always");
    assert_eq!(
        find("write_attribute", "path", "vm/max_map_count")["action"]["value"],
        "1000000"
    );
    let grub = find("write_file", "path", "/etc/default/grub");
    let diff = grub["action"]["diff"].as_str().unwrap();
    assert!(
        diff.contains("-GRUB_CMDLINE_LINUX=\"crashkernel=auto"),
        "{diff}"
    );
    assert!(
        diff.contains("rhgb quiet intel_iommu=on iommu=pt transparent_hugepage=never\""),
        "{diff}"
    );
    assert_eq!(grub["reboot_required"], true);
    let grubby = actions
        .iter()
        .find(|a| a["action"]["kind"] == "run" && a["action"]["argv"][0] == "/usr/sbin/grubby")
        .unwrap();
    assert_eq!(grubby["action"]["argv"][1], "--update-kernel=ALL");
    let dropin = find("write_file", "path", "daos_server.service.d");
    assert!(
        dropin["action"]["content"]
            .as_str()
            .unwrap()
            .contains("LimitMEMLOCK=infinity")
    );
    // BIOS and time are never "fixed": they are manual steps
    let manual = plan["manual"].as_array().unwrap();
    assert!(
        manual.iter().all(|m| m["check"] != "iommu.kernel"),
        "{plan}"
    );
    // without --persistent no boot configuration is touched
    let (plan, _) = fix_json(&root, &["--dry-run"]);
    let acts = plan["actions"].as_array().unwrap();
    assert!(
        acts.iter()
            .all(
                |a| a["action"]["path"] != "/etc/default/grub" && a["action"]["kind"] != "run"
                    || a["check"] == "limits.memlock"
            ),
        "{plan}"
    );
    assert!(
        plan["manual"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["check"] == "iommu.kernel"
                && m["reason"].as_str().unwrap().contains("--persistent"))
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn fix_applies_reads_back_is_idempotent_and_undoes() {
    let root = copy_fixture("iommu-kernel-off-el8", "apply");
    let grub_before = read(&root, "etc/default/grub");
    let (r, code) = fix_json(&root, &["--persistent"]);
    // programs (grubby, systemctl) are never run against a tree: not everything applied
    assert_eq!(code, 3, "{r}");
    let results = r["results"].as_array().unwrap();
    let actions = r["actions"].as_array().unwrap();
    for (a, res) in actions.iter().zip(results) {
        let want = if a["action"]["kind"] == "run" {
            "skipped"
        } else {
            "applied"
        };
        assert_eq!(res["outcome"], want, "{a} {res}");
    }
    // what was written
    assert_eq!(
        read(&root, "sys/kernel/mm/transparent_hugepage/enabled").trim(),
        "never"
    );
    assert_eq!(read(&root, "proc/sys/vm/max_map_count").trim(), "1000000");
    assert_eq!(read(&root, "proc/sys/net/core/rmem_max").trim(), "1048576");
    assert!(
        read(&root, "etc/default/grub")
            .contains("quiet intel_iommu=on iommu=pt transparent_hugepage=never\"")
    );
    assert_eq!(
        read(&root, "etc/default/grub.daos-preflight.bak"),
        grub_before
    );
    assert!(
        read(&root, "etc/sysctl.d/90-daos-preflight.conf").contains("vm.max_map_count = 1000000")
    );
    assert!(
        read(
            &root,
            "etc/systemd/system/daos_server.service.d/90-daos-preflight-memlock.conf"
        )
        .contains("LimitMEMLOCK=infinity")
    );
    // the fresh check after applying
    assert_eq!(r["before"]["hugepages.thp"], "warn");
    assert_eq!(r["after"]["hugepages.thp"], "pass");
    assert_eq!(r["after"]["sysctl.daos"], "pass");
    assert_eq!(r["before"]["limits.memlock"], "fail");
    assert_eq!(r["after"]["limits.memlock"], "pass");
    assert_eq!(r["after"]["iommu.kernel"], "fail", "needs the reboot");

    // running it again changes nothing: only the program that could not run is re-planned
    let snap = snapshot(&root);
    let (again, code) = fix_json(&root, &["--persistent"]);
    let acts = again["actions"].as_array().unwrap();
    assert_eq!(acts.len(), 1, "{again}");
    assert_eq!(acts[0]["action"]["argv"][0], "/usr/sbin/grubby");
    assert_eq!(code, 3);
    let (again, code) = fix_json(&root, &[]);
    assert_eq!(again["actions"].as_array().unwrap().len(), 0, "{again}");
    assert_eq!(code, 0);
    let changed: Vec<_> = snapshot(&root)
        .into_iter()
        .filter(|f| !snap.contains(f) && !f.0.contains("/run/daos-preflight/"))
        .collect();
    assert!(changed.is_empty(), "second run changed {changed:?}");

    // undo puts everything back
    let out = run(&["fix", "--undo", "--root", root.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        read(&root, "sys/kernel/mm/transparent_hugepage/enabled").trim(),
        "always"
    );
    assert_eq!(read(&root, "proc/sys/vm/max_map_count").trim(), "65530");
    assert_eq!(read(&root, "etc/default/grub"), grub_before);
    assert!(!root.join("etc/sysctl.d/90-daos-preflight.conf").exists());
    assert!(
        !root
            .join("etc/systemd/system/daos_server.service.d/90-daos-preflight-memlock.conf")
            .exists()
    );
    let out = run(&["fix", "--undo", "--root", root.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to undo"));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn fix_refuses_to_run_twice_at_once() {
    let root = copy_fixture("iommu-kernel-off-el8", "lock");
    std::fs::create_dir_all(root.join("run/daos-preflight")).unwrap();
    let lock = root.join("run/daos-preflight/lock");
    // util-linux flock holds the lock while we try
    let mut holder = Command::new("flock")
        .args([lock.to_str().unwrap(), "sleep", "20"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let before = read(&root, "proc/sys/vm/max_map_count");
    let out = run(&["fix", "--root", root.to_str().unwrap()]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another daos-preflight fix"));
    assert_eq!(
        read(&root, "proc/sys/vm/max_map_count"),
        before,
        "nothing applied"
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn fix_alias_and_nothing_to_do() {
    let root = copy_fixture("iommu-passthrough", "alias");
    let out = bin()
        .args(["--fix", "--dry-run", "--root", root.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("fix --dry-run: nothing to do"));
    let (plan, _) = fix_json(&root, &["--dry-run"]);
    assert_eq!(plan["actions"], serde_json::json!([]));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn fix_refuses_what_could_hurt_and_plans_the_rest() {
    // daos-server-ib: a 2-socket EL8 server tree; broken.yml names an AHCI controller,
    // a mounted NVMe, one whose IOMMU group holds a NIC, and one that does not exist
    let root = copy_fixture("daos-server-ib", "refuse");
    let cfg = fixture("daos-configs/broken.yml");
    let before = snapshot(&root);
    let (plan, code) = fix_json(
        &root,
        &["--dry-run", "--server-config", cfg.to_str().unwrap()],
    );
    assert_eq!(code, 0);
    assert_eq!(snapshot(&root), before);
    let manual: Vec<String> = plan["manual"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["reason"].as_str().unwrap().to_string())
        .collect();
    for want in [
        "refused: 0000:00:17.0 is not an NVMe controller (class 010601, driver ahci)",
        "refused: 0000:82:00.0 is in use: nvme1n1 mounted on /data",
        "refused: 0000:83:00.0: IOMMU group 43 also holds 0000:83:00.1 (ixgbe)",
        "refused: 0000:99:00.0 is not a PCI device on this host",
    ] {
        assert!(
            manual.iter().any(|m| m.contains(want)),
            "{want} not in {manual:#?}"
        );
    }
    let actions = plan["actions"].as_array().unwrap();
    assert!(
        actions.iter().all(|a| a["action"]["kind"] != "bind_driver"),
        "nothing bound: {plan}"
    );
    // ports are opened in their zone, then one reload; never a disable
    let runs: Vec<String> = actions
        .iter()
        .filter(|a| a["action"]["kind"] == "run")
        .map(|a| {
            a["action"]["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert!(
        runs.contains(&"firewall-cmd --permanent --zone=public --add-port=9192/tcp".to_string()),
        "{runs:?}"
    );
    assert_eq!(
        runs.last().map(String::as_str),
        Some("firewall-cmd --reload")
    );
    assert!(
        runs.iter()
            .all(|r| !r.contains("stop") && !r.contains("disable"))
    );
    // one action per directory
    let dirs: Vec<&Value> = actions
        .iter()
        .filter(|a| a["action"]["kind"] == "prepare_directory")
        .collect();
    let mut paths: Vec<&str> = dirs
        .iter()
        .map(|a| a["action"]["path"].as_str().unwrap())
        .collect();
    let n = paths.len();
    paths.dedup();
    assert_eq!(paths.len(), n, "{dirs:?}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn fix_grows_hugepages_per_node_prepares_dirs_and_bdev_files_and_undoes() {
    use std::os::unix::fs::MetadataExt;
    let is_root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    let root = copy_fixture("daos-server-ib", "grow");
    // the guide's config: one engine with a 16 GiB file bdev in /var/lib/daos/dev
    let seed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/daos-config/seed/daos_server.yml");
    let ready = fixture("daos-configs/ready.yml");
    let node =
        |n: u32| format!("sys/devices/system/node/node{n}/hugepages/hugepages-2048kB/nr_hugepages");
    // the tree was captured without per-node hugepage pools: add them as the kernel
    // shows them (every node of a hugetlbfs kernel has one per page size)
    for n in 0..2 {
        let pool = root.join(node(n));
        let dir = pool.parent().unwrap();
        std::fs::create_dir_all(dir).unwrap();
        for f in ["nr_hugepages", "surplus_hugepages"] {
            std::fs::write(dir.join(f), "0\n").unwrap();
        }
        // a tree is not a kernel: free_hugepages follows nr_hugepages as on a host where
        // nothing else holds pages (otherwise the grown pool would look held by others)
        std::os::unix::fs::symlink("nr_hugepages", dir.join("free_hugepages")).unwrap();
    }
    let log_owner = std::fs::metadata(root.join("var/log/daos")).unwrap().uid();

    let (r, _) = fix_json(
        &root,
        &[
            "--server-config",
            ready.to_str().unwrap(),
            "--only",
            "hugepages,daos.dirs",
        ],
    );
    let results = r["results"].as_array().unwrap();
    assert!(!results.is_empty(), "{r}");
    for res in results {
        if !is_root && res["message"].as_str().unwrap_or("").contains("chown") {
            continue; // giving files away needs root
        }
        assert_eq!(res["outcome"], "applied", "{res}");
    }
    // DAOS 2.6: 16 targets × 1 GiB / 2 MiB = 8192 over nodes [0, 1] + 2 per engine = 4098 each
    assert_eq!(read(&root, &node(0)).trim(), "4098");
    assert_eq!(read(&root, &node(1)).trim(), "4098");
    assert_eq!(r["after"]["hugepages.numa"], "pass", "{r}");
    if is_root {
        let daos_uid: u32 = read(&root, "etc/passwd")
            .lines()
            .find(|l| l.starts_with("daos_server:"))
            .and_then(|l| l.split(':').nth(2)?.parse().ok())
            .unwrap();
        assert_eq!(
            std::fs::metadata(root.join("var/log/daos")).unwrap().uid(),
            daos_uid
        );
        assert_eq!(r["after"]["daos.dirs"], "pass", "{r}");
    }

    // the seed config's file bdev: created sparse at bdev_size, no data written
    let (r, _) = fix_json(
        &root,
        &[
            "--server-config",
            seed.to_str().unwrap(),
            "--only",
            "nvme.present",
        ],
    );
    let bdev = root.join("var/lib/daos/dev/daos-bdev");
    let md = std::fs::metadata(&bdev).unwrap_or_else(|e| panic!("{e}: {r}"));
    assert_eq!(md.len(), 16 << 30, "bdev_size 16 GiB");
    assert!(
        md.blocks() * 512 < 1 << 20,
        "sparse: {} bytes allocated",
        md.blocks() * 512
    );

    // undo: node pools, owner and file back as they were
    let out = run(&["fix", "--undo", "--root", root.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(read(&root, &node(0)).trim(), "0");
    assert_eq!(read(&root, &node(1)).trim(), "0");
    assert!(!bdev.exists());
    assert_eq!(
        std::fs::metadata(root.join("var/log/daos")).unwrap().uid(),
        log_owner
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn fix_persistent_loads_vfio_at_boot_while_the_iommu_is_off() {
    // the IB server with its IOMMU units gone (VT-d off by the kernel command line): no
    // bind now, but with --persistent vfio-pci is set to load at boot, for the bind
    // after the reboot that turns the IOMMU on
    let root = copy_fixture("daos-server-ib", "iommu-off-modules");
    std::fs::remove_dir_all(root.join("sys/class/iommu")).unwrap();
    std::fs::create_dir_all(root.join("sys/class/iommu")).unwrap();
    // ready.yml's two NVMe back on the kernel's driver
    for dev in ["0000:01:00.0", "0000:81:00.0"] {
        let link = root.join(format!("sys/bus/pci/devices/{dev}/driver"));
        std::fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink("../../../bus/pci/drivers/nvme", &link).unwrap();
    }
    let cfg = fixture("daos-configs/ready.yml");
    let modules_file = "/etc/modules-load.d/90-daos-preflight.conf";
    for persistent in [false, true] {
        let mut args = vec!["--dry-run", "--only", "nvme.driver", "--server-config"];
        args.push(cfg.to_str().unwrap());
        if persistent {
            args.push("--persistent");
        }
        let (plan, _) = fix_json(&root, &args);
        let refusals: Vec<&str> = plan["manual"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["reason"].as_str())
            .filter(|r| r.contains("vfio-pci needs an active IOMMU"))
            .collect();
        assert!(!refusals.is_empty(), "{plan}");
        assert_eq!(
            refusals.iter().any(|r| r.contains("set to load at boot")),
            persistent,
            "{plan}"
        );
        let kinds: Vec<&str> = plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["action"]["kind"].as_str())
            .collect();
        assert!(
            !kinds.contains(&"bind_driver") && !kinds.contains(&"load_module"),
            "{plan}"
        );
        let writes_modules = plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"]["path"] == modules_file);
        assert_eq!(writes_modules, persistent, "{plan}");
    }
    let _ = std::fs::remove_dir_all(&root);
}
