//! Tests of `host::write` and `host::safe_path` on real temporary trees: symlinks,
//! directories of other users, a link planted while a walk runs.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

use crate::host::Host;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dp-write-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn replace_keeps_first_backup_mode_and_is_atomic() {
    let d = tmp("replace");
    let host = Host::at(&d);
    fs::create_dir_all(d.join("etc/default")).unwrap();
    fs::write(d.join("etc/default/grub"), "ORIGINAL\n").unwrap();
    fs::set_permissions(
        d.join("etc/default/grub"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let bak = host
        .replace_file("/etc/default/grub", "ONE\n", 0o644)
        .unwrap();
    assert_eq!(bak.as_deref(), Some("/etc/default/grub.daos-preflight.bak"));
    assert_eq!(
        fs::read_to_string(d.join("etc/default/grub")).unwrap(),
        "ONE\n"
    );
    let md = fs::metadata(d.join("etc/default/grub")).unwrap();
    assert_eq!(md.mode() & 0o777, 0o600, "mode of the original kept");
    // a second change keeps the very first backup
    assert_eq!(
        host.replace_file("/etc/default/grub", "TWO\n", 0o644)
            .unwrap(),
        None
    );
    assert_eq!(
        fs::read_to_string(d.join("etc/default/grub.daos-preflight.bak")).unwrap(),
        "ORIGINAL\n"
    );
    // no temporary left behind
    let names: Vec<_> = fs::read_dir(d.join("etc/default")).unwrap().collect();
    assert_eq!(names.len(), 2);
    // new file: created with the given mode, no backup
    assert_eq!(
        host.replace_file("/etc/sysctl.d/x.conf", "a=1\n", 0o644)
            .unwrap(),
        None
    );
    let md = fs::metadata(d.join("etc/sysctl.d/x.conf")).unwrap();
    assert_eq!(md.mode() & 0o777, 0o644);
    // a symlink is refused
    std::os::unix::fs::symlink("/etc/passwd", d.join("etc/link")).unwrap();
    assert!(host.replace_file("/etc/link", "x", 0o644).is_err());
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn attributes_are_read_back_and_never_created() {
    let d = tmp("attr");
    let host = Host::at(&d);
    fs::create_dir_all(d.join("sys/kernel/mm/transparent_hugepage")).unwrap();
    fs::write(d.join("sys/kernel/mm/transparent_hugepage/enabled"), "x\n").unwrap();
    assert_eq!(
        host.write_attr("/sys/kernel/mm/transparent_hugepage/enabled", "never")
            .unwrap(),
        "never"
    );
    assert!(
        host.write_attr("/sys/nope", "1")
            .unwrap_err()
            .is_not_found()
    );
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn second_lock_is_refused() {
    let d = tmp("lock");
    let host = Host::at(&d);
    let first = host.lock_fix().unwrap();
    let err = host.lock_fix().unwrap_err();
    assert!(
        err.to_string().contains("another daos-preflight fix"),
        "{err}"
    );
    drop(first);
    assert!(host.lock_fix().is_ok());
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn commands_do_not_run_against_a_tree() {
    let host = Host::at("/tmp");
    assert!(host.run_command(&["true".to_string()]).is_err());
}
