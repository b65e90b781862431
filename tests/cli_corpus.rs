//! The real binary on captured `/sys` + `/proc` trees of real machines, compared with
//! oracles nobody on this project wrote (`shared/corpus/README.md`, section `sysfs/`):
//!
//! - the hwloc project's Linux test machines (BSD-3-Clause) against lstopo 2.9.0's view
//!   of the same trees (`oracle-summary/*.summary.json`) and hwloc's own expected
//!   outputs (`expected-upstream/*.console`);
//! - node_exporter's sysfs fixture (Apache-2.0) against node_exporter's end-to-end
//!   output for it (`e2e-output.txt`) and against the archive itself;
//! - prometheus/procfs's fixture (Apache-2.0) against the archive itself.
//!
//! Every expectation comes from an oracle or from the captured file itself, never from
//! our own output. Each test collects all disagreements before failing, so one run
//! shows every tree that disagrees.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use common::hwloc::{Tree, trees};
use common::ttar::{Archive, Entry};
use common::{
    assert_no_problems, check_run, corpus, cpu_list, cpu_mask, facts_of, facts_run, parse_metrics,
    raw, report_of, scratch, u32s,
};

/// The facts of a tree, or the test fails with the run's output.
fn facts(t: &Tree) -> Value {
    facts_of(&t.facts).unwrap_or_else(|e| panic!("{}: {e}", t.name))
}

/// A JSON object array keyed by one of its string fields.
fn by_key<'a>(v: &'a Value, key: &str) -> BTreeMap<String, &'a Value> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| Some((x[key].as_str()?.to_string(), x)))
        .collect()
}

// ---------------------------------------------------------------------------------------
// hwloc test machines

#[test]
fn hwloc_every_tree_runs_facts_and_check() {
    let trees = trees();
    // every tarball of the inventory, none silently missing
    let inventory = std::fs::read_to_string(common::hwloc::hwloc_dir().join("INVENTORY.tsv"))
        .expect("INVENTORY.tsv");
    let rows = inventory.lines().skip(1).filter(|l| !l.is_empty()).count();
    assert!(rows >= 40, "INVENTORY.tsv lists {rows} trees");
    assert_eq!(trees.len(), rows, "one tarball per INVENTORY.tsv row");

    let mut problems = Vec::new();
    for t in trees {
        match facts_of(&t.facts) {
            Ok(f) => {
                // Every file of these trees was written by a kernel (or copied from
                // one): a parse error means a parser that does not know real input.
                for e in f["collection_errors"].as_array().into_iter().flatten() {
                    if e["kind"] == "parse" {
                        problems.push(format!("{}: {e}", t.name));
                    }
                }
            }
            Err(e) => problems.push(format!("{}: {e}", t.name)),
        }
        if let Err(e) = report_of(&t.check) {
            problems.push(format!("{}: {e}", t.name));
        }
        for run in &t.text {
            if let Some(p) = run.abnormal() {
                problems.push(format!("{}: {p}", t.name));
            } else if run.stdout.trim().is_empty() {
                problems.push(format!("{}: {}: no output", t.name, run.args));
            }
        }
    }
    assert_no_problems("facts/check on the hwloc trees", &problems);
}

