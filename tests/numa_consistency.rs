//! `numa.consistency` on every captured machine of the hwloc test suite
//! (`shared/corpus/sysfs/hwloc`, open-mpi/hwloc `tests/hwloc/linux`, BSD-3-Clause): the
//! three trees whose node tables lie are named with what is wrong in each, and every
//! other tree passes (no false alarm); then the cases no captured machine shows, on the
//! trees `tests/fixtures/make-numa-fixtures.py` writes.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

use common::hwloc::{hwloc_dir, unpack, unpack_parts};
use common::{generated_trees, single_check};

fn consistency(root: &Path, extra: &[&str]) -> Value {
    single_check(root, "numa.consistency", extra)
}

fn kinds(c: &Value) -> Vec<String> {
    c["details"]["inconsistencies"]
        .as_array()
        .map(|a| a.iter().map(|k| k.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// What each lying tree of the corpus shows (found by reading its node files):
/// - buggynuma: 8 nodes whose cpulist is 0-7 each, every distance 10 (hwloc's .test:
///   "Linux reports 8 NUMA nodes containing the (same) entire list of all cores");
/// - fakeheterocpunuma (hand-made by hwloc): node3 00f00000, node4 00ff0000 and node5
///   00fff000 overlap; node0→5 is 50 but node5→0 40;
/// - offline-cpu0-node0: node 0 offlined, its online CPUs 4,6,...,20 in no node.
const LYING: &[(&str, &[&str])] = &[
    (
        "linux_8em64t-2s2ca2c-buggynuma",
        &["srat-cpus-all", "slit-local"],
    ),
    (
        "linux_fakeheterocpunuma",
        &["srat-cpus-overlap", "slit-asymmetric"],
    ),
    ("linux_offline-cpu0-node0", &["cpus-without-node"]),
];

/// What numa.consistency reads (and the check's "sysfs visible" test needs).
const NUMA_FILES: &[&str] = &[
    "*/sys/devices/system/node/*",
    "*/sys/devices/system/cpu/online",
    "*/sys/devices/system/cpu/cpu*/online",
    "*/proc/meminfo",
];

#[test]
fn the_corpus_lying_trees_are_named_and_the_others_pass() {
    let mut names: Vec<String> = std::fs::read_dir(hwloc_dir().join("tarballs"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".tar.bz2")
                .map(str::to_string)
        })
        .collect();
    names.sort();
    assert_eq!(names.len(), 44);
    let results: Vec<(String, Value)> = std::thread::scope(|s| {
        let halves: Vec<_> = names
            .chunks(names.len().div_ceil(2))
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|n| {
                            let root = unpack_parts(n, &format!("numa-cons-{n}"), NUMA_FILES);
                            let c = consistency(&root, &[]);
                            let _ = std::fs::remove_dir_all(root.parent().unwrap());
                            (n.clone(), c)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        halves.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let (mut passed, mut skipped) = (0, 0);
    for (name, c) in &results {
        match LYING.iter().find(|(n, _)| n == name) {
            Some((_, want)) => {
                assert_eq!(c["status"], "warn", "{name}: {c:#}");
                assert_eq!(kinds(c), *want, "{name}: {c:#}");
            }
            None => {
                match c["status"].as_str() {
                    Some("pass") => passed += 1,
                    Some("skip") => skipped += 1,
                    _ => panic!("{name}: a false alarm: {c:#}"),
                }
                assert!(kinds(c).is_empty(), "{name}: {c:#}");
            }
        }
    }
    // 39 trees have NUMA data (tests/cli_corpus.rs); the 5 others skip
    assert_eq!((passed, skipped), (36, 5));
    let bug = &results
        .iter()
        .find(|(n, _)| n == "linux_8em64t-2s2ca2c-buggynuma")
        .unwrap()
        .1;
    let s = bug["summary"].as_str().unwrap();
    assert!(s.starts_with("all 8 nodes claim every CPU (0-7)"), "{s}");
    let het = &results
        .iter()
        .find(|(n, _)| n == "linux_fakeheterocpunuma")
        .unwrap()
        .1;
    let s = het["summary"].as_str().unwrap();
    assert!(
        s.contains("nodes 3 and 4 both claim CPUs 20-23")
            && s.contains("nodes 4 and 5 both claim CPUs 16-23")
            && s.contains("0→5 50 but 5→0 40"),
        "{s}"
    );
}

fn server_yml(dir: &Path, pin: u32) -> String {
    let p = dir.join(format!("pin{pin}.yml"));
    std::fs::write(
        &p,
        format!(
            "name: daos_server\naccess_points: ['node0']\nport: 10001\nprovider: ofi+tcp\n\
             engines:\n-\n  pinned_numa_node: {pin}\n  targets: 2\n  fabric_iface: eth0\n  \
             fabric_iface_port: 31416\n  storage:\n  -\n    class: ram\n    scm_mount: /mnt/daos0\n"
        ),
    )
    .unwrap();
    p.display().to_string()
}

#[test]
fn an_engine_pinned_past_the_merged_node_fails() {
    let root = unpack("linux_8em64t-2s2ca2c-buggynuma", "numa-cons-pinned");
    let dir = root.parent().unwrap().to_path_buf();
    let c = consistency(&root, &["--server-config", &server_yml(&dir, 3)]);
    assert_eq!(c["status"], "fail", "{c:#}");
    assert!(
        c["summary"]
            .as_str()
            .unwrap()
            .contains("engine 0 is pinned to node 3 (pinned_numa_node 3), but hwloc shows DAOS's engine a single merged node"),
        "{c:#}"
    );
    let c = consistency(&root, &["--server-config", &server_yml(&dir, 0)]);
    assert_eq!(c["status"], "warn", "{c:#}");
    assert_eq!(
        c["details"]["engines"][0],
        "engine 0 is on affected node 0 (pinned_numa_node 0): its cores and hugepages follow these tables"
    );
}

fn fixtures() -> PathBuf {
    generated_trees("make-numa-fixtures.py", "numa-fixtures")
}

#[test]
fn what_no_captured_machine_shows() {
    let dir = fixtures();
    let ok = consistency(&dir.join("ok"), &[]);
    assert_eq!(ok["status"], "pass", "{ok:#}");
    for (case, kind, text) in [
        (
            "memory-twice",
            "srat-memory",
            "the nodes' memory adds up to 128.0 GiB (2.0× MemTotal 64.0 GiB)",
        ),
        (
            "diagonal",
            "slit-diagonal",
            "distance of a node to itself is not 10 (node 0: 0, node 1: 0)",
        ),
        (
            "short-rows",
            "slit-size",
            "the distance rows of node(s) 0,1,2 do not have one entry per online node (3)",
        ),
    ] {
        let c = consistency(&dir.join(case), &[]);
        assert_eq!(c["status"], "warn", "{case}: {c:#}");
        assert_eq!(kinds(&c), vec![kind.to_string()], "{case}: {c:#}");
        assert!(
            c["summary"].as_str().unwrap().contains(text),
            "{case}: {c:#}"
        );
        assert_eq!(c["remediation"]["reboot_required"], true);
    }
}

/// hwloc's NUMA nodes in its logical order (0, 1, 2 …), as their OS numbers: the order of
/// the `NUMANode` objects in lstopo 2.9.0's XML of the machine (the corpus's oracle).
fn lstopo_numa_order(name: &str) -> Vec<u32> {
    let xml = std::fs::read_to_string(hwloc_dir().join(format!("oracle-lstopo-2.9.0/{name}.xml")))
        .unwrap();
    xml.split("type=\"NUMANode\" os_index=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
        .collect()
}

#[test]
fn sparse_node_numbers_against_the_engines_index() {
    // kernel nodes 0-2,33-34,45,72-73: no lying table, but DAOS's engine reads the node
    // daos_server gives it as a position among hwloc's 8 nodes
    let name = "linux_48amd64-4pa2n6c-sparse";
    let order = lstopo_numa_order(name);
    assert_eq!(order.len(), 8, "{order:?}");
    let root = unpack(name, "numa-cons-sparse");
    let dir = root.parent().unwrap().to_path_buf();
    let plain = consistency(&root, &[]);
    assert_eq!(plain["status"], "pass", "{plain:#}");

    // past the count: the engine refuses it
    let pin = order[3];
    let c = consistency(&root, &["--server-config", &server_yml(&dir, pin)]);
    assert_eq!(c["status"], "fail", "{c:#}");
    assert!(kinds(&c).contains(&"node-ids-sparse".to_string()), "{c:#}");
    let s = c["summary"].as_str().unwrap();
    assert!(
        s.contains(&format!(
            "it refuses node {pin} (\"Invalid NUMA node selected\")"
        )),
        "{s}"
    );

    // equal to the count: passes the engine's `>` test and reads past its table
    let c = consistency(
        &root,
        &["--server-config", &server_yml(&dir, order.len() as u32)],
    );
    assert_eq!(c["status"], "fail", "{c:#}");
    assert!(
        c["summary"]
            .as_str()
            .unwrap()
            .contains("indexes past its node table"),
        "{c:#}"
    );

    // below the count: another node than the kernel's, the one at that position in hwloc
    let c = consistency(&root, &["--server-config", &server_yml(&dir, 5)]);
    assert_eq!(c["status"], "warn", "{c:#}");
    assert!(
        c["summary"]
            .as_str()
            .unwrap()
            .contains(&format!("position 5 is the kernel's node {}", order[5])),
        "{c:#}"
    );

    // where position and number agree, nothing to say
    assert_eq!(order[2], 2);
    let c = consistency(&root, &["--server-config", &server_yml(&dir, 2)]);
    assert_eq!(c["status"], "pass", "{c:#}");
}
