//! `kill -9` of `fix` between unbinding the NVMe from `nvme` and binding it to
//! `vfio-pci`, on the real kernel (issue 14 item 2).
//!
//! The guest has a second daos-preflight, built by this test with `--features
//! failpoints` into its own target directory (`target/vm-failpoints`: the release
//! binary the other scenarios and the RPM use is never built with failpoints, and the
//! test checks that it has none). `DAOS_PREFLIGHT_FAILPOINTS=driver.unbound:<addr>=sleep(..)`
//! makes it print `@@FAILPOINT driver.unbound <addr> sleep@@` on stderr right after the
//! unbind (src/fix/apply.rs `bind_driver`) and wait there; the guest script waits for
//! that line and kills it with SIGKILL. The device is then on no driver at all, with the
//! journal's record of the rebind still `intent`. Twice in one boot:
//!
//! 1. the next `fix` (the release binary) completes the rebind and says so in
//!    `recovered`; the kernel shows the NVMe on vfio-pci, the journal has nothing
//!    unfinished, `check` passes nvme.driver; `fix --undo` puts it back on nvme;
//! 2. killed again at the same point, `fix --undo` straight from the killed state gives
//!    the NVMe back to nvme, as booted, with its namespace, and empties the journal.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::harness::{
    GUEST_BINARY, GuestRun, MUSL_TARGET, elf_is_static, target_dir, vm_assert, vm_assert_eq,
};
use super::{FIX_DAOS_VERSION, NVME_SLOT, fix_machine, ls_link_target, status_in};

/// The failpoints build's path in the guest.
const FP_BINARY: &str = "/bin/daos-preflight-failpoints";
/// The marker failpoint.rs prints before it sleeps.
const MARKER: &str = "@@FAILPOINT driver.unbound";
/// The variable that arms failpoints: a literal only in a build that has them.
const ARMING_VARIABLE: &str = "DAOS_PREFLIGHT_FAILPOINTS";

/// Builds daos-preflight with `--features failpoints` for the musl target into
/// `target/vm-failpoints` (never the release binary's directory), or takes
/// `DAOS_PREFLIGHT_VM_FAILPOINTS_BINARY`; returns its bytes.
fn failpoints_binary() -> Vec<u8> {
    if let Some(p) = std::env::var_os("DAOS_PREFLIGHT_VM_FAILPOINTS_BINARY") {
        let path = PathBuf::from(p);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            elf_is_static(&bytes),
            Ok(true),
            "{} is not static",
            path.display()
        );
        assert!(
            contains(&bytes, ARMING_VARIABLE.as_bytes()),
            "{} has no failpoints",
            path.display()
        );
        return bytes;
    }
    let dir = target_dir().join("vm-failpoints");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .args(["build", "--release", "--bin", "daos-preflight"])
        .args(["--features", "failpoints", "--target", MUSL_TARGET])
        .arg("--target-dir")
        .arg(&dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("running {cargo:?} build: {e}"));
    assert!(
        status.success(),
        "cargo build --features failpoints failed ({status})"
    );
    let path: PathBuf = dir.join(MUSL_TARGET).join("release/daos-preflight");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        elf_is_static(&bytes),
        Ok(true),
        "{} is not static",
        path.display()
    );
    assert!(
        contains(&bytes, ARMING_VARIABLE.as_bytes()),
        "{} has no failpoints",
        path.display()
    );
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Runs the failpoints build's `fix` in the background, waits (at most 20 s) until it
/// reports the failpoint, kills it with SIGKILL and prints its exit status and stderr.
fn fix_killed_after_unbind(addr: &str) -> String {
    format!(
        // a fresh stderr file: an earlier kill's marker must not end the wait early
        // (the background shell may truncate it only after the loop's first grep)
        "rm -f /tmp/fp.out /tmp/fp.err; \
         DAOS_PREFLIGHT_FAILPOINTS='driver.unbound:{addr}=sleep(60000)' \
         {FP_BINARY} fix --format json --only nvme.driver --daos-version {FIX_DAOS_VERSION} \
         >/tmp/fp.out 2>/tmp/fp.err & p=$!; i=0; \
         while ! grep -q '{MARKER} {addr} sleep@@' /tmp/fp.err 2>/dev/null && [ $i -lt 400 ]; do \
         usleep 50000; i=$((i + 1)); done; \
         kill -9 $p; wait $p; echo \"status=$?\"; cat /tmp/fp.err"
    )
}

/// The kernel's view of the device: the driver link (absent: `ls` fails), the
/// override, and the journal.
fn views(addr: &str) -> [String; 2] {
    [
        format!("ls -l /sys/bus/pci/devices/{addr}/driver"),
        "cat /var/lib/daos-preflight/journal.json".to_string(),
    ]
}

