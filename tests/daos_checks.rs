//! The host checks that follow the DAOS configuration (nvme.*, nic.*, firewall.ports,
//! daos.user, daos.dirs, config.security, limits.memlock's User= rule), run through the
//! real binary on `tests/fixtures/daos-server-ib` (written by
//! `tests/fixtures/make-daos-fixtures.py`) with the configs of `tests/fixtures/daos-configs`
//! and the deployment guide's seed configs. Git keeps neither owners nor modes, so each
//! test stages a copy of the tree: the DAOS accounts get the test runner's uid/gid, keys
//! get DAOS's modes, and the scenario's own changes are applied on top.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn cfg(name: &str) -> String {
    fixtures()
        .join("daos-configs")
        .join(name)
        .display()
        .to_string()
}

fn seed(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/daos-config/seed")
        .join(name)
        .display()
        .to_string()
}

/// A staged copy of daos-server-ib, removed on drop.
struct Tree(PathBuf);

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Tree {
    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
    fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    fn chmod(&self, rel: &str, mode: u32) {
        std::fs::set_permissions(self.path(rel), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    fn root(&self) -> String {
        self.0.display().to_string()
    }
}

static N: AtomicUsize = AtomicUsize::new(0);

/// Copies the tree, maps daos_server and daos_agent to the runner's uid/gid (so that the
/// files the runner owns are "theirs"), and gives the certificates DAOS's modes.
fn stage() -> Tree {
    let dir = std::env::temp_dir().join(format!(
        "dp-daos-checks-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let ok = Command::new("cp")
        .arg("-a")
        .arg(fixtures().join("daos-server-ib"))
        .arg(&dir)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let t = Tree(dir);
    let md = std::fs::metadata(t.path("var/log/daos")).unwrap();
    let (uid, gid) = (md.uid(), md.gid());
    t.write(
        "etc/passwd",
        &format!(
            "daos_server:x:{uid}:{gid}::/home/daos_server:/sbin/nologin\ndaos_agent:x:{uid}:{gid}::/home/daos_agent:/sbin/nologin\n"
        ),
    );
    t.write(
        "etc/group",
        &format!(
            "daos_server:x:{gid}:\ndaos_agent:x:{}:\ndaos_metrics:x:992:daos_server\ndaos_daemons:x:989:daos_server,daos_agent\n",
            gid + 1
        ),
    );
    for k in ["server.key", "agent.key", "admin.key"] {
        t.chmod(&format!("etc/daos/certs/{k}"), 0o400);
    }
    for c in ["daosCA.crt", "server.crt", "agent.crt", "admin.crt"] {
        t.chmod(&format!("etc/daos/certs/{c}"), 0o644);
    }
    t
}

/// The IB port of ib1 made ACTIVE (the fixture has it INIT: no subnet manager).
fn activate_ib1(t: &Tree) {
    t.write(
        "sys/devices/pci0000:d8/0000:d8:00.0/infiniband/mlx5_1/ports/1/state",
        "4: ACTIVE\n",
    );
}

fn run(t: &Tree, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_daos-preflight"))
        .args([
            "check",
            "--format",
            "json",
            "--daos-version",
            "2.6",
            "--root",
        ])
        .arg(t.root())
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)))
}

fn check<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in report"))
}

/// Asserts status and that the summary contains every fragment.
fn expect(r: &Value, id: &str, status: &str, fragments: &[&str]) {
    let c = check(r, id);
    assert_eq!(c["status"], status, "{id}: {c:#}");
    let s = c["summary"].as_str().unwrap();
    for f in fragments {
        assert!(s.contains(f), "{id}: {f:?} not in {s:?}");
    }
}

