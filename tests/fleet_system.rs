//! `fleet`'s system judgement on the deployment guide's own deployment
//! (`tests/fixtures/guide/`, node0/node1 servers and node2 client, written by
//! `tests/fixtures/make-guide-fixtures.py` from the guide's seed configs): the real
//! `check --root` of each node piped into the real `fleet`. The correct deployment has no
//! failing `system.*` finding; each broken variant fails exactly the rule it breaks, and
//! the finding names the host that differs.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_daos-preflight")
}

fn system(variant: &str) -> Value {
    let mut reports = Vec::new();
    for node in ["node0", "node1", "node2"] {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/guide")
            .join(variant)
            .join(node);
        let out = Command::new(bin())
            .args(["check", "--format", "json", "--root"])
            .arg(&root)
            .output()
            .unwrap();
        assert!(matches!(out.status.code(), Some(0 | 1)), "{variant}/{node}");
        reports.extend_from_slice(&out.stdout);
    }
    let mut fleet = Command::new(bin())
        .args(["fleet", "-", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    fleet.stdin.take().unwrap().write_all(&reports).unwrap();
    let out = fleet.wait_with_output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["system"].clone()
}

fn finding<'a>(system: &'a Value, id: &str) -> &'a Value {
    system["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("{id} missing"))
}

fn failing(system: &Value) -> Vec<String> {
    system["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "fail")
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_guides_deployment_passes_as_a_system() {
    let s = system("ok");
    assert_eq!(failing(&s), Vec::<String>::new(), "{s:#}");
    for id in [
        "system.name",
        "system.access-points",
        "system.agents",
        "system.control",
        "system.provider",
        "system.security",
    ] {
        assert_eq!(finding(&s, id)["status"], "pass", "{id}: {s:#}");
    }
    // `check --root` cannot know a captured tree's clock (adjtimex is live only):
    // unknown, not "synchronised"
    let t = finding(&s, "system.time");
    assert_eq!(t["status"], "skip", "{t:#}");
    assert!(
        t["summary"]
            .as_str()
            .unwrap()
            .contains("clock state unknown on every host (node[0-2])"),
        "{t:#}"
    );
}

/// SHA-256 of a fixture file, by coreutils.
fn sha256(variant: &str, node: &str, rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/guide")
        .join(variant)
        .join(node)
        .join(rel);
    let out = Command::new("sha256sum").arg(&p).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// `{"value": v, "hosts": h}` groups of a finding's details at `ptr`, as (value, hosts).
fn grouped(f: &Value, ptr: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = f["details"]
        .pointer(ptr)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no {ptr}: {f:#}"))
        .iter()
        .map(|g| {
            (
                g["value"].as_str().unwrap().to_string(),
                g["hosts"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn strings(f: &Value, ptr: &str) -> Vec<String> {
    f["details"]
        .pointer(ptr)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no {ptr}: {f:#}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = v
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

#[test]
fn each_broken_variant_fails_its_rule_naming_the_host() {
    // (variant, the rule it breaks, its status, a host the summary must name). An agent
    // naming a host with no report (node3) is a warning: fleet cannot tell a missing
    // server report from a host that is not a server.
    let cases = [
        ("renamed", "system.name", "fail", "node1"),
        ("ap-even", "system.access-points", "fail", "node0"),
        ("ap-differ", "system.access-points", "fail", "node1"),
        ("agent-nonserver", "system.agents", "warn", "node3"),
        ("control-nonserver", "system.control", "fail", "node2"),
        ("mixed-provider", "system.provider", "fail", "node1"),
        ("verbs-agent", "system.provider", "fail", "node2"),
        ("tls-mixed", "system.security", "fail", "node0"),
        ("ca-differ", "system.security", "fail", "node1"),
        ("version-differ", "system.version", "fail", "node1"),
    ];
    for (variant, id, status, host) in cases {
        let s = system(variant);
        let f = finding(&s, id);
        assert_eq!(f["status"], status, "{variant}: {f:#}");
        assert!(
            f["summary"].as_str().unwrap().contains(host),
            "{variant}: {id} does not name {host}: {f:#}"
        );
        assert_ne!(s["status"], "pass", "{variant}");
        // the broken rule is the only failing one
        let fails = failing(&s);
        assert!(fails.iter().all(|x| x == id), "{variant}: {fails:?} {s:#}");
        // details name each host with the value it holds
        let ca = "etc/daos/certs/daosCA.crt";
        match variant {
            "renamed" => assert_eq!(
                grouped(f, ""),
                pairs(&[("daos_nvme", "node1"), ("daos_server", "node[0,2]")])
            ),
            "ap-even" => assert_eq!(
                strings(f, "/problems"),
                [
                    "node0: 2 access points, DAOS needs an odd number",
                    "node1: 2 access points, DAOS needs an odd number"
                ]
            ),
            "ap-differ" => assert_eq!(
                grouped(f, "/lists"),
                pairs(&[("node0", "node0"), ("node1", "node1")])
            ),
            "agent-nonserver" => {
                assert_eq!(
                    strings(f, "/unreported"),
                    ["node2: node3 (no report from node3)"]
                );
                assert_eq!(s["missing_servers"], serde_json::json!(["node3"]));
            }
            "control-nonserver" => assert_eq!(
                strings(f, "/problems"),
                ["node2: node2 is node2, which is not a server"]
            ),
            "mixed-provider" => assert_eq!(
                grouped(f, "/providers"),
                pairs(&[("ofi+tcp;ofi_rxm", "node0"), ("ofi+verbs;ofi_rxm", "node1")])
            ),
            "verbs-agent" => assert_eq!(
                grouped(f, "/agent_misfits"),
                pairs(&[(
                    "iface enp94s0f1 without a domain (ofi+verbs;ofi_rxm needs its RDMA device)",
                    "node2"
                )])
            ),
            "tls-mixed" => assert_eq!(
                grouped(f, ""),
                pairs(&[
                    (&format!("CA {}", sha256(variant, "node0", ca)), "node0"),
                    ("insecure", "node[1-2]")
                ])
            ),
            "ca-differ" => {
                assert_eq!(
                    grouped(f, ""),
                    pairs(&[
                        (&format!("CA {}", sha256(variant, "node0", ca)), "node[0,2]"),
                        (&format!("CA {}", sha256(variant, "node1", ca)), "node1")
                    ])
                );
                assert!(f["summary"].as_str().unwrap().contains("different CAs"));
            }
            "version-differ" => {
                assert_eq!(
                    grouped(f, "/installed"),
                    pairs(&[("2.8.0", "node1"), ("unknown", "node[0,2]")])
                );
                assert_eq!(
                    grouped(f, "/rules"),
                    pairs(&[("2.6", "node[0,2]"), ("2.8", "node1")])
                );
            }
            _ => unreachable!(),
        }
    }
}
