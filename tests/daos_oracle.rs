//! Differential test against DAOS's own config loader: every DAOS config of the corpus
//! (all releases, the deployment guide's seed, third-party) and a seeded mutation corpus
//! built from them go through the DAOS oracle (../shared/oracles/daos-config, DAOS's Go
//! Load+Validate at v2.6.0 / v2.8.0) and through `daos-preflight check --only config`.
//! A false READY (the tool passes what DAOS refuses) fails the test; a false alarm (the
//! tool fails what DAOS loads) is allowed only when every failing issue matches a
//! start-time rule of ALLOWLIST. Count: DAOS_ORACLE_MUTATIONS per release (default 2000).

mod oracle;

use oracle::mutate::{Rng, mutate};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Start-time rules: DAOS applies them only once daos_server runs on hardware, so the
/// oracle (load + validate) cannot see them. (issue-message fragment, DAOS source).
const ALLOWLIST: &[(&str, &str)] = &[
    // server/server.go getFaultDomain: fault_path / fault_cb are resolved at start
    ("fault_", "src/control/server/server.go getFaultDomain"),
    // server/server.go checkFabricInterface: fabric_iface existence is a start-time check
    (
        "does not exist on this host",
        "src/control/server/server.go checkFabricInterface",
    ),
];

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

fn oracle_bin(rel: &str) -> PathBuf {
    let p = shared().join(format!("oracles/daos-config/daos-config-oracle-{rel}"));
    assert!(
        p.is_file(),
        "DAOS oracle {} missing: the differential test needs ../shared/oracles beside the checkout",
        p.display()
    );
    p
}

fn kind_of(path: &Path) -> Option<&'static str> {
    let n = path.file_name()?.to_str()?.to_ascii_lowercase();
    let yamlish = n.ends_with(".yml") || n.ends_with(".yaml") || n.contains(".yml.");
    if !yamlish {
        return None;
    }
    if n.contains("agent") {
        Some("agent")
    } else if n.contains("control") && !n.contains("server") {
        Some("control")
    } else if n.contains("server") {
        Some("server")
    } else {
        None
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut es: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    es.sort();
    for p in es {
        if p.is_dir() {
            walk(&p, out);
        } else if kind_of(&p).is_some() {
            out.push(p);
        }
    }
}

struct Case {
    kind: &'static str,
    label: String,
    text: String,
}

#[derive(Default)]
struct Tally {
    both_accept: usize,
    both_reject: usize,
    false_ready: usize,
    false_alarm_allowed: BTreeMap<String, usize>,
    false_alarm: usize,
}

fn oracle_ok(rel: &str, kind: &str, file: &Path) -> (bool, String) {
    let out = Command::new(oracle_bin(rel))
        .args(["--kind", kind])
        .arg(file)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "oracle output for {}: {e}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (
        v["ok"] == true,
        v["cause"].as_str().unwrap_or("").to_string(),
    )
}

