//! `fix` never follows a link it has not checked (issue #14): the real binary on
//! fixture trees where a DAOS directory, or its parent, is a symbolic link out of the
//! tree, or where a directory on the way belongs to another user. Each is refused with
//! the component and its owner named, and the target is left untouched.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::fixtree::{copy_fixture, fixture, run_env, snapshot};
use serde_json::Value;

fn fix_dirs(root: &Path) -> (Value, i32) {
    let ready = fixture("daos-configs/ready.yml");
    let out = run_env(
        &[
            "fix",
            "--format",
            "json",
            "--root",
            root.to_str().unwrap(),
            "--server-config",
            ready.to_str().unwrap(),
            "--only",
            "daos.dirs",
        ],
        &[],
    );
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (v, out.status.code().unwrap())
}

/// The result of the action on `path`.
fn result_for<'a>(r: &'a Value, path: &str) -> &'a Value {
    let i = r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .position(|a| a["action"]["path"] == path)
        .unwrap_or_else(|| panic!("no action on {path}: {r}"));
    r["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["index"] == i)
        .unwrap()
}

/// The case: /var/log/daos is a link to another directory. Before: fix said
/// "owned by daos_server" and had chowned the link's target.
#[test]
fn var_log_daos_as_a_symlink_is_refused_and_the_target_untouched() {
    let root = copy_fixture("daos-server-ib", "safety-link");
    let elsewhere = root.with_extension("elsewhere");
    let _ = std::fs::remove_dir_all(&elsewhere);
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::remove_dir_all(root.join("var/log/daos")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, root.join("var/log/daos")).unwrap();
    let owner = std::fs::metadata(&elsewhere).unwrap().uid();
    let outside = snapshot(&elsewhere);

    let (r, code) = fix_dirs(&root);
    let res = result_for(&r, "/var/log/daos");
    assert_eq!(res["outcome"], "failed", "{r}");
    let msg = res["message"].as_str().unwrap();
    assert!(
        msg.contains("/var/log/daos: unsafe path: is a symbolic link (to ")
            && msg.contains(&elsewhere.display().to_string()),
        "{msg}"
    );
    assert_eq!(code, 3, "not everything applied");
    assert_eq!(std::fs::metadata(&elsewhere).unwrap().uid(), owner);
    assert_eq!(
        snapshot(&elsewhere),
        outside,
        "nothing changed behind the link"
    );
    assert!(
        std::fs::symlink_metadata(root.join("var/log/daos"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // nothing is left for undo to "restore" through the link either
    let out = run_env(&["fix", "--undo", "--root", root.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::metadata(&elsewhere).unwrap().uid(), owner);
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&elsewhere);
}

#[test]
fn a_symlinked_parent_is_refused_by_its_own_name() {
    let root = copy_fixture("daos-server-ib", "safety-parent");
    let elsewhere = root.with_extension("elsewhere");
    let _ = std::fs::remove_dir_all(&elsewhere);
    std::fs::rename(root.join("var/log"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, root.join("var/log")).unwrap();
    let outside = snapshot(&elsewhere);

    let (r, _) = fix_dirs(&root);
    let msg = result_for(&r, "/var/log/daos")["message"].as_str().unwrap();
    assert!(
        msg.contains("/var/log: unsafe path: is a symbolic link"),
        "{msg}"
    );
    assert_eq!(
        snapshot(&elsewhere),
        outside,
        "nothing changed behind the link"
    );
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&elsewhere);
}

/// /var/log given to another user: the root-owned /var/log/daos inside could be swapped
/// by that user between two system calls, so fix does not go through it.
#[test]
fn a_component_owned_by_another_user_is_refused_with_its_owner() {
    if !nix_is_root() {
        eprintln!("skipped: chown needs root");
        return;
    }
    let root = copy_fixture("daos-server-ib", "safety-owner");
    // daos_agent (uid 993 in the tree's /etc/passwd) owns /var/log
    std::os::unix::fs::chown(root.join("var/log"), Some(993), Some(990)).unwrap();
    let before = std::fs::metadata(root.join("var/log/daos")).unwrap().uid();
    let (r, _) = fix_dirs(&root);
    let msg = result_for(&r, "/var/log/daos")["message"].as_str().unwrap();
    assert!(
        msg.contains("unsafe path transition: /var/log is owned by daos_agent (uid 993)"),
        "{msg}"
    );
    assert!(
        msg.contains("/var/log/daos (owned by root (uid 0))"),
        "{msg}"
    );
    assert_eq!(
        std::fs::metadata(root.join("var/log/daos")).unwrap().uid(),
        before
    );
    let _ = std::fs::remove_dir_all(&root);
}

fn nix_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .unwrap()
        .stdout
        == b"0\n"
}
