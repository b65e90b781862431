//! Hugepages that a running process holds while `check` runs, and a stale SPDK file of a
//! dead one (issue 16), on the real kernel's hugetlbfs.
//!
//! The guest boots with a pool of exactly what its daos_server.yml asks (one engine, one
//! target, a `file` bdev: DAOS 2.6 sets the node's pool to 512 + 2 pages), mounts
//! hugetlbfs on /dev/hugepages, and then two things hold pages there:
//! - `spdk_pid<dead pid>map_0`, [`STALE_PAGES`] pages `fallocate`d (busybox) under the
//!   pid of a shell that has exited: what an SPDK process killed by the OOM killer leaves
//!   behind, and what daos_server removes at start;
//! - `hugepage-holder` (tests/vm/hugepage_holder.rs, a static helper built here), a live
//!   process that maps [`HELD_PAGES`] pages of its own `spdk_pid<its pid>map_0` and
//!   touches each one.
//!
//! The kernel's view (`/proc/meminfo`, the node's `free_hugepages`, the holder's
//! `HugetlbPages:`, `ls` of the mount) is the reference; the reports must agree with it.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use super::harness::{
    GUEST_BINARY, GuestRun, MUSL_TARGET, Scenario, elf_is_static, vm_assert, vm_assert_eq, work_dir,
};
use super::{assert_status, status_in};

/// The pool the guest boots with (`hugepages=`): DAOS 2.6's share of the engine's node
/// for one target (1 GiB / 2 MiB = 512, + 2 per engine: server_utils.go prepBdevStorage).
const POOL: u64 = 514;
/// What the engine wants at start in 2.6 (`updateHugeMemValues`: nr_hugepages without
/// the extra 2, over the engines).
const WANT: u64 = 512;
/// Pages the live holder maps.
const HELD_PAGES: u64 = 250;
/// Pages of the dead process's file.
const STALE_PAGES: u64 = 64;
/// 2 MiB pages, KiB.
const PAGE_KIB: u64 = 2048;

/// One engine, one target, a RAM SCM tier and a file bdev, pinned to node 0 (the only
/// one): the hugepage requirement without an NVMe.
const SERVER_YML: &str = "\
name: daos_server
access_points: ['localhost']
port: 10001
provider: ofi+tcp
engines:
  - targets: 1
    pinned_numa_node: 0
    fabric_iface: lo
    fabric_iface_port: 31416
    log_file: /tmp/daos_engine_0.log
    storage:
      - class: ram
        scm_mount: /mnt/daos0
      - class: file
        bdev_list: [/tmp/daos-bdev0]
        bdev_size: 1
";

/// Builds a static helper from one Rust source file under tests/vm/ with the musl
/// target (std only), once per test process; returns its bytes.
pub fn static_helper(source: &str, name: &str) -> Vec<u8> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vm")
        .join(source);
    let dir = work_dir().join("helpers");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let out = dir.join(name);
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let status = Command::new(&rustc)
        .args(["--edition", "2021", "--target", MUSL_TARGET])
        .args([
            "-C",
            "opt-level=2",
            "-C",
            "panic=abort",
            "-C",
            "strip=symbols",
        ])
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .status()
        .unwrap_or_else(|e| panic!("running {rustc:?}: {e}"));
    assert!(
        status.success(),
        "rustc {} failed ({status})",
        src.display()
    );
    let bytes = std::fs::read(&out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    assert_eq!(
        elf_is_static(&bytes),
        Ok(true),
        "{} is not static",
        out.display()
    );
    bytes
}

/// `HugePages_Total` and `HugePages_Free` of a `/proc/meminfo` capture.
#[track_caller]
fn meminfo(run: &GuestRun, capture: &str) -> (u64, u64) {
    let text = &run.section(capture).text;
    let field = |k: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| run.fail(format!("capture {capture}: no {k} in {text:?}")))
    };
    (field("HugePages_Total:"), field("HugePages_Free:"))
}

