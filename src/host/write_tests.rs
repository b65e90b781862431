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

/// A tree root with `etc/passwd` naming nobody, and a directory outside it.
fn tree_and_outside(name: &str) -> (PathBuf, PathBuf) {
    let d = tmp(name);
    let root = d.join("root");
    let outside = d.join("outside");
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::create_dir_all(root.join("var/log")).unwrap();
    fs::create_dir_all(outside.join("daos")).unwrap();
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/sbin/nologin\n",
    )
    .unwrap();
    fs::write(outside.join("secret"), "root's\n").unwrap();
    (root, outside)
}

fn uid_of(p: &std::path::Path) -> u32 {
    fs::symlink_metadata(p).unwrap().uid()
}

fn am_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
fn a_symlinked_directory_is_refused_and_its_target_untouched() {
    let (root, outside) = tree_and_outside("symdir");
    std::os::unix::fs::symlink(outside.join("daos"), root.join("var/log/daos")).unwrap();
    let host = Host::at(&root);
    let before = uid_of(&outside.join("daos"));
    let err = host
        .prepare_directory("/var/log/daos", false, Some((65534, 65534)))
        .unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.kind_name(), "unsafe_path", "{msg}");
    assert!(
        msg.contains("var/log/daos: unsafe path: is a symbolic link (to "),
        "{msg}"
    );
    assert!(
        msg.contains(&outside.join("daos").display().to_string()),
        "{msg}"
    );
    assert_eq!(
        uid_of(&outside.join("daos")),
        before,
        "the target kept its owner"
    );
    // every other write through it is refused the same way, nothing lands outside
    for e in [
        host.chown("/var/log/daos", 65534, 65534).unwrap_err(),
        host.replace_file("/var/log/daos/x.conf", "x\n", 0o644)
            .unwrap_err(),
        host.create_sparse_file("/var/log/daos/bdev", 1 << 20, None)
            .unwrap_err(),
        host.remove_dir("/var/log/daos/sub").unwrap_err(),
    ] {
        assert_eq!(e.kind_name(), "unsafe_path", "{e}");
        assert!(e.to_string().contains("var/log/daos"), "{e}");
    }
    assert_eq!(fs::read_dir(outside.join("daos")).unwrap().count(), 0);
    assert!(
        fs::symlink_metadata(root.join("var/log/daos"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_symlinked_parent_is_refused_by_name() {
    let (root, outside) = tree_and_outside("symparent");
    fs::remove_dir(root.join("var/log")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("var/log")).unwrap();
    let host = Host::at(&root);
    let err = host
        .prepare_directory("/var/log/daos", true, Some((65534, 65534)))
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("var/log: unsafe path: is a symbolic link"),
        "{msg}"
    );
    assert!(
        !msg.contains("var/log/daos:"),
        "names the link, not the target: {msg}"
    );
    let err = host
        .replace_file("/var/log/secret", "pwned\n", 0o644)
        .unwrap_err();
    assert!(err.to_string().contains("var/log: unsafe path"), "{err}");
    assert_eq!(
        fs::read_to_string(outside.join("secret")).unwrap(),
        "root's\n"
    );
    assert!(!outside.join("secret.daos-preflight.bak").exists());
    // the journal and lock walk the same way
    fs::create_dir_all(root.join("run")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("run/daos-preflight")).unwrap();
    let err = host.lock_fix().unwrap_err();
    assert!(
        err.to_string().contains("run/daos-preflight: unsafe path"),
        "{err}"
    );
    assert!(!outside.join("lock").exists());
}

#[test]
fn a_directory_of_another_user_is_an_unsafe_transition() {
    if !am_root() {
        eprintln!("skipped: chown to nobody needs root");
        return;
    }
    let (root, _) = tree_and_outside("transition");
    // /var/lib/daos belongs to a (compromised) service user; inside it, a root-owned file
    let lib = root.join("var/lib/daos");
    fs::create_dir_all(&lib).unwrap();
    fs::write(lib.join("root-owned.conf"), "a\n").unwrap();
    std::os::unix::fs::chown(&lib, Some(65534), Some(65534)).unwrap();
    let host = Host::at(&root);
    let err = host
        .replace_file("/var/lib/daos/root-owned.conf", "b\n", 0o644)
        .unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.kind_name(), "unsafe_path", "{msg}");
    assert!(
        msg.contains("unsafe path transition: /var/lib/daos is owned by nobody (uid 65534)"),
        "{msg}"
    );
    assert!(
        msg.contains("/var/lib/daos/root-owned.conf (owned by root (uid 0))"),
        "{msg}"
    );
    assert_eq!(
        fs::read_to_string(lib.join("root-owned.conf")).unwrap(),
        "a\n"
    );
    let err = host
        .chown("/var/lib/daos/root-owned.conf", 65534, 65534)
        .unwrap_err();
    assert!(err.to_string().contains("unsafe path transition"), "{err}");
    assert_eq!(uid_of(&lib.join("root-owned.conf")), 0);
    // creating a root-owned entry in it is refused too (before anything is made)
    let err = host
        .replace_file("/var/lib/daos/new.conf", "b\n", 0o644)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("refusing to create /var/lib/daos/new.conf"),
        "{err}"
    );
    let err = host.create_dir_all("/var/lib/daos/sub/dir").unwrap_err();
    assert!(
        err.to_string()
            .contains("refusing to create /var/lib/daos/sub"),
        "{err}"
    );
    assert!(!lib.join("new.conf").exists() && !lib.join("sub").exists());
    // what belongs to that same user is fine: its own file, a file made for it
    fs::write(lib.join("own"), "x").unwrap();
    std::os::unix::fs::chown(lib.join("own"), Some(65534), Some(65534)).unwrap();
    host.replace_file("/var/lib/daos/own", "y", 0o644).unwrap();
    assert_eq!(uid_of(&lib.join("own")), 65534, "owner kept");
    assert!(
        host.create_sparse_file("/var/lib/daos/bdev", 4096, Some((65534, 65534)))
            .unwrap()
    );
    assert_eq!(uid_of(&lib.join("bdev")), 65534);
}

