//! The DAOS systemd units as `daos_server` will meet them: `daos.unit` (the packaged unit
//! edited in place, as the deployment guide's `User=root` workaround does) on copies of
//! `tests/fixtures/daos-server-ib`, whose `daos_server.service` is DAOS's own v2.6.0
//! `utils/systemd/` file (`shared/corpus/daos-config/v2.6.0/systemd/`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use common::fixtree::{copy_fixture, run_env};
use common::single_check;

const SERVER_UNIT: &str = "usr/lib/systemd/system/daos_server.service";
const DROPIN: &str = "etc/systemd/system/daos_server.service.d/50-daos-preflight-vendor-edits.conf";

fn corpus_unit(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/daos-config/v2.6.0/systemd")
        .join(name)
}

fn check(root: &Path, id: &str) -> Value {
    single_check(root, id, &[])
}

/// The guide's workaround: the packaged unit edited to run as root.
fn edit_to_root(root: &Path) {
    let p = root.join(SERVER_UNIT);
    let text = std::fs::read_to_string(&p).unwrap();
    let edited = text
        .replace("User=daos_server", "User=root")
        .replace("Group=daos_server", "Group=root");
    assert_ne!(text, edited);
    std::fs::write(&p, edited).unwrap();
}

#[test]
fn the_packaged_units_pass_as_shipped() {
    let root = copy_fixture("daos-server-ib", "units-shipped");
    // the fixture's daos_server.service is DAOS's own; its daos_agent.service differs
    // from DAOS's in Type=/Restart=/LimitNOFILE= only, not in the keys judged here
    assert_eq!(
        std::fs::read(root.join(SERVER_UNIT)).unwrap(),
        std::fs::read(corpus_unit("daos_server.service")).unwrap(),
    );
    let c = check(&root, "daos.unit");
    std::fs::remove_dir_all(&root).unwrap();
    assert_eq!(c["status"], "pass", "{c:#}");
    assert_eq!(
        c["summary"],
        "/usr/lib/systemd/system/daos_server.service: as shipped; /usr/lib/systemd/system/daos_agent.service: as shipped"
    );
}

