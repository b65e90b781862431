//! `fix` killed at every step of its journal (issue #14): a failpoint (`--features
//! failpoints`, src/host/failpoint.rs) ends the process with `_exit(137)`, as a
//! `kill -9` would, at one step of one action; then
//!
//! - a second `fix` completes or rolls back the unfinished change, says which, and the
//!   tree ends exactly as an uninterrupted run leaves it, with no unfinished record;
//!   `fix --undo` then puts every file back as it was;
//! - or `fix --undo` right after the crash puts every file back as it was.
//!
//! Judged by snapshots of every file of the tree (content, mode, owner), not by fix's
//! own report. The NVMe rebind's steps are killed on the real kernel (tests/vm.rs).

mod common;

use std::path::Path;

use common::fixtree::{copy_fixture, differences, fixture, journal, run_env, snapshot};
use serde_json::Value;

/// A tree and the fix commands run on it, in order.
struct Scenario {
    fixture: &'static str,
    prepare: fn(&Path),
    commands: Vec<Vec<String>>,
}

fn no_prepare(_: &Path) {}

/// The EL8 host with VT-d off by the command line: THP, three sysctls, the memlock
/// drop-in, sysctl.d and /etc/default/grub with --persistent (grubby can't run in a tree).
fn el8() -> Scenario {
    Scenario {
        fixture: "iommu-kernel-off-el8",
        prepare: no_prepare,
        commands: vec![vec!["--persistent".into()]],
    }
}

/// The InfiniBand server: per-node hugepages and the DAOS directories, then the seed
/// configuration's 16 GiB file bdev.
fn ib() -> Scenario {
    let ready = fixture("daos-configs/ready.yml").display().to_string();
    let seed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/daos-config/seed/daos_server.yml")
        .display()
        .to_string();
    Scenario {
        fixture: "daos-server-ib",
        prepare: |root| {
            // per-node pools as a hugetlbfs kernel shows them (the capture has none)
            for n in 0..2 {
                let dir = root.join(format!(
                    "sys/devices/system/node/node{n}/hugepages/hugepages-2048kB"
                ));
                std::fs::create_dir_all(&dir).unwrap();
                for f in ["nr_hugepages", "free_hugepages", "surplus_hugepages"] {
                    std::fs::write(dir.join(f), "0\n").unwrap();
                }
            }
        },
        commands: vec![
            vec![
                "--server-config".into(),
                ready,
                "--only".into(),
                "hugepages,daos.dirs".into(),
            ],
            vec![
                "--server-config".into(),
                seed,
                "--only".into(),
                "nvme.present".into(),
            ],
        ],
    }
}

fn fresh(s: &Scenario, tag: &str) -> std::path::PathBuf {
    let root = copy_fixture(s.fixture, &format!("crash-{tag}"));
    (s.prepare)(&root);
    root
}

