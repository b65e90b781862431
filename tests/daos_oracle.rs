//! Differential test against DAOS's own config loader: every DAOS config of the corpus
//! (all releases, the deployment guide's seed, third-party) and a seeded mutation corpus
//! built from them (tests/oracle/mutate.rs) go through the DAOS oracle
//! (../shared/oracles/daos-config, DAOS's Go Load+Validate at v2.6.0 / v2.8.0) and
//! through the tool's own loader and `config.*` check, called in-process (the same code
//! `daos-preflight check --only config` runs; no process per case on the tool side).
//!
//! A false READY (the tool passes what DAOS refuses) fails the test; a false alarm (the
//! tool fails what DAOS loads) is allowed only when every error of the file is a
//! start-time issue (`Issue.stage == start`) matching a rule of ALLOWLIST, which cites
//! the DAOS source that applies it after daos_server started. Where DAOS refuses with a
//! fault code, the tool's finding must carry the same code (the code of the error DAOS
//! reports first): a mismatch fails the test too.
//!
//! Count: DAOS_ORACLE_MUTATIONS per release (default 2000; the long mode is 50000).
//! DAOS_ORACLE_DUMP=DIR writes every disagreeing file there. DAOS_ORACLE_THREADS caps
//! the parallel oracle processes (default: the number of CPUs, at most 8).

mod common;
mod oracle;

use common::daos_oracle::{oracle_bin, oracle_json};

use daos_preflight::checks::{self, Context, Finding};
use daos_preflight::daos::DaosVersion;
use daos_preflight::daos::config::load::load;
use daos_preflight::daos::config::{
    ConfigPaths, DaosStage, FileLoad, Issue, LoadedConfigs, RoleChoice, Severity,
};
use daos_preflight::facts::{self, Facts};
use daos_preflight::host::Host;
use oracle::mutate::{Rng, mutate};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Start-time rules: DAOS applies them only once daos_server runs on hardware, so the
/// oracle (load + validate) cannot see them. (issue key or message fragment, DAOS source).
const ALLOWLIST: &[(&str, &str)] = &[
    // server.go processConfig runs config/server.go SetNrHugepages after Validate, with
    // the host's /proc/meminfo: disable_hugepages against bdevs / nr_hugepages is judged
    // there, once daos_server runs
    (
        "disable_hugepages is true but",
        "src/control/server/config/server.go SetNrHugepages",
    ),
    // server/server.go getFaultDomain: fault_path / fault_cb are resolved at start
    ("fault_", "src/control/server/server.go getFaultDomain"),
    // server/server.go checkFabricInterface: fabric_iface existence is a start-time check
    (
        "does not exist on this host",
        "src/control/server/server.go checkFabricInterface",
    ),
    // server/server.go: the control-plane gRPC listener is created when daos_server
    // starts (net.Listen on the control port); a port above 65535 fails there
    (
        "can't listen on it",
        "src/control/server/server.go control listener",
    ),
    // the engine's port reaches CaRT through the engine's environment at start
    // (server/engine/config.go → OFI_PORT/D_PORT, cart/crt_init.c), where the
    // provider refuses a port above 65535
    (
        "can't bind it when it starts",
        "src/cart/crt_init.c engine fabric port",
    ),
    // cmd/daos_agent/fabric.go NUMAFabricFromConfig: the agent builds its interface
    // table from fabric_ifaces when it starts (infocache.go), not in LoadConfig
    (
        "fabric_ifaces",
        "src/control/cmd/daos_agent/fabric.go NUMAFabricFromConfig",
    ),
    // lib/control/hostlist.go getRequestHosts: the agent's control client fails on an
    // empty access point list or port 0 at its first request; other ports fail to dial
    (
        "daos_agent starts, but",
        "src/control/lib/control/hostlist.go getRequestHosts",
    ),
    // the same for dmg: LoadConfig does not look at hostlist or port, every request does
    (
        "dmg loads the file, but",
        "src/control/lib/control/hostlist.go getRequestHosts",
    ),
];

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
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
    false_alarm_allowed: BTreeMap<&'static str, usize>,
    false_alarm: usize,
    fault_same: usize,
    fault_differs: usize,
}

struct OracleAnswer {
    ok: bool,
    stage: String,
    cause: String,
    fault_code: Option<String>,
}

fn oracle(rel: &str, kind: &str, file: &Path) -> OracleAnswer {
    let v = oracle_json(rel, kind, file);
    OracleAnswer {
        ok: v["ok"] == true,
        stage: v["stage"].as_str().unwrap_or("").to_string(),
        cause: v["cause"].as_str().unwrap_or("").replace('\n', " "),
        fault_code: v["fault_code"].as_str().map(String::from),
    }
}