#[test]
fn an_edited_vendor_unit_warns_and_fix_keeps_the_edit_in_a_dropin() {
    let root = copy_fixture("daos-server-ib", "units-edited");
    edit_to_root(&root);
    let c = check(&root, "daos.unit");
    assert_eq!(c["status"], "warn", "{c:#}");
    let s = c["summary"].as_str().unwrap();
    for want in [
        "/usr/lib/systemd/system/daos_server.service edits the packaged daos_server.service: User=root (shipped: User=daos_server), Group=root (shipped: Group=daos_server)",
        "the next daos package update replaces the file (it is not %config) and User=root, Group=root silently revert",
        "the control plane, every engine and SPDK run as root",
    ] {
        assert!(s.contains(want), "{want}\n{s}");
    }
    let actions: Vec<&str> = c["remediation"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        actions.iter().any(|a| a.starts_with("printf '# Written by daos-preflight fix")
            && a.ends_with("[Service]\\nUser=root\\nGroup=root\\n' > /etc/systemd/system/daos_server.service.d/50-daos-preflight-vendor-edits.conf")),
        "{actions:#?}"
    );
    assert!(
        actions.contains(
            &"dnf reinstall -y daos-server   # puts the packaged daos_server.service back"
        )
    );

    // the dry run changes nothing
    let before = common::fixtree::snapshot(&root);
    let out = run_env(
        &[
            "fix",
            "--dry-run",
            "--only",
            "daos.unit",
            "--root",
            root.to_str().unwrap(),
        ],
        &[],
    );
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(
        plan.contains("50-daos-preflight-vendor-edits.conf"),
        "{plan}"
    );
    assert_eq!(common::fixtree::snapshot(&root), before);

    // fix writes the drop-in; the edit is now durable and the check passes
    let out = run_env(
        &[
            "fix",
            "--only",
            "daos.unit",
            "--root",
            root.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let dropin = std::fs::read_to_string(root.join(DROPIN)).unwrap();
    assert!(
        dropin.ends_with("[Service]\nUser=root\nGroup=root\n"),
        "{dropin}"
    );
    let c = check(&root, "daos.unit");
    assert_eq!(c["status"], "pass", "{c:#}");
    assert!(
        c["summary"]
            .as_str()
            .unwrap()
            .contains("a drop-in sets the same, so an update keeps it"),
        "{c:#}"
    );
    // the service still runs as root, as before the fix (nvme.driver's view of the user)
    let facts: Value = serde_json::from_slice(
        &Command::new(env!("CARGO_BIN_EXE_daos-preflight"))
            .args(["facts", "--format", "json", "--root"])
            .arg(&root)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(facts["services"]["daos_server"]["user"], "root");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_removed_memlock_line_is_named() {
    let root = copy_fixture("daos-server-ib", "units-memlock");
    let p = root.join(SERVER_UNIT);
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, text.replace("LimitMEMLOCK=infinity\n", "")).unwrap();
    let c = check(&root, "daos.unit");
    std::fs::remove_dir_all(&root).unwrap();
    assert_eq!(c["status"], "warn", "{c:#}");
    assert!(
        c["summary"]
            .as_str()
            .unwrap()
            .contains("no LimitMEMLOCK= (shipped: LimitMEMLOCK=infinity)"),
        "{c:#}"
    );
    // not about root: User= is as shipped; and a lowered limit is not made durable
    assert!(!c["summary"].as_str().unwrap().contains("run as root"));
    assert_eq!(c["details"]["dropins"], Value::Array(vec![]));
}

const READY: &str = "tests/fixtures/daos-configs/ready.yml";

fn check_with(root: &Path, id: &str, config: &str) -> Value {
    single_check(root, id, &["--server-config", config])
}

/// A site drop-in confining daos_server to 4 CPUs and 8 GiB on the two-socket fixture
/// (48 CPUs a node, 187.6 GiB; ready.yml: two engines of 2 + 8 + 2 = 12 cores, RAM-disks
/// auto-sized to 76 GiB each).
#[test]
fn unit_limits_that_stop_the_engines_fail_and_fix_lifts_them() {
    let root = copy_fixture("daos-server-ib", "units-limits");
    let ready = Path::new(env!("CARGO_MANIFEST_DIR")).join(READY);
    let ready = ready.to_str().unwrap();
    let dir = root.join("etc/systemd/system/daos_server.service.d");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("40-site.conf"),
        "[Service]\nAllowedCPUs=0-3\nMemoryMax=8G\n",
    )
    .unwrap();
    let c = check_with(&root, "limits.service", ready);
    assert_eq!(c["status"], "fail", "{c:#}");
    let s = c["summary"].as_str().unwrap();
    for want in [
        "engine 0: 12 cores on node 0, 4 allowed (0-3): too few",
        "engine 1: 12 cores on node 1, 0 allowed (none): too few",
        "memory: 2 engine(s) × (RAM-disk 76 GiB + reserved 1 GiB) = 154 GiB, limit 8 GiB",
        "(allowed by AllowedCPUs=0-3, MemoryMax=8G)",
    ] {
        assert!(s.contains(want), "{want}\n{s}");
    }
    assert_eq!(
        c["details"]["dropins"][0]["content"]
            .as_str()
            .unwrap()
            .lines()
            .skip(1)
            .collect::<Vec<_>>(),
        ["[Service]", "AllowedCPUs=", "MemoryMax=infinity"]
    );
    let out = run_env(
        &[
            "fix",
            "--only",
            "limits.service",
            "--root",
            root.to_str().unwrap(),
            "--server-config",
            ready,
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        root.join("etc/systemd/system/daos_server.service.d/95-daos-preflight-limits.conf")
            .exists()
    );
    let c = check_with(&root, "limits.service", ready);
    std::fs::remove_dir_all(&root).unwrap();
    assert_eq!(c["status"], "pass", "{c:#}");
}

/// The cgroup-restricted machines of the hwloc corpus: the cpuset the captured process
/// ran in, read where hwloc reads it (proc/self/cpuset, proc/mounts, the cpuset or
/// cgroup2 mount), gives per node exactly the CPUs lstopo lists as allowed
/// (`oracle-summary`: `cpulist` is what the cgroup allows of `complete_cpulist`), and
/// its memory nodes are the nodes lstopo keeps.
#[test]
fn the_cgroups_of_captured_machines_are_read_as_hwloc_reads_them() {
    for name in [
        "linux_16amd64-8n2c-cpusets",
        "linux_16amd64-4n4c-cgroup-distance-merge",
        "linux_32amd64-4s2n4c-cgroup2",
        "linux_16em64t-4s2ca2c-cpusetreorder",
    ] {
        let root = common::hwloc::unpack(name, &format!("units-cg-{name}"));
        let facts: Value = serde_json::from_slice(
            &Command::new(env!("CARGO_BIN_EXE_daos-preflight"))
                .args(["facts", "--format", "json", "--root"])
                .arg(&root)
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let oracle: Value = serde_json::from_str(
            &std::fs::read_to_string(
                common::hwloc::hwloc_dir().join(format!("oracle-summary/{name}.summary.json")),
            )
            .unwrap(),
        )
        .unwrap();
        let cg = &facts["cgroup"];
        let cpus = common::cpu_list(cg["cpus"].as_str().unwrap());
        let mems = common::cpu_list(cg["mems"].as_str().unwrap());
        let kept: Vec<u32> = oracle["numa_nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["os_index"].as_u64().unwrap() as u32)
            .collect();
        assert_eq!(mems, kept, "{name}: {cg}");
        for n in oracle["numa_nodes"].as_array().unwrap() {
            let complete = common::cpu_list(n["complete_cpulist"].as_str().unwrap());
            let allowed: Vec<u32> = complete.into_iter().filter(|c| cpus.contains(c)).collect();
            assert_eq!(
                allowed,
                common::cpu_list(n["cpulist"].as_str().unwrap()),
                "{name} node {}: {cg}",
                n["os_index"]
            );
        }
        if name == "linux_16amd64-8n2c-cpusets" {
            // cpus 0-6,12-15 and mems 1-4 of 8 nodes of 2 CPUs each
            let dir = root.parent().unwrap();
            let yml = |pin: u32| {
                let p = dir.join(format!("pin{pin}.yml"));
                std::fs::write(
                    &p,
                    format!(
                        "name: daos_server\naccess_points: ['node0']\nport: 10001\nprovider: ofi+tcp\n\
                         engines:\n-\n  pinned_numa_node: {pin}\n  targets: 2\n  nr_xs_helpers: 0\n  \
                         fabric_iface: eth0\n  fabric_iface_port: 31416\n  storage:\n  -\n    class: ram\n    \
                         scm_mount: /mnt/daos0\n"
                    ),
                )
                .unwrap();
                p.display().to_string()
            };
            let c = check_with(&root, "limits.service", &yml(1));
            assert_eq!(c["status"], "fail", "{c:#}");
            assert!(
                c["summary"]
                    .as_str()
                    .unwrap()
                    .starts_with("engine 0: 4 cores on node 1, 2 allowed (2-3): too few"),
                "{c:#}"
            );
            // the limit is not the unit's: no drop-in, the slice is named
            assert_eq!(c["details"]["dropins"], Value::Array(vec![]));
            let c = check_with(&root, "limits.service", &yml(0));
            assert!(
                c["summary"]
                    .as_str()
                    .unwrap()
                    .contains("engine 0 is on node 0, but only memory node(s) 1-4 are allowed"),
                "{c:#}"
            );
        }
    }
}
