//! `probe` and `probe serve` on real network namespaces: three nodes as in the DAOS
//! deployment guide (node0, node1 servers, node2 client) on a bridge in its own
//! namespace, 198.51.100.0/24 only, each with its own /etc/hosts and DAOS files
//! (/etc/netns/NAME/: `ip netns exec` bind-mounts each entry over /etc, ip-netns(8)) and
//! host name (unshare --uts). node0/node1 carry daos_server.yml, node2 daos_agent.yml
//! and daos_control.yml. Each node runs the real `probe` and `check`; their reports go
//! through `fleet`, and `system.network` must name the source, destination, port and
//! cause of a DROP, a REJECT and a stale second /etc/hosts line. Needs root, ip, nft
//! (.ci/probe-deps.sh installs them); it fails, not skips, when they are missing.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_daos-preflight");

fn sh(cmd: &str) -> (bool, String) {
    let o = Command::new("sh").arg("-c").arg(cmd).output().expect("sh");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr),
    )
}

fn must(cmd: &str) {
    let (ok, out) = sh(cmd);
    assert!(ok, "{cmd}: {out}");
}

const SERVER_YML: &str = "name: daos_server\nport: 10001\naccess_points: ['node0']\n\
provider: ofi+tcp\nengines:\n- targets: 4\n  fabric_iface: eth0\n  fabric_iface_port: 31416\n\
  storage:\n  - class: ram\n    scm_mount: /mnt/daos\n";

/// The client's files: the agent and dmg name the servers as the guide does.
const AGENT_YML: &str = "name: daos_server\naccess_points: ['node0']\nport: 10001\n\
transport_config:\n  allow_insecure: true\n";
const CONTROL_YML: &str = "name: daos_server\nport: 10001\nhostlist: ['node[0-1]']\n\
transport_config:\n  allow_insecure: true\n";

/// Ports of SERVER_YML: control 10001, and the engine's 2 + targets + min(helpers,
/// targets) = 2 + 4 + 0 = 6 CaRT context ports from 31416 (DAOS v2.6.0
/// engine/srv_internal.h DSS_CTX_NR_TOTAL, cart/crt_hg.c crt_get_info_string).
const PORTS: [u64; 7] = [10001, 31416, 31417, 31418, 31419, 31420, 31421];

/// The namespaces and files of one run; removed on drop, also after a failed assert.
struct Net {
    tag: String,
    created_etc_daos: bool,
    servers: Vec<Child>,
    /// Reports of the run (check and probe, JSON), fed to `fleet`.
    reports: std::path::PathBuf,
}

impl Net {
    fn ns(&self, n: &str) -> String {
        format!("{}{n}", self.tag)
    }

    fn new() -> Net {
        let tag = format!("dpp{}", std::process::id() % 100_000);
        let created_etc_daos = !std::path::Path::new("/etc/daos").exists();
        if created_etc_daos {
            std::fs::create_dir("/etc/daos").unwrap();
        }
        let reports = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(&tag);
        let _ = std::fs::remove_dir_all(&reports);
        std::fs::create_dir_all(&reports).unwrap();
        // the servers' file as a client knows it, outside /etc: node2 is no server
        std::fs::write(reports.join("servers.yml"), SERVER_YML).unwrap();
        let net = Net {
            tag,
            created_etc_daos,
            servers: Vec::new(),
            reports,
        };
        let br = net.ns("br");
        must(&format!("ip netns add {br}"));
        must(&format!(
            "ip -n {br} link add br0 type bridge && ip -n {br} link set br0 up"
        ));
        let hosts =
            "127.0.0.1 localhost\n198.51.100.10 node0\n198.51.100.11 node1\n198.51.100.12 node2\n";
        for i in 0..3 {
            let n = net.ns(&format!("node{i}"));
            must(&format!("ip netns add {n}"));
            must(&format!(
                "ip link add v{n} type veth peer name eth0 netns {n} && ip link set v{n} netns {br} \
                 && ip -n {br} link set v{n} master br0 up && ip -n {n} addr add 198.51.100.1{i}/24 dev eth0 \
                 && ip -n {n} link set eth0 up && ip -n {n} link set lo up"
            ));
            let etc = format!("/etc/netns/{n}");
            std::fs::create_dir_all(format!("{etc}/daos")).unwrap();
            std::fs::write(format!("{etc}/hosts"), hosts).unwrap();
            if i < 2 {
                std::fs::write(format!("{etc}/daos/daos_server.yml"), SERVER_YML).unwrap();
            } else {
                std::fs::write(format!("{etc}/daos/daos_agent.yml"), AGENT_YML).unwrap();
                std::fs::write(format!("{etc}/daos/daos_control.yml"), CONTROL_YML).unwrap();
            }
        }
        net
    }