#[test]
fn kernel_links_are_followed_inside_the_root_only() {
    let (root, _) = tree_and_outside("kernel");
    // an absolute link in a captured sysfs means the tree's /sys, never the machine's
    let dev = root.join("sys/devices/pci0000:00/0000:00:04.0");
    fs::create_dir_all(&dev).unwrap();
    fs::write(dev.join("driver_override"), "(null)\n").unwrap();
    fs::create_dir_all(root.join("sys/bus/pci/devices")).unwrap();
    std::os::unix::fs::symlink(
        "../../../devices/pci0000:00/0000:00:04.0",
        root.join("sys/bus/pci/devices/0000:00:04.0"),
    )
    .unwrap();
    std::os::unix::fs::symlink("/../../../../etc", root.join("sys/escape")).unwrap();
    let host = Host::at(&root);
    host.write_trigger(
        "/sys/bus/pci/devices/0000:00:04.0/driver_override",
        "vfio-pci",
    )
    .unwrap();
    assert_eq!(
        fs::read_to_string(dev.join("driver_override")).unwrap(),
        "vfio-pci"
    );
    // `..` above the root stays at the root: /sys/escape/passwd is the tree's
    assert!(
        host.read_string_safe("/sys/escape/passwd")
            .unwrap()
            .contains("nobody")
    );
    // outside /sys and /proc a link is never followed
    std::os::unix::fs::symlink("/sys", root.join("etc/sys")).unwrap();
    assert!(host.write_trigger("/etc/sys/escape/passwd", "x").is_err());
}

#[test]
fn a_link_planted_by_another_process_during_the_walks_never_redirects_a_chown() {
    if !am_root() {
        eprintln!("skipped: chown to nobody needs root");
        return;
    }
    let (root, outside) = tree_and_outside("race");
    let log = root.join("var/log");
    fs::create_dir_all(log.join("daos")).unwrap();
    // another process swaps /var/log/daos for a link to `outside` and back, as fast as
    // it can, while fix gives /var/log/daos to nobody again and again
    let script = format!(
        "cd {} || exit 1; while :; do mv -T daos daos.real; ln -s {} daos; rm daos; mv -T daos.real daos; done",
        log.display(),
        outside.display()
    );
    let mut racer = std::process::Command::new("sh")
        .args(["-c", &script])
        .spawn()
        .unwrap();
    let host = Host::at(&root);
    let (mut refused, mut done, mut absent) = (0, 0, 0);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while std::time::Instant::now() < until {
        match host.prepare_directory("/var/log/daos", false, Some((65534, 65534))) {
            Ok(_) => done += 1,
            Err(e) if e.kind_name() == "unsafe_path" => {
                assert!(e.to_string().contains("/var/log/daos"), "{e}");
                refused += 1
            }
            Err(e) if e.is_not_found() => absent += 1,
            Err(e) => panic!("{e}"),
        }
        // give the real directory back to root so every success is a real chown
        let _ = std::os::unix::fs::lchown(log.join("daos"), Some(0), Some(0));
        let _ = std::os::unix::fs::lchown(log.join("daos.real"), Some(0), Some(0));
        assert_eq!(uid_of(&outside), 0, "the link's target was chowned");
        assert_eq!(uid_of(&outside.join("daos")), 0);
    }
    racer.kill().unwrap();
    racer.wait().unwrap();
    eprintln!("race: {done} chowns, {refused} refusals, {absent} absent");
    assert!(refused > 0, "the racer never won a window: {done} chowns");
}