#[test]
fn hwloc_numa_nodes_agree_with_lstopo() {
    let mut problems = Vec::new();
    let (mut trees_compared, mut nodes_compared, mut cpuless, mut base_pages) = (0, 0, 0, 0);
    for t in trees() {
        let f = facts(t);
        let nodes: BTreeMap<u64, &Value> = f["numa"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| Some((n["id"].as_u64()?, n)))
            .collect();
        let expected_nodes = t.count("numa_nodes");
        if expected_nodes == 0 {
            // No node directories: nothing to report (lstopo invents one node 0).
            if !nodes.is_empty() {
                problems.push(format!(
                    "{}: no NUMA data but nodes {:?}",
                    t.name,
                    nodes.keys()
                ));
            }
            continue;
        }
        trees_compared += 1;
        if nodes.len() as u64 != expected_nodes {
            problems.push(format!(
                "{}: {} nodes, INVENTORY.tsv counts {expected_nodes}",
                t.name,
                nodes.len()
            ));
        }
        // lstopo leaves out nodes the tree's cgroup disallows, so compare its nodes.
        for on in t.oracle["numa_nodes"].as_array().expect("numa_nodes") {
            let id = on["os_index"].as_u64().expect("os_index");
            let at = format!("{} node{id}", t.name);
            let Some(n) = nodes.get(&id) else {
                problems.push(format!("{at}: missing"));
                continue;
            };
            nodes_compared += 1;

            // CPUs: the node's mask less offline CPUs, as lstopo reports them (a few
            // trees were trimmed by offlining CPUs without editing every node file:
            // linux_offline-cpu0-node0, linux_nvidiagpunumanodes). hwloc gives a
            // CPU-less node the CPUs of its initiators (HMAT, memory tiers) instead of
            // its own empty mask: there the tree itself is the reference.
            let dir = format!("sys/devices/system/node/node{id}");
            let own = raw(&t.root, &format!("{dir}/cpulist"))
                .map(|s| cpu_list(&s))
                .or_else(|| raw(&t.root, &format!("{dir}/cpumap")).map(|s| cpu_mask(&s)));
            let expected = match own {
                Some(own) if own.is_empty() => {
                    cpuless += 1;
                    Vec::new()
                }
                _ => cpu_list(on["complete_cpulist"].as_str().expect("complete_cpulist")),
            };
            let cpus = u32s(&n["cpus"]);
            if cpus != expected {
                problems.push(format!("{at}: cpus {cpus:?}, lstopo {expected:?}"));
            }

            // Memory: lstopo's local memory is the node's MemTotal.
            let local = on["local_memory_bytes"]
                .as_u64()
                .expect("local_memory_bytes");
            match n["mem_total_kib"].as_u64() {
                Some(kib) if kib * 1024 == local => {}
                other => problems.push(format!("{at}: mem_total_kib {other:?}, lstopo {local} B")),
            }

            // Hugepages by size. lstopo also lists the node's memory in normal pages
            // as a page type (count = local memory / page size); that is not a pool.
            let pools: BTreeMap<u64, Option<u64>> = n["hugepages"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| Some((p["size_kib"].as_u64()? * 1024, p["total"].as_u64())))
                .collect();
            let oracle_pools = on["hugepages"].as_object().expect("hugepages");
            for (size, count) in oracle_pools {
                let size: u64 = size.parse().expect("page size");
                let count = count.as_u64().expect("page count");
                match pools.get(&size) {
                    Some(total) if *total == Some(count) => {}
                    None if count == local / size => base_pages += 1,
                    got => {
                        problems.push(format!("{at}: {size}-byte pages {got:?}, lstopo {count}"))
                    }
                }
            }
            for size in pools.keys() {
                if !oracle_pools.contains_key(&size.to_string()) {
                    problems.push(format!("{at}: pool of {size}-byte pages unknown to lstopo"));
                }
            }
        }
    }
    eprintln!(
        "hwloc NUMA: {trees_compared} trees, {nodes_compared} nodes ({cpuless} CPU-less), \
         {base_pages} base-page entries of lstopo skipped"
    );
    assert_no_problems("NUMA nodes vs lstopo", &problems);
    assert!(trees_compared >= 35 && nodes_compared >= 200);
}

/// `[8086:1237]` → ("8086", "1237").
fn ids(s: &str) -> (String, String) {
    let s = s.trim_matches(['[', ']']);
    let (v, d) = s.split_once(':').expect("vendor:device");
    (v.to_string(), d.to_string())
}

/// Compares one device's ids with the oracle's. hwloc prints `0000` for an id whose
/// file is missing; we report `null` (unknown) there.
fn compare_ids(
    t: &Tree,
    busid: &str,
    d: &Value,
    vendor: &str,
    device: &str,
    class: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    let at = format!("{} {busid}", t.name);
    for (field, want) in [("vendor", vendor), ("device", device)] {
        let file = raw(&t.root, &format!("sys/bus/pci/devices/{busid}/{field}"));
        let got = d[field].as_str();
        let ok = match file {
            None => got.is_none() && want == "0000",
            Some(_) => got == Some(want),
        };
        if !ok {
            problems.push(format!("{at}: {field} {got:?}, hwloc {want}"));
        }
    }
    if !d["class"]
        .as_str()
        .is_some_and(|c| c.len() == 6 && c.starts_with(class))
    {
        problems.push(format!("{at}: class {}, hwloc {class}", d["class"]));
    }
    problems
}

