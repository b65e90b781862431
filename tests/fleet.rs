//! Monitoring and fleet outputs through the real binary, judged by independent tools:
//! `promtool check metrics` and a real `prometheus-node-exporter` scraping the textfile
//! directory (Prometheus format), Python's `jsonschema` (the published schemas against
//! real reports), and hand-computed expectations (fleet merges of real reports).
//!
//! The external tools are installed by `.ci/fleet-deps.sh`. Locally a missing tool skips
//! its test with a message; in CI (`CI=true`) a missing tool fails it.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::{parse_metrics, scratch};

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

fn stdout_of(args: &[&str]) -> (String, i32) {
    let out = bin().args(args).output().expect("run daos-preflight");
    (
        String::from_utf8(out.stdout).expect("utf-8"),
        out.status.code().expect("exit code"),
    )
}

/// A program on PATH, or `None` after saying why the test is skipped; in CI a missing
/// program is a failure (CI installs them: .ci/fleet-deps.sh).
fn tool(candidates: &[&str], what: &str) -> Option<String> {
    for c in candidates {
        if Command::new(c)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
        {
            return Some(c.to_string());
        }
    }
    missing(&format!("{what} ({})", candidates.join(" or ")))
}

fn missing(what: &str) -> Option<String> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what} is missing in CI: .ci/fleet-deps.sh should have installed it");
    }
    eprintln!("SKIPPED: {what} not installed (run .ci/fleet-deps.sh)");
    None
}

