//! The hugepages DAOS will actually get (issue 16), on fixture trees written by
//! `tests/fixtures/make-hugepage-fixtures.py` (see its docstring: an EL8 one-socket
//! server, 2 MiB pages, one 4-target engine; DAOS wants 2048 pages, 2.6 asks 2050 of
//! the node). The expected numbers are the trees' own (how many files, free, reserved),
//! so each assertion can fail on a wrong count, a wrong release rule or a wrong holder.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Writes the trees once per test binary into `target/tmp/hugepage-fixtures/<tag>`.
fn trees(tag: &str) -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("hugepage-fixtures")
        .join(tag);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/make-hugepage-fixtures.py");
    let st = Command::new("python3")
        .arg(&script)
        .arg(&out)
        .status()
        .expect("python3");
    assert!(st.success(), "{} failed", script.display());
    out
}

fn run(args: &[&str]) -> (Value, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_daos-preflight"))
        .args(args)
        .output()
        .expect("run daos-preflight");
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.code().unwrap())
}

fn check(root: &Path, version: &str) -> Value {
    run(&[
        "check",
        "--format",
        "json",
        "--root",
        root.to_str().unwrap(),
        "--daos-version",
        version,
        "--only",
        "hugepages.total,hugepages.numa",
    ])
    .0
}

fn find<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {r}"))
}