#[test]
fn hwloc_pci_devices_agree_with_lstopo() {
    let mut problems = Vec::new();
    let (mut devices_compared, mut numa_compared, mut upstream_compared) = (0, 0, 0);
    for t in trees() {
        let f = facts(t);
        let devices = by_key(&f["pci"]["devices"], "address");
        for p in t.oracle["pci_devices"].as_array().into_iter().flatten() {
            let busid = p["busid"].as_str().expect("busid");
            let Some(d) = devices.get(busid) else {
                problems.push(format!("{} {busid}: missing", t.name));
                continue;
            };
            devices_compared += 1;
            let (vendor, device) = ids(p["ids"].as_str().expect("ids"));
            let class = p["class"].as_str().expect("class");
            problems.extend(compare_ids(t, busid, d, &vendor, &device, class));

            // Locality. The kernel's numa_node is what DAOS reads; −1 (or no file) is
            // "unknown" and must be null. hwloc places a device by its local_cpus, so
            // it is an oracle where the kernel names a node and hwloc finds one node.
            let kernel = raw(&t.root, &format!("sys/bus/pci/devices/{busid}/numa_node"))
                .and_then(|s| s.parse::<i64>().ok());
            let got = d["numa_node"].as_u64();
            let lstopo = u32s(&p["local_numa_nodes"]);
            match kernel {
                Some(n) if n >= 0 => {
                    if got != Some(n as u64) {
                        problems.push(format!("{} {busid}: numa_node {got:?}, file {n}", t.name));
                    }
                    if let [one] = lstopo[..] {
                        numa_compared += 1;
                        if got != Some(one as u64) {
                            problems.push(format!(
                                "{} {busid}: numa_node {got:?}, lstopo node {one}",
                                t.name
                            ));
                        }
                    }
                }
                _ => {
                    if got.is_some() {
                        problems.push(format!(
                            "{} {busid}: numa_node {got:?}, kernel says unknown",
                            t.name
                        ));
                    }
                }
            }
        }

        // hwloc's own expected output lists devices lstopo 2.9.0 drops (32-bit PCI
        // domains: 10000:00:04.0 of linux_2pa-pcidomain32bits).
        for line in t.upstream_console.as_deref().unwrap_or("").lines() {
            let Some(rest) = line.split("busid=").nth(1) else {
                continue;
            };
            let mut words = rest.split_whitespace();
            let busid = words.next().expect("busid");
            let id = words
                .next()
                .and_then(|w| w.strip_prefix("id="))
                .expect("id=");
            let class = words
                .next()
                .and_then(|w| w.strip_prefix("class="))
                .map(|w| &w[..4])
                .expect("class=");
            let Some(d) = devices.get(busid) else {
                problems.push(format!(
                    "{} {busid}: missing (hwloc's expected output)",
                    t.name
                ));
                continue;
            };
            upstream_compared += 1;
            let (vendor, device) = ids(id);
            problems.extend(compare_ids(t, busid, d, &vendor, &device, class));
        }
    }
    eprintln!(
        "hwloc PCI: {devices_compared} devices vs lstopo ({numa_compared} NUMA nodes), \
         {upstream_compared} vs hwloc's expected output"
    );
    assert_no_problems("PCI devices vs lstopo", &problems);
    assert!(devices_compared >= 192 && numa_compared >= 61 && upstream_compared >= 40);
}

