//! Helpers for the integration tests: where the shared corpus is, scratch directories,
//! running the real binary, and small parsers for the notations the oracles use.
//!
//! The parsers here are deliberately written apart from `src/facts/parse.rs`: a test
//! that compared our output with our own parser's reading of the same file would prove
//! nothing.

#![allow(dead_code)]

pub mod daos_oracle;
pub mod fixtree;
pub mod hwloc;
pub mod ttar;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The shared test corpus: `../shared/corpus`, relative to the checkout (the same layout
/// on a workstation and in CI).
pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

/// A fresh scratch directory `<target tmp>/<tag>-<pid>`, removed when the test process
/// exits. Directories of earlier runs whose process is gone are removed first, so an
/// interrupted run leaves at most one stale copy behind.
pub fn scratch(tag: &str) -> PathBuf {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let prefix = format!("{tag}-");
    if let Ok(entries) = std::fs::read_dir(base) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix(&prefix)
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let dir = base.join(format!("{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch directory");
    remove_at_exit(&dir);
    dir
}

static SCRATCH_DIRS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

extern "C" fn remove_scratch_dirs() {
    if let Ok(dirs) = SCRATCH_DIRS.lock() {
        for d in dirs.iter() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// The test harness ends with `exit()`, which runs `atexit` handlers: the only hook
/// that sees the end of a test binary whose trees are shared by several tests.
fn remove_at_exit(dir: &Path) {
    let mut dirs = SCRATCH_DIRS.lock().expect("scratch registry");
    if dirs.is_empty() {
        // SAFETY: registers a plain function without captured state.
        unsafe {
            libc::atexit(remove_scratch_dirs);
        }
    }
    dirs.push(dir.to_path_buf());
}

/// What one run of the binary produced.
#[derive(Debug, Clone)]
pub struct Run {
    /// The command line, for messages.
    pub args: String,
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The JSON on stdout.
    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_str(&self.stdout)
            .map_err(|e| format!("{}: stdout is not JSON: {e}", self.args))
    }

    /// Problems common to every command: a panic, a signal, exit code 2.
    pub fn abnormal(&self) -> Option<String> {
        if self.stderr.contains("panicked") {
            return Some(format!("{}: panicked: {}", self.args, self.stderr));
        }
        match self.code {
            None => Some(format!("{}: killed by a signal", self.args)),
            Some(2) => Some(format!("{}: exit 2: {}", self.args, self.stderr)),
            _ => None,
        }
    }
}

/// Runs `daos-preflight` with `args`.
pub fn run_cli<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let shown = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new(env!("CARGO_BIN_EXE_daos-preflight"))
        .args(&args)
        .env_remove("NO_COLOR")
        .output()
        .expect("run daos-preflight");
    Run {
        args: format!("daos-preflight {shown}"),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `facts --format json --root DIR`.
pub fn facts_run(root: &Path) -> Run {
    run_cli([
        OsStr::new("facts"),
        OsStr::new("--format"),
        OsStr::new("json"),
        OsStr::new("--root"),
        root.as_os_str(),
    ])
}

/// `check --root DIR --format json`.
pub fn check_run(root: &Path) -> Run {
    run_cli([
        OsStr::new("check"),
        OsStr::new("--root"),
        root.as_os_str(),
        OsStr::new("--format"),
        OsStr::new("json"),
    ])
}

/// `check --format json --only ID --root DIR ARGS…`: that check's result. Panics when
/// the output is not JSON or the report has no check `id`.
pub fn single_check(root: &Path, id: &str, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_daos-preflight"))
        .args(["check", "--format", "json", "--only", id, "--root"])
        .arg(root)
        .args(args)
        .output()
        .expect("run daos-preflight");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: {}\n{}",
            root.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    report["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no {id} in {report}"))
        .clone()
}

/// The trees a generator under `tests/fixtures/` (`make-*-fixtures.py`) writes, into a
/// fresh [`scratch`] directory `tag`.
pub fn generated_trees(script: &str, tag: &str) -> PathBuf {
    let out = scratch(tag);
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(script);
    let ok = Command::new("python3")
        .arg(&script)
        .arg(&out)
        .status()
        .expect("python3")
        .success();
    assert!(ok, "{}", script.display());
    out
}

/// The facts of a tree: exit 0 and the facts schema, or why not.
pub fn facts_of(run: &Run) -> Result<Value, String> {
    if let Some(p) = run.abnormal() {
        return Err(p);
    }
    if run.code != Some(0) {
        return Err(format!("{}: exit {:?}: {}", run.args, run.code, run.stderr));
    }
    let v = run.json()?;
    if v["schema"] != "daos-preflight/facts/v1" {
        return Err(format!("{}: schema is {}", run.args, v["schema"]));
    }
    Ok(v)
}

/// A check report: exit 0 or 1, the report schema, a summary that agrees with the
/// checks, or why not.
pub fn report_of(run: &Run) -> Result<Value, String> {
    if let Some(p) = run.abnormal() {
        return Err(p);
    }
    let v = run.json()?;
    if v["schema"] != "daos-preflight/report/v1" {
        return Err(format!("{}: schema is {}", run.args, v["schema"]));
    }
    let checks = v["checks"]
        .as_array()
        .ok_or_else(|| format!("{}: no checks[]", run.args))?;
    if checks.is_empty() {
        return Err(format!("{}: no checks ran", run.args));
    }
    let fails = checks.iter().filter(|c| c["status"] == "fail").count();
    if v["summary"]["fail"].as_u64() != Some(fails as u64) {
        return Err(format!(
            "{}: summary.fail {} but {fails} failing checks",
            run.args, v["summary"]["fail"]
        ));
    }
    // design.md §3: 0 when nothing fails, 1 when something does (no --strict here)
    let expected = if fails > 0 { 1 } else { 0 };
    if run.code != Some(expected) {
        return Err(format!(
            "{}: exit {:?} with {fails} failing checks (expected {expected})",
            run.args, run.code
        ));
    }
    Ok(v)
}

/// A CPU list as the kernel prints it (`0-3,8,10-11`), as a sorted list.
pub fn cpu_list(s: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in s
        .trim_matches(|c: char| c.is_whitespace() || c == '\0')
        .split(',')
    {
        if part.is_empty() {
            continue;
        }
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().expect("cpu"), b.parse().expect("cpu"));
                out.extend(a..=b);
            }
            None => out.push(part.parse().expect("cpu")),
        }
    }
    out.sort_unstable();
    out
}