fn python_jsonschema() -> Option<()> {
    let ok = Command::new("python3")
        .args(["-c", "import jsonschema"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Some(())
    } else {
        missing("python3 with jsonschema").map(|_| ())
    }
}

// ---------------------------------------------------------------- Prometheus

fn promtool_check(promtool: &str, text: &str) -> (bool, String) {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn prometheus_output_passes_promtool_on_fixtures_and_this_host() {
    let Some(promtool) = tool(&["promtool"], "promtool") else {
        return;
    };
    let mut runs: Vec<Vec<String>> = ["iommu-on", "iommu-kernel-off-el8", "iommu-passthrough"]
        .iter()
        .map(|f| {
            vec![
                "check".into(),
                "--format".into(),
                "prometheus".into(),
                "--root".into(),
                fixture(f).display().to_string(),
            ]
        })
        .collect();
    runs.push(vec!["check".into(), "--format".into(), "prometheus".into()]);
    for args in runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (text, _) = stdout_of(&args);
        let (ok, msg) = promtool_check(&promtool, &text);
        assert!(ok, "{args:?}: promtool: {msg}\n{text}");
        assert!(msg.trim().is_empty(), "{args:?}: promtool lint: {msg}");
    }
    // and promtool does reject broken input (the check can fail)
    let (ok, _) = promtool_check(&promtool, "daos_preflight_x{a=\"b} 1\n");
    assert!(!ok);
}

#[test]
fn prometheus_one_hot_statuses_match_the_json_report() {
    let root = fixture("iommu-kernel-off-el8");
    let root = root.to_str().expect("utf-8 path");
    let (json, code_json) = stdout_of(&["check", "--format", "json", "--root", root]);
    let (prom, code_prom) = stdout_of(&["check", "--format", "prometheus", "--root", root]);
    assert_eq!(code_json, code_prom, "same exit code whatever the format");
    let report: Value = serde_json::from_str(&json).expect("json");
    let samples = parse_metrics(&prom);
    let checks = report["checks"].as_array().expect("checks");
    for c in checks {
        let id = c["id"].as_str().expect("id");
        let mine: Vec<_> = samples
            .iter()
            .filter(|s| s.name == "daos_preflight_check_status" && s.labels["check"] == id)
            .collect();
        assert_eq!(mine.len(), 5, "{id}: one sample per status");
        for s in mine {
            let want = if s.labels["status"] == c["status"].as_str().expect("status") {
                1.0
            } else {
                0.0
            };
            assert_eq!(s.value, want, "{id} {:?}", s.labels);
        }
    }
    for st in ["pass", "warn", "fail", "skip", "error"] {
        let n = checks.iter().filter(|c| c["status"] == st).count() as f64;
        let s = samples
            .iter()
            .find(|s| s.name == "daos_preflight_checks" && s.labels["status"] == st)
            .expect("count sample");
        assert_eq!(s.value, n, "{st}");
    }
    // the fixture: EL8 kernel, IOMMU off in the kernel (iommu.kernel fails)
    let info = samples
        .iter()
        .find(|s| s.name == "daos_preflight_info")
        .expect("info");
    assert_eq!(
        info.labels["kernel"],
        report["host"]["kernel"].as_str().unwrap_or("")
    );
    assert_eq!(info.labels["daos_version"], report["daos_version"]);
    let iommu = samples
        .iter()
        .find(|s| s.name == "daos_preflight_iommu_enabled")
        .expect("iommu gauge");
    assert_eq!(iommu.value, 0.0);
    // last run time within a minute of now
    let ts = samples
        .iter()
        .find(|s| s.name == "daos_preflight_last_run_timestamp_seconds")
        .expect("timestamp")
        .value;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    assert!((now - ts).abs() < 60.0, "{ts} vs {now}");
}

#[test]
fn hugepage_and_nic_gauges_in_base_units() {
    // seed-64g-2node: 2 nodes, 1024 × 2 MiB pages on node 0, none on node 1
    let root = fixture("seed-64g-2node");
    let (prom, _) = stdout_of(&[
        "check",
        "--format",
        "prometheus",
        "--root",
        root.to_str().expect("path"),
    ]);
    let samples = parse_metrics(&prom);
    let huge: Vec<_> = samples
        .iter()
        .filter(|s| s.name == "daos_preflight_hugepages")
        .map(|s| {
            (
                s.labels["node"].clone(),
                s.labels["page_size_bytes"].clone(),
                s.value,
            )
        })
        .collect();
    let facts: Value = serde_json::from_str(
        &stdout_of(&[
            "facts",
            "--format",
            "json",
            "--root",
            root.to_str().expect("path"),
        ])
        .0,
    )
    .expect("facts");
    let mut want = Vec::new();
    for n in facts["numa"]["nodes"].as_array().expect("nodes") {
        for p in n["hugepages"].as_array().expect("pools") {
            want.push((
                n["id"].to_string(),
                (p["size_kib"].as_u64().expect("size") * 1024).to_string(),
                p["total"].as_f64().expect("total"),
            ));
        }
    }
    assert!(!want.is_empty());
    assert_eq!(huge, want);
    assert!(
        huge.contains(&("0".into(), "2097152".into(), 1024.0)),
        "{huge:?}"
    );
    assert!(
        huge.contains(&("1".into(), "2097152".into(), 0.0)),
        "{huge:?}"
    );
    let mem = samples
        .iter()
        .find(|s| s.name == "daos_preflight_memory_total_bytes")
        .expect("mem");
    assert_eq!(
        mem.value,
        facts["memory"]["mem_total_kib"].as_f64().expect("kib") * 1024.0
    );
}

/// A tree whose kernel release holds every character the format escapes.
fn hostile_tree() -> PathBuf {
    let dir = scratch("fleet-hostile");
    let src = fixture("iommu-on");
    let status = Command::new("cp")
        .args([
            "-a",
            &format!("{}/.", src.display()),
            &dir.display().to_string(),
        ])
        .status()
        .expect("cp");
    assert!(status.success());
    std::fs::create_dir_all(dir.join("proc/sys/kernel")).expect("mkdir");
    std::fs::write(
        dir.join("proc/sys/kernel/osrelease"),
        "5.14.0\"quoted\\back\nnewline\n",
    )
    .expect("write osrelease");
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    let (head, body) = body.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.").then(|| body.to_string())
}

struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn textfile_is_written_atomically_and_served_by_node_exporter() {
    let tree = hostile_tree();
    let dir = scratch("fleet-textfile");
    let out = bin()
        .args(["check", "--quiet", "--textfile"])
        .arg(&dir)
        .arg("--root")
        .arg(&tree)
        .output()
        .expect("run");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec!["daos_preflight.prom"],
        "no temporary left behind"
    );
    let text = std::fs::read_to_string(dir.join("daos_preflight.prom")).expect("textfile");
    assert!(
        text.contains(r#"kernel="5.14.0\"quoted\\back\nnewline""#),
        "escaped label: {}",
        text.lines()
            .find(|l| l.starts_with("daos_preflight_info"))
            .unwrap_or("")
    );
    // a missing directory is a usage error, not a silent success
    let bad = bin()
        .args(["check", "--textfile", "/nonexistent/dir", "--root"])
        .arg(&tree)
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2));

    let Some(exporter) = tool(
        &["prometheus-node-exporter", "node_exporter"],
        "node_exporter",
    ) else {
        return;
    };
    let port = free_port();
    let child = Command::new(&exporter)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--collector.disable-defaults")
        .arg("--collector.textfile")
        .arg(format!("--collector.textfile.directory={}", dir.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn node_exporter");
    let _guard = KillOnDrop(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    let metrics = loop {
        if let Some(m) = http_get(port, "/metrics") {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "node_exporter did not answer on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let served = parse_metrics(&metrics);
    let scrape_error = served
        .iter()
        .find(|s| s.name == "node_textfile_scrape_error")
        .expect("node_textfile_scrape_error");
    assert_eq!(
        scrape_error.value, 0.0,
        "node_exporter could not parse our file"
    );
    let ours = parse_metrics(&text);
    for s in &ours {
        assert!(
            served
                .iter()
                .any(|x| x.name == s.name && x.labels == s.labels && x.value == s.value),
            "node_exporter does not expose {} {:?} {}",
            s.name,
            s.labels,
            s.value
        );
    }
    let info = served
        .iter()
        .find(|s| s.name == "daos_preflight_info")
        .expect("info served");
    assert_eq!(info.labels["kernel"], "5.14.0\"quoted\\back\nnewline");
    assert!(metrics.contains("# TYPE daos_preflight_check_status gauge"));
}

// ---------------------------------------------------------------- JSON Schema

fn schema_text(what: &str) -> String {
    let (s, code) = stdout_of(&["schema", what]);
    assert_eq!(code, 0);
    s
}

/// `UPDATE_GOLDEN=1 cargo test --test fleet schema` rewrites them; review the diff.
#[test]
fn schemas_match_their_golden_copies() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for what in ["report", "facts"] {
        let got = schema_text(what);
        let v: Value = serde_json::from_str(&got).expect("schema is JSON");
        assert_eq!(
            v["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{what}: draft 2020-12"
        );
        let path = dir.join(format!("{what}.schema.json"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &got).expect("write golden");
        }
        let want = std::fs::read_to_string(&path).expect("golden schema");
        assert!(
            got == want,
            "schema {what} drifted from {}; if intended, UPDATE_GOLDEN=1 and review",
            path.display()
        );
    }
}

/// Validates every file against the schema with Python's jsonschema; returns the
/// failures (`file: message`).
fn validate(schema: &Path, files: &[PathBuf]) -> Vec<String> {
    const PROG: &str = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
bad = 0
for f in sys.argv[2:]:
    for e in v.iter_errors(json.load(open(f))):
        bad += 1
        print(f"{f}: {'/'.join(map(str, e.absolute_path))}: {e.message}")
print(f"checked {len(sys.argv) - 2}")
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(PROG)
        .arg(schema)
        .args(files)
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("checked {}", files.len())),
        "{stdout}"
    );
    stdout
        .lines()
        .filter(|l| !l.starts_with("checked "))
        .map(String::from)
        .collect()
}

#[test]
fn real_reports_and_facts_validate_against_the_schemas() {
    if python_jsonschema().is_none() {
        return;
    }
    let dir = scratch("fleet-schema");
    std::fs::write(dir.join("report.schema.json"), schema_text("report")).expect("write");
    std::fs::write(dir.join("facts.schema.json"), schema_text("facts")).expect("write");
    let mut reports = Vec::new();
    let mut facts = Vec::new();
    let mut roots: Vec<Option<PathBuf>> = vec![None]; // this host
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&fixtures)
        .expect("fixtures")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("sys").is_dir() || p.join("proc").is_dir())
        .collect();
    names.sort();
    assert!(names.len() >= 10, "fixture trees: {names:?}");
    roots.extend(names.into_iter().map(Some));
    for (i, root) in roots.iter().enumerate() {
        for (kind, list) in [("check", &mut reports), ("facts", &mut facts)] {
            let mut c = bin();
            c.args([kind, "--format", "json"]);
            if let Some(r) = root {
                c.arg("--root").arg(r);
            }
            let out = c.output().expect("run");
            assert!(
                matches!(out.status.code(), Some(0 | 1)),
                "{kind} {root:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let p = dir.join(format!("{kind}-{i}.json"));
            std::fs::write(&p, &out.stdout).expect("write");
            list.push(p);
        }
    }
    let bad = validate(&dir.join("report.schema.json"), &reports);
    assert!(bad.is_empty(), "{bad:#?}");
    let bad = validate(&dir.join("facts.schema.json"), &facts);
    assert!(bad.is_empty(), "{bad:#?}");

    // the schema has teeth: a report missing a member, with a wrong status or a
    // wrong schema id is rejected
    let good: Value =
        serde_json::from_slice(&std::fs::read(&reports[1]).expect("read")).expect("json");
    let mut broken = Vec::new();
    for (name, edit) in [
        ("no-kernel", json!({"path": ["host"], "remove": "kernel"})),
        (
            "bad-status",
            json!({"path": ["checks", 0], "set": ["status", "maybe"]}),
        ),
        (
            "bad-schema",
            json!({"path": [], "set": ["schema", "daos-preflight/report/v2"]}),
        ),
        (
            "string-count",
            json!({"path": ["summary"], "set": ["pass", "3"]}),
        ),
    ] {
        let mut v = good.clone();
        let mut target = &mut v;
        for step in edit["path"].as_array().expect("path") {
            target = match step {
                Value::String(k) => &mut target[k.as_str()],
                Value::Number(n) => &mut target[n.as_u64().expect("index") as usize],
                _ => unreachable!(),
            };
        }
        if let Some(k) = edit["remove"].as_str() {
            target.as_object_mut().expect("object").remove(k);
        } else {
            let kv = edit["set"].as_array().expect("set");
            target[kv[0].as_str().expect("key")] = kv[1].clone();
        }
        let p = dir.join(format!("broken-{name}.json"));
        std::fs::write(&p, serde_json::to_vec(&v).expect("json")).expect("write");
        broken.push(p);
    }
    let bad = validate(&dir.join("report.schema.json"), &broken);
    for p in &broken {
        let f = p.display().to_string();
        assert!(
            bad.iter().any(|b| b.starts_with(&f)),
            "{f} was accepted: {bad:#?}"
        );
    }
}

#[test]
fn hwloc_corpus_reports_validate_against_the_schema() {
    if python_jsonschema().is_none() {
        return;
    }
    if !common::hwloc::hwloc_dir().is_dir() {
        eprintln!(
            "SKIPPED: no hwloc corpus at {}",
            common::hwloc::hwloc_dir().display()
        );
        return;
    }
    let dir = scratch("fleet-schema-hwloc");
    std::fs::write(dir.join("report.schema.json"), schema_text("report")).expect("write");
    std::fs::write(dir.join("facts.schema.json"), schema_text("facts")).expect("write");
    let mut reports = Vec::new();
    let mut facts = Vec::new();
    for (i, t) in common::hwloc::trees().iter().enumerate() {
        let r = dir.join(format!("report-{i}.json"));
        std::fs::write(&r, &t.check.stdout).expect("write");
        reports.push(r);
        let f = dir.join(format!("facts-{i}.json"));
        std::fs::write(&f, &t.facts.stdout).expect("write");
        facts.push(f);
    }
    assert!(reports.len() > 10, "corpus trees: {}", reports.len());
    let bad = validate(&dir.join("report.schema.json"), &reports);
    assert!(bad.is_empty(), "{bad:#?}");
    let bad = validate(&dir.join("facts.schema.json"), &facts);
    assert!(bad.is_empty(), "{bad:#?}");
}

// ---------------------------------------------------------------- fleet

/// A real report of a fixture tree, to vary.
fn base_report(fixture_name: &str) -> Value {
    let (s, _) = stdout_of(&[
        "check",
        "--format",
        "json",
        "--root",
        fixture(fixture_name).to_str().expect("path"),
    ]);
    serde_json::from_str(&s).expect("report")
}

fn set_status(r: &mut Value, id: &str, status: &str) {
    for c in r["checks"].as_array_mut().expect("checks") {
        if c["id"] == id {
            c["status"] = json!(status);
        }
    }
}

fn fleet(args: &[&str], stdin: &str) -> (Value, i32) {
    let mut child = bin()
        .arg("fleet")
        .args(args)
        .args(["--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("fleet");
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (v, out.status.code().expect("code"))
}

fn clush_prefixed(host: &str, report: &Value, pretty: bool) -> String {
    let body = if pretty {
        serde_json::to_string_pretty(report).expect("json")
    } else {
        serde_json::to_string(report).expect("json")
    };
    body.lines().map(|l| format!("{host}: {l}\n")).collect()
}

#[test]
fn fleet_merges_clush_output_into_nodesets_failures_and_drift() {
    let base = base_report("iommu-on");
    // node001..node006 and node010; node003 and node010 fail iommu.kernel,
    // node010 also errors time.sync; node005 has another kernel and hugepages;
    // node006's report is a day and a half old
    let mut hosts = Vec::new();
    for n in [1, 2, 3, 4, 5, 6, 10] {
        let name = format!("node{n:03}");
        let mut r = base.clone();
        r["host"]["hostname"] = json!(format!("{name}.cluster"));
        if n == 3 || n == 10 {
            set_status(&mut r, "iommu.kernel", "fail");
        }
        if n == 10 {
            set_status(&mut r, "iommu.mode", "error");
            set_status(&mut r, "iommu.firmware", "fail");
        }
        if n == 5 {
            r["facts"]["kernel"]["release"] = json!("4.18.0-553.el8_10.x86_64");
            if let Some(p) = r["facts"]["numa"]["nodes"][0]["hugepages"][0].as_object_mut() {
                p.insert("total".into(), json!(4096));
            }
        }
        r["generated_at"] = json!(if n == 6 {
            "2026-01-01T00:00:00Z"
        } else {
            "2026-01-02T12:00:00Z"
        });
        hosts.push((name, r));
    }
    // clush interleaves hosts' lines: pretty-printed documents, lines of two hosts
    // alternating, plus an ssh error from node011 and a truncated report from node012
    let a = clush_prefixed(&hosts[0].0, &hosts[0].1, true);
    let b = clush_prefixed(&hosts[1].0, &hosts[1].1, true);
    let mut input = String::new();
    for (la, lb) in a.lines().zip(b.lines()) {
        input += &format!("{la}\n{lb}\n");
    }
    for (i, (name, r)) in hosts.iter().enumerate().skip(2) {
        input += &clush_prefixed(name, r, i % 2 == 0);
    }
    input += "node011: ssh: connect to host node011 port 22: No route to host\n";
    let trunc = clush_prefixed("node012", &hosts[0].1, true);
    let cut: Vec<&str> = trunc.lines().collect();
    for l in &cut[..cut.len() / 2] {
        input += &format!("{l}\n");
    }
    let (v, code) = fleet(&["-", "--stale-after", "24h"], &input);
    assert_eq!(code, 1, "failing hosts and unreadable input: exit 1");
    assert_eq!(v["schema"], "daos-preflight/fleet/v1");
    assert_eq!(v["hosts"], 7);
    let check = |id: &str| {
        v["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("{id}"))
            .clone()
    };
    let k = check("iommu.kernel");
    assert_eq!(k["hosts"]["fail"], "node[003,010]");
    assert_eq!(k["hosts"]["pass"], "node[001-002,004-006]");
    assert_eq!(k["counts"]["fail"], 2);
    assert_eq!(k["counts"]["warn"], 0);
    // worst first: node010 (2 fails + 1 error) before node003 (1 fail)
    let failing: Vec<&str> = v["failing"]
        .as_array()
        .expect("failing")
        .iter()
        .map(|f| f["host"].as_str().expect("host"))
        .collect();
    assert_eq!(failing, ["node010", "node003"]);
    assert_eq!(v["failing"][0]["error"], json!(["iommu.mode"]));
    // drift: the kernel and node 0's hugepages of node005
    let drift = |fact: &str| {
        v["drift"]
            .as_array()
            .expect("drift")
            .iter()
            .find(|d| d["fact"] == fact)
            .cloned()
    };
    let kernel = drift("kernel").expect("kernel drift");
    assert_eq!(kernel["values"][0]["hosts"], "node[001-004,006,010]");
    assert_eq!(kernel["values"][1]["value"], "4.18.0-553.el8_10.x86_64");
    assert_eq!(kernel["values"][1]["hosts"], "node005");
    let hp = v["drift"]
        .as_array()
        .expect("drift")
        .iter()
        .find(|d| {
            d["fact"]
                .as_str()
                .is_some_and(|f| f.starts_with("hugepages node 0"))
        })
        .expect("hugepage drift");
    assert_eq!(hp["values"][1]["value"], "4096");
    assert!(
        drift("daos rules version").is_none(),
        "no drift where all agree"
    );
    // stale: node006, 36 h older than the newest
    assert_eq!(v["stale"][0]["host"], "node006");
    assert_eq!(v["stale"][0]["age_seconds"], 36 * 3600);
    assert_eq!(v["stale"].as_array().expect("stale").len(), 1);
    assert_eq!(v["mixed_schemas"], false);
    // problems name the host
    let problems: Vec<(String, String)> = v["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| {
            (
                p["host"].as_str().unwrap_or("").to_string(),
                p["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems
            .iter()
            .any(|(h, m)| h == "node011" && m.contains("No route to host"))
    );
    assert!(
        problems
            .iter()
            .any(|(h, m)| h == "node012" && m.contains("truncated"))
    );
}

#[test]
fn fleet_reads_files_directories_json_lines_and_reports_bad_ones() {
    let base = base_report("iommu-passthrough");
    let dir = scratch("fleet-inputs");
    let reports = dir.join("reports");
    std::fs::create_dir_all(&reports).expect("mkdir");
    let mut lines = String::new();
    for n in 1..=4 {
        let mut r = base.clone();
        r["host"]["hostname"] = json!(format!("io{n:02}"));
        if n == 4 {
            r["schema"] = json!("daos-preflight/report/v2");
        }
        lines += &(serde_json::to_string(&r).expect("json") + "\n");
    }
    std::fs::write(dir.join("lines.jsonl"), &lines).expect("write");
    for n in 5..=6 {
        let mut r = base.clone();
        r["host"]["hostname"] = json!(format!("io{n:02}"));
        std::fs::write(
            reports.join(format!("io{n:02}.json")),
            serde_json::to_string_pretty(&r).expect("json"),
        )
        .expect("write");
    }
    std::fs::write(
        reports.join("broken.json"),
        "{\"schema\": \"daos-preflight/report/v1\", \"checks\": 3}\n",
    )
    .expect("write");
    std::fs::write(reports.join("other.json"), "{\"hello\": \"world\"}\n").expect("write");
    // a second, older report of io01 on stdin is superseded by the newer one
    let mut old = base.clone();
    old["host"]["hostname"] = json!("io01");
    old["generated_at"] = json!("2000-01-01T00:00:00Z");
    let stdin = serde_json::to_string(&old).expect("json") + "\n";
    let (v, code) = fleet(
        &[
            dir.join("lines.jsonl").to_str().expect("p"),
            reports.to_str().expect("p"),
            "-",
        ],
        &stdin,
    );
    assert_eq!(code, 1, "unreadable reports: exit 1");
    assert_eq!(v["hosts"], 6);
    assert_eq!(v["superseded"].as_array().expect("superseded").len(), 1);
    assert_eq!(
        v["stale"].as_array().expect("stale").len(),
        0,
        "the old copy was dropped"
    );
    assert_eq!(v["mixed_schemas"], true);
    assert_eq!(v["schemas"][0]["hosts"], "io[01-03,05-06]");
    assert_eq!(v["schemas"][1]["hosts"], "io04");
    let problems = v["problems"].as_array().expect("problems");
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems.iter().any(|p| {
        p["source"]
            .as_str()
            .is_some_and(|s| s.ends_with("broken.json:1"))
            && p["message"]
                .as_str()
                .is_some_and(|m| m.contains("malformed"))
    }));
    assert!(problems.iter().any(|p| {
        p["message"]
            .as_str()
            .is_some_and(|m| m.contains("missing field `schema`"))
    }));
    let all = &v["checks"][0]["hosts"];
    let joined: Vec<&str> = all
        .as_object()
        .expect("hosts")
        .values()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        joined,
        ["io[01-06]"],
        "every host in the one status of the check"
    );

    // the same input as text and as Prometheus: promtool-clean, counts agree
    let out = bin()
        .arg("fleet")
        .arg(dir.join("lines.jsonl"))
        .args(["--format", "prometheus"])
        .output()
        .expect("run");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let s = parse_metrics(&text);
    let hosts = s
        .iter()
        .find(|x| x.name == "daos_preflight_fleet_hosts")
        .expect("hosts");
    assert_eq!(hosts.value, 4.0);
    if let Some(promtool) = tool(&["promtool"], "promtool") {
        let (ok, msg) = promtool_check(&promtool, &text);
        assert!(ok && msg.trim().is_empty(), "{msg}");
    }
    let out = bin()
        .arg("fleet")
        .arg(dir.join("lines.jsonl"))
        .output()
        .expect("run");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains("io[01-04]"), "{text}");
    assert!(text.contains("mixed report schemas"), "{text}");
    // a missing path is a usage error
    assert_eq!(
        bin()
            .args(["fleet", "/nonexistent/reports"])
            .output()
            .expect("run")
            .status
            .code(),
        Some(2)
    );
}