#[test]
fn hwloc_network_devices_agree_with_lstopo() {
    let mut problems = Vec::new();
    let (mut nics, mut rdma, mut macs) = (0, 0, 0);
    for t in trees() {
        let f = facts(t);
        let ifaces = by_key(&f["net"]["interfaces"], "name");
        let ibdevs = by_key(&f["net"]["infiniband"], "name");
        let mut placed: BTreeSet<(String, String)> = BTreeSet::new();
        for p in t.oracle["pci_devices"].as_array().into_iter().flatten() {
            let busid = p["busid"].as_str().expect("busid");
            let osdevs = p["os_devices"].as_array().expect("os_devices");
            let of_type = |ty: &str| -> Vec<&str> {
                osdevs
                    .iter()
                    .filter(|o| o["osdev_type"] == ty)
                    .filter_map(|o| o["name"].as_str())
                    .collect()
            };
            // osdev_type 2: network interface; 3: OpenFabrics (RDMA) device
            for name in of_type("2") {
                nics += 1;
                placed.insert((name.to_string(), busid.to_string()));
                match ifaces.get(name) {
                    Some(i) if i["pci_address"] == busid => {}
                    Some(i) => problems.push(format!(
                        "{} {name}: pci_address {}, lstopo {busid}",
                        t.name, i["pci_address"]
                    )),
                    None => problems.push(format!("{} {name}: missing", t.name)),
                }
                // ibdev2netdev: the RDMA device on the same PCI function
                for ibdev in of_type("3") {
                    rdma += 1;
                    if let Some(i) = ifaces.get(name)
                        && i["rdma_device"] != ibdev
                    {
                        problems.push(format!(
                            "{} {name}: rdma_device {}, lstopo {ibdev} on {busid}",
                            t.name, i["rdma_device"]
                        ));
                    }
                }
            }
            for name in of_type("3") {
                match ibdevs.get(name) {
                    Some(d) if d["pci_address"] == busid => {}
                    other => problems.push(format!("{} {name}: {other:?}, lstopo {busid}", t.name)),
                }
            }
        }
        // and no interface on a PCI function where lstopo has none
        for (name, i) in &ifaces {
            if let Some(addr) = i["pci_address"].as_str()
                && !placed.contains(&(name.clone(), addr.to_string()))
            {
                problems.push(format!(
                    "{} {name}: on {addr}, lstopo has no such NIC",
                    t.name
                ));
            }
        }
        // hwloc's expected output: OSDev[Network] L#1 (Address=06:7a:4c:00:00:22) "ens3"
        for line in t.upstream_console.as_deref().unwrap_or("").lines() {
            if !line.contains("OSDev[Network]") {
                continue;
            }
            let mac = line
                .split("Address=")
                .nth(1)
                .and_then(|r| r.split([')', ' ']).next())
                .expect("Address=");
            let name = line.rsplit('"').nth(1).expect("\"name\"");
            macs += 1;
            let got = ifaces.get(name).and_then(|i| i["mac"].as_str());
            if got.map(str::to_ascii_lowercase) != Some(mac.to_ascii_lowercase()) {
                problems.push(format!("{} {name}: mac {got:?}, hwloc {mac}", t.name));
            }
        }
    }

    // What the corpus README says of two trees' links.
    let tree = |n: &str| trees().iter().find(|t| t.name == n).expect(n);
    let f = facts(tree("linux_32em64t-2n8c+dax+nvme+mic+dimms"));
    let ifaces = by_key(&f["net"]["interfaces"], "name");
    // eth1: down, `carrier` and `speed` captured empty (the kernel refuses: EINVAL)
    assert_eq!(ifaces["eth1"]["operstate"], "down");
    assert_eq!(ifaces["eth1"]["carrier"], Value::Null);
    assert_eq!(ifaces["eth1"]["speed_mbps"], Value::Null);
    // ib0: InfiniBand port of mlx4_0, up
    assert_eq!(ifaces["ib0"]["carrier"], true);
    assert_eq!(ifaces["ib0"]["link_type"], 32);
    let f = facts(tree("linux_2pa-pcidomain32bits"));
    let ifaces = by_key(&f["net"]["interfaces"], "name");
    // virtio NIC with speed −1: unknown
    assert_eq!(ifaces["ens3"]["operstate"], "up");
    assert_eq!(ifaces["ens3"]["speed_mbps"], Value::Null);

    eprintln!("hwloc NICs: {nics} interfaces, {rdma} RDMA pairs, {macs} MAC addresses");
    assert_no_problems("network devices vs lstopo", &problems);
    assert!(nics >= 16 && rdma >= 3 && macs >= 3);
}

/// The `Size` (KiB) lstopo's XML gives an OS device.
fn lstopo_size_kib(xml: &str, osdev: &str) -> Option<u64> {
    let start = xml.find(&format!("name=\"{osdev}\""))?;
    let object = &xml[start..start + xml[start..].find("</object>")?];
    let v = object.split("<info name=\"Size\" value=\"").nth(1)?;
    v[..v.find('"')?].parse().ok()
}