fn fix(root: &Path, args: &[String], failpoint: Option<&str>) -> (Option<Value>, i32, String) {
    let mut a = vec!["fix", "--format", "json", "--root", root.to_str().unwrap()];
    a.extend(args.iter().map(String::as_str));
    let env: Vec<(&str, &str)> = failpoint
        .map(|f| vec![("DAOS_PREFLIGHT_FAILPOINTS", f)])
        .unwrap_or_default();
    let out = run_env(&a, &env);
    kernel_choice_files(root);
    (
        serde_json::from_slice(&out.stdout).ok(),
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What the kernel does after a write to a choice file: it shows the whole list again
/// with the selected word in brackets (mm/huge_memory.c, enabled_show). The tree is
/// plain files, so the test plays that part after each run.
fn kernel_choice_files(root: &Path) {
    let p = root.join("sys/kernel/mm/transparent_hugepage/enabled");
    let Ok(text) = std::fs::read_to_string(&p) else {
        return;
    };
    let w = text.trim();
    if ["always", "madvise", "never"].contains(&w) {
        let list: Vec<String> = ["always", "madvise", "never"]
            .iter()
            .map(|c| {
                if *c == w {
                    format!("[{c}]")
                } else {
                    c.to_string()
                }
            })
            .collect();
        std::fs::write(&p, list.join(" ") + "\n").unwrap();
    }
}

fn undo(root: &Path) -> String {
    let out = run_env(&["fix", "--undo", "--root", root.to_str().unwrap()], &[]);
    kernel_choice_files(root);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "undo: {text}");
    text
}

fn unfinished(root: &Path) -> Vec<Value> {
    journal(root)["entries"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|r| r["state"] == "intent")
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// Back as it was: every file as in `original`; only empty directories fix made for a
/// file may remain (undo removes files, not the `mkdir -p` of their parents).
fn assert_restored(root: &Path, original: &[(String, Vec<u8>, u32, u32)], what: &str) {
    let now = snapshot(root);
    let diff: Vec<String> = differences(original, &now)
        .into_iter()
        .filter(|d| {
            let p = d[1..].split(' ').next().unwrap();
            // where fix keeps its own state (journal, lock)
            !(d.starts_with('+')
                && ["var/lib/daos-preflight", "run/daos-preflight"]
                    .iter()
                    .any(|s| s.starts_with(p) && p.ends_with('/')))
        })
        .filter(|d| {
            !(d.starts_with('+') && d.split(' ').next().unwrap().ends_with('/') && {
                let p = root.join(d[1..].split(' ').next().unwrap());
                std::fs::read_dir(p)
                    .map(|mut r| r.next().is_none())
                    .unwrap_or(false)
            })
        })
        .collect();
    assert!(diff.is_empty(), "{what}: not back as it was: {diff:#?}");
}

/// Runs the scenario with `failpoint` armed: the command that hits it dies; it is run
/// again (the recovering fix) and the rest follow. Returns the recovery lines.
fn crash_then_fix(s: &Scenario, root: &Path, failpoint: &str, subject: &str) -> Vec<String> {
    let mut recovered = None;
    for args in &s.commands {
        if recovered.is_some() {
            fix(root, args, None);
            continue;
        }
        let (_, code, stderr) = fix(root, args, Some(failpoint));
        if code != 137 {
            continue;
        }
        assert!(stderr.contains("@@FAILPOINT"), "{stderr}");
        let open = unfinished(root);
        assert_eq!(
            open.len(),
            1,
            "one unfinished record after the crash: {open:?}"
        );
        let (r, code, stderr) = fix(root, args, None);
        let r = r.unwrap_or_else(|| panic!("second fix: {stderr}"));
        assert_ne!(code, 137);
        recovered = Some(
            r["recovered"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect::<Vec<_>>(),
        );
    }
    let recovered = recovered.unwrap_or_else(|| panic!("{failpoint}: never hit"));
    assert_eq!(recovered.len(), 1, "{recovered:?}");
    // the record is the file's, also when its backup was being written
    let record = subject.trim_end_matches(".daos-preflight.bak");
    assert!(recovered[0].contains(record), "{recovered:?}");
    assert!(
        unfinished(root).is_empty(),
        "journal clean: {}",
        journal(root)
    );
    recovered
}

/// (failpoint, subject, what the second fix must do with the unfinished change)
fn cases_el8() -> Vec<(&'static str, &'static str, &'static str)> {
    const THP: &str = "/sys/kernel/mm/transparent_hugepage/enabled";
    const GRUB: &str = "/etc/default/grub";
    vec![
        ("journal.intent", THP, "rolled back"),
        ("attr.written", THP, "completed"),
        ("journal.done", "/proc/sys/vm/max_map_count", "completed"),
        ("journal.intent", GRUB, "rolled back"),
        (
            "file.tmp",
            "/etc/default/grub.daos-preflight.bak",
            "rolled back",
        ),
        ("file.backup", GRUB, "rolled back"),
        ("file.tmp", GRUB, "rolled back"),
        ("file.renamed", GRUB, "completed"),
        ("journal.done", GRUB, "completed"),
        (
            "file.tmp",
            "/etc/sysctl.d/90-daos-preflight.conf",
            "rolled back",
        ),
        (
            "file.renamed",
            "/etc/systemd/system/daos_server.service.d/90-daos-preflight-memlock.conf",
            "completed",
        ),
    ]
}

fn cases_ib() -> Vec<(&'static str, &'static str, &'static str)> {
    const NODE0: &str = "/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages";
    const NODE1: &str = "/sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages";
    const BDEV: &str = "/var/lib/daos/dev/daos-bdev";
    vec![
        ("journal.intent", NODE0, "rolled back"),
        ("attr.written", NODE1, "completed"),
        ("journal.done", NODE1, "completed"),
        ("dir.chown", "/var/log/daos", "rolled back"),
        ("journal.done", "/var/log/daos", "completed"),
        ("journal.intent", BDEV, "rolled back"),
        ("journal.done", BDEV, "completed"),
    ]
}

fn run_cases(s: Scenario, name: &str, cases: Vec<(&str, &str, &str)>) {
    // the reference: the original tree, and the tree after uninterrupted runs
    let control = fresh(&s, &format!("{name}-control"));
    let original = snapshot(&control);
    for args in &s.commands {
        let (r, code, e) = fix(&control, args, None);
        assert!(r.is_some() && code != 137, "{e}");
    }
    let fixed = snapshot(&control);
    assert_ne!(original, fixed, "the scenario changes something");
    let _ = std::fs::remove_dir_all(&control);

    for (i, (point, subject, want)) in cases.iter().enumerate() {
        let spec = format!("{point}:{subject}=exit");
        // a second fix completes or rolls back, then matches an uninterrupted run
        let root = fresh(&s, &format!("{name}-{i}"));
        let lines = crash_then_fix(&s, &root, &spec, subject);
        assert!(lines[0].contains(want), "{spec}: want {want}: {lines:?}");
        let diff = differences(&fixed, &snapshot(&root));
        assert!(
            diff.is_empty(),
            "{spec}: differs from an uninterrupted run: {diff:#?}"
        );
        undo(&root);
        assert_restored(&root, &original, &format!("{spec}, fix, undo"));
        let _ = std::fs::remove_dir_all(&root);

        // undo straight from the crash
        let root = fresh(&s, &format!("{name}-{i}-undo"));
        for args in &s.commands {
            if fix(&root, args, Some(&spec)).1 == 137 {
                break;
            }
        }
        assert_eq!(unfinished(&root).len(), 1, "{spec}");
        let text = undo(&root);
        assert!(text.contains("(an unfinished change)"), "{spec}: {text}");
        assert_restored(&root, &original, &format!("{spec}, undo"));
        assert!(journal(&root)["entries"].as_array().unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&root);
    }
}

#[test]
fn killed_at_every_step_el8_persistent() {
    run_cases(el8(), "el8", cases_el8());
}

#[test]
fn killed_at_every_step_hugepages_dirs_bdev() {
    run_cases(ib(), "ib", cases_ib());
}

/// A link planted in the middle of a walk, by another process, at the moment fix is
/// between /var/log and /var/log/daos: refused, the target untouched.
#[test]
fn a_link_planted_mid_walk_is_refused() {
    let root = copy_fixture("daos-server-ib", "crash-midwalk");
    let elsewhere = root.with_extension("elsewhere");
    let _ = std::fs::remove_dir_all(&elsewhere);
    std::fs::create_dir_all(&elsewhere).unwrap();
    let ready = fixture("daos-configs/ready.yml");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_daos-preflight"))
        .args([
            "fix",
            "--format",
            "json",
            "--root",
            root.to_str().unwrap(),
            "--server-config",
            ready.to_str().unwrap(),
            "--only",
            "daos.dirs",
        ])
        .env(
            "DAOS_PREFLIGHT_FAILPOINTS",
            "walk.component:/var/log/daos=sleep(1500)",
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // wait until fix stands in /var/log, about to open daos (its stderr says so)
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    use std::io::Read;
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("@@FAILPOINT walk.component /var/log/daos") {
        let n = stderr.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "fix ended before the walk: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    std::fs::rename(root.join("var/log/daos"), root.join("var/log/daos.moved")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, root.join("var/log/daos")).unwrap();
    let out = child.wait_with_output().unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let i = r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .position(|a| a["action"]["path"] == "/var/log/daos")
        .unwrap();
    let res = &r["results"][i];
    assert_eq!(res["outcome"], "failed", "{r}");
    assert!(
        res["message"]
            .as_str()
            .unwrap()
            .contains("/var/log/daos: unsafe path: is a symbolic link"),
        "{res}"
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&elsewhere).unwrap().uid(), 0);
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&elsewhere);
}