fn summary(c: &Value) -> &str {
    c["summary"].as_str().unwrap()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn pool_too_small_warns_that_daos_must_allocate_at_start() {
    let t = trees("small");
    let r = check(&t.join("small-pool"), "2.6");
    let total = find(&r, "hugepages.total");
    assert_eq!(total["status"], "warn", "{total}");
    assert!(
        summary(total).starts_with("1024 hugepages now, 2050 needed"),
        "{total}"
    );
    // daos_server grows node 0 to its share: nothing else holds pages, all usable
    assert_eq!(total["details"]["start"]["usable_at_start"], 2050);
    assert_eq!(total["details"]["start"]["outcome"], "full");
    let f = &r["facts"];
    assert_eq!(f["hugetlbfs"][0]["mountpoint"], "/dev/hugepages");
    assert_eq!(f["hugetlbfs"][0]["page_size_kib"], 2048);
    assert_eq!(f["hugetlbfs"][0]["files"].as_array().unwrap().len(), 0);
    // holders are live-only; the system pool's resv_hugepages is read, nodes have none
    assert!(f["hugepage_holders"].is_null());
    assert_eq!(f["hugepages"][0]["reserved"], 0);
    assert!(f["numa"]["nodes"][0]["hugepages"][0]["reserved"].is_null());
}

#[test]
fn pool_large_enough_but_held_follows_the_release() {
    let t = trees("held");
    let root = t.join("held");
    // 2.6: mem_size = what is free (514 × 2 MiB), a NOTICE only
    let r = check(&root, "2.6");
    let total = find(&r, "hugepages.total");
    assert_eq!(total["status"], "warn", "{total}");
    let s = summary(total);
    assert!(
        s.starts_with("DAOS 2.6 starts the engines with 514 of the 2048 hugepages they want"),
        "{s}"
    );
    assert!(s.contains("engine 0 mem_size 1028 MiB"), "{s}");
    // the 1536 rtemap files of the DPDK application are named as one holder
    let holders = total["details"]["holders"].as_array().unwrap();
    assert_eq!(holders[0]["who"], "/dev/hugepages/rtemap_* (1536 files)");
    assert_eq!(holders[0]["pages"], 1536);
    assert!(
        s.contains("held: /dev/hugepages/rtemap_* (1536 files) 1536 pages"),
        "{s}"
    );
    assert!(
        total["details"]["stale_files"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let numa = find(&r, "hugepages.numa");
    assert_eq!(numa["status"], "warn");
    assert!(
        summary(numa).contains("node 0: 514 of 2050 pages free at start (1536 in use by others)"),
        "{numa}"
    );
    // 2.2 refuses the engine with DAOS's own message and code (faults.go)
    let r = check(&root, "2.2");
    let total = find(&r, "hugepages.total");
    assert_eq!(total["status"], "fail");
    assert_eq!(
        total["daos_fault_code"],
        "code.ServerInsufficientFreeHugePageMem"
    );
    assert!(summary(total).contains(
        "insufficient amount of hugepage memory allocated for engine 0: want 4.0 GiB (2048 hugepages), got 1.0 GiB (514 hugepages)"
    ));
    // 2.8 sets mem_size to the full 4 GiB: each of 4 targets allocates half its cap
    // (64 × 8 MiB) at start, 2 GiB, and 1 GiB is there
    let r = check(&root, "2.8");
    let total = find(&r, "hugepages.total");
    assert_eq!(total["status"], "fail", "{total}");
    assert!(total["daos_fault_code"].is_null());
    assert!(
        summary(total).contains("allocate 2048 MiB of DMA buffers"),
        "{total}"
    );
}

#[test]
fn held_by_stale_spdk_files_only_is_what_daos_reclaims() {
    let t = trees("stale");
    let root = t.join("stale-spdk");
    for v in ["2.2", "2.6", "2.8"] {
        let r = check(&root, v);
        let total = find(&r, "hugepages.total");
        assert_eq!(total["status"], "pass", "{v}: {total}");
        assert!(
            summary(total).contains(
                "514 free now + 1536 from 1536 stale SPDK file(s) it removes = 2050 usable"
            ),
            "{v}: {total}"
        );
        assert_eq!(
            total["details"]["stale_files"].as_array().unwrap().len(),
            1536
        );
        assert_eq!(find(&r, "hugepages.numa")["status"], "pass", "{v}");
        let files = r["facts"]["hugetlbfs"][0]["files"].as_array().unwrap();
        assert_eq!(files.len(), 1536);
        assert!(files.iter().all(|f| f["named_pid"] == "48213"
            && f["named_pid_alive"] == false
            && f["kind"] == "spdk"
            && f["pages"] == 1));
    }
    // nothing to fix: daos_server reclaims them itself
    let (plan, code) = run(&[
        "fix",
        "--dry-run",
        "--format",
        "json",
        "--root",
        root.to_str().unwrap(),
        "--only",
        "hugepages",
    ]);
    assert_eq!(code, 0);
    assert!(plan["actions"].as_array().unwrap().is_empty(), "{plan}");
}

#[test]
fn reserved_pages_count_as_free_for_daos_but_are_not() {
    let t = trees("rsvd");
    let root = t.join("reserved");
    let r = check(&root, "2.6");
    let total = find(&r, "hugepages.total");
    assert_eq!(total["status"], "warn", "{total}");
    let s = summary(total);
    assert!(
        s.contains("2050 free now − 1536 reserved by other mappings = 514 usable"),
        "{s}"
    );
    assert!(
        s.contains("DAOS counts the 1536 reserved pages as free and logs nothing"),
        "{s}"
    );
    assert!(s.contains("HugePages_Rsvd 1536 pages"), "{s}");
    // node 0 has all its pages free: the reservation is not per node
    assert_eq!(find(&r, "hugepages.numa")["status"], "pass");
    assert_eq!(
        find(&check(&root, "2.8"), "hugepages.total")["status"],
        "fail"
    );
}

#[test]
fn fix_removes_exactly_the_stale_files_and_journals_them() {
    let t = trees("fix");
    let root = t.join("stale-and-held");
    let hp = root.join("dev/hugepages");
    let before = files_in(&hp);
    assert_eq!(before.len(), 1024 + 512 + 511 + 1); // + the subdirectory "old"
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "fix".to_string(),
            "--format".into(),
            "json".into(),
            "--root".into(),
            root.to_str().unwrap().to_string(),
            "--only".into(),
            "hugepages".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let fix = |extra: &[&'static str]| {
        let a = args(extra);
        run(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    // 2.6: the dry run lists exactly the dead pid's top-level files, changes nothing,
    // and leaves the rest to a person (daos_server would shrink a grown pool)
    let (plan, _) = fix(&["--dry-run", "--daos-version", "2.6"]);
    assert_eq!(files_in(&hp), before, "a dry run removed something");
    let actions = plan["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{plan}");
    let a = &actions[0]["action"];
    assert_eq!(a["kind"], "remove_stale_hugepage_files");
    assert_eq!(a["pid"], "48213");
    assert_eq!(a["dir"], "/dev/hugepages");
    let mut listed: Vec<String> = a["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    listed.sort();
    let mut want: Vec<String> = (0..1024).map(|i| format!("spdk_pid48213map_{i}")).collect();
    want.sort();
    assert_eq!(listed, want);
    let manual = plan["manual"].as_array().unwrap();
    assert!(
        manual[0]["reason"]
            .as_str()
            .unwrap()
            .contains("1022 hugepages are held"),
        "{plan}"
    );
    // 2.8: removal first, then the node grows past what the live holders keep
    let (plan, code) = fix(&["--daos-version", "2.8"]);
    let kinds: Vec<&str> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["remove_stale_hugepage_files", "grow_hugepages_past_holders"]
    );
    assert_eq!(plan["results"][0]["outcome"], "applied", "{plan}");
    assert_eq!(code, 0, "{plan}");
    let after = files_in(&hp);
    let gone: Vec<&String> = before.iter().filter(|f| !after.contains(f)).collect();
    assert_eq!(gone.len(), 1024);
    assert!(gone.iter().all(|f| f.starts_with("spdk_pid48213map_")));
    // the live engine's files, the DPDK files and the subdirectory stay
    assert_eq!(
        after
            .iter()
            .filter(|f| f.starts_with("spdk_pid2417map_"))
            .count(),
        512
    );
    assert_eq!(
        after.iter().filter(|f| f.starts_with("rtemap_")).count(),
        511
    );
    assert!(hp.join("old/spdk_pid48213map_9999").exists());
    let journal: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("var/lib/daos-preflight/journal.json")).unwrap(),
    )
    .unwrap();
    let entry = journal["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "removed_hugepage_files")
        .unwrap_or_else(|| panic!("{journal}"));
    assert_eq!(entry["files"].as_array().unwrap().len(), 1024);
    // undo restores the pool and says the files cannot come back
    let out = Command::new(env!("CARGO_BIN_EXE_daos-preflight"))
        .args(["fix", "--undo", "--root", root.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("not restored: 1024 stale hugepage file(s) of pid 48213"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(
            root.join("sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages")
        )
        .unwrap()
        .trim(),
        "2050"
    );
}

#[test]
fn files_of_a_live_pid_are_not_stale() {
    // /proc/48213 exists: the same files are held by a running process
    let t = trees("race");
    let root = t.join("stale-and-held");
    std::fs::create_dir_all(root.join("proc/48213")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_daos-preflight"))
        .args([
            "check",
            "--format",
            "json",
            "--only",
            "hugepages.total",
            "--root",
        ])
        .arg(&root)
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let total = find(&r, "hugepages.total");
    assert!(
        total["details"]["stale_files"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        summary(total).contains("*spdk_pid48213map* (1024 files) 1024 pages"),
        "{total}"
    );
}
