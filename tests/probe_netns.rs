//! `probe` and `probe serve` on real network namespaces: three nodes as in the DAOS
//! deployment guide (node0, node1 servers, node2 client) on a bridge in its own
//! namespace, 198.51.100.0/24 only, each with its own /etc/hosts and DAOS files
//! (/etc/netns/NAME/) and host name (unshare --uts). Needs root, ip, nft
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

/// The namespaces and files of one run; removed on drop, also after a failed assert.
struct Net {
    tag: String,
    created_etc_daos: bool,
    servers: Vec<Child>,
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
        let net = Net {
            tag,
            created_etc_daos,
            servers: Vec::new(),
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
            std::fs::write(format!("{etc}/daos/daos_server.yml"), SERVER_YML).unwrap();
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

    /// `probe` from node2 (client) against both servers, the servers' file giving the ports.
    fn probe(&self) -> serde_json::Value {
        let n = self.ns("node2");
        let o = Command::new("ip")
            .args(["netns", "exec", &n, "unshare", "--uts", "sh", "-c"])
            .arg(format!(
                "hostname node2; exec {BIN} probe node[0-1] --server-config /etc/daos/daos_server.yml \
                 --format json --timeout-ms 500"
            ))
            .output()
            .unwrap();
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)))
    }
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

    let v = net.probe();
    assert_eq!(v["schema"], "daos-preflight/probe/v1");
    for r in v["results"].as_array().unwrap() {
        assert_eq!(r["status"], "ok", "{r}");
    }
    assert_eq!(v["results"].as_array().unwrap().len(), 10);
    assert_eq!(v["summary"]["status"], "pass");

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

    // node2's /etc/hosts sends "node1" to node0
    let hosts = format!("/etc/netns/{}/hosts", net.ns("node2"));
    std::fs::write(&hosts, "198.51.100.10 node0\n198.51.100.10 node1\n").unwrap();
    let v = net.probe();
    assert_eq!(status(&v, "node1", 10001), "wrong-host");
    assert_eq!(status(&v, "node0", 10001), "ok");
}

fn nix_root() -> bool {
    sh("id -u").1.trim() == "0"
}