/// The journal's records still `intent`.
fn unfinished(journal: &Value) -> Vec<Value> {
    journal["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["state"] == "intent")
        .cloned()
        .collect()
}

/// The killed run: SIGKILL'd at the failpoint, the device on no driver, the rebind
/// `intent` in the journal.
#[track_caller]
fn assert_killed_between_unbind_and_bind(run: &GuestRun, tag: &str, addr: &str) {
    let kill = &run.section(&format!("kill-{tag}")).text;
    vm_assert!(
        run,
        kill.contains(&format!("{MARKER} {addr} sleep@@")) && kill.contains("status=137"),
        "{tag}: fix reached the failpoint and died of SIGKILL (128 + 9): {kill}"
    );
    let driver = run.section(&format!("driver-{tag}"));
    vm_assert!(
        run,
        driver.rc != 0 && !driver.text.contains(" -> "),
        "{tag}: between unbind and bind the NVMe has no driver: {driver:?}"
    );
    let journal = run.json(&format!("journal-{tag}"));
    let open = unfinished(&journal);
    vm_assert!(
        run,
        open.len() == 1
            && open[0]["kind"] == "driver"
            && open[0]["address"] == addr
            && open[0]["original"] == "nvme"
            && open[0]["wanted"] == "vfio-pci",
        "{tag}: the rebind is recorded as intent: {journal}"
    );
}

#[test]
#[ignore = "boots QEMU: run with --ignored (CI does)"]
fn fix_killed_between_unbind_and_bind() {
    let release = std::fs::read(
        target_dir()
            .join(MUSL_TARGET)
            .join("release/daos-preflight"),
    );
    let fp = failpoints_binary();
    let addr = NVME_SLOT.address();
    let [driver, journal] = views(&addr);
    let fix = |args: &str| format!("{GUEST_BINARY} {args} --daos-version {FIX_DAOS_VERSION}");
    let run = fix_machine("fix_killed_between_unbind_and_bind")
        .file(FP_BINARY, 0o755, &fp)
        // 1. killed, then a second fix recovers
        .capture("kill-1", &fix_killed_after_unbind(&addr))
        .capture("driver-1", &driver)
        .capture("journal-1", &journal)
        .capture(
            "fix-after-kill",
            &fix("fix --format json --only nvme.driver"),
        )
        .capture("driver-recovered", &driver)
        .capture("journal-recovered", &journal)
        .capture("check-recovered", &fix("check --format json"))
        .capture("undo-recovered", &format!("{GUEST_BINARY} fix --undo"))
        .capture("driver-undone", &driver)
        // 2. killed again, then undo straight away
        .capture("kill-2", &fix_killed_after_unbind(&addr))
        .capture("driver-2", &driver)
        .capture("journal-2", &journal)
        .capture("undo-after-kill", &format!("{GUEST_BINARY} fix --undo"))
        .capture("driver-undone-2", &driver)
        .capture("journal-undone-2", &journal)
        .capture(
            "block-undone-2",
            // the nvme driver scans the namespace after the bind: wait up to 10 s
            "i=0; while ! ls /sys/block | grep -q '^nvme' && [ $i -lt 100 ]; do \
             usleep 100000; i=$((i + 1)); done; ls /sys/block",
        )
        .boot();

    // The release binary the other scenarios boot has no failpoints in it.
    if let Ok(bytes) = release {
        vm_assert!(
            run,
            !contains(&bytes, ARMING_VARIABLE.as_bytes()),
            "the release binary must not carry failpoints"
        );
    }
    vm_assert_eq!(
        run,
        run.sysfs().pci.get(&addr).and_then(|p| p.driver.clone()),
        Some("nvme".to_string()),
        "the NVMe boots on nvme"
    );
    assert_killed_between_unbind_and_bind(&run, "1", &addr);

    // 1. The next fix completes the rebind and says so.
    let after = run.json("fix-after-kill");
    let recovered: Vec<&str> = after["recovered"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    vm_assert!(
        run,
        recovered.len() == 1
            && recovered[0].starts_with(&format!("unfinished change to {addr}: completed"))
            && recovered[0].contains("bound to vfio-pci"),
        "fix says it completed the rebind: {after}"
    );
    vm_assert_eq!(
        run,
        run.section("fix-after-kill").rc,
        0,
        "fix exit code: {after}"
    );
    vm_assert_eq!(
        run,
        ls_link_target(&run, "driver-recovered"),
        "vfio-pci",
        "the kernel has the NVMe on vfio-pci"
    );
    let j = run.json("journal-recovered");
    vm_assert!(run, unfinished(&j).is_empty(), "no unfinished record: {j}");
    vm_assert!(
        run,
        j["entries"]
            .as_array()
            .is_some_and(|e| e.iter().any(|r| r["kind"] == "driver"
                && r["address"] == addr.as_str()
                && r["state"] == "done")),
        "the completed rebind stays undoable: {j}"
    );
    let check = run.json("check-recovered");
    vm_assert_eq!(
        run,
        status_in(&run, &check, "nvme.driver"),
        "pass",
        "nvme.driver: {check}"
    );
    vm_assert_eq!(
        run,
        run.section("undo-recovered").rc,
        0,
        "undo after recovery"
    );
    vm_assert_eq!(
        run,
        ls_link_target(&run, "driver-undone"),
        "nvme",
        "undone to nvme"
    );

    // 2. Killed again: undo from the killed state gives the NVMe back to nvme.
    assert_killed_between_unbind_and_bind(&run, "2", &addr);
    let undo = run.section("undo-after-kill");
    vm_assert!(
        run,
        undo.rc == 0
            && undo
                .text
                .contains(&format!("gave {addr} back to nvme (an unfinished change)")),
        "undo rolls the unfinished rebind back: {undo:?}"
    );
    vm_assert_eq!(
        run,
        ls_link_target(&run, "driver-undone-2"),
        "nvme",
        "back on nvme"
    );
    let j = run.json("journal-undone-2");
    vm_assert_eq!(
        run,
        j["entries"],
        Value::Array(vec![]),
        "the journal is empty after undo"
    );
    vm_assert!(
        run,
        run.section("block-undone-2")
            .text
            .split_whitespace()
            .any(|b| b.starts_with("nvme")),
        "the namespace is back: {}",
        run.section("block-undone-2").text
    );
}