#[test]
fn hwloc_nvme_namespaces_agree_with_lstopo() {
    let mut problems = Vec::new();
    let mut compared = 0;
    for t in trees() {
        let f = facts(t);
        let devices = by_key(&f["pci"]["devices"], "address");
        let xml = std::fs::read_to_string(
            common::hwloc::hwloc_dir().join(format!("oracle-lstopo-2.9.0/{}.xml", t.name)),
        )
        .expect("lstopo XML");
        for p in t.oracle["pci_devices"].as_array().into_iter().flatten() {
            // mass storage / non-volatile memory: NVMe
            if !p["class"].as_str().is_some_and(|c| c.starts_with("0108")) {
                continue;
            }
            let busid = p["busid"].as_str().expect("busid");
            let disks: Vec<&str> = p["os_devices"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|o| o["osdev_type"] == "0")
                .filter_map(|o| o["name"].as_str())
                .collect();
            let Some(d) = devices.get(busid) else {
                problems.push(format!("{} {busid}: missing", t.name));
                continue;
            };
            let namespaces = by_key(&d["nvme"]["namespaces"], "name");
            let names: Vec<&str> = namespaces.keys().map(String::as_str).collect();
            if names != disks {
                problems.push(format!(
                    "{} {busid}: namespaces {names:?}, lstopo {disks:?}",
                    t.name
                ));
            }
            for disk in disks {
                compared += 1;
                let size = lstopo_size_kib(&xml, disk).map(|k| k * 1024);
                let got = namespaces.get(disk).and_then(|n| n["size_bytes"].as_u64());
                if got != size {
                    problems.push(format!(
                        "{} {disk}: size_bytes {got:?}, lstopo {size:?}",
                        t.name
                    ));
                }
            }
        }
    }
    assert_no_problems("NVMe namespaces vs lstopo", &problems);
    // linux_32em64t-2n8c+dax+nvme+mic+dimms: nvme0n1 on 0000:00:02.0 (numa_node −1)
    assert!(compared >= 1, "no NVMe namespace compared");
}

// ---------------------------------------------------------------------------------------
// Prometheus fixtures (ttar archives)

/// Materializes an archive into a scratch directory; returns the archive and the
/// directory holding its `sys/` (node_exporter roots paths at `sys/`, procfs at
/// `fixtures/sys`).
fn unpack_ttar(archive_path: &Path, tag: &str) -> (Archive, std::path::PathBuf, String) {
    let archive = Archive::open(archive_path);
    let dest = scratch(tag);
    archive
        .materialize(&dest)
        .unwrap_or_else(|e| panic!("{}: {e}", archive_path.display()));
    let prefix = archive
        .entries
        .iter()
        .filter(|(_, e)| matches!(e, Entry::Dir(_)))
        .map(|(p, _)| p.as_str())
        .filter(|p| *p == "sys" || p.ends_with("/sys"))
        .min_by_key(|p| p.len())
        .expect("a sys/ directory")
        .trim_end_matches("sys")
        .to_string();
    let root = dest.join(&prefix);
    (archive, root, prefix)
}