    fn serve(&mut self, i: usize) {
        let n = self.ns(&format!("node{i}"));
        let c = Command::new("ip")
            .args(["netns", "exec", &n, "unshare", "--uts", "sh", "-c"])
            .arg(format!(
                "hostname node{i}; exec {BIN} probe serve --duration 60"
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.servers.push(c);
    }

    /// Runs `cmd` (daos-preflight arguments) as node `i`: its namespace, /etc and name.
    fn on(&self, i: usize, cmd: &str) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns(&format!("node{i}"))])
            .args(["unshare", "--uts", "sh", "-c"])
            .arg(format!("hostname node{i}; exec {BIN} {cmd}"))
            .output()
            .unwrap()
    }

    /// `probe node[0-1]` from node `i`, the servers' file giving the ports (a server's
    /// own, the copy outside /etc on the client); the report is kept for `fleet`.
    fn probe_from(&self, i: usize, phase: &str) -> serde_json::Value {
        let cfg = if i < 2 {
            "/etc/daos/daos_server.yml".to_string()
        } else {
            self.reports.join("servers.yml").display().to_string()
        };
        let o = self.on(
            i,
            &format!("probe node[0-1] --server-config {cfg} --format json --timeout-ms 500"),
        );
        let dir = self.reports.join(phase);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("probe-node{i}.json")), &o.stdout).unwrap();
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)))
    }

    /// `probe` from node2 (client) against both servers.
    fn probe(&self) -> serde_json::Value {
        self.probe_from(2, "client-only")
    }

    /// Every node's `check` and `probe` reports of one phase, through `fleet`.
    fn fleet(&self, phase: &str) -> serde_json::Value {
        let dir = self.reports.join(phase);
        for i in 0..3 {
            let o = self.on(i, "check --format json");
            assert!(
                serde_json::from_slice::<serde_json::Value>(&o.stdout).is_ok(),
                "check on node{i}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            std::fs::write(dir.join(format!("check-node{i}.json")), &o.stdout).unwrap();
        }
        let o = Command::new(BIN)
            .args(["fleet", "--format", "json"])
            .arg(&dir)
            .output()
            .unwrap();
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("fleet: {e}: {}", String::from_utf8_lossy(&o.stderr)))
    }
}

/// The `system.*` finding `id` of a fleet report.
fn system<'a>(fleet: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    fleet["system"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {}", fleet["system"]))
}

