//! daos-preflight on a real Linux kernel: each test boots a QEMU machine (Debian's
//! kernel, busybox, the static musl binary), runs `check` and `facts` in it, and compares
//! what the binary says with what the machine is (the QEMU arguments) and with an
//! independent busybox listing of the guest's sysfs. See tests/vm/README.md.
//!
//! The tests are `#[ignore]`d: a plain `cargo test` skips them; CI runs
//! `cargo test --test vm -- --ignored` after `.ci/vm-deps.sh`.

/// Two guests on a private link, one clock 5 s ahead: `probe` measures the skew.
#[path = "vm/clock.rs"]
mod clock;
#[path = "vm/cpio.rs"]
mod cpio;
/// `kill -9` of `fix` between unbinding the NVMe and binding it (failpoints build).
#[path = "vm/crash.rs"]
mod crash;
#[path = "vm/harness/mod.rs"]
mod harness;
/// A process holding hugepages while `check` runs; a stale SPDK file `fix` removes.
#[path = "vm/hugepages.rs"]
mod hugepages;
/// `fix --persistent`, a reboot with the command line it wrote, `fix --undo`.
#[path = "vm/reboot.rs"]
mod reboot;

use harness::{
    GUEST_BINARY, GUEST_USER, GUEST_USER_ID, GuestRun, IommuDevice, Nic, NicModel, PciSlot,
    Scenario, vm_assert, vm_assert_eq,
};
use serde_json::Value;

/// Two NUMA nodes, one CPU and half the memory each: `(cpus, MiB)`.
const NODES: &[(&[u32], u32)] = &[(&[0], 512), (&[1], 512)];
/// The NVMe drive sits behind a host bridge on node 1, so its `numa_node` is 1.
const NVME_SLOT: PciSlot = PciSlot::NumaBridge {
    node: 1,
    bus_nr: 0x80,
};
const NVME_MIB: u64 = 64;
/// Boot-time 2 MiB hugepages; the kernel spreads them over the nodes.
const HUGEPAGES: u64 = 64;
const NIC_SLOT: PciSlot = PciSlot::Root(3);
const NIC_ADDRESS: &str = "10.0.2.15/24";
const MACHINE_ID: &str = "0123456789abcdef0123456789abcdef";

fn nic_up(model: NicModel, slot: PciSlot) -> Nic {
    Nic {
        model,
        slot,
        admin_up: true,
        carrier: true,
        address: Some(NIC_ADDRESS.to_string()),
    }
}

/// The machine of the Intel scenarios: VT-d, 2 nodes, an NVMe drive, a virtio NIC up.
fn intel_machine(name: &str) -> Scenario {
    Scenario::new(name)
        .iommu(IommuDevice::Intel)
        .numa(NODES)
        .nvme(NVME_SLOT, "dpf-nvme-0", NVME_MIB)
        .nic(nic_up(NicModel::Virtio, NIC_SLOT))
}

// ---------------------------------------------------------------------------------------
// Assertion helpers shared by scenarios.

#[track_caller]
fn assert_status(run: &GuestRun, id: &str, want: &str) {
    let check = run.check(id);
    vm_assert_eq!(
        run,
        check["status"].as_str(),
        Some(want),
        "{id}: {}",
        serde_json::to_string_pretty(&check).unwrap_or_default()
    );
}

/// One facts entry of an array by a key (`pci.devices` by `address`).
#[track_caller]
fn find<'a>(run: &GuestRun, list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .and_then(|a| a.iter().find(|x| x[key] == value))
        .unwrap_or_else(|| run.fail(format!("no entry with {key} == {value:?} in {list}")))
}

/// The kernel really booted with what the scenario asked, and the binary saw the same.
#[track_caller]
fn assert_cmdline(run: &GuestRun) {
    let sys = run.sysfs();
    vm_assert_eq!(
        run,
        sys.cmdline,
        run.cmdline,
        "the guest's /proc/cmdline is not what QEMU was given"
    );
    vm_assert_eq!(
        run,
        run.facts()["kernel"]["cmdline"].as_str(),
        Some(run.cmdline.as_str()),
        "facts kernel.cmdline"
    );
}

/// The raw firmware table the guest exposes is a well-formed ACPI table of `signature`
/// whose size the facts report: evidence independent of daos-preflight's reading.
#[track_caller]
fn assert_acpi_table(run: &GuestRun, signature: &str) {
    let table = run
        .acpi_table(signature)
        .unwrap_or_else(|| run.fail(format!("the guest has no {signature} table")));
    vm_assert!(
        run,
        table.len() >= 36,
        "{signature}: shorter than an ACPI header"
    );
    vm_assert_eq!(run, &table[..4], signature.as_bytes(), "table signature");
    let length = u32::from_le_bytes(table[4..8].try_into().expect("4 bytes")) as usize;
    vm_assert_eq!(run, length, table.len(), "{signature} header length");
    let sum = table.iter().fold(0u8, |s, b| s.wrapping_add(*b));
    vm_assert_eq!(run, sum, 0, "{signature} ACPI checksum");
    let facts = run.facts();
    let fact = find(run, &facts["iommu"]["tables"], "name", signature);
    vm_assert_eq!(
        run,
        fact["present"],
        Value::Bool(true),
        "{signature} present"
    );
    vm_assert_eq!(
        run,
        fact["size"].as_u64(),
        Some(table.len() as u64),
        "facts size of {signature}"
    );
    let sys = run.sysfs();
    vm_assert_eq!(
        run,
        sys.acpi_tables
            .get(signature)
            .map(|(mode, _)| mode.as_str()),
        Some("-r--------"),
        "{signature} is root-only (mode 0400) in the guest"
    );
}

/// Facts IOMMU units and group count equal the busybox listing.
#[track_caller]
fn assert_iommu_facts_match_sysfs(run: &GuestRun) {
    let facts = run.facts();
    let sys = run.sysfs();
    let units: Vec<&str> = facts["iommu"]["units"]
        .as_array()
        .map(|u| u.iter().filter_map(|x| x["name"].as_str()).collect())
        .unwrap_or_default();
    vm_assert_eq!(
        run,
        units,
        sys.iommu_units,
        "iommu units vs /sys/class/iommu"
    );
    let groups = facts["iommu"]["groups"].as_u64();
    if sys.iommu_groups_dir {
        vm_assert_eq!(
            run,
            groups,
            Some(sys.iommu_groups.len() as u64),
            "iommu group count vs /sys/kernel/iommu_groups"
        );
    } else {
        vm_assert_eq!(
            run,
            groups,
            None,
            "no /sys/kernel/iommu_groups: groups is null"
        );
    }
}