/// Status of config.<kind> and its failing issues.
fn tool(rel: &str, kind: &str, file: &Path, root: &Path) -> (String, Vec<String>) {
    let flag = format!("--{kind}-config");
    let out = Command::new(env!("CARGO_BIN_EXE_daos-preflight"))
        .args([
            "check",
            "--only",
            "config",
            "--format",
            "json",
            "--daos-version",
            rel,
            "--root",
        ])
        .arg(root)
        .arg(&flag)
        .arg(file)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "tool output for {}: {e}: {}{}",
            file.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let id = format!("config.{kind}");
    let c = v["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["id"] == id.as_str());
    match c {
        Some(c) => {
            let issues = c["details"]["issues"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_else(|| vec![c["summary"].as_str().unwrap_or("").to_string()]);
            (c["status"].as_str().unwrap_or("").to_string(), issues)
        }
        None => ("missing".into(), vec![]),
    }
}

fn cases(rel: &str, n: usize) -> Vec<Case> {
    let mut files = Vec::new();
    walk(&shared().join("corpus/daos-config"), &mut files);
    assert!(
        files.len() > 20,
        "DAOS corpus missing: {} files",
        files.len()
    );
    let bases: Vec<(&'static str, String, String)> = files
        .iter()
        .filter_map(|p| {
            let t = std::fs::read_to_string(p).ok()?;
            Some((kind_of(p)?, p.display().to_string(), t))
        })
        .collect();
    let mut out: Vec<Case> = bases
        .iter()
        .map(|(k, name, t)| Case {
            kind: k,
            label: format!("corpus {name}"),
            text: t.clone(),
        })
        .collect();
    // mutations weigh the release's own files and the seed/third-party ones
    let tag = if rel == "2.6" { "v2.6.0" } else { "v2.8.0" };
    let preferred: Vec<usize> = (0..bases.len())
        .filter(|&i| {
            let n = &bases[i].1;
            n.contains(tag) || n.contains("/seed/") || n.contains("third-party")
        })
        .collect();
    for i in 0..n {
        let mut rng = Rng::new(0xDA05_0000 ^ ((rel == "2.8") as u64) << 40 ^ i as u64);
        let b = if rng.below(4) == 0 {
            rng.below(bases.len())
        } else {
            *rng.pick(&preferred)
        };
        let (k, name, t) = &bases[b];
        let mut text = t.clone();
        let mut what = Vec::new();
        for _ in 0..1 + rng.below(2) {
            let (nt, l) = mutate(&text, &mut rng);
            text = nt;
            what.push(l);
        }
        out.push(Case {
            kind: k,
            label: format!("mutation {rel}#{i} of {name}: {}", what.join("; ")),
            text,
        });
    }
    out
}

#[test]
#[ignore = "still finds false READY cases (issue 11 open): run with --ignored"]
fn tool_agrees_with_daos_loader_on_corpus_and_mutations() {
    let n: usize = std::env::var("DAOS_ORACLE_MUTATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let tmp = std::env::temp_dir().join(format!("daos-oracle-{}", std::process::id()));
    let root = tmp.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let mut failures = Vec::new();
    let mut report = String::new();
    for rel in ["2.6", "2.8"] {
        oracle_bin(rel);
        let cs = cases(rel, n);
        let tallies: Mutex<BTreeMap<&str, Tally>> = Mutex::new(BTreeMap::new());
        let bad: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let threads = 2;
        std::thread::scope(|s| {
            for t in 0..threads {
                let (cs, tallies, bad, tmp, root) = (&cs, &tallies, &bad, &tmp, &root);
                s.spawn(move || {
                    for (i, c) in cs.iter().enumerate().skip(t).step_by(threads) {
                        let f = tmp.join(format!("{rel}-{i}-daos_{}.yml", c.kind));
                        std::fs::write(&f, &c.text).unwrap();
                        let (ok, cause) = oracle_ok(rel, c.kind, &f);
                        let (status, issues) = tool(rel, c.kind, &f, root);
                        let passes = status != "fail" && status != "error";
                        let mut tl = tallies.lock().unwrap();
                        let tt = tl.entry(c.kind).or_default();
                        match (ok, passes) {
                            (true, true) => tt.both_accept += 1,
                            (false, false) => tt.both_reject += 1,
                            (false, true) => {
                                tt.false_ready += 1;
                                bad.lock().unwrap().push(format!(
                                    "FALSE READY {rel} {}: {} -- DAOS: {cause}",
                                    c.kind, c.label
                                ));
                            }
                            (true, false) => {
                                let rule = issues
                                    .iter()
                                    .map(|is| ALLOWLIST.iter().find(|(p, _)| is.contains(p)))
                                    .collect::<Option<Vec<_>>>();
                                match rule {
                                    Some(r) if !r.is_empty() => {
                                        *tt.false_alarm_allowed
                                            .entry(r[0].1.to_string())
                                            .or_default() += 1
                                    }
                                    _ => {
                                        tt.false_alarm += 1;
                                        bad.lock().unwrap().push(format!(
                                            "FALSE ALARM {rel} {}: {} -- tool: {}",
                                            c.kind,
                                            c.label,
                                            issues.join(" | ")
                                        ));
                                    }
                                }
                            }
                        }
                        let _ = std::fs::remove_file(&f);
                    }
                });
            }
        });
        for (k, t) in tallies.into_inner().unwrap() {
            report.push_str(&format!(
                "DAOS {rel} {k:8} both-accept {:5} both-reject {:5} false-READY {:4} false-alarm {:4} allowlisted {:?}\n",
                t.both_accept, t.both_reject, t.false_ready, t.false_alarm, t.false_alarm_allowed
            ));
        }
        let mut b = bad.into_inner().unwrap();
        b.sort();
        failures.extend(b);
    }
    let _ = std::fs::remove_dir_all(&tmp);
    eprintln!("{report}");
    for f in failures.iter().take(200) {
        eprintln!("{f}");
    }
    assert!(
        failures.is_empty(),
        "{} disagreements with DAOS (first 200 above)\n{report}",
        failures.len()
    );
}