/// The failed ports `system.network` lists for (from, to): (port, purpose, status,
/// address, cause).
fn failed(
    net: &serde_json::Value,
    from: &str,
    to: &str,
) -> Vec<(u64, String, String, String, String)> {
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    net["details"]["failed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["from"] == from && p["to"] == to)
        .flat_map(|p| p["ports"].as_array().unwrap().clone())
        .map(|p| {
            (
                p["port"].as_u64().unwrap(),
                s(&p["purpose"]),
                s(&p["status"]),
                s(&p["address"]),
                s(&p["cause"]),
            )
        })
        .collect()
}

impl Drop for Net {
    fn drop(&mut self) {
        for c in &mut self.servers {
            let _ = c.kill();
            let _ = c.wait();
        }
        for n in ["br", "node0", "node1", "node2"] {
            let n = self.ns(n);
            let _ = sh(&format!("ip netns del {n}"));
            let _ = std::fs::remove_dir_all(format!("/etc/netns/{n}"));
        }
        let _ = std::fs::remove_dir("/etc/netns");
        let _ = std::fs::remove_dir_all(&self.reports);
        if self.created_etc_daos {
            let _ = std::fs::remove_dir("/etc/daos");
        }
    }
}

fn status(v: &serde_json::Value, peer: &str, port: u64) -> String {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["peer"] == peer && r["port"] == port)
        .unwrap_or_else(|| panic!("no result {peer}:{port} in {v}"))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn three_nodes_ok_drop_reject_and_stale_hosts() {
    assert!(
        nix_root(),
        "tests/probe_netns.rs needs root (ip netns, nft)"
    );
    let mut net = Net::new();
    net.serve(0);
    net.serve(1);
    std::thread::sleep(Duration::from_millis(700));

    // all ok: 2 servers x 7 ports from the client
    let v = net.probe();
    assert_eq!(v["schema"], "daos-preflight/probe/v1");
    for r in v["results"].as_array().unwrap() {
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(r["peer_system_name"], "daos_server", "{r}");
    }
    let mut ports: Vec<u64> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["peer"] == "node1")
        .map(|r| r["port"].as_u64().unwrap())
        .collect();
    ports.sort();
    assert_eq!(ports, PORTS);
    assert_eq!(v["results"].as_array().unwrap().len(), 2 * PORTS.len());
    assert_eq!(v["summary"]["status"], "pass");
    // both servers carry the same file: one digest, the sha256 of its bytes
    let digest = sh(&format!(
        "sha256sum {}",
        net.reports.join("servers.yml").display()
    ))
    .1;
    let digests = v["summary"]["config_digests"].as_array().unwrap();
    assert_eq!(digests.len(), 1, "{digests:?}");
    assert_eq!(
        digests[0]["digest"],
        format!("sha256:{}", digest.split_whitespace().next().unwrap())
    );

    // the same through fleet, with every node's probe and check reports
    for i in 0..2 {
        let v = net.probe_from(i, "ok");
        assert_eq!(v["summary"]["status"], "pass", "node{i}: {v}");
    }
    net.probe_from(2, "ok");
    let f = net.fleet("ok");
    let n = system(&f, "system.network");
    assert_eq!(n["status"], "pass", "{n}");
    assert_eq!(n["details"]["paths"]["total"], 3 * 2 * PORTS.len(), "{n}");
    assert_eq!(
        f["network"]["sources"],
        serde_json::json!(["node0", "node1", "node2"])
    );
    assert_eq!(
        f["network"]["destinations"],
        serde_json::json!(["node0", "node1"])
    );
    assert_eq!(system(&f, "system.name")["status"], "pass");

    // node1 drops its control port and rejects its first fabric port
    let n1 = net.ns("node1");
    must(&format!(
        "ip netns exec {n1} nft add table inet dpp && \
         ip netns exec {n1} nft add chain inet dpp in '{{ type filter hook input priority 0; }}' && \
         ip netns exec {n1} nft add rule inet dpp in tcp dport 10001 drop && \
         ip netns exec {n1} nft add rule inet dpp in tcp dport 31416 reject with tcp reset"
    ));
    let v = net.probe();
    assert_eq!(status(&v, "node1", 10001), "timeout");
    assert_eq!(status(&v, "node1", 31416), "refused");
    assert_eq!(status(&v, "node1", 31417), "ok");
    assert_eq!(status(&v, "node0", 10001), "ok");
    assert_eq!(v["summary"]["status"], "fail");
    for i in 0..3 {
        net.probe_from(i, "firewall");
    }
    let f = net.fleet("firewall");
    let n = system(&f, "system.network");
    assert_eq!(n["status"], "fail", "{n}");
    // every source reaching node1 sees both; nobody else fails
    for from in ["node0", "node2"] {
        let fs = failed(n, from, "node1");
        assert_eq!(fs.len(), 2, "{from}: {fs:?}");
        let (port, purpose, st, addr, cause) = &fs[0];
        assert_eq!(
            (*port, purpose.as_str(), st.as_str()),
            (10001, "control", "timeout")
        );
        assert_eq!(addr, "198.51.100.11");
        assert!(cause.contains("DROP rule on node1"), "{cause}");
        let (port, purpose, st, _, cause) = &fs[1];
        assert_eq!(
            (*port, purpose.as_str(), st.as_str()),
            (31416, "fabric", "refused")
        );
        assert!(cause.contains("REJECT rule"), "{cause}");
    }
    assert!(failed(n, "node2", "node0").is_empty());
    assert!(failed(n, "node1", "node0").is_empty());
    let summary = n["summary"].as_str().unwrap();
    assert!(
        summary.contains("node0 -> node1: 10001/control timeout, 31416/fabric refused"),
        "{summary}"
    );
    assert!(
        n.to_string()
            .contains("open the DAOS ports on the destination's firewall"),
        "{n}"
    );
    must(&format!("ip netns exec {n1} nft delete table inet dpp"));

    // node2's /etc/hosts keeps a stale second line for node1 (node0's address): the
    // resolver gives both, the probe tries both
    let hosts = format!("/etc/netns/{}/hosts", net.ns("node2"));
    std::fs::write(
        &hosts,
        "198.51.100.10 node0\n198.51.100.11 node1\n198.51.100.10 node1\n",
    )
    .unwrap();
    let v = net.probe();
    let at = |addr: &str| -> Vec<String> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["peer"] == "node1" && r["address"] == addr)
            .map(|r| r["status"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(at("198.51.100.11"), vec!["ok"; PORTS.len()], "{v}");
    assert_eq!(at("198.51.100.10"), vec!["wrong-host"; PORTS.len()], "{v}");
    assert_eq!(status(&v, "node0", 10001), "ok");
    for i in 0..3 {
        net.probe_from(i, "stale");
    }
    let f = net.fleet("stale");
    let n = system(&f, "system.network");
    assert_eq!(n["status"], "fail", "{n}");
    let fs = failed(n, "node2", "node1");
    assert_eq!(fs.len(), PORTS.len(), "{fs:?}");
    for (port, _, st, addr, cause) in &fs {
        assert!(PORTS.contains(port));
        assert_eq!(
            (st.as_str(), addr.as_str()),
            ("wrong-host", "198.51.100.10")
        );
        assert_eq!(
            cause,
            "node1 resolves on node2 to 198.51.100.10, which is node0: stale /etc/hosts or DNS entry"
        );
    }
    assert!(
        failed(n, "node0", "node1").is_empty(),
        "node0's /etc/hosts is right"
    );
    assert!(n.to_string().contains("stale /etc/hosts"), "{n}");
}

fn nix_root() -> bool {
    sh("id -u").1.trim() == "0"
}