/// PCI devices and network interfaces: facts vs what the archive holds.
fn compare_with_archive(a: &Archive, prefix: &str, f: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let sys = format!("{prefix}sys");

    let devices = by_key(&f["pci"]["devices"], "address");
    let listed: BTreeSet<String> = a
        .children(&format!("{sys}/bus/pci/devices"))
        .into_iter()
        .collect();
    let got: BTreeSet<String> = devices.keys().cloned().collect();
    if listed != got {
        problems.push(format!("PCI devices {got:?}, archive {listed:?}"));
    }
    for addr in &listed {
        let Some(d) = devices.get(addr) else { continue };
        let dir = format!("{sys}/bus/pci/devices/{addr}");
        let hex = |attr: &str| {
            a.text(&format!("{dir}/{attr}"))
                .map(|v| v.trim_start_matches("0x").to_string())
        };
        let numa = a
            .text(&format!("{dir}/numa_node"))
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|n| *n >= 0);
        let group = a
            .link_name(&format!("{dir}/iommu_group"))
            .and_then(|g| g.parse::<u64>().ok());
        let checks: [(&str, Value); 6] = [
            ("class", hex("class").into()),
            ("vendor", hex("vendor").into()),
            ("device", hex("device").into()),
            ("driver", a.link_name(&format!("{dir}/driver")).into()),
            ("numa_node", numa.into()),
            ("iommu_group", group.into()),
        ];
        for (field, want) in checks {
            if d[field] != want {
                problems.push(format!("{addr}: {field} {}, archive {want}", d[field]));
            }
        }
    }

    let ifaces = by_key(&f["net"]["interfaces"], "name");
    let net = format!("{sys}/class/net");
    let listed: BTreeSet<String> = a
        .children(&net)
        .into_iter()
        .filter(|n| matches!(a.get(&format!("{net}/{n}")), Some(Entry::Dir(_))))
        .collect();
    let got: BTreeSet<String> = ifaces.keys().cloned().collect();
    if listed != got {
        problems.push(format!("interfaces {got:?}, archive {listed:?}"));
    }
    for name in &listed {
        let Some(i) = ifaces.get(name) else { continue };
        let attr = |x: &str| a.text(&format!("{net}/{name}/{x}"));
        let carrier = match attr("carrier").as_deref() {
            Some("1") => Value::Bool(true),
            Some("0") => Value::Bool(false),
            _ => Value::Null,
        };
        let speed = attr("speed")
            .and_then(|s| s.parse::<i64>().ok())
            .filter(|s| *s >= 0);
        let checks: [(&str, Value); 5] = [
            ("operstate", attr("operstate").into()),
            ("carrier", carrier),
            ("speed_mbps", speed.into()),
            (
                "mtu",
                attr("mtu").and_then(|m| m.parse::<u64>().ok()).into(),
            ),
            ("mac", attr("address").into()),
        ];
        for (field, want) in checks {
            if i[field] != want {
                problems.push(format!("{name}: {field} {}, archive {want}", i[field]));
            }
        }
    }
    problems
}