/// How a down link should look.
#[derive(Debug, Clone, Copy)]
enum LinkDown {
    /// `ip link set dev down`: operstate `down`, `carrier` unreadable (EINVAL).
    Admin,
    /// Cable out (QEMU `set_link off`), interface up: operstate `down`, carrier 0.
    NoCarrier,
}

/// The NIC at `pci_address` is down in the facts, the same way sysfs says, and
/// `nic.link` (the scenario's daos_server.yml names it as a `fabric_iface`) fails naming
/// it, with the cable hint exactly when sysfs says there is no carrier.
#[track_caller]
fn assert_nic_link_down(run: &GuestRun, pci_address: &str, how: LinkDown) {
    let sys = run.sysfs();
    let (name, view) = sys
        .iface_of(pci_address)
        .unwrap_or_else(|| run.fail(format!("no interface on {pci_address} in sysfs")));
    let facts = run.facts();
    let iface = find(run, &facts["net"]["interfaces"], "pci_address", pci_address);
    vm_assert_eq!(run, iface["name"].as_str(), Some(name), "interface name");
    vm_assert_eq!(run, view.operstate, "down", "sysfs operstate of {name}");
    vm_assert_eq!(
        run,
        iface["operstate"].as_str(),
        Some("down"),
        "facts operstate of {name}"
    );
    let (want_sys, want_facts) = match how {
        LinkDown::Admin => (None, Value::Null),
        LinkDown::NoCarrier => (Some(false), Value::Bool(false)),
    };
    vm_assert_eq!(run, view.carrier, want_sys, "sysfs carrier of {name}");
    vm_assert_eq!(run, iface["carrier"], want_facts, "facts carrier of {name}");

    let check = run.check("nic.link");
    vm_assert_eq!(
        run,
        check["status"].as_str(),
        Some("fail"),
        "nic.link with {name} down: {check}"
    );
    let summary = check["summary"].as_str().unwrap_or_default();
    let part = summary
        .split("; ")
        .find(|p| p.contains(&format!(": {name} is down")))
        .unwrap_or_else(|| run.fail(format!("nic.link should say {name} is down: {summary}")));
    vm_assert_eq!(
        run,
        part.contains("no carrier"),
        view.carrier == Some(false),
        "the cable hint follows sysfs carrier of {name}: {part}"
    );
    vm_assert!(
        run,
        check["remediation"]
            .to_string()
            .contains(&format!("ip link set {name} up")),
        "nic.link's fix brings {name} up: {check}"
    );
}

/// Puts `yml` in the guest as /etc/daos/daos_server.yml, with `@IFACE<n>@` replaced by
/// the name of the interface on the n-th PCI address of `nics` (resolved in the guest
/// before the captures: interface names follow probe order).
fn with_server_config(scenario: Scenario, yml: &str, nics: &[String]) -> Scenario {
    let mut s = scenario.file("/etc/daos/daos_server.yml", 0o644, yml.as_bytes());
    for (i, addr) in nics.iter().enumerate() {
        s = s.setup(&format!(
            "sed -i \"s/@IFACE{i}@/$(iface_of {addr})/\" /etc/daos/daos_server.yml"
        ));
    }
    s
}

/// The target of a `ls -l` of a symlink: `... driver -> ../../../bus/pci/drivers/nvme`
/// gives `nvme`.
#[track_caller]
fn ls_link_target(run: &GuestRun, capture: &str) -> String {
    let text = &run.section(capture).text;
    text.lines()
        .find_map(|l| l.split_once(" -> ").map(|(_, t)| t.trim()))
        .and_then(|t| t.rsplit('/').next())
        .map(str::to_string)
        .unwrap_or_else(|| run.fail(format!("capture {capture}: no symlink in {text:?}")))
}

/// A capture that printed one number.
#[track_caller]
fn number(run: &GuestRun, capture: &str) -> u64 {
    let text = run.section(capture).text.trim().to_string();
    text.parse()
        .unwrap_or_else(|e| run.fail(format!("capture {capture}: {text:?}: {e}")))
}

