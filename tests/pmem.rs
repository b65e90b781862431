//! `scm.dcpm` and `facts.pmem` on the PMem hosts `tests/fixtures/make-pmem-fixtures.py`
//! writes at test time (the kernel's documented libnvdimm layout; see its docstring):
//! one tree per verdict, each with DAOS's fault code where DAOS has one.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The trees, written once for the test binary (the tests run in parallel).
fn trees() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(write_trees).clone()
}

fn write_trees() -> PathBuf {
    common::generated_trees("make-pmem-fixtures.py", "pmem-fixtures")
}

fn run(root: &Path, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_daos-preflight"))
        .args(args)
        .args(["--format", "json", "--root"])
        .arg(root)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn dcpm(root: &Path) -> Value {
    common::single_check(root, "scm.dcpm", &[])
}

#[test]
fn the_libnvdimm_tree_is_read_as_documented() {
    let dir = trees();
    let f = run(&dir.join("ok"), &["facts"]);
    let pm = &f["pmem"];
    assert_eq!(pm["regions"].as_array().unwrap().len(), 2, "{pm:#}");
    assert_eq!(pm["regions"][1]["mappings"], 6);
    assert_eq!(pm["regions"][1]["numa_node"], 1);
    assert_eq!(pm["regions"][1]["devtype"], "nd_pmem");
    assert_eq!(pm["regions"][0]["size_bytes"], 756u64 << 30);
    // the seed namespaces of size 0 are left out; fsdax disks are found through the pfn
    let ns: Vec<(&str, &str, &str)> = pm["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap(),
                n["mode"].as_str().unwrap(),
                n["blockdev"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ns,
        [
            ("namespace0.0", "fsdax", "pmem0"),
            ("namespace1.0", "fsdax", "pmem1")
        ]
    );
    assert_eq!(pm["mounts"][0]["mountpoint"], "/mnt/daos0");
    assert_eq!(pm["mounts"][0]["dax"], true);
    // raw mode: the namespace's own block device, as in the hwloc tree
    let f = run(&dir.join("raw-mode"), &["facts"]);
    assert_eq!(f["pmem"]["namespaces"][1]["blockdev"], "pmem1");
    assert_eq!(f["pmem"]["namespaces"][1]["mode"], "raw");
    assert_eq!(run(&dir.join("no-pmem"), &["facts"])["pmem"], Value::Null);
}

#[test]
fn each_verdict_on_its_tree() {
    let dir = trees();
    let ok = dcpm(&dir.join("ok"));
    assert_eq!(ok["status"], "pass", "{ok:#}");
    assert_eq!(
        ok["summary"],
        "engine 0 /dev/pmem0: namespace0.0 (fsdax, region0, node 0); engine 1 /dev/pmem1: namespace1.0 (fsdax, region1, node 1)"
    );
    for (case, status, code, text) in [
        (
            "raw-mode",
            "fail",
            Some("code.ScmInvalidPMem"),
            "engine 1 /dev/pmem1: namespace1.0 is in mode raw, DAOS needs fsdax",
        ),
        (
            "not-interleaved",
            "fail",
            Some("code.ScmBadRegion"),
            "region1 spans one DIMM: not an interleaved AppDirect set",
        ),
        (
            "wrong-node",
            "warn",
            None,
            "engine 1 is on node 1 (pinned_numa_node 1) but region1 is on node 0",
        ),
        (
            "mounted-elsewhere",
            "fail",
            None,
            "engine 1 /dev/pmem1: mounted on /mnt/scratch (DAOS formats and mounts it on /mnt/daos1)",
        ),
        (
            "no-dax",
            "warn",
            None,
            "mounted on /mnt/daos0 without dax (ext4)",
        ),
        (
            "no-pmem",
            "fail",
            Some("code.ScmNoPMem"),
            "this host has no persistent memory",
        ),
    ] {
        let c = dcpm(&dir.join(case));
        assert_eq!(c["status"], status, "{case}: {c:#}");
        assert!(
            c["summary"].as_str().unwrap().contains(text),
            "{case}: {c:#}"
        );
        assert_eq!(c["daos_fault_code"].as_str(), code, "{case}: {c:#}");
        assert!(c["remediation"].is_object(), "{case}: {c:#}");
    }
}
