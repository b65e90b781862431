//! The deployment guide's own deployment as captured trees (`tests/fixtures/guide/`,
//! written by `tests/fixtures/make-guide-fixtures.py` from the guide's seed configs):
//! `check --root TREE --format json` on every node of every variant, asserting the
//! per-host facts of the `daos` section and `host` names. The broken variants are for
//! `fleet`'s system.* rules; here each host's own view must already be right.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

fn guide(variant: &str, node: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/guide")
        .join(variant)
        .join(node)
}

fn report(variant: &str, node: &str) -> Value {
    let root = guide(variant, node);
    let out = Command::new(env!("CARGO_BIN_EXE_daos-preflight"))
        .args(["check", "--format", "json", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{variant}/{node}");
    serde_json::from_slice(&out.stdout).unwrap()
}

const VARIANTS: &[&str] = &[
    "ok",
    "renamed",
    "agent-nonserver",
    "control-nonserver",
    "mixed-provider",
    "verbs-agent",
    "tls-mixed",
    "ca-differ",
    "ap-differ",
    "ap-even",
    "version-differ",
];

/// In each secure transport of `want` (at `ptrs`), the digest of the node's CA file as
/// `sha256sum` (coreutils) computes it.
fn secure_ca(want: &mut Value, variant: &str, node: &str, ptrs: &[&str]) {
    let ca = guide(variant, node).join("etc/daos/certs/daosCA.crt");
    for ptr in ptrs {
        let t = want.pointer_mut(ptr).unwrap();
        if t["allow_insecure"] == false && ca.exists() {
            let out = Command::new("sha256sum").arg(&ca).output().unwrap();
            let sum = String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .next()
                .unwrap()
                .to_string();
            t["ca_sha256"] = json!(sum);
        }
    }
}

/// What each variant changes from "ok", by (node, member pointer, value).
fn changed(variant: &str) -> Vec<(&'static str, &'static str, Value)> {
    match variant {
        "renamed" => vec![("node1", "/server/name", json!("daos_nvme"))],
        "agent-nonserver" => vec![("node2", "/agent/access_points", json!(["node3"]))],
        "control-nonserver" => vec![("node2", "/control/hostlist", json!(["node0", "node2"]))],
        "mixed-provider" => vec![
            ("node1", "/server/provider", json!("ofi+verbs;ofi_rxm")),
            (
                "node1",
                "/server/engines/0/provider",
                json!("ofi+verbs;ofi_rxm"),
            ),
        ],
        "verbs-agent" => ["node0", "node1"]
            .into_iter()
            .flat_map(|n| {
                [
                    (n, "/server/provider", json!("ofi+verbs;ofi_rxm")),
                    (n, "/server/engines/0/provider", json!("ofi+verbs;ofi_rxm")),
                ]
            })
            .collect(),
        "tls-mixed" => vec![("node0", "/server/transport/allow_insecure", json!(false))],
        "ca-differ" => vec![
            ("node0", "/server/transport/allow_insecure", json!(false)),
            ("node1", "/server/transport/allow_insecure", json!(false)),
            ("node2", "/agent/transport/allow_insecure", json!(false)),
            ("node2", "/control/transport/allow_insecure", json!(false)),
        ],
        "ap-differ" => vec![("node1", "/server/access_points", json!(["node1"]))],
        "ap-even" => vec![
            ("node0", "/server/access_points", json!(["node0", "node1"])),
            ("node1", "/server/access_points", json!(["node0", "node1"])),
        ],
        "version-differ" => vec![
            ("node1", "/installed_version", json!("2.8.0")),
            ("node1", "/rules_version", json!("2.8")),
        ],
        _ => vec![],
    }
}

#[test]
fn every_node_of_every_variant_reports_its_own_view() {
    let insecure =
        json!({"allow_insecure": true, "ca_cert": "/etc/daos/certs/daosCA.crt", "ca_sha256": null});
    for variant in VARIANTS {
        for node in ["node0", "node1", "node2"].iter() {
            let r = report(variant, node);
            let what = format!("{variant}/{node}");
            assert_eq!(r["host"]["hostname"], *node, "{what}");
            assert_eq!(r["host"]["fqdn"], format!("{node}.example.org"), "{what}");
            assert_eq!(r["host"]["addresses"], Value::Null, "{what}");
            let mut d = r["daos"].clone();
            if *node == "node2" {
                let mut want = json!({
                    "role": "client", "rules_version": "2.6", "installed_version": null,
                    "server": null,
                    "agent": {"name": "daos_server", "port": 10001, "access_points": ["node0"],
                              "transport": insecure,
                              "fabric_ifaces": [{"numa_node": 0, "devices": [{"iface": "enp94s0f1", "domain": null}]}]},
                    "control": {"name": "daos_server", "port": 10001, "hostlist": ["node0", "node1"],
                                "transport": insecure}
                });
                for (n, ptr, v) in changed(variant) {
                    if n == *node {
                        *want.pointer_mut(ptr).unwrap() = v;
                    }
                }
                secure_ca(
                    &mut want,
                    variant,
                    node,
                    &["/agent/transport", "/control/transport"],
                );
                let files = d.as_object_mut().unwrap().remove("files").unwrap();
                assert_eq!(d, want, "{what}");
                let loaded: Vec<bool> = files
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["loaded"].as_bool().unwrap())
                    .collect();
                assert_eq!(loaded, [false, true, true], "{what}");
            } else {
                let mut want = json!({
                    "role": "server", "rules_version": "2.6", "installed_version": null,
                    "server": {"name": "daos_server", "port": 10001, "access_points": ["node0"],
                               "access_points_key": "access_points", "provider": "ofi+tcp;ofi_rxm",
                               "transport": insecure,
                               "engines": [{"index": 0, "fabric_iface": "enp0s8", "fabric_iface_port": 31416,
                                            "provider": "ofi+tcp;ofi_rxm", "numa_node": null}]},
                    "agent": null, "control": null
                });
                for (n, ptr, v) in changed(variant) {
                    if n == *node {
                        *want.pointer_mut(ptr).unwrap() = v;
                    }
                }
                secure_ca(&mut want, variant, node, &["/server/transport"]);
                let files = d.as_object_mut().unwrap().remove("files").unwrap();
                assert_eq!(d, want, "{what}");
                assert_eq!(files[0]["loaded"], true, "{what}");
                assert_eq!(files[0]["path"], "/etc/daos/daos_server.yml", "{what}");
            }
        }
        // the servers' file digests differ exactly when the variant edited one server
        let one_server_edited =
            ["renamed", "mixed-provider", "tls-mixed", "ap-differ"].contains(variant);
        let s0 = report(variant, "node0")["daos"]["files"][0]["sha256"].clone();
        let s1 = report(variant, "node1")["daos"]["files"][0]["sha256"].clone();
        assert_eq!(s0 != s1, one_server_edited, "{variant}");
    }
}