/// What the tool says: the `config.<kind>` finding and the file's issues.
struct ToolAnswer {
    finding: Finding,
    /// The issues (or the one YAML error) of the file.
    issues: Vec<Issue>,
    /// Not YAML / unreadable: the one-line reason.
    invalid: Option<String>,
}

fn tool(version: DaosVersion, kind: &str, file: &Path, root: &Path, facts: &Facts) -> ToolAnswer {
    let f = Some(file.display().to_string());
    let paths = match kind {
        "server" => ConfigPaths {
            server: f,
            ..Default::default()
        },
        "agent" => ConfigPaths {
            agent: f,
            ..Default::default()
        },
        _ => ConfigPaths {
            control: f,
            ..Default::default()
        },
    };
    let configs: LoadedConfigs = load(&Host::at(root), &paths, version, "test", RoleChoice::Auto);
    let ctx = Context {
        facts,
        daos_version: version,
        config: Some(&configs),
    };
    let id = format!("config.{kind}");
    let finding = checks::find(&id).unwrap().run(&ctx);
    fn of<T>(l: &FileLoad<T>) -> (Vec<Issue>, Option<String>) {
        match l {
            FileLoad::Loaded { issues, .. } => (issues.clone(), None),
            FileLoad::Invalid { error, .. } => (vec![], Some(error.to_string())),
            FileLoad::Unreadable { error, .. } => (vec![], Some(error.clone())),
            FileLoad::Absent { path } => (vec![], Some(format!("{path} absent"))),
        }
    }
    let (issues, invalid) = match kind {
        "server" => of(&configs.server),
        "agent" => of(&configs.agent),
        _ => of(&configs.control),
    };
    ToolAnswer {
        finding,
        issues,
        invalid,
    }
}

/// The allowlist rule that covers every error of the file, when one does.
fn allowed(t: &ToolAnswer) -> Option<&'static str> {
    if t.invalid.is_some() {
        return None;
    }
    let errors: Vec<&Issue> = t
        .issues
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .collect();
    let mut rule = None;
    for e in &errors {
        if e.stage != DaosStage::Start {
            return None;
        }
        let r = ALLOWLIST
            .iter()
            .find(|(p, _)| e.key.contains(p) || e.message.contains(p))?;
        rule.get_or_insert(r.1);
    }
    rule
}

fn issue_lines(t: &ToolAnswer) -> String {
    if let Some(e) = &t.invalid {
        return format!("not loaded: {e}");
    }
    let v: Vec<String> = t
        .issues
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .map(|i| format!("[{}] {i}", i.stage.as_str()))
        .collect();
    if v.is_empty() {
        t.finding.summary.clone()
    } else {
        v.join(" | ")
    }
}

fn seed(rel: &str, i: usize) -> u64 {
    0xDA05_0000 ^ (((rel == "2.8") as u64) << 40) ^ i as u64
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
            let name = p
                .strip_prefix(shared().join("corpus/daos-config"))
                .unwrap_or(p)
                .display()
                .to_string();
            Some((kind_of(p)?, name, t))
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
    // mutations: a kind first (servers have the most rules), then the release's own
    // files, the guide's seed and the third-party ones, and sometimes any release's
    let tag = if rel == "2.6" { "v2.6.0" } else { "v2.8.0" };
    for i in 0..n {
        let mut rng = Rng::new(seed(rel, i));
        let kind = match rng.below(20) {
            0..=10 => "server",
            11..=15 => "agent",
            _ => "control",
        };
        let of_kind: Vec<usize> = (0..bases.len()).filter(|&b| bases[b].0 == kind).collect();
        let preferred: Vec<usize> = of_kind
            .iter()
            .copied()
            .filter(|&b| {
                let n = &bases[b].1;
                n.contains(tag) || n.contains("seed/") || n.contains("third-party")
            })
            .collect();
        let b = if rng.below(4) == 0 || preferred.is_empty() {
            *rng.pick(&of_kind)
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
            label: format!(
                "mutation {rel}#{i} (seed {:#x}) of {name}: {}",
                seed(rel, i),
                what.join("; ")
            ),
            text,
        });
    }
    out
}