/// A CPU mask as the kernel prints it (`00000000,000000f0`), as a sorted list.
pub fn cpu_mask(s: &str) -> Vec<u32> {
    let words: Vec<&str> = s
        .trim_matches(|c: char| c.is_whitespace() || c == '\0')
        .split(',')
        .collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().rev().enumerate() {
        let v = u32::from_str_radix(w, 16).expect("mask word");
        for bit in 0..32 {
            if v >> bit & 1 == 1 {
                out.push(i as u32 * 32 + bit);
            }
        }
    }
    out.sort_unstable();
    out
}

/// A JSON array of numbers as a list.
pub fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_u64())
                .map(|x| x as u32)
                .collect()
        })
        .unwrap_or_default()
}

/// The contents of a tree file, trimmed of whitespace and NULs; `None` if unreadable.
pub fn raw(root: &Path, rel: &str) -> Option<String> {
    std::fs::read(root.join(rel)).ok().map(|b| {
        String::from_utf8_lossy(&b)
            .trim_matches(|c: char| c.is_whitespace() || c == '\0')
            .to_string()
    })
}

/// Fails the test with every collected problem at once (one run shows them all).
pub fn assert_no_problems(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{what}: {} problem(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

/// One sample of a Prometheus text exposition: name, labels, value.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub value: f64,
}

/// Parses the Prometheus text format (`name{k="v",...} value`), skipping comments.
pub fn parse_metrics(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, labels, rest) = match line.find(['{', ' ']) {
            Some(i) if line.as_bytes()[i] == b'{' => {
                let mut labels = std::collections::BTreeMap::new();
                let body = &line[i + 1..];
                let mut chars = body.char_indices().peekable();
                let mut end = body.len();
                loop {
                    // key
                    let mut key = String::new();
                    while let Some(&(j, c)) = chars.peek() {
                        if c == '=' || c == '}' {
                            if c == '}' {
                                end = j;
                            }
                            break;
                        }
                        key.push(c);
                        chars.next();
                    }
                    match chars.next() {
                        Some((_, '=')) => {}
                        _ => break,
                    }
                    chars.next(); // opening quote
                    let mut value = String::new();
                    while let Some((_, c)) = chars.next() {
                        match c {
                            '\\' => {
                                if let Some((_, e)) = chars.next() {
                                    value.push(if e == 'n' { '\n' } else { e });
                                }
                            }
                            '"' => break,
                            c => value.push(c),
                        }
                    }
                    labels.insert(key.trim_start_matches(',').to_string(), value);
                    if let Some(&(j, '}')) = chars.peek() {
                        end = j;
                        break;
                    }
                }
                (&line[..i], labels, &body[(end + 1).min(body.len())..])
            }
            Some(i) => (&line[..i], Default::default(), &line[i..]),
            None => continue,
        };
        let Some(Ok(value)) = rest.split_whitespace().next().map(str::parse::<f64>) else {
            continue;
        };
        out.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    out
}

#[test]
fn metrics_parser_reads_labels_and_values() {
    let s = parse_metrics(
        "# HELP x y\nnode_network_info{address=\"01:01:01:01:01:01\",device=\"eth0\",ifalias=\"\",operstate=\"up\"} 1\nnode_memory_MemTotal_bytes 3.831959552e+09\nnode_x{a=\"q\\\"uote,}\"} -1\n",
    );
    assert_eq!(s.len(), 3);
    assert_eq!(s[0].labels["address"], "01:01:01:01:01:01");
    assert_eq!(s[0].labels["ifalias"], "");
    assert_eq!(s[0].labels["operstate"], "up");
    assert_eq!(s[1].value, 3831959552.0);
    assert_eq!(s[2].labels["a"], "q\"uote,}");
    assert_eq!(s[2].value, -1.0);
}