/// The numbers a capture printed, whitespace separated.
#[track_caller]
fn numbers(run: &GuestRun, capture: &str) -> Vec<u64> {
    let text = &run.section(capture).text;
    text.split_whitespace()
        .map(|w| {
            w.parse()
                .unwrap_or_else(|e| run.fail(format!("capture {capture}: {w:?}: {e}")))
        })
        .collect()
}

/// The kernel's view of the pool: meminfo, then node 0's nr/free, one capture each.
const NODE0: &str = "/sys/devices/system/node/node0/hugepages/hugepages-2048kB";

fn pool_views(s: Scenario, tag: &str) -> Scenario {
    s.capture(&format!("meminfo-{tag}"), "grep HugePages_ /proc/meminfo")
        .capture(
            &format!("node0-{tag}"),
            &format!("cat {NODE0}/nr_hugepages {NODE0}/free_hugepages"),
        )
        .capture(&format!("ls-{tag}"), "ls /dev/hugepages")
}

fn check(version: &str) -> String {
    format!("{GUEST_BINARY} check --format json --daos-version {version}")
}

/// A check report's finding.
#[track_caller]
fn finding<'a>(run: &GuestRun, report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| run.fail(format!("no check {id} in {report}")))
}

/// A live process holds most of the pool while `check` runs: 2.6 warns (the engine
/// starts with less, naming the holder, its pid and the numbers), 2.2 fails with DAOS's
/// 609; `fix` removes exactly the dead pid's file (the dry run lists it) and the pages come
/// back; the live process's file stays; when the holder exits, a second check passes.
#[test]
#[ignore = "boots QEMU: run with --ignored (CI does)"]
fn hugepages_held_by_a_process() {
    let holder = static_helper("hugepage_holder.rs", "hugepage-holder");
    let s = Scenario::new("hugepages_held_by_a_process")
        .numa(&[(&[0, 1], 1536)])
        .kernel_args(&format!("hugepages={POOL}"))
        .check_args("--daos-version 2.6")
        .file("/bin/hugepage-holder", 0o755, &holder)
        .file("/etc/daos/daos_server.yml", 0o644, SERVER_YML.as_bytes())
        .setup("mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages")
        // a pid that ran and is gone (pids are not reused before pid_max wraps)
        .setup("dead=$(sh -c 'echo $$'); echo $dead > /tmp/dead.pid")
        .setup(&format!(
            "fallocate -l {} /dev/hugepages/spdk_pid${{dead}}map_0",
            STALE_PAGES * PAGE_KIB * 1024
        ))
        .setup(&format!("hugepage-holder /dev/hugepages {HELD_PAGES} &"))
        .setup("wait_for '[ -e /tmp/holder.ready ]'")
        .capture("pids", "cat /tmp/holder.pid /tmp/dead.pid")
        .capture(
            "holder-status",
            "grep -E '^(Name|HugetlbPages):' /proc/$(cat /tmp/holder.pid)/status",
        );
    let s = pool_views(s, "held")
        .capture("check-2.2", &check("2.2"))
        .capture(
            "fix-dry",
            &format!(
                "{GUEST_BINARY} fix --dry-run --format json --only hugepages --daos-version 2.6"
            ),
        )
        .capture("ls-dry", "ls /dev/hugepages")
        .capture(
            "fix",
            &format!("{GUEST_BINARY} fix --format json --only hugepages --daos-version 2.6"),
        );
    let s = pool_views(s, "fixed")
        .capture("journal", "cat /var/lib/daos-preflight/journal.json")
        .capture(
            "release",
            // the holder removes its file and exits; its pages are free once it is gone
            &format!(
                "touch /tmp/holder.release; i=0; \
             while [ \"$(cat {NODE0}/free_hugepages)\" != {POOL} ] && [ $i -lt 200 ]; do \
             usleep 50000; i=$((i + 1)); done; echo $i"
            ),
        );
    let run = pool_views(s, "released")
        .capture("check-released", &check("2.6"))
        .capture("check-released-2.2", &check("2.2"))
        .boot();

    // The premise, as the kernel shows it.
    let pids = numbers(&run, "pids");
    let (pid, dead) = (pids[0], pids[1]);
    let status = &run.section("holder-status").text;
    let hugetlb_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("HugetlbPages:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok());
    vm_assert!(
        run,
        status.contains("Name:\thugepage-holder") && hugetlb_kib == Some(HELD_PAGES * PAGE_KIB),
        "the holder maps {HELD_PAGES} pages: {status:?}"
    );
    let free_held = POOL - HELD_PAGES - STALE_PAGES;
    vm_assert_eq!(
        run,
        meminfo(&run, "meminfo-held"),
        (POOL, free_held),
        "meminfo with the holder"
    );
    vm_assert_eq!(
        run,
        numbers(&run, "node0-held"),
        [POOL, free_held],
        "node 0 nr/free"
    );
    let live_file = format!("spdk_pid{pid}map_0");
    let stale_file = format!("spdk_pid{dead}map_0");
    let mut both = vec![live_file.clone(), stale_file.clone()];
    both.sort();
    vm_assert_eq!(
        run,
        run.section("ls-held")
            .text
            .split_whitespace()
            .collect::<Vec<_>>(),
        both,
        "the mount holds both files"
    );

    // The facts see the same: the process, its pages, both files with their owners' state.
    let facts = run.facts();
    let holders = facts["hugepage_holders"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    vm_assert!(
        run,
        holders.iter().any(|h| h["pid"] == pid
            && h["name"] == "hugepage-holder"
            && h["hugetlb_kib"] == HELD_PAGES * PAGE_KIB),
        "facts.hugepage_holders: {holders:?}"
    );
    let files = facts["hugetlbfs"][0]["files"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (name, alive, pages) in [
        (&live_file, true, HELD_PAGES),
        (&stale_file, false, STALE_PAGES),
    ] {
        vm_assert!(
            run,
            files
                .iter()
                .any(|f| f["path"] == format!("/dev/hugepages/{name}")
                    && f["named_pid_alive"] == alive
                    && f["pages"] == pages),
            "facts.hugetlbfs has {name} (alive {alive}, {pages} pages): {files:?}"
        );
    }

    // 2.6: the engine starts with less (a NOTICE in DAOS's log): warn, with the numbers.
    let usable = free_held + STALE_PAGES;
    assert_status(&run, "hugepages.total", "warn");
    let total = run.check("hugepages.total");
    let summary = total["summary"].as_str().unwrap_or_default();
    for want in [
        format!("DAOS 2.6 starts the engines with {usable} of the {WANT} hugepages they want"),
        format!("engine 0 mem_size {} MiB", usable * 2),
        format!("hugepage-holder[{pid}] {HELD_PAGES} pages"),
        format!(
            "{free_held} free now + {STALE_PAGES} from 1 stale SPDK file(s) it removes = {usable} usable"
        ),
    ] {
        vm_assert!(
            run,
            summary.contains(&want),
            "hugepages.total says {want:?}: {total}"
        );
    }
    vm_assert_eq!(
        run,
        total["details"]["stale_files"][0]["name"],
        stale_file.as_str(),
        "the stale file daos_server removes: {total}"
    );
    assert_status(&run, "hugepages.numa", "warn");
    let numa = run.check("hugepages.numa");
    vm_assert!(
        run,
        numa["summary"]
            .as_str()
            .is_some_and(|s| s.contains(&format!(
                "node 0: {free_held} of {POOL} pages free at start ({} in use by others)",
                HELD_PAGES + STALE_PAGES
            ))),
        "hugepages.numa: {numa}"
    );

    // 2.2 refuses the engine: DAOS's 609 (code.ServerInsufficientFreeHugePageMem).
    let r22 = run.json("check-2.2");
    let t22 = finding(&run, &r22, "hugepages.total");
    vm_assert_eq!(run, t22["status"], "fail", "2.2: {t22}");
    vm_assert_eq!(
        run,
        t22["daos_fault_code"],
        "code.ServerInsufficientFreeHugePageMem",
        "2.2 fault code: {t22}"
    );
    let s22 = t22["summary"].as_str().unwrap_or_default();
    vm_assert!(
        run,
        s22.contains("insufficient amount of hugepage memory allocated for engine 0")
            && s22.contains(&format!("hugepage-holder[{pid}]")),
        "2.2 says DAOS's message and names the holder: {t22}"
    );

    // fix --dry-run lists exactly the dead pid's file and removes nothing.
    let dry = run.json("fix-dry");
    let removals: Vec<&Value> = dry["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| &s["action"])
        .filter(|a| a["kind"] == "remove_stale_hugepage_files")
        .collect();
    vm_assert_eq!(run, removals.len(), 1, "one removal planned: {dry}");
    vm_assert_eq!(run, removals[0]["dir"], "/dev/hugepages", "its directory");
    vm_assert_eq!(run, removals[0]["pid"], dead.to_string(), "the dead pid");
    vm_assert_eq!(
        run,
        removals[0]["files"],
        serde_json::json!([stale_file]),
        "exactly the stale file"
    );
    vm_assert_eq!(
        run,
        run.section("ls-dry")
            .text
            .split_whitespace()
            .collect::<Vec<_>>(),
        both,
        "the dry run removed nothing"
    );

    // fix removes it; the live process's file stays; the pages come back (kernel view).
    let fix = run.json("fix");
    let removal = super::fix_actions(&fix)
        .into_iter()
        .find(|(a, _, _)| a["kind"] == "remove_stale_hugepage_files")
        .unwrap_or_else(|| run.fail(format!("fix removed nothing: {fix}")));
    vm_assert_eq!(run, removal.1, "applied", "the removal: {fix}");
    let journal = run.json("journal");
    vm_assert!(
        run,
        journal["entries"].as_array().is_some_and(|e| e
            .iter()
            .any(|r| r["kind"] == "removed_hugepage_files"
                && r["pid"].as_str() == Some(dead.to_string().as_str())
                && r["files"] == serde_json::json!([stale_file]))),
        "the journal records the removal: {journal}"
    );
    vm_assert_eq!(run, run.section("fix").rc, 0, "fix exit code: {fix}");
    vm_assert!(
        run,
        fix["manual"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["check"] == "hugepages.total")),
        "the held pages are left to a person (2.6 shrinks a grown pool): {fix}"
    );
    vm_assert_eq!(
        run,
        run.section("ls-fixed")
            .text
            .split_whitespace()
            .collect::<Vec<_>>(),
        [live_file.as_str()],
        "only the live process's file is left"
    );
    vm_assert_eq!(
        run,
        meminfo(&run, "meminfo-fixed"),
        (POOL, usable),
        "the stale file's pages are free again"
    );
    vm_assert_eq!(
        run,
        numbers(&run, "node0-fixed"),
        [POOL, usable],
        "node 0 after fix"
    );

    // The holder exits: the whole pool is free and both releases pass.
    vm_assert!(
        run,
        run.section("release")
            .text
            .trim()
            .parse::<u64>()
            .is_ok_and(|i| i < 200),
        "the pages came back when the holder exited: {}",
        run.section("release").text
    );
    vm_assert_eq!(
        run,
        meminfo(&run, "meminfo-released"),
        (POOL, POOL),
        "meminfo released"
    );
    vm_assert_eq!(
        run,
        numbers(&run, "node0-released"),
        [POOL, POOL],
        "node 0 released"
    );
    vm_assert_eq!(
        run,
        run.section("ls-released").text.trim(),
        "",
        "the mount is empty"
    );
    for capture in ["check-released", "check-released-2.2"] {
        let r = run.json(capture);
        for id in ["hugepages.total", "hugepages.numa"] {
            vm_assert_eq!(run, status_in(&run, &r, id), "pass", "{capture} {id}: {r}");
        }
    }
}