#[test]
fn tool_agrees_with_daos_loader_on_corpus_and_mutations() {
    let n: usize = std::env::var("DAOS_ORACLE_MUTATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let threads: usize = std::env::var("DAOS_ORACLE_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .min(8)
        })
        .max(1);
    let dump = std::env::var_os("DAOS_ORACLE_DUMP").map(PathBuf::from);
    if let Some(d) = &dump {
        std::fs::create_dir_all(d).unwrap();
    }
    let tmp = std::env::temp_dir().join(format!("daos-oracle-{}", std::process::id()));
    let root = tmp.join("root");
    std::fs::create_dir_all(&root).unwrap();
    // the tool judges the files against an empty host tree: config checks only
    let facts = facts::collect(&Host::at(&root));
    let started = std::time::Instant::now();
    let mut failures = Vec::new();
    let mut report = String::new();
    for rel in ["2.6", "2.8"] {
        oracle_bin(rel);
        let version: DaosVersion = rel.parse().unwrap();
        let cs = cases(rel, n);
        let tallies: Mutex<BTreeMap<&str, Tally>> = Mutex::new(BTreeMap::new());
        let bad: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let next = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..threads {
                let (cs, tallies, bad, tmp, root, facts, next, dump) =
                    (&cs, &tallies, &bad, &tmp, &root, &facts, &next, &dump);
                s.spawn(move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(c) = cs.get(i) else { break };
                        let f = tmp.join(format!("{rel}-{i}-daos_{}.yml", c.kind));
                        std::fs::write(&f, &c.text).unwrap();
                        let o = oracle(rel, c.kind, &f);
                        let t = tool(version, c.kind, &f, root, facts);
                        let st = t.finding.status.as_str();
                        let passes = st != "fail" && st != "error";
                        let mut disagreement = None;
                        {
                            let mut tl = tallies.lock().unwrap();
                            let tt = tl.entry(c.kind).or_default();
                            match (o.ok, passes) {
                                (true, true) => tt.both_accept += 1,
                                (false, false) => {
                                    tt.both_reject += 1;
                                    if let Some(code) = &o.fault_code {
                                        let want = format!("code.{code}");
                                        if t.finding.daos_fault_code.as_deref() == Some(&want) {
                                            tt.fault_same += 1;
                                        } else {
                                            tt.fault_differs += 1;
                                            disagreement = Some(format!(
                                                "FAULT CODE {rel} {}: {} -- DAOS {want}: {} -- tool {}: {}",
                                                c.kind,
                                                c.label,
                                                o.cause,
                                                t.finding.daos_fault_code.as_deref().unwrap_or("no code"),
                                                issue_lines(&t)
                                            ));
                                        }
                                    }
                                }
                                (false, true) => {
                                    tt.false_ready += 1;
                                    disagreement = Some(format!(
                                        "FALSE READY {rel} {}: {} -- DAOS ({}): {}{} -- tool {st}: {}",
                                        c.kind,
                                        c.label,
                                        o.stage,
                                        o.cause,
                                        o.fault_code
                                            .as_deref()
                                            .map(|c| format!(" [code.{c}]"))
                                            .unwrap_or_default(),
                                        t.finding.summary
                                    ));
                                }
                                (true, false) => match allowed(&t) {
                                    Some(rule) => *tt.false_alarm_allowed.entry(rule).or_default() += 1,
                                    None => {
                                        tt.false_alarm += 1;
                                        disagreement = Some(format!(
                                            "FALSE ALARM {rel} {}: {} -- DAOS loads it -- tool: {}",
                                            c.kind,
                                            c.label,
                                            issue_lines(&t)
                                        ));
                                    }
                                },
                            }
                        }
                        if let Some(d) = disagreement {
                            if let Some(dir) = dump {
                                let _ = std::fs::write(
                                    dir.join(format!("{rel}-{i}-daos_{}.yml", c.kind)),
                                    &c.text,
                                );
                            }
                            bad.lock().unwrap().push(d);
                        }
                        let _ = std::fs::remove_file(&f);
                    }
                });
            }
        });
        for (k, t) in tallies.into_inner().unwrap() {
            let allowed: usize = t.false_alarm_allowed.values().sum();
            report.push_str(&format!(
                "DAOS {rel} {k:8} both-accept {:5} both-reject {:5} false-READY {:4} false-alarm {:4} false-alarm-allowed {:4} | fault code same {:4} differs {:4}\n",
                t.both_accept, t.both_reject, t.false_ready, t.false_alarm, allowed, t.fault_same, t.fault_differs
            ));
            for (rule, c) in &t.false_alarm_allowed {
                report.push_str(&format!("    allowed {c:4} x {rule}\n"));
            }
        }
        let mut b = bad.into_inner().unwrap();
        b.sort();
        failures.extend(b);
    }
    let _ = std::fs::remove_dir_all(&tmp);
    report.push_str(&format!(
        "{n} mutations per release, {threads} oracle processes at a time, {:.1} s\n",
        started.elapsed().as_secs_f64()
    ));
    for f in failures.iter().take(300) {
        eprintln!("{f}");
    }
    eprintln!("{report}");
    assert!(
        failures.is_empty(),
        "{} disagreements with DAOS (first 300 above)\n{report}",
        failures.len()
    );
}