/// The status of a check in a report captured under another name.
#[track_caller]
fn status_in(run: &GuestRun, report: &Value, id: &str) -> String {
    report["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["id"] == id))
        .and_then(|c| c["status"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| run.fail(format!("no check {id} in {report}")))
}

/// The planned actions of a fix report with their results: `(action, outcome, message)`.
fn fix_actions(fix: &Value) -> Vec<(Value, String, String)> {
    let results = fix["results"].as_array().cloned().unwrap_or_default();
    fix["actions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, step)| {
            let r = results.iter().find(|r| r["index"] == i);
            (
                step["action"].clone(),
                r.and_then(|r| r["outcome"].as_str())
                    .unwrap_or("none")
                    .to_string(),
                r.and_then(|r| r["message"].as_str())
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Scenarios.

/// VT-d on, 2 NUMA nodes, NVMe on node 1, a virtio NIC up: the happy path, every fact
/// cross-checked.
#[test]
#[ignore = "boots QEMU: run with --ignored (CI does)"]
fn intel_iommu_on() {
    let run = intel_machine("intel_iommu_on")
        .kernel_args(&format!("intel_iommu=on hugepages={HUGEPAGES}"))
        .file(
            "/etc/machine-id",
            0o444,
            format!("{MACHINE_ID}\n").as_bytes(),
        )
        .capture(
            "acpi-dmar",
            &format!("{GUEST_BINARY} acpi dmar --format json"),
        )
        .boot();
    let facts = run.facts();
    let sys = run.sysfs();
    assert_cmdline(&run);

    // `acpi dmar` decodes QEMU's table: one DRHD with INCLUDE_PCI_ALL, and the host
    // address width the raw bytes hold (offset 36: width - 1, ACPI DMAR spec).
    let raw = run
        .acpi_table("DMAR")
        .unwrap_or_else(|| run.fail("no DMAR"));
    let dmar = run.json("acpi-dmar");
    vm_assert_eq!(run, run.section("acpi-dmar").rc, 0, "acpi dmar exit code");
    vm_assert_eq!(run, dmar["checksum_valid"], true, "DMAR checksum");
    vm_assert_eq!(
        run,
        dmar["host_address_width_bits"].as_u64(),
        Some(u64::from(raw[36]) + 1),
        "host address width"
    );
    let drhds: Vec<&Value> = dmar["structures"]
        .as_array()
        .map(|a| a.iter().filter(|s| s["type"] == "DRHD").collect())
        .unwrap_or_default();
    vm_assert_eq!(run, drhds.len(), 1, "one DRHD: {dmar}");
    // The DRHD's flags byte (offset 48 + 4) decides INCLUDE_PCI_ALL. QEMU sets it for a
    // single host bridge; with this scenario's pxb-pcie NUMA bridge it lists explicit
    // scopes instead, among them the bridge's sub-hierarchy at bus 128.
    vm_assert_eq!(run, drhds[0]["offset"].as_u64(), Some(48), "DRHD offset");
    vm_assert_eq!(
        run,
        drhds[0]["include_pci_all"].as_bool(),
        Some(raw[52] & 1 == 1),
        "INCLUDE_PCI_ALL as the raw flags byte says"
    );
    if raw[52] & 1 == 0 {
        let scopes = drhds[0]["scopes"].as_array().cloned().unwrap_or_default();
        vm_assert!(
            run,
            scopes
                .iter()
                .any(|s| s["type"] == "pci_subhierarchy" && s["start_bus"] == 128),
            "the NUMA bridge's bus 128 is in the DRHD's scope: {scopes:?}"
        );
    }
    vm_assert_eq!(
        run,
        facts["iommu"]["firmware"]["units"].as_array().map(Vec::len),
        Some(1),
        "facts firmware units"
    );

    // The report names the host it ran on.
    let host = &run.report()["host"];
    vm_assert_eq!(run, host["hostname"], "dpf-intel-iommu-on", "host.hostname");
    vm_assert_eq!(run, host["machine_id"], MACHINE_ID, "host.machine_id");
    vm_assert_eq!(
        run,
        host["kernel"],
        facts["kernel"]["release"],
        "host.kernel"
    );

    // IOMMU: firmware table, kernel units, translated mode.
    for id in ["iommu.firmware", "iommu.kernel", "iommu.mode"] {
        assert_status(&run, id, "pass");
    }
    vm_assert_eq!(
        run,
        facts["iommu"]["firmware_table"],
        "DMAR",
        "firmware_table"
    );
    assert_acpi_table(&run, "DMAR");
    vm_assert_eq!(run, sys.iommu_units, ["dmar0"], "one VT-d unit");
    assert_iommu_facts_match_sysfs(&run);
    vm_assert!(
        run,
        !sys.iommu_groups.is_empty()
            && sys.iommu_groups.values().all(|g| g.kind.starts_with("DMA")),
        "Debian's default is translated (DMA-FQ) groups: {:?}",
        sys.iommu_groups
    );
    vm_assert_eq!(
        run,
        run.check("iommu.mode")["details"]["mode"],
        "translated",
        "iommu.mode"
    );

    // NUMA: the nodes QEMU was given, as sysfs shows them.
    assert_status(&run, "numa.topology", "pass");
    let nodes = facts["numa"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    vm_assert_eq!(run, nodes.len(), NODES.len(), "node count");
    vm_assert_eq!(run, sys.nodes.len(), NODES.len(), "sysfs node count");
    let mut hugepages_total = 0;
    for (i, (node, (cpus, mib))) in nodes.iter().zip(NODES).enumerate() {
        let view = &sys.nodes[&(i as u32)];
        vm_assert_eq!(run, node["id"].as_u64(), Some(i as u64), "node id");
        let fact_cpus: Vec<u64> = node["cpus"]
            .as_array()
            .map(|c| c.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let qemu_cpus: Vec<u64> = cpus.iter().map(|c| u64::from(*c)).collect();
        vm_assert_eq!(run, fact_cpus, qemu_cpus, "node{i} CPUs vs -numa cpus=");
        vm_assert_eq!(run, view.cpus, *cpus, "node{i} CPUs vs sysfs cpulist");
        let mem = node["mem_total_kib"].as_u64().unwrap_or(0);
        vm_assert_eq!(run, mem, view.memtotal_kib, "node{i} MemTotal vs sysfs");
        let backend_kib = u64::from(*mib) * 1024;
        vm_assert!(
            run,
            mem <= backend_kib && mem >= backend_kib * 3 / 4,
            "node{i} MemTotal {mem} KiB should be a little under the {mib} MiB backend"
        );
        let pool = node["hugepages"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["size_kib"] == 2048))
            .unwrap_or_else(|| run.fail(format!("node{i}: no 2 MiB pool in {node}")));
        let total = pool["total"].as_u64();
        vm_assert_eq!(
            run,
            total,
            view.hugepages.get(&2048).copied(),
            "node{i} 2 MiB hugepages vs sysfs"
        );
        hugepages_total += total.unwrap_or(0);
    }
    vm_assert_eq!(
        run,
        hugepages_total,
        HUGEPAGES,
        "hugepages= on the command line"
    );

    // NVMe: on node 1 behind its bridge, bound to nvme, in an IOMMU group.
    let addr = NVME_SLOT.address();
    let dev = find(&run, &facts["pci"]["devices"], "address", &addr);
    let view = sys
        .pci
        .get(&addr)
        .unwrap_or_else(|| run.fail(format!("{addr} missing from sysfs")));
    vm_assert_eq!(run, dev["class"], "010802", "NVMe class");
    vm_assert_eq!(run, view.class, "0x010802", "sysfs class");
    vm_assert_eq!(run, dev["driver"], "nvme", "NVMe driver");
    vm_assert_eq!(
        run,
        dev["numa_node"].as_u64(),
        NVME_SLOT.numa_node().map(u64::from),
        "NVMe numa_node vs pxb-pcie numa_node="
    );
    vm_assert_eq!(run, view.numa, 1, "sysfs numa_node");
    let group = dev["iommu_group"].as_u64();
    vm_assert!(run, group.is_some(), "the NVMe has an IOMMU group: {dev}");
    vm_assert_eq!(run, group, view.group.map(u64::from), "group vs sysfs link");
    let members = &sys.iommu_groups[&(group.unwrap_or(0) as u32)].devices;
    vm_assert!(
        run,
        members.contains(&addr),
        "{addr} in group members {members:?}"
    );
    let namespaces = dev["nvme"]["namespaces"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    vm_assert_eq!(run, namespaces.len(), 1, "one namespace: {dev}");
    let ns = &namespaces[0];
    let ns_name = ns["name"].as_str().unwrap_or_default();
    vm_assert_eq!(
        run,
        ns["size_bytes"].as_u64(),
        Some(NVME_MIB << 20),
        "namespace size vs the image QEMU was given"
    );
    vm_assert_eq!(
        run,
        sys.block.get(ns_name).copied(),
        Some(NVME_MIB << 20),
        "sysfs size of {ns_name}"
    );

    // NIC: up, carrier, the address the guest set.
    let addr = NIC_SLOT.address();
    let (name, view) = sys
        .iface_of(&addr)
        .unwrap_or_else(|| run.fail(format!("no interface on {addr}")));
    let iface = find(&run, &facts["net"]["interfaces"], "pci_address", &addr);
    vm_assert_eq!(run, iface["name"].as_str(), Some(name), "interface name");
    vm_assert_eq!(run, view.operstate, "up", "sysfs operstate");
    vm_assert_eq!(run, iface["operstate"], "up", "facts operstate");
    vm_assert_eq!(run, view.carrier, Some(true), "sysfs carrier");
    vm_assert_eq!(run, iface["carrier"], true, "facts carrier");
    let addresses: Vec<&str> = iface["addresses"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    vm_assert!(
        run,
        addresses.contains(&NIC_ADDRESS),
        "{name} addresses {addresses:?} lack {NIC_ADDRESS}"
    );
}

/// VT-d in the firmware, `intel_iommu=off` on the command line: iommu.kernel fails and
/// names the flag.
#[test]
#[ignore = "boots QEMU: run with --ignored (CI does)"]
fn intel_iommu_off_by_cmdline() {
    let run = intel_machine("intel_iommu_off_by_cmdline")
        .kernel_args("intel_iommu=off")
        .boot();
    let sys = run.sysfs();
    assert_cmdline(&run);
    // Independent evidence: the table is there, the kernel made no unit.
    assert_acpi_table(&run, "DMAR");
    vm_assert!(
        run,
        sys.iommu_units.is_empty(),
        "units: {:?}",
        sys.iommu_units
    );
    assert_iommu_facts_match_sysfs(&run);

    assert_status(&run, "iommu.firmware", "pass");
    assert_status(&run, "iommu.kernel", "fail");
    assert_status(&run, "iommu.mode", "skip");
    let kernel = run.check("iommu.kernel");
    let summary = kernel["summary"].as_str().unwrap_or_default();
    vm_assert!(
        run,
        summary.contains("intel_iommu=off"),
        "the summary should name the flag: {summary}"
    );
    vm_assert_eq!(run, kernel["details"]["cause"], "cmdline", "cause");
    vm_assert_eq!(
        run,
        kernel["details"]["cmdline_intel_iommu"],
        "off",
        "the flag's value in the details"
    );
    let remediation = kernel["remediation"].to_string();
    vm_assert!(
        run,
        remediation.contains("intel_iommu=on") && remediation.contains("intel_iommu=off"),
        "the fix should swap the flag: {remediation}"
    );
    vm_assert_eq!(
        run,
        kernel["remediation"]["reboot_required"],
        true,
        "a command-line change needs a reboot"
    );
    let nvme = NVME_SLOT.address();
    vm_assert_eq!(
        run,
        sys.pci.get(&nvme).and_then(|p| p.group),
        None,
        "no IOMMU group without the kernel IOMMU"
    );
}

/// VT-d in the firmware and no flag at all: Debian's kernel turns the IOMMU on by
/// itself (CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF=y), and iommu.kernel passes without
/// telling anyone to add `intel_iommu=on`.
#[test]
#[ignore = "boots QEMU: run with --ignored (CI does)"]
fn intel_iommu_kernel_default() {
    let run = intel_machine("intel_iommu_kernel_default").boot();
    let sys = run.sysfs();
    let facts = run.facts();
    assert_cmdline(&run);
    vm_assert!(
        run,
        !sys.cmdline.contains("iommu"),
        "no IOMMU flag on the command line: {}",
        sys.cmdline
    );
    // The premise, from the guest's own copy of the kernel config.
    let options = &facts["kernel"]["config"]["options"];
    vm_assert_eq!(
        run,
        options["CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF"],
        "y",
        "Debian's build default (facts kernel.config from {})",
        facts["kernel"]["config"]["source"]
    );
    vm_assert_eq!(run, sys.iommu_units, ["dmar0"], "the kernel enabled VT-d");
    assert_iommu_facts_match_sysfs(&run);
    for id in ["iommu.firmware", "iommu.kernel", "iommu.mode"] {
        assert_status(&run, id, "pass");
    }
    for id in ["iommu.firmware", "iommu.kernel", "iommu.mode"] {
        let check = run.check(id);
        vm_assert!(
            run,
            check["remediation"].is_null() && !check.to_string().contains("intel_iommu=on"),
            "{id} must not ask for a flag the kernel defaults to: {check}"
        );
    }
}

/// No IOMMU in the machine at all: iommu.firmware fails and sends the admin to the BIOS.
#[test]
#[ignore = "boots QEMU: run with --ignored (CI does)"]
fn no_iommu_device() {
    let run = Scenario::new("no_iommu_device")
        .nvme(PciSlot::Root(4), "dpf-nvme-0", NVME_MIB)
        .kernel_args("intel_iommu=on")
        .boot();
    let sys = run.sysfs();
    let facts = run.facts();
    assert_cmdline(&run);
    vm_assert!(
        run,
        !sys.acpi_tables.is_empty()
            && !sys.acpi_tables.contains_key("DMAR")
            && !sys.acpi_tables.contains_key("IVRS"),
        "the guest has ACPI tables but neither DMAR nor IVRS: {:?}",
        sys.acpi_tables
    );
    vm_assert!(run, run.acpi_table("DMAR").is_none(), "no DMAR");
    vm_assert!(
        run,
        sys.iommu_units.is_empty(),
        "no units: {:?}",
        sys.iommu_units
    );
    vm_assert_eq!(
        run,
        facts["iommu"]["acpi_tables_visible"],
        true,
        "tables dir"
    );
    vm_assert_eq!(
        run,
        facts["iommu"]["firmware_table"],
        Value::Null,
        "firmware_table"
    );
    assert_iommu_facts_match_sysfs(&run);

    assert_status(&run, "iommu.firmware", "fail");
    let firmware = run.check("iommu.firmware");
    let fix = firmware["remediation"]["summary"]
        .as_str()
        .unwrap_or_default();
    vm_assert!(
        run,
        fix.contains("BIOS") && firmware["remediation"]["reboot_required"] == true,
        "the fix is in the BIOS, then a reboot: {firmware}"
    );
    // With intel_iommu=on asked for, the kernel check must still blame the firmware.
    assert_status(&run, "iommu.kernel", "fail");
    vm_assert_eq!(
        run,
        run.check("iommu.kernel")["details"]["cause"],
        "firmware",
        "iommu.kernel cause"
    );
}

/// `-device amd-iommu`: the firmware publishes IVRS and daos-preflight sees it.
#[test]
#[ignore = "boots QEMU: run with --ignored (CI does)"]
fn amd_iommu_ivrs() {
    let run = Scenario::new("amd_iommu_ivrs")
        .iommu(IommuDevice::Amd)
        .nvme(PciSlot::Root(4), "dpf-nvme-0", NVME_MIB)
        .boot();
    let sys = run.sysfs();
    let facts = run.facts();
    assert_cmdline(&run);
    assert_acpi_table(&run, "IVRS");
    vm_assert!(run, !sys.acpi_tables.contains_key("DMAR"), "no DMAR");
    vm_assert_eq!(
        run,
        facts["iommu"]["firmware_table"],
        "IVRS",
        "firmware_table"
    );
    assert_status(&run, "iommu.firmware", "pass");
    assert_iommu_facts_match_sysfs(&run);
    // Linux enables QEMU's AMD-Vi by itself (no flag needed): one IVHD unit.
    vm_assert_eq!(run, sys.iommu_units, ["ivhd0"], "the kernel enabled AMD-Vi");
    for id in ["iommu.kernel", "iommu.mode"] {
        assert_status(&run, id, "pass");
    }
}

/// Two NICs down in two ways: a virtio NIC set down with `ip link` and an e1000e whose
/// cable QEMU pulled (`set_link off`) while the guest keeps it up. A daos_server.yml
/// names both as fabric interfaces, so `nic.link` fails for each.
#[test]
#[ignore = "boots QEMU: run with --ignored (CI does)"]
fn nic_link_down() {
    let admin_down = PciSlot::Root(3);
    let no_carrier = PciSlot::Root(5);
    let scenario = Scenario::new("nic_link_down")
        .nic(nic_up(NicModel::Virtio, admin_down))
        .nic(Nic {
            carrier: false,
            ..nic_up(NicModel::E1000e, no_carrier)
        })
        .setup(&format!(
            "ip link set \"$(iface_of {})\" down",
            admin_down.address()
        ));
    let run = with_server_config(
        scenario,
        NIC_LINK_SERVER_YML,
        &[admin_down.address(), no_carrier.address()],
    )
    .boot();
    assert_cmdline(&run);
    let sys = run.sysfs();
    vm_assert_eq!(
        run,
        sys.pci
            .get(&no_carrier.address())
            .and_then(|p| p.driver.clone()),
        Some("e1000e".to_string()),
        "e1000e bound"
    );
    // The configuration the binary judged names the guest's interfaces.
    assert_status(&run, "nic.present", "pass");
    assert_nic_link_down(&run, &admin_down.address(), LinkDown::Admin);
    assert_nic_link_down(&run, &no_carrier.address(), LinkDown::NoCarrier);
}

/// Two engines, one per NIC of `nic_link_down` (`@IFACEn@`: see [`with_server_config`]).
const NIC_LINK_SERVER_YML: &str = "\
name: daos_server
access_points: ['localhost']
port: 10001
provider: ofi+tcp
engines:
  - targets: 1
    fabric_iface: @IFACE0@
    fabric_iface_port: 31416
    log_file: /tmp/daos_engine_0.log
    storage:
      - class: ram
        scm_mount: /mnt/daos0
  - targets: 1
    fabric_iface: @IFACE1@
    fabric_iface_port: 32416
    log_file: /tmp/daos_engine_1.log
    storage:
      - class: ram
        scm_mount: /mnt/daos1
";

/// Run as an ordinary user: the root-only DMAR table is unreadable. No crash, no false
/// verdict: iommu.firmware is `error` with "run as root", and the facts say the table is
/// unreadable.
#[test]
#[ignore = "boots QEMU: run with --ignored (CI does)"]
fn non_root_user() {
    let run = intel_machine("non_root_user")
        .binary_as(GUEST_USER)
        .capture("facts-root", &format!("{GUEST_BINARY} facts --format json"))
        .capture_as("id", GUEST_USER, "id -u")
        .boot();
    let sys = run.sysfs();
    let facts = run.facts();
    let root_facts = run.json("facts-root");
    vm_assert_eq!(
        run,
        run.section("id").text.trim(),
        GUEST_USER_ID.to_string(),
        "su switched user"
    );
    vm_assert_eq!(
        run,
        facts["source"]["euid"].as_u64(),
        Some(u64::from(GUEST_USER_ID)),
        "facts source.euid"
    );
    assert_acpi_table(&run, "DMAR");
    let dmar = find(&run, &facts["iommu"]["tables"], "name", "DMAR");
    vm_assert_eq!(run, dmar["present"], true, "DMAR present for the user");
    vm_assert_eq!(run, dmar["readable"], false, "DMAR unreadable for the user");
    let dmar_root = find(&run, &root_facts["iommu"]["tables"], "name", "DMAR");
    vm_assert_eq!(run, dmar_root["readable"], true, "DMAR readable for root");
    let firmware = run.check("iommu.firmware");
    vm_assert_eq!(
        run,
        firmware["status"],
        "error",
        "an unreadable table is no proof the firmware has none: {firmware}"
    );
    vm_assert!(
        run,
        firmware["summary"]
            .as_str()
            .is_some_and(|s| s.contains("run as root")),
        "the error says to run as root: {firmware}"
    );
    // The rest of the IOMMU verdict needs no root: sysfs is world-readable.
    vm_assert_eq!(run, sys.iommu_units, ["dmar0"], "VT-d on");
    assert_status(&run, "iommu.kernel", "pass");
}

// ---------------------------------------------------------------------------------------
// `daos-preflight fix` on a real kernel.

/// The fix scenarios' nodes: node 1 is big enough for one target's hugepages
/// (DAOS 2.6: 1 target × 1 GiB / 2 MiB = 512 pages + 2 extra = 514 pages, 1028 MiB).
const FIX_NODES: &[(&[u32], u32)] = &[(&[0], 512), (&[1], 1536)];
/// DAOS 2.6 hugepages for one engine with one target, all on its node.
const FIX_HUGEPAGES: u64 = 514;
/// The rules profile the fix scenarios name explicitly.
const FIX_DAOS_VERSION: &str = "2.6";

/// One engine pinned to the NVMe's node (1) with that NVMe as its bdev, a RAM SCM tier
/// and the virtio NIC (`@IFACE0@`) over TCP.
fn fix_server_yml() -> String {
    format!(
        "\
name: daos_server
access_points: ['localhost']
port: 10001
provider: ofi+tcp
engines:
  - targets: 1
    pinned_numa_node: 1
    fabric_iface: @IFACE0@
    fabric_iface_port: 31416
    log_file: /tmp/daos_engine_0.log
    storage:
      - class: ram
        scm_mount: /mnt/daos0
      - class: nvme
        bdev_list: [\"{}\"]
",
        NVME_SLOT.address()
    )
}

/// daos_server.service as the DAOS RPM installs it (daos v2.6.0
/// utils/systemd/daos_server.service), without LimitMEMLOCK so that `limits.memlock`
/// has something for `fix` to do. systemd itself does not run in the guest.
const DAOS_SERVER_UNIT: &str = "\
[Unit]
Description=DAOS Server
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User=daos_server
Group=daos_server
RuntimeDirectory=daos_server
RuntimeDirectoryMode=0755
ExecStart=/usr/bin/daos_server start
StandardOutput=journal
StandardError=journal
Restart=always
RestartSec=10
LimitCORE=infinity
StartLimitBurst=5
StartLimitInterval=60

[Install]
WantedBy=multi-user.target
";

/// The machine of the fix scenarios: VT-d on (`intel_iommu=on`), 2 nodes, the NVMe on
/// node 1 behind its bridge, the virtio NIC, no hugepages at boot, the DAOS unit and a
/// daos_server.yml using that NVMe. vfio-pci is packed but not loaded: `fix` loads it.
fn fix_machine(name: &str) -> Scenario {
    let s = Scenario::new(name)
        .iommu(IommuDevice::Intel)
        .kernel_args("intel_iommu=on")
        .numa(FIX_NODES)
        .nvme(NVME_SLOT, "dpf-nvme-0", NVME_MIB)
        .nic(nic_up(NicModel::Virtio, NIC_SLOT))
        .defer_module("vfio-pci")
        .check_args(&format!("--daos-version {FIX_DAOS_VERSION}"))
        .file(
            "/usr/lib/systemd/system/daos_server.service",
            0o644,
            DAOS_SERVER_UNIT.as_bytes(),
        );
    with_server_config(s, &fix_server_yml(), &[NIC_SLOT.address()])
}

fn bin(args: &str) -> String {
    format!("{GUEST_BINARY} {args} --daos-version {FIX_DAOS_VERSION}")
}

/// The other things `fix` changes, read with cat/ls: THP mode, the DAOS sysctls, the
/// memlock drop-in directory, one `name value` line each.
const HOST_STATE: &str = "\
echo thp $(cat /sys/kernel/mm/transparent_hugepage/enabled)
for s in net/core/rmem_max net/core/rmem_default vm/max_map_count; do echo $s $(cat /proc/sys/$s); done
echo dropins $(ls /etc/systemd/system/daos_server.service.d 2>/dev/null)";

/// One `name value` line of a [`HOST_STATE`] capture; for `thp`, the selected word
/// (`always madvise [never]` gives `never`).
#[track_caller]
fn host_state(run: &GuestRun, capture: &str, name: &str) -> String {
    run.section(capture)
        .text
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{name} "))
                .or((l == name).then_some(""))
        })
        .map(|v| {
            let v = v.trim();
            v.split_whitespace()
                .find_map(|w| w.strip_prefix('[').and_then(|w| w.strip_suffix(']')))
                .unwrap_or(v)
                .to_string()
        })
        .unwrap_or_else(|| run.fail(format!("capture {capture}: no {name} line")))
}

const NODE1_HUGEPAGES: &str =
    "cat /sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages";

/// `check` → `fix` → check again → `fix --dry-run` plans nothing → `fix --undo`, with the
/// kernel's own view (driver link, node 1 nr_hugepages, /dev/vfio) after each step.
#[test]
#[ignore = "boots QEMU: run with --ignored (CI does)"]
fn fix_end_to_end() {
    let addr = NVME_SLOT.address();
    let driver = format!("ls -l /sys/bus/pci/devices/{addr}/driver");
    let run = fix_machine("fix_end_to_end")
        .capture("fix", &bin("fix --format json"))
        .capture("driver-fixed", &driver)
        .capture("hugepages-fixed", NODE1_HUGEPAGES)
        .capture("vfio-fixed", "ls -ln /dev/vfio")
        .capture("modules-fixed", "lsmod")
        .capture("host-fixed", HOST_STATE)
        .capture("sysfs-fixed", "/bin/sysfs-listing")
        .capture("check-fixed", &bin("check --format json"))
        .capture("fix-again", &bin("fix --dry-run --format json"))
        .capture("undo", &format!("{GUEST_BINARY} fix --undo"))
        .capture("driver-undone", &driver)
        .capture("hugepages-undone", NODE1_HUGEPAGES)
        .capture("sysfs-undone", "/bin/sysfs-listing")
        .capture("host-undone", HOST_STATE)
        .boot();
    let sys = run.sysfs();
    assert_cmdline(&run);
    vm_assert!(
        run,
        !sys.cmdline.contains("hugepages"),
        "no hugepages at boot: {}",
        sys.cmdline
    );
    vm_assert_eq!(
        run,
        run.report()["daos_version"],
        FIX_DAOS_VERSION,
        "rules profile"
    );
    let iface = sys
        .iface_of(&NIC_SLOT.address())
        .map(|(n, _)| n.to_string())
        .unwrap_or_else(|| run.fail("no virtio interface"));

    // Before: no hugepages anywhere, the NVMe on the kernel's driver.
    vm_assert_eq!(
        run,
        sys.pci.get(&addr).and_then(|p| p.driver.clone()),
        Some("nvme".to_string()),
        "the NVMe starts on nvme"
    );
    vm_assert_eq!(run, sys.pci[&addr].numa, 1, "the NVMe is on node 1");
    for (id, view) in &sys.nodes {
        vm_assert_eq!(
            run,
            view.hugepages.get(&2048).copied(),
            Some(0),
            "node{id} has no 2 MiB hugepages at boot"
        );
    }
    assert_status(&run, "iommu.kernel", "pass");
    assert_status(&run, "nic.present", "pass");
    for id in ["hugepages.total", "hugepages.numa"] {
        let status = run.check(id)["status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        vm_assert!(
            run,
            status == "warn" || status == "fail",
            "{id} before fix: {}",
            run.check(id)
        );
    }
    let numa = run.check("hugepages.numa");
    vm_assert!(
        run,
        numa["summary"]
            .as_str()
            .is_some_and(|s| s.contains(&format!("node 1: 0 of {FIX_HUGEPAGES}"))),
        "hugepages.numa plans {FIX_HUGEPAGES} pages on node 1 only: {numa}"
    );
    assert_status(&run, "nvme.driver", "warn");
    let nvme = run.check("nvme.driver");
    vm_assert!(
        run,
        nvme["summary"]
            .as_str()
            .is_some_and(|s| s.contains(&format!("{addr}: on nvme, to be prepared"))),
        "nvme.driver: {nvme}"
    );

    // fix: every planned action applied (exit 0), each checked against the kernel.
    let fix = run.json("fix");
    let actions = fix_actions(&fix);
    let failed: Vec<_> = actions.iter().filter(|(_, o, _)| o != "applied").collect();
    vm_assert!(run, failed.is_empty(), "actions not applied: {failed:?}");
    vm_assert_eq!(run, run.section("fix").rc, 0, "fix exit code: {fix}");
    let kinds: Vec<&str> = actions
        .iter()
        .filter_map(|(a, _, _)| a["kind"].as_str())
        .collect();
    let want_kinds = [
        "allocate_hugepages",
        "load_module",
        "bind_driver",
        "write_file",
    ];
    for k in want_kinds {
        vm_assert!(run, kinds.contains(&k), "fix planned no {k}: {kinds:?}");
    }
    // systemd does not run in the guest (/run/systemd/system is absent), so the memlock
    // drop-in comes without a `systemctl daemon-reload`.
    vm_assert!(
        run,
        !kinds.contains(&"run"),
        "no commands without systemd: {fix}"
    );
    let hp: Vec<&Value> = actions
        .iter()
        .filter(|(a, _, _)| a["kind"] == "allocate_hugepages")
        .map(|(a, _, _)| a)
        .collect();
    vm_assert_eq!(run, hp.len(), 1, "one pool grown: {hp:?}");
    vm_assert_eq!(run, hp[0]["node"], 1, "on the engine's node");
    vm_assert_eq!(run, hp[0]["pages"], FIX_HUGEPAGES, "DAOS 2.6's count");
    let load = kinds.iter().position(|k| *k == "load_module");
    let bind = kinds.iter().position(|k| *k == "bind_driver");
    vm_assert!(
        run,
        load < bind,
        "vfio-pci is loaded before the bind: {kinds:?}"
    );
    vm_assert_eq!(
        run,
        fix["after"]["nvme.driver"],
        "pass",
        "fix's own recheck"
    );

    // The kernel's view after fix.
    vm_assert_eq!(
        run,
        ls_link_target(&run, "driver-fixed"),
        "vfio-pci",
        "driver link after fix"
    );
    vm_assert_eq!(
        run,
        number(&run, "hugepages-fixed"),
        FIX_HUGEPAGES,
        "node1 nr_hugepages after fix"
    );
    vm_assert!(
        run,
        run.section("modules-fixed")
            .text
            .lines()
            .any(|l| l.starts_with("vfio_pci ")),
        "lsmod lists vfio_pci after fix"
    );
    let fixed =
        harness::SysfsView::parse(&run.section("sysfs-fixed").text).unwrap_or_else(|e| run.fail(e));
    vm_assert_eq!(
        run,
        fixed.nodes[&0].hugepages.get(&2048).copied(),
        Some(0),
        "node 0 untouched (no engine there)"
    );
    let group = fixed.pci[&addr]
        .group
        .unwrap_or_else(|| run.fail("the NVMe has no IOMMU group"));
    // The service user (User= of the unit) owns the group's VFIO node.
    let vfio = &run.section("vfio-fixed").text;
    vm_assert!(
        run,
        vfio.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.len() > 3
                && w.last() == Some(&group.to_string().as_str())
                && w[2] == GUEST_USER_ID.to_string()
                && w[3] == GUEST_USER_ID.to_string()
        }),
        "/dev/vfio/{group} owned by {GUEST_USER_ID}:{GUEST_USER_ID}: {vfio}"
    );

    // THP, sysctls and the drop-in, as cat and ls see them.
    let facts = run.facts();
    let thp_before = facts["thp"]["enabled"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    vm_assert!(run, thp_before != "never", "THP starts as {thp_before}");
    vm_assert_eq!(
        run,
        host_state(&run, "host-fixed", "thp"),
        "never",
        "THP after fix"
    );
    for (name, want) in [
        ("net/core/rmem_max", "1048576"),
        ("net/core/rmem_default", "1048576"),
        ("vm/max_map_count", "1000000"),
    ] {
        vm_assert_eq!(
            run,
            host_state(&run, "host-fixed", name),
            want,
            "{name} after fix"
        );
    }
    vm_assert_eq!(
        run,
        host_state(&run, "host-fixed", "dropins"),
        "90-daos-preflight-memlock.conf",
        "the memlock drop-in after fix"
    );
    let iface_name = iface.as_str();
    assert_status(&run, "nic.link", "pass");
    vm_assert!(
        run,
        run.check("nic.link").to_string().contains(iface_name),
        "nic.link judges the configured {iface_name}"
    );

    // A second check: what fix fixed passes.
    let after = run.json("check-fixed");
    for id in [
        "hugepages.total",
        "hugepages.numa",
        "hugepages.thp",
        "nvme.driver",
        "sysctl.daos",
        "limits.memlock",
    ] {
        vm_assert_eq!(
            run,
            status_in(&run, &after, id),
            "pass",
            "{id} after fix: {after}"
        );
    }
    // ... and fix has nothing left to do.
    let again = run.json("fix-again");
    vm_assert_eq!(
        run,
        again["actions"],
        Value::Array(vec![]),
        "a second fix plans nothing"
    );
    vm_assert_eq!(run, run.section("fix-again").rc, 0, "dry run exit code");

    // fix --undo puts the kernel back as it booted.
    vm_assert_eq!(
        run,
        run.section("undo").rc,
        0,
        "undo: {}",
        run.section("undo").text
    );
    vm_assert_eq!(
        run,
        ls_link_target(&run, "driver-undone"),
        "nvme",
        "driver link after undo"
    );
    vm_assert_eq!(
        run,
        number(&run, "hugepages-undone"),
        0,
        "node1 nr_hugepages after undo"
    );
    let undone = harness::SysfsView::parse(&run.section("sysfs-undone").text)
        .unwrap_or_else(|e| run.fail(e));
    vm_assert!(
        run,
        undone.block.keys().any(|b| b.starts_with("nvme")),
        "the namespace is back after undo: {:?}",
        undone.block
    );
    vm_assert_eq!(
        run,
        host_state(&run, "host-undone", "thp"),
        thp_before,
        "THP after undo"
    );
    for name in [
        "net/core/rmem_max",
        "net/core/rmem_default",
        "vm/max_map_count",
    ] {
        let key = name.replace('/', ".");
        vm_assert_eq!(
            run,
            Some(host_state(&run, "host-undone", name).as_str()),
            facts["sysctl"][&key].as_str(),
            "{name} after undo is what it booted with"
        );
    }
    vm_assert_eq!(
        run,
        host_state(&run, "host-undone", "dropins"),
        "",
        "no drop-in after undo"
    );
}

/// Where `fix_mounted_nvme_refused` mounts the NVMe's namespace.
const MOUNTPOINT: &str = "/mnt/data";

/// The configured NVMe carries a mounted ext2 filesystem (busybox mke2fs in the guest):
/// `fix` must not unbind it. The plan refuses it naming the mountpoint, nvme.driver
/// fails saying it is mounted, and the kernel still has it on `nvme`, still mounted, the
/// file on it intact.
#[test]
#[ignore = "boots QEMU: run with --ignored (CI does)"]
fn fix_mounted_nvme_refused() {
    let addr = NVME_SLOT.address();
    let ns = format!("$(basename /sys/bus/pci/devices/{addr}/nvme/nvme*/nvme*n1)");
    let run = fix_machine("fix_mounted_nvme_refused")
        .setup(&format!("ns={ns}"))
        .setup("mke2fs -q \"/dev/$ns\"")
        .setup(&format!("mkdir -p {MOUNTPOINT}"))
        .setup(&format!("mount -t ext2 \"/dev/$ns\" {MOUNTPOINT}"))
        .setup(&format!("echo precious > {MOUNTPOINT}/data"))
        .capture("mounts-before", "cat /proc/mounts")
        .capture("fix", &bin("fix --format json"))
        .capture(
            "driver-after",
            &format!("ls -l /sys/bus/pci/devices/{addr}/driver"),
        )
        .capture("mounts-after", "cat /proc/mounts")
        .capture("data-after", &format!("cat {MOUNTPOINT}/data"))
        .capture("vfio-after", "ls /sys/module")
        .boot();
    let sys = run.sysfs();
    let facts = run.facts();
    let dev = find(&run, &facts["pci"]["devices"], "address", &addr);
    let ns_name = dev["nvme"]["namespaces"][0]["name"]
        .as_str()
        .unwrap_or_else(|| run.fail(format!("no namespace: {dev}")))
        .to_string();
    // The premise, from /proc/mounts itself.
    let mounted = |capture: &str| {
        run.section(capture).text.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.len() > 2 && w[0] == format!("/dev/{ns_name}") && w[1] == MOUNTPOINT
        })
    };
    vm_assert!(
        run,
        mounted("mounts-before"),
        "/dev/{ns_name} on {MOUNTPOINT} in /proc/mounts"
    );
    vm_assert_eq!(
        run,
        sys.pci.get(&addr).and_then(|p| p.driver.clone()),
        Some("nvme".to_string()),
        "the NVMe starts on nvme"
    );
    vm_assert_eq!(
        run,
        dev["nvme"]["namespaces"][0]["mountpoints"],
        serde_json::json!([MOUNTPOINT]),
        "facts see the mount"
    );

    // nvme.driver fails: the device is in use.
    assert_status(&run, "nvme.driver", "fail");
    let nvme = run.check("nvme.driver");
    let summary = nvme["summary"].as_str().unwrap_or_default();
    vm_assert!(
        run,
        summary.contains("in use by the host") && summary.contains(MOUNTPOINT),
        "nvme.driver says it is mounted on {MOUNTPOINT}: {nvme}"
    );

    // fix refuses it, says why, and plans neither the bind nor vfio-pci.
    let fix = run.json("fix");
    let refusal = fix["manual"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["check"] == "nvme.driver"))
        .unwrap_or_else(|| run.fail(format!("no manual nvme.driver entry: {fix}")));
    let reason = refusal["reason"].as_str().unwrap_or_default();
    vm_assert!(
        run,
        reason.starts_with("refused")
            && reason.contains(&addr)
            && reason.contains(&format!("mounted on {MOUNTPOINT}")),
        "the refusal names the device and the mountpoint: {refusal}"
    );
    let actions = fix_actions(&fix);
    vm_assert!(
        run,
        !actions
            .iter()
            .any(|(a, _, _)| a["kind"] == "bind_driver" || a["kind"] == "load_module"),
        "nothing planned for the mounted NVMe: {actions:?}"
    );
    vm_assert_eq!(
        run,
        fix["after"]["nvme.driver"],
        "fail",
        "fix's own recheck"
    );
    // Everything else fix can do still applies (hugepages, THP, sysctls, drop-in): the
    // refusal is reported in `manual`, not as a failed action, so the exit code is 0.
    let failed: Vec<_> = actions.iter().filter(|(_, o, _)| o != "applied").collect();
    vm_assert!(run, failed.is_empty(), "actions not applied: {failed:?}");
    vm_assert_eq!(run, run.section("fix").rc, 0, "fix exit code: {fix}");

    // The kernel's view: still on nvme, still mounted, the data readable, no vfio-pci.
    vm_assert_eq!(
        run,
        ls_link_target(&run, "driver-after"),
        "nvme",
        "driver link after fix"
    );
    vm_assert!(
        run,
        mounted("mounts-after"),
        "still mounted after fix: {}",
        run.section("mounts-after").text
    );
    vm_assert_eq!(
        run,
        run.section("data-after").text.trim(),
        "precious",
        "the file on the filesystem"
    );
    vm_assert!(
        run,
        !run.section("vfio-after")
            .text
            .split_whitespace()
            .any(|m| m == "vfio_pci"),
        "vfio-pci was not loaded for a device fix refused"
    );
}