#[test]
fn node_exporter_fixture_agrees_with_its_e2e_output() {
    let dir = corpus().join("sysfs/node_exporter");
    let (archive, root, prefix) = unpack_ttar(&dir.join("sys.ttar"), "node-exporter");
    assert_eq!(prefix, "", "node_exporter's archive is rooted at sys/");
    // node_exporter's e2e test reads /proc from its procfs fixture: the meminfo beside it
    std::fs::create_dir_all(root.join("proc")).unwrap();
    std::fs::copy(dir.join("proc/meminfo"), root.join("proc/meminfo")).unwrap();

    let f = facts_of(&facts_run(&root)).unwrap_or_else(|e| panic!("{e}"));
    report_of(&check_run(&root)).unwrap_or_else(|e| panic!("{e}"));
    let mut problems = compare_with_archive(&archive, &prefix, &f);

    let e2e = parse_metrics(&std::fs::read_to_string(dir.join("e2e-output.txt")).unwrap());
    let samples = |name: &'static str| e2e.iter().filter(move |s| s.name == name);
    let one = |name: &'static str| {
        samples(name)
            .next()
            .unwrap_or_else(|| panic!("{name} not in e2e-output.txt"))
            .value
    };
    let mut stated = 0;
    let mut expect = |what: String, got: &Value, want: Value| {
        stated += 1;
        if *got != want {
            problems.push(format!("{what}: {got}, node_exporter {want}"));
        }
    };

    // memory (/proc/meminfo)
    let kib_bytes = |v: &Value| v.as_u64().map(|k| k * 1024).into();
    expect(
        "MemTotal".into(),
        &kib_bytes(&f["memory"]["mem_total_kib"]),
        (one("node_memory_MemTotal_bytes") as u64).into(),
    );
    expect(
        "HugePages_Total".into(),
        &f["memory"]["hugepages_total"],
        (one("node_memory_HugePages_Total") as u64).into(),
    );
    expect(
        "HugePages_Free".into(),
        &f["memory"]["hugepages_free"],
        (one("node_memory_HugePages_Free") as u64).into(),
    );

    // NUMA nodes (node meminfo)
    let nodes: BTreeMap<String, &Value> = f["numa"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| (n["id"].to_string(), n))
        .collect();
    for (metric, field) in [
        ("node_memory_numa_MemTotal", "mem_total_kib"),
        ("node_memory_numa_MemFree", "mem_free_kib"),
    ] {
        for s in samples(metric) {
            let node = &s.labels["node"];
            let got = nodes
                .get(node)
                .map(|n| kib_bytes(&n[field]))
                .unwrap_or(Value::Null);
            expect(format!("node{node} {field}"), &got, (s.value as u64).into());
        }
    }
    // CPUs as the archive's cpulist files say (node2 is memory-only)
    for (node, want) in [("0", vec![0, 1]), ("1", vec![2, 3]), ("2", vec![])] {
        let file = archive
            .text(&format!("sys/devices/system/node/node{node}/cpulist"))
            .expect("cpulist");
        assert_eq!(cpu_list(&file), want, "the archive's node{node}/cpulist");
        expect(
            format!("node{node} cpus"),
            &nodes[node]["cpus"],
            want.into(),
        );
    }

    // network interfaces
    let ifaces = by_key(&f["net"]["interfaces"], "name");
    let devices: BTreeSet<&String> = samples("node_network_up")
        .map(|s| &s.labels["device"])
        .collect();
    assert!(devices.len() >= 2, "node_network_up of bond0 and eth0");
    for dev in devices {
        let i = ifaces.get(dev.as_str()).copied().unwrap_or(&Value::Null);
        let of = |m: &'static str| {
            samples(m)
                .find(|s| &s.labels["device"] == dev)
                .map(|s| s.value)
        };
        // node_exporter: up = (operstate == "up")
        let up = i["operstate"] == "up";
        expect(
            format!("{dev} up"),
            &up.into(),
            (of("node_network_up") == Some(1.0)).into(),
        );
        expect(
            format!("{dev} carrier"),
            &i["carrier"],
            of("node_network_carrier").map(|c| c == 1.0).into(),
        );
        // node_exporter leaves speed out when the kernel says −1 (a bond)
        expect(
            format!("{dev} speed"),
            &i["speed_mbps"],
            of("node_network_speed_bytes")
                .map(|b| (b * 8.0 / 1e6) as u64)
                .into(),
        );
        expect(
            format!("{dev} mtu"),
            &i["mtu"],
            of("node_network_mtu_bytes").map(|m| m as u64).into(),
        );
        let info = samples("node_network_info")
            .find(|s| &s.labels["device"] == dev)
            .expect("node_network_info");
        expect(
            format!("{dev} operstate"),
            &i["operstate"],
            info.labels["operstate"].clone().into(),
        );
        expect(
            format!("{dev} mac"),
            &i["mac"],
            info.labels["address"].clone().into(),
        );
    }
    // eth0's PCI function: class/net/eth0 -> ../../devices/pci0000:00/0000:00:03.0/
    // 0000:03:00.0/net/eth0/ in the archive (it has no `device` link); the bonds are
    // plain directories, so no PCI function.
    expect(
        "eth0 pci".into(),
        &ifaces["eth0"]["pci_address"],
        "0000:03:00.0".into(),
    );
    expect(
        "bond0 pci".into(),
        &ifaces["bond0"]["pci_address"],
        Value::Null,
    );

    // PCI devices
    let devices = by_key(&f["pci"]["devices"], "address");
    for s in samples("node_pcidevice_info") {
        let l = &s.labels;
        let addr = format!(
            "{}:{}:{}.{}",
            l["segment"], l["bus"], l["device"], l["function"]
        );
        let d = devices.get(&addr).copied().unwrap_or(&Value::Null);
        let hex = |k: &str| Value::from(l[k].trim_start_matches("0x"));
        expect(format!("{addr} class"), &d["class"], hex("class_id"));
        expect(format!("{addr} vendor"), &d["vendor"], hex("vendor_id"));
        expect(format!("{addr} device"), &d["device"], hex("device_id"));
        // node_exporter leaves numa_node out when the kernel says −1
        let numa = samples("node_pcidevice_numa_node")
            .find(|n| {
                ["segment", "bus", "device", "function"]
                    .iter()
                    .all(|k| n.labels[*k] == l[*k])
            })
            .map(|n| n.value as u64);
        expect(format!("{addr} numa_node"), &d["numa_node"], numa.into());
    }

    // RDMA ports: state and physical state ids, rate
    let ibdevs = by_key(&f["net"]["infiniband"], "name");
    for s in samples("node_infiniband_state_id") {
        let (dev, port) = (&s.labels["device"], &s.labels["port"]);
        let p = ibdevs
            .get(dev.as_str())
            .and_then(|d| d["ports"].as_array())
            .and_then(|ps| ps.iter().find(|p| p["port"].as_u64() == port.parse().ok()))
            .unwrap_or(&Value::Null);
        let id = |v: &Value| {
            v.as_str()
                .and_then(|s| s.split(':').next())
                .and_then(|n| n.parse::<f64>().ok())
        };
        expect(
            format!("{dev}/{port} state"),
            &id(&p["state"]).into(),
            s.value.into(),
        );
        let phys = samples("node_infiniband_physical_state_id")
            .find(|x| x.labels == s.labels)
            .map(|x| x.value);
        expect(
            format!("{dev}/{port} phys_state"),
            &id(&p["phys_state"]).into(),
            phys.into(),
        );
        let rate = samples("node_infiniband_rate_bytes_per_second")
            .find(|x| x.labels == s.labels)
            .map(|x| x.value);
        let gbps = p["rate"]
            .as_str()
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse::<f64>().ok())
            .map(|g| g * 1e9 / 8.0);
        expect(format!("{dev}/{port} rate"), &gbps.into(), rate.into());
    }

    eprintln!("node_exporter: {stated} values stated by e2e-output.txt compared");
    assert!(stated >= 30, "only {stated} e2e values compared");
    assert_no_problems("node_exporter fixture", &problems);
}

