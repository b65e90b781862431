//! `nvme.numa` on captured real machines of the hwloc test suite
//! (`shared/corpus/sysfs/hwloc`, open-mpi/hwloc `tests/hwloc/linux`, BSD-3-Clause):
//! the 2-socket server with an NVMe SSD whose `numa_node` is −1, judged with engines
//! placed on either socket, and every PCI device of the multi-node trees placed the way
//! lstopo places it (`oracle-summary/*.summary.json`, `local_numa_nodes`).

mod common;

use std::path::Path;

use serde_json::Value;

use common::hwloc::{hwloc_dir, unpack};
use common::single_check;

/// The 2-socket server: node0 CPUs 0-7, node1 8-15; NVMe 0000:00:02.0 with numa_node −1
/// and local_cpulist 0-3 (lstopo: under node 0); eth0 on node 0, ib0 on node 1.
const SERVER: &str = "linux_32em64t-2n8c+dax+nvme+mic+dimms";

fn write_config(dir: &Path, name: &str, engines: &[(Option<u32>, &str, &[&str])]) -> String {
    let mut y = String::from(
        "name: daos_server\naccess_points: ['node0']\nport: 10001\nprovider: ofi+tcp\n\
         control_log_file: /var/log/daos/daos_server.log\ntransport_config:\n  allow_insecure: true\nengines:\n",
    );
    for (i, (pin, iface, bdevs)) in engines.iter().enumerate() {
        if let Some(p) = pin {
            y.push_str(&format!("-\n  pinned_numa_node: {p}\n"));
        } else {
            y.push_str("-\n");
        }
        let list: Vec<String> = bdevs.iter().map(|b| format!("\"{b}\"")).collect();
        y.push_str(&format!(
            "  targets: 4\n  nr_xs_helpers: 0\n  fabric_iface: {iface}\n  fabric_iface_port: {}\n  \
             log_file: /var/log/daos/daos_engine_{i}.log\n  storage:\n  -\n    class: ram\n    \
             scm_mount: /mnt/daos{i}\n  -\n    class: nvme\n    bdev_list: [{}]\n",
            31416 + 100 * i,
            list.join(", ")
        ));
    }
    let path = dir.join(name);
    std::fs::write(&path, y).unwrap();
    path.display().to_string()
}

fn nvme_numa(root: &Path, config: &str) -> Value {
    single_check(root, "nvme.numa", &["--server-config", config])
}

#[test]
fn nvme_with_unknown_numa_node_is_placed_by_its_local_cpus() {
    let root = unpack(SERVER, "nvme-numa-server");
    let tmp = root.parent().unwrap().to_path_buf();
    // the tree as captured: what the test relies on
    let dev = root.join("sys/bus/pci/devices/0000:00:02.0");
    assert_eq!(
        std::fs::read_to_string(dev.join("numa_node"))
            .unwrap()
            .trim(),
        "-1"
    );
    assert_eq!(
        std::fs::read_to_string(dev.join("local_cpulist"))
            .unwrap()
            .trim(),
        "0-3"
    );

    // engine pinned to node 0 with the node-0 NIC: local
    let c = write_config(&tmp, "local.yml", &[(Some(0), "eth0", &["0000:00:02.0"])]);
    let r = nvme_numa(&root, &c);
    assert_eq!(r["status"], "pass", "{r:#}");
    assert!(
        r["summary"]
            .as_str()
            .unwrap()
            .contains("numa_node -1, local_cpulist 0-3 → node 0"),
        "{r:#}"
    );
    assert_eq!(r["details"]["devices"][0]["node"], 0);

    // an unpinned engine follows ib0 to node 1 (config/server.go SetEngineAffinities):
    // its only SSD is on the other socket
    let c = write_config(&tmp, "ib.yml", &[(None, "ib0", &["00:02.0"])]);
    let r = nvme_numa(&root, &c);
    assert_eq!(r["status"], "warn", "{r:#}");
    let s = r["summary"].as_str().unwrap();
    assert!(
        s.contains(
            "engine 0 is on node 1 (the node of fabric_iface ib0) but 0000:00:02.0 is on node 0"
        ),
        "{s}"
    );
    assert!(
        r["remediation"]["actions"][0]
            .as_str()
            .unwrap()
            .contains("pin engine 0 to node 0"),
        "{r:#}"
    );

    // two engines, the SSD given to the node-1 engine: the fix names engine 0
    let c = write_config(
        &tmp,
        "two.yml",
        &[(Some(0), "eth0", &[]), (Some(1), "ib0", &["0000:00:02.0"])],
    );
    let r = nvme_numa(&root, &c);
    assert_eq!(r["status"], "warn", "{r:#}");
    assert!(
        r["remediation"]["actions"][0]
            .as_str()
            .unwrap()
            .contains("list it under engine 0 (on node 0) instead of engine 1"),
        "{r:#}"
    );

    // a device that is not there is nvme.present's business
    let c = write_config(&tmp, "absent.yml", &[(Some(0), "eth0", &["0000:5e:00.0"])]);
    assert_eq!(nvme_numa(&root, &c)["status"], "skip");
}

