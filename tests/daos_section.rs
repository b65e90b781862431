//! The report's `daos` section and `host` names (see `daos-preflight schema report`) on real
//! inputs: the deployment guide's seed configs, the daos-server-ib fixture tree with its
//! CA certificate, a FIFO in place of a config, and this machine's addresses compared
//! with iproute2's `ip -o addr`. Digests are checked against coreutils' `sha256sum`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_daos-preflight")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn seed(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/daos-config/seed")
        .join(name)
        .display()
        .to_string()
}

fn report(args: &[&str]) -> Value {
    let out = Command::new(bin())
        .args(["check", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn seed_configs_of_the_guide() {
    let root = fixtures().join("seed-16g");
    let (s, a, c) = (
        seed("daos_server.yml"),
        seed("daos_agent.yml"),
        seed("daos_control.yml"),
    );
    let r = report(&[
        "--root",
        root.to_str().unwrap(),
        "--server-config",
        &s,
        "--agent-config",
        &a,
        "--control-config",
        &c,
    ]);
    let d = &r["daos"];
    assert_eq!(d["role"], "server");
    assert_eq!(d["rules_version"], "2.6");
    assert_eq!(d["rules_version"], r["daos_version"]);
    assert_eq!(d["installed_version"], Value::Null);
    for (i, (kind, path)) in [("server", &s), ("agent", &a), ("control", &c)]
        .iter()
        .enumerate()
    {
        let f = &d["files"][i];
        assert_eq!(f["kind"], *kind);
        assert_eq!(f["path"], path.as_str());
        assert_eq!(f["present"], true);
        // the guide's server file has enable_vmd (not a 2.6 key): still loaded, values given
        assert_eq!(f["loaded"], true, "{f}");
        assert_eq!(f["error"], Value::Null);
        assert_eq!(f["sha256"], sha256sum(Path::new(path.as_str())).as_str());
    }
    let insecure =
        json!({"allow_insecure": true, "ca_cert": "/etc/daos/certs/daosCA.crt", "ca_sha256": null});
    assert_eq!(
        d["server"],
        json!({
            "name": "daos_server", "port": 10001,
            "access_points": ["node0", "node1"], "access_points_key": "access_points",
            "provider": "ofi+tcp;ofi_rxm",
            "transport": insecure,
            "engines": [{"index": 0, "fabric_iface": "enp0s8", "fabric_iface_port": 31416,
                         "provider": "ofi+tcp;ofi_rxm", "numa_node": null}]
        })
    );
    assert_eq!(
        d["agent"],
        json!({
            "name": "daos_server", "port": 10001, "access_points": ["node0", "node1"],
            "transport": insecure,
            "fabric_ifaces": [{"numa_node": 0, "devices": [{"iface": "enp94s0f1", "domain": null}]}]
        })
    );
    assert_eq!(
        d["control"],
        json!({"name": "daos_server", "port": 10001, "hostlist": ["node0", "node1"], "transport": insecure})
    );
    // a tree: no live addresses
    assert_eq!(r["host"]["addresses"], Value::Null);
}

#[test]
fn secure_server_on_a_tree_with_its_ca() {
    let root = fixtures().join("daos-server-ib");
    let ready = fixtures().join("daos-configs/ready.yml");
    let nic_bad = fixtures().join("daos-configs/nic-bad.yml");
    let r = report(&[
        "--root",
        root.to_str().unwrap(),
        "--server-config",
        ready.to_str().unwrap(),
    ]);
    let s = &r["daos"]["server"];
    assert_eq!(s["provider"], "ofi+verbs;ofi_rxm");
    assert_eq!(
        s["transport"],
        json!({"allow_insecure": false, "ca_cert": "/etc/daos/certs/daosCA.crt",
               "ca_sha256": sha256sum(&root.join("etc/daos/certs/daosCA.crt"))})
    );
    let nodes: Vec<&Value> = s["engines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["numa_node"])
        .collect();
    assert_eq!(nodes, [&json!(0), &json!(1)]);
    // the tree's own agent/control files are absent: listed, not loaded, no digest
    assert_eq!(
        r["daos"]["files"][1],
        json!({"kind": "agent", "path": "/etc/daos/daos_agent.yml", "present": false,
               "sha256": null, "loaded": false, "error": null})
    );
    assert_eq!(r["daos"]["agent"], Value::Null);
    // no pinned_numa_node: the NIC's node from sysfs (ib1 is on node 1), unknown for a
    // NIC that is not there (ib7)
    let r = report(&[
        "--root",
        root.to_str().unwrap(),
        "--server-config",
        nic_bad.to_str().unwrap(),
    ]);
    let e = &r["daos"]["server"]["engines"];
    assert_eq!(e[0]["fabric_iface"], "ib1");
    assert_eq!(e[0]["numa_node"], 1);
    assert_eq!(e[1]["fabric_iface"], "ib7");
    assert_eq!(e[1]["numa_node"], Value::Null);
    // the CA missing: no digest
    let tmp = std::env::temp_dir().join(format!("dp-section-ca-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(
        Command::new("cp")
            .arg("-a")
            .arg(&root)
            .arg(&tmp)
            .status()
            .unwrap()
            .success()
    );
    std::fs::remove_file(tmp.join("etc/daos/certs/daosCA.crt")).unwrap();
    let r = report(&[
        "--root",
        tmp.to_str().unwrap(),
        "--server-config",
        ready.to_str().unwrap(),
    ]);
    assert_eq!(r["daos"]["server"]["transport"]["ca_sha256"], Value::Null);
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn names_from_the_tree_and_a_fifo_config() {
    let tmp = std::env::temp_dir().join(format!("dp-section-tree-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.join("etc/daos")).unwrap();
    std::fs::create_dir_all(tmp.join("proc/sys/kernel")).unwrap();
    std::fs::write(tmp.join("proc/sys/kernel/hostname"), "localhost\n").unwrap();
    std::fs::write(tmp.join("etc/hostname"), "node2\n").unwrap();
    std::fs::write(
        tmp.join("etc/hosts"),
        "127.0.0.1 localhost\n198.51.100.12 node2.example.org node2\n",
    )
    .unwrap();
    std::fs::copy(seed("daos_agent.yml"), tmp.join("etc/daos/daos_agent.yml")).unwrap();
    // dmg's file is a FIFO with no writer: refused at once, never read
    assert!(
        Command::new("mkfifo")
            .arg(tmp.join("etc/daos/daos_control.yml"))
            .status()
            .unwrap()
            .success()
    );
    let r = report(&["--root", tmp.to_str().unwrap()]);
    assert_eq!(r["host"]["hostname"], "node2");
    assert_eq!(r["host"]["fqdn"], "node2.example.org");
    assert_eq!(r["host"]["addresses"], Value::Null);
    assert_eq!(r["daos"]["role"], "client");
    let f = &r["daos"]["files"][2];
    assert_eq!(f["present"], true);
    assert_eq!(f["loaded"], false);
    assert_eq!(f["sha256"], Value::Null);
    assert!(
        f["error"]
            .as_str()
            .unwrap()
            .ends_with("not a regular file (a FIFO)"),
        "{f}"
    );
    assert_eq!(r["daos"]["control"], Value::Null);
    // not YAML DAOS can read: present, digest of the bytes, the error in one line
    std::fs::remove_file(tmp.join("etc/daos/daos_control.yml")).unwrap();
    let pasted =
        "[root@node2 ~]# cat /etc/daos/daos_control.yml\nname: daos_server\nhostlist: ['node0'\n";
    std::fs::write(tmp.join("etc/daos/daos_control.yml"), pasted).unwrap();
    let r = report(&["--root", tmp.to_str().unwrap()]);
    let f = &r["daos"]["files"][2];
    assert_eq!(f["loaded"], false);
    assert_eq!(
        f["sha256"],
        sha256sum(&tmp.join("etc/daos/daos_control.yml")).as_str()
    );
    let e = f["error"].as_str().unwrap();
    assert!(!e.contains('\n') && e.contains("daos_control.yml:"), "{e}");
    // no etc/hostname: the captured kernel's
    std::fs::remove_file(tmp.join("etc/hostname")).unwrap();
    let r = report(&["--root", tmp.to_str().unwrap()]);
    assert_eq!(r["host"]["hostname"], "localhost");
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// Live: the addresses are those iproute2 lists, less the loopback interface.
#[test]
fn live_addresses_match_ip_addr() {
    let out = Command::new("ip").args(["-o", "addr", "show"]).output();
    let out = out.expect("iproute2's ip (installed by .ci/fleet-deps.sh)");
    assert!(out.status.success());
    let mut want: Vec<String> = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        // "2: eth0    inet 192.0.2.2/24 ..."
        if w.len() > 3 && w[1] != "lo" && (w[2] == "inet" || w[2] == "inet6") {
            let a = w[3].split('/').next().unwrap().to_string();
            if !want.contains(&a) {
                want.push(a);
            }
        }
    }
    want.sort();
    let r = report(&[]);
    let mut got: Vec<String> = r["host"]["addresses"]
        .as_array()
        .expect("addresses live")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    got.sort();
    assert_eq!(got, want);
}