#[test]
fn procfs_fixture_agrees_with_the_archive() {
    let path = corpus().join("sysfs/prometheus-procfs/fixtures.ttar");
    let (archive, root, prefix) = unpack_ttar(&path, "procfs-fixtures");
    assert_eq!(
        prefix, "fixtures/",
        "procfs's archive is rooted at fixtures/"
    );

    let f = facts_of(&facts_run(&root)).unwrap_or_else(|e| panic!("{e}"));
    report_of(&check_run(&root)).unwrap_or_else(|e| panic!("{e}"));
    let mut problems = compare_with_archive(&archive, &prefix, &f);

    // /proc/meminfo
    let meminfo = archive.text("fixtures/proc/meminfo").expect("meminfo");
    let field = |k: &str| -> Value {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}:")))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .into()
    };
    for (key, fact) in [
        ("MemTotal", "mem_total_kib"),
        ("MemFree", "mem_free_kib"),
        ("SwapTotal", "swap_total_kib"),
        ("HugePages_Total", "hugepages_total"),
        ("Hugepagesize", "hugepage_size_kib"),
    ] {
        if f["memory"][fact] != field(key) {
            problems.push(format!(
                "{fact}: {}, meminfo {key} {}",
                f["memory"][fact],
                field(key)
            ));
        }
    }
    // /proc/cmdline
    let cmdline = archive.text("fixtures/proc/cmdline").expect("cmdline");
    if f["kernel"]["cmdline"] != cmdline.as_str() {
        problems.push(format!(
            "cmdline {}, archive {cmdline:?}",
            f["kernel"]["cmdline"]
        ));
    }
    let words = cmdline.split_whitespace().count();
    if f["kernel"]["cmdline_args"].as_array().map(Vec::len) != Some(words) {
        problems.push(format!(
            "cmdline_args of {cmdline:?}: {}",
            f["kernel"]["cmdline_args"]
        ));
    }

    // Values read off the archive by hand, so that the generic comparison above can't
    // pass by reading nothing: the ice NIC on node 1 without an IOMMU group, the NVMe
    // drive in group 11 with no NUMA affinity, eth0 on 0000:00:1f.6 (its `device` link).
    let devices = by_key(&f["pci"]["devices"], "address");
    assert_eq!(devices["0000:a2:00.0"]["driver"], "ice");
    assert_eq!(devices["0000:a2:00.0"]["numa_node"], 1);
    assert_eq!(devices["0000:a2:00.0"]["iommu_group"], Value::Null);
    assert_eq!(devices["0000:01:00.0"]["driver"], "nvme");
    assert_eq!(devices["0000:01:00.0"]["class"], "010802");
    assert_eq!(devices["0000:01:00.0"]["iommu_group"], 11);
    assert_eq!(devices["0000:01:00.0"]["numa_node"], Value::Null);
    assert_eq!(devices["0000:01:00.0"]["nvme"]["controllers"][0], "nvme0");
    let ifaces = by_key(&f["net"]["interfaces"], "name");
    assert_eq!(ifaces["eth0"]["pci_address"], "0000:00:1f.6");
    assert_eq!(ifaces["eth0"]["speed_mbps"], 1000);
    assert_eq!(f["memory"]["mem_total_kib"], 15666184);

    assert_no_problems("procfs fixture", &problems);
}