/// Every PCI device of the multi-node trees that have PCI data, listed in one engine's
/// bdev_list, is placed on the node lstopo 2.9.0 places it on (a single
/// `local_numa_nodes` entry), or on none when lstopo attaches it above several nodes.
/// One documented difference: a device whose kernel `numa_node` is set is placed there
/// (DAOS and SPDK read `numa_node`), where hwloc follows `local_cpus` when it has them.
#[test]
fn devices_are_placed_where_lstopo_places_them() {
    let trees = [
        SERVER,
        "linux_32intel64-2p8co2t+8ve",
        "linux_40intel64-2g2n4c+pcilocality",
        "linux_40intel64-4n10c+pci-conflicts",
        "linux_fakepcilocalities",
        "linux_nvidiagpunumanodes",
    ];
    let (mut compared, mut by_numa_node) = (0, 0);
    for name in trees {
        let root = unpack(name, &format!("nvme-numa-{name}"));
        let oracle: Value = serde_json::from_str(
            &std::fs::read_to_string(
                hwloc_dir().join(format!("oracle-summary/{name}.summary.json")),
            )
            .unwrap(),
        )
        .unwrap();
        let devices = oracle["pci_devices"].as_array().unwrap();
        let addrs: Vec<&str> = devices
            .iter()
            .map(|d| d["busid"].as_str().unwrap())
            .collect();
        let c = write_config(
            root.parent().unwrap(),
            "all.yml",
            &[(Some(0), "lo", &addrs)],
        );
        let r = nvme_numa(&root, &c);
        let placed = r["details"]["devices"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: {r:#}"));
        for d in devices {
            let busid = d["busid"].as_str().unwrap();
            let got = placed
                .iter()
                .find(|p| p["address"] == busid)
                .unwrap_or_else(|| panic!("{name} {busid}: not judged: {r:#}"));
            let kernel: i64 = std::fs::read_to_string(
                root.join(format!("sys/bus/pci/devices/{busid}/numa_node")),
            )
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(-1);
            let local = d["local_numa_nodes"].as_array().unwrap();
            let want = if kernel >= 0 {
                by_numa_node += 1;
                Value::from(kernel)
            } else if local.len() == 1 {
                local[0].clone()
            } else {
                Value::Null
            };
            assert_eq!(
                got["node"], want,
                "{name} {busid}: {got} vs lstopo {local:?}"
            );
            compared += 1;
        }
    }
    // 128 + 12 + 23 + 2 + 14 + 6 devices in the oracles, 62 of them with a kernel
    // numa_node; the other 123 placed by their local CPUs (or on no node)
    assert_eq!(compared, 185);
    assert_eq!(by_numa_node, 62);
}