fn actions(r: &Value, id: &str) -> Vec<String> {
    check(r, id)["remediation"]["actions"]
        .as_array()
        .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn the_ready_server_passes_every_host_check() {
    let t = stage();
    activate_ib1(&t);
    let r = run(&t, &["--server-config", &cfg("ready.yml")]);
    expect(
        &r,
        "nvme.present",
        "pass",
        // "81:00.0" is SPDK's bus:dev.func form of 0000:81:00.0
        &["2 bdev(s)", "engine 1 81:00.0: NVMe 8086:0a54 (vfio-pci)"],
    );
    expect(
        &r,
        "nvme.driver",
        "pass",
        &["2 configured NVMe device(s) on vfio-pci; daos_server runs as daos_server"],
    );
    // group 40 holds 0000:81:00.0 and its root port (pcieport): compatible
    expect(
        &r,
        "nvme.iommu-group",
        "pass",
        &["group 40 has 1 other device(s), all compatible"],
    );
    expect(
        &r,
        "nic.present",
        "pass",
        &["engine 0: ib0 (mlx5_0)", "engine 1: ib1 (mlx5_1)"],
    );
    expect(&r, "nic.link", "pass", &["mlx5_1 port 1 4: ACTIVE"]);
    expect(&r, "nic.address", "skip", &["not under --root"]);
    expect(
        &r,
        "nic.numa",
        "pass",
        &["engine 1: node 1, ib1 on the same node"],
    );
    // verbs: one port per engine; ib1 is in the trusted zone (target ACCEPT)
    expect(
        &r,
        "firewall.ports",
        "pass",
        &[
            "10001/tcp open in zone public",
            "9191/tcp open in zone public",
            "31416/tcp open in zone trusted",
        ],
    );
    expect(
        &r,
        "daos.user",
        "pass",
        &["daos_server runs as daos_server"],
    );
    expect(
        &r,
        "daos.dirs",
        "pass",
        &[
            "socket_dir /var/run/daos_server: created by systemd at start",
            "engine 0 scm_mount /mnt/daos0: missing; daos_server creates it",
            "control_metadata.path /var/lib/daos",
        ],
    );
    expect(
        &r,
        "config.security",
        "pass",
        &["key /etc/daos/certs/server.key: 0400"],
    );
    // the configured devices, derived once for check and fix
    let nvme = &check(&r, "nvme.present")["details"]["nvme"];
    assert_eq!(nvme[1]["address"]["address"], "0000:81:00.0");
    assert_eq!(nvme[1]["engine"], 1);
}

#[test]
fn the_broken_server_names_every_problem() {
    let t = stage();
    let r = run(&t, &["--server-config", &cfg("broken.yml")]);
    expect(
        &r,
        "nvme.present",
        "fail",
        &[
            "0000:00:17.0 is PCI class 010601, not an NVMe controller",
            "no PCI device 0000:99:00.0 on this host",
            "zz:00.0: not a PCI address SPDK can parse",
        ],
    );
    // the VMD notation resolves to the VMD controller, which DAOS enables here
    let devs = check(&r, "nvme.present")["details"]["devices"].to_string();
    assert!(
        devs.contains("5d0505:01:00.0: VMD controller 0000:5d:05.5"),
        "{devs}"
    );
    assert_eq!(
        check(&r, "nvme.present")["daos_fault_code"],
        "code.BdevNotFound"
    );
    expect(
        &r,
        "nvme.driver",
        "fail",
        &["0000:82:00.0: in use by the host: nvme1n1 mounted at /data"],
    );
    expect(
        &r,
        "nvme.iommu-group",
        "fail",
        &["IOMMU group 43 also holds 0000:83:00.1 (class 020000, driver ixgbe)"],
    );
    expect(
        &r,
        "nic.numa",
        "warn",
        &["engine 0: pinned_numa_node 1 but ib0 is on node 0"],
    );
    // tcp, 4 targets, no helper: 2 + 4 + 0 = 6 ports per engine (one per CaRT context,
    // engine/srv_internal.h DSS_CTX_NR_TOTAL); 31416-31421 and 31418-31423 overlap on ib0;
    // the public zone opens 31416-31419 but not 31420-31423, and not the telemetry port 9192
    expect(
        &r,
        "firewall.ports",
        "fail",
        &[
            "31416-31421/tcp (engine 0 fabric (ofi+tcp;ofi_rxm)) and 31418-31423/tcp (engine 1 fabric (ofi+tcp;ofi_rxm)) overlap on ib0",
            "does not open 9192/tcp",
            "does not open 31420-31421/tcp",
            "does not open 31420-31423/tcp",
        ],
    );
    let a = actions(&r, "firewall.ports");
    assert!(
        a.contains(
            &"firewall-cmd --permanent --zone=public --add-port=9192/tcp && firewall-cmd --reload"
                .to_string()
        ),
        "{a:?}"
    );
    assert!(a.contains(&"firewall-cmd --permanent --zone=public --add-port=31420-31421/tcp && firewall-cmd --reload".to_string()), "{a:?}");
    assert!(
        !a.iter()
            .any(|x| x.contains("stop firewalld") || x.contains("disable")),
        "{a:?}"
    );
    expect(
        &r,
        "config.security",
        "warn",
        &["daos_server.yml: allow_insecure: true", "unauthenticated"],
    );
}

#[test]
fn missing_interfaces_and_inactive_ib_ports_fail() {
    let t = stage();
    let r = run(&t, &["--server-config", &cfg("nic-bad.yml")]);
    expect(
        &r,
        "nic.present",
        "fail",
        &["engine 1: fabric_iface ib7 does not exist (interfaces: eth0, ib0, ib1)"],
    );
    expect(
        &r,
        "nic.link",
        "fail",
        &[
            "engine 0: ib1 is up but mlx5_1 port 1 is 2: INIT, not 4: ACTIVE",
            "subnet manager",
        ],
    );
    // only the existing interface is judged for NUMA
    expect(&r, "nic.numa", "pass", &["engine 0: follows ib1 to node 1"]);
    expect(&r, "nvme.present", "skip", &["no bdev_list entries"]);
    // an operationally down Ethernet link
    t.write(
        "sys/devices/pci0000:d8/0000:d8:00.0/net/ib1/operstate",
        "down\n",
    );
    t.write("sys/devices/pci0000:d8/0000:d8:00.0/net/ib1/carrier", "0\n");
    let r = run(&t, &["--server-config", &cfg("nic-bad.yml")]);
    expect(
        &r,
        "nic.link",
        "fail",
        &["engine 0: ib1 is down (no carrier"],
    );
    assert!(
        actions(&r, "nic.link")
            .contains(&"ip link set ib1 up   # and check the cable/switch port".to_string())
    );
}

#[test]
fn non_root_service_needs_vfio_and_an_iommu() {
    let t = stage();
    // disable_vfio with the DAOS unit's User=daos_server: server_utils.go refuses
    let r = run(&t, &["--server-config", &cfg("vfio-off.yml")]);
    expect(
        &r,
        "nvme.driver",
        "fail",
        &[
            "daos_server runs as daos_server",
            "disable_vfio: true: DAOS refuses to start",
        ],
    );
    assert_eq!(
        check(&r, "nvme.driver")["daos_fault_code"],
        "code.ServerVfioDisabled"
    );
    expect(&r, "nvme.iommu-group", "skip", &["disable_vfio"]);
    // a drop-in that runs it as root: allowed, with the uio_pci_generic warning
    t.write(
        "etc/systemd/system/daos_server.service.d/50-root.conf",
        "[Service]\nUser=root\n",
    );
    let r = run(&t, &["--server-config", &cfg("vfio-off.yml")]);
    expect(
        &r,
        "nvme.driver",
        "warn",
        &[
            "uio_pci_generic, which fails for NVMe on EL8",
            "on vfio-pci, but disable_vfio: true",
        ],
    );
    assert!(check(&r, "nvme.driver")["daos_fault_code"].is_null());
    assert_eq!(
        check(&r, "nvme.driver")["details"]["service_user"]["user"],
        "root"
    );
}

#[test]
fn non_root_service_without_iommu_is_server_iommu_disabled() {
    let t = stage();
    activate_ib1(&t);
    std::fs::remove_dir_all(t.path("sys/class/iommu")).unwrap();
    let r = run(&t, &["--server-config", &cfg("ready.yml")]);
    expect(
        &r,
        "nvme.driver",
        "fail",
        &["no IOMMU is enabled (/sys/class/iommu is empty)"],
    );
    assert_eq!(
        check(&r, "nvme.driver")["daos_fault_code"],
        "code.ServerIommuDisabled"
    );
}

#[test]
fn kernel_nvme_driver_is_to_be_prepared() {
    let t = stage();
    activate_ib1(&t);
    // 0000:01:00.0 back on the kernel's nvme driver: daos_server will rebind it
    let link = t.path("sys/devices/pci0000:01/0000:01:00.0/driver");
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink("../../../bus/pci/drivers/nvme", &link).unwrap();
    let r = run(&t, &["--server-config", &cfg("ready.yml")]);
    expect(
        &r,
        "nvme.driver",
        "warn",
        &[
            "engine 0 0000:01:00.0: on nvme, to be prepared: daos_server binds it to vfio-pci at start",
        ],
    );
    assert!(
        actions(&r, "nvme.driver")
            .iter()
            .any(|a| a.starts_with("daos-preflight fix --only nvme.driver"))
    );
}

#[test]
fn seed_file_bdev_sizes_dirs_and_insecure_transport() {
    // the deployment guide's server: file bdev /var/lib/daos/dev/daos-bdev of 16 GiB,
    // socket_dir /var/lib/daos/daos_server, fabric_iface enp0s8, allow_insecure
    let t = stage();
    let r = run(&t, &["--server-config", &seed("daos_server.yml")]);
    expect(
        &r,
        "nvme.present",
        "warn",
        &[
            "engine 0 file /var/lib/daos/dev/daos-bdev: not allocated yet; `dmg storage format` creates it (16 GiB)",
        ],
    );
    expect(&r, "nvme.driver", "skip", &["emulated bdevs"]);
    expect(
        &r,
        "nic.present",
        "fail",
        &["fabric_iface enp0s8 does not exist"],
    );
    expect(
        &r,
        "daos.dirs",
        "fail",
        &["socket_dir /var/lib/daos/daos_server: missing"],
    );
    let a = actions(&r, "daos.dirs");
    assert!(
        a.contains(&"mkdir -p /var/lib/daos/daos_server".to_string()),
        "{a:?}"
    );
    assert!(
        a.contains(&"chown daos_server:daos_server /var/lib/daos/daos_server".to_string()),
        "{a:?}"
    );
    expect(&r, "config.security", "warn", &["allow_insecure: true"]);
    // ofi+tcp, 1 target, 0 helpers: 2 + 1 + 0 = 3 ports from 31416, on enp0s8 (no zone
    // binding: default zone public)
    expect(
        &r,
        "firewall.ports",
        "pass",
        &["31416-31418/tcp open in zone public"],
    );

    // allocated at full size (sparse), then too small
    let f = std::fs::File::create(t.path("var/lib/daos/dev/daos-bdev")).unwrap();
    f.set_len(16 << 30).unwrap();
    let r = run(&t, &["--server-config", &seed("daos_server.yml")]);
    expect(
        &r,
        "nvme.present",
        "pass",
        &["daos-bdev: 16 GiB (bdev_size 16 GiB)"],
    );
    f.set_len(1 << 30).unwrap();
    let r = run(&t, &["--server-config", &seed("daos_server.yml")]);
    expect(&r, "nvme.present", "warn", &["1 GiB < bdev_size 16 GiB"]);
    // no directory to create it in
    std::fs::remove_dir_all(t.path("var/lib/daos/dev")).unwrap();
    let r = run(&t, &["--server-config", &seed("daos_server.yml")]);
    expect(
        &r,
        "nvme.present",
        "fail",
        &["neither the file nor its directory /var/lib/daos/dev exists"],
    );
}

#[test]
fn accounts_missing_or_incomplete() {
    let t = stage();
    activate_ib1(&t);
    t.write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
    let r = run(
        &t,
        &["--server-config", &cfg("ready.yml"), "--only", "daos.user"],
    );
    expect(
        &r,
        "daos.user",
        "fail",
        &["daos_server runs as daos_server", "not in /etc/passwd"],
    );
    let a = actions(&r, "daos.user");
    assert!(
        a.contains(
            &"useradd -s /sbin/nologin -r -g daos_server -G daos_metrics,daos_daemons daos_server"
                .to_string()
        ),
        "{a:?}"
    );
    // the user exists but is not in daos_daemons
    let t = stage();
    let g = std::fs::read_to_string(t.path("etc/group")).unwrap();
    t.write(
        "etc/group",
        &g.replace(
            "daos_daemons:x:989:daos_server,daos_agent",
            "daos_daemons:x:989:daos_agent",
        ),
    );
    let r = run(
        &t,
        &["--server-config", &cfg("ready.yml"), "--only", "daos.user"],
    );
    expect(
        &r,
        "daos.user",
        "warn",
        &["daos_server is not in group daos_daemons"],
    );
    assert_eq!(
        actions(&r, "daos.user"),
        ["usermod -aG daos_daemons daos_server"]
    );
    // run as root: nothing to check
    t.write(
        "etc/systemd/system/daos_server.service.d/50-root.conf",
        "[Service]\nUser=\n",
    );
    let r = run(
        &t,
        &["--server-config", &cfg("ready.yml"), "--only", "daos.user"],
    );
    expect(
        &r,
        "daos.user",
        "skip",
        &["daos_server.service sets no User=: systemd runs it as root"],
    );
}

#[test]
fn directories_not_writable_by_the_service_user() {
    let t = stage();
    t.chmod("var/log/daos", 0o555);
    let r = run(
        &t,
        &["--server-config", &cfg("ready.yml"), "--only", "daos.dirs"],
    );
    expect(
        &r,
        "daos.dirs",
        "fail",
        &[
            "control_log_file directory, engine 0 log_file directory, engine 1 log_file directory /var/log/daos",
            "0555 is not writable by daos_server",
        ],
    );
    t.chmod("var/log/daos", 0o755);
}

#[test]
fn certificate_modes_and_presence() {
    let t = stage();
    t.chmod("etc/daos/certs/server.key", 0o640);
    let r = run(
        &t,
        &[
            "--server-config",
            &cfg("ready.yml"),
            "--only",
            "config.security",
        ],
    );
    expect(
        &r,
        "config.security",
        "fail",
        &["key /etc/daos/certs/server.key: mode 0640 exceeds DAOS's limit 0400"],
    );
    assert_eq!(
        actions(&r, "config.security"),
        ["chmod 0400 /etc/daos/certs/server.key"]
    );
    // dmg's admin key may be group-readable (MaxGroupKeyPerm 0440)
    t.chmod("etc/daos/certs/server.key", 0o400);
    t.chmod("etc/daos/certs/admin.key", 0o440);
    t.write(
        "etc/daos/daos_control.yml",
        "name: daos_server\nhostlist: ['node0']\n",
    );
    let r = run(
        &t,
        &[
            "--server-config",
            &cfg("ready.yml"),
            "--only",
            "config.security",
        ],
    );
    expect(
        &r,
        "config.security",
        "pass",
        &["daos_control.yml key /etc/daos/certs/admin.key: 0440"],
    );
    // a missing CA
    std::fs::remove_file(t.path("etc/daos/certs/daosCA.crt")).unwrap();
    let r = run(
        &t,
        &[
            "--server-config",
            &cfg("ready.yml"),
            "--only",
            "config.security",
        ],
    );
    expect(
        &r,
        "config.security",
        "fail",
        &["daos_server.yml ca_cert /etc/daos/certs/daosCA.crt: missing"],
    );
    assert_eq!(
        check(&r, "config.security")["daos_fault_code"],
        "code.SecurityMissingCertFile"
    );
}

#[test]
fn firewall_not_enabled_is_not_judged() {
    let t = stage();
    std::fs::remove_file(t.path("etc/systemd/system/multi-user.target.wants/firewalld.service"))
        .unwrap();
    let r = run(
        &t,
        &["--server-config", &cfg("broken.yml"), "--only", "firewall"],
    );
    // the overlap is still a failure; the zones are not judged
    expect(&r, "firewall.ports", "fail", &["overlap on ib0"]);
    assert!(
        !check(&r, "firewall.ports")["summary"]
            .as_str()
            .unwrap()
            .contains("9192")
    );
    let r = run(
        &t,
        &["--server-config", &cfg("ready.yml"), "--only", "firewall"],
    );
    expect(
        &r,
        "firewall.ports",
        "pass",
        &[
            "firewalld is not enabled in this tree",
            "10001/tcp control plane",
        ],
    );
}

#[test]
fn agent_interfaces_domains_and_runtime_dir() {
    let t = stage();
    activate_ib1(&t);
    // ib1's RDMA device is mlx5_1, not mlx5_0
    let r = run(
        &t,
        &[
            "--server-config",
            &cfg("ready.yml"),
            "--agent-config",
            &cfg("agent.yml"),
        ],
    );
    expect(
        &r,
        "nic.agent",
        "fail",
        &[
            "fabric_ifaces[1].devices[0] (line 14): domain mlx5_0, but the RDMA device behind ib1 is mlx5_1",
        ],
    );
    // the deployment guide's IB agent: an interface of another host, and the domain as a
    // separate list item
    let r = run(
        &t,
        &[
            "--agent-config",
            &seed("daos_agent_ib.yml"),
            "--role",
            "agent",
        ],
    );
    expect(
        &r,
        "nic.agent",
        "fail",
        &[
            "iface enp94s0f1np1 does not exist on this host",
            "fabric_ifaces[0].devices[1] (line 16): no iface (domain mlx5_1 is a separate list item",
        ],
    );
    // its runtime_dir /var/lib/daos/daos_agent is not a systemd RuntimeDirectory
    expect(
        &r,
        "daos.dirs",
        "fail",
        &["agent runtime_dir /var/lib/daos/daos_agent: missing"],
    );
    expect(&r, "daos.user", "pass", &["daos_agent runs as daos_agent"]);
    // the default runtime_dir is the unit's RuntimeDirectory=daos_agent
    t.write("etc/daos/daos_agent.yml", "name: daos_server\naccess_points: ['node0']\nfabric_ifaces:\n- numa_node: 0\n  devices:\n  - iface: ib0\n    domain: mlx5_0\n");
    let r = run(&t, &["--role", "agent"]);
    expect(&r, "nic.agent", "pass", &["ib0 (mlx5_0)"]);
    expect(
        &r,
        "daos.dirs",
        "pass",
        &["agent runtime_dir /var/run/daos_agent: created by systemd at start"],
    );
}

#[test]
fn memlock_follows_the_units_user() {
    let t = stage();
    t.write(
        "etc/systemd/system/daos_server.service.d/50-memlock.conf",
        "[Service]\nLimitMEMLOCK=64K\n",
    );
    let r = run(
        &t,
        &["--server-config", &cfg("ready.yml"), "--only", "limits"],
    );
    expect(
        &r,
        "limits.memlock",
        "fail",
        &["memlock limited to 64.0 KiB"],
    );
    t.write(
        "etc/systemd/system/daos_server.service.d/60-root.conf",
        "[Service]\nUser=root\n",
    );
    let r = run(
        &t,
        &["--server-config", &cfg("ready.yml"), "--only", "limits"],
    );
    expect(
        &r,
        "limits.memlock",
        "warn",
        &["tolerated while daos_server runs as root"],
    );
}

#[test]
fn one_directory_one_action_naming_every_setting() {
    // the guide's server file puts control_log_file and the engine's log_file both in
    // /var/log/daos: with the directory missing, the report and `fix --dry-run` must say
    // `mkdir -p /var/log/daos` once, naming both settings (issue 17)
    let t = stage();
    std::fs::remove_dir_all(t.path("var/log/daos")).unwrap();
    let r = run(
        &t,
        &[
            "--server-config",
            &seed("daos_server.yml"),
            "--only",
            "daos.dirs",
        ],
    );
    expect(
        &r,
        "daos.dirs",
        "fail",
        &["control_log_file directory, engine 0 log_file directory /var/log/daos: missing"],
    );
    let a = actions(&r, "daos.dirs");
    let mut seen = std::collections::BTreeSet::new();
    for l in &a {
        assert!(seen.insert(l), "remediation repeats {l:?}: {a:?}");
    }
    assert!(a.contains(&"mkdir -p /var/log/daos".to_string()), "{a:?}");
    let out = Command::new(env!("CARGO_BIN_EXE_daos-preflight"))
        .args([
            "fix",
            "--dry-run",
            "--only",
            "daos.dirs",
            "--daos-version",
            "2.6",
        ])
        .arg("--root")
        .arg(t.root())
        .args(["--server-config", &seed("daos_server.yml")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let n = text.matches("/var/log/daos").count();
    assert!(n >= 1, "dry-run does not mention /var/log/daos:\n{text}");
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("/var/log/daos"))
        .collect();
    let uniq: std::collections::BTreeSet<&&str> = lines.iter().collect();
    assert_eq!(uniq.len(), lines.len(), "dry-run repeats a line:\n{text}");
}
