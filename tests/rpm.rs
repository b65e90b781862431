//! Install check of the RPM: build it with rpm/build.sh, unpack it into a temp root the
//! way rpm would install it, and judge what is inside. Ignored by a plain `cargo test`
//! (it vendors every crate and builds the release binary: minutes); CI runs it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn sh(cmd: &str, dir: &Path) -> (i32, String, String) {
    let out = Command::new("bash")
        .args(["-c", cmd])
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn built_rpm() -> (PathBuf, PathBuf) {
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (code, out, err) = sh("bash rpm/build.sh 2>&1 | tail -n 40", top);
    assert_eq!(code, 0, "{out}{err}");
    let dir = top.join("target/rpm");
    let find = |suffix: &str| {
        std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(suffix))
            .unwrap_or_else(|| panic!("no *{suffix} in {}: {out}", dir.display()))
    };
    (find(".x86_64.rpm"), find(".src.rpm"))
}

#[test]
#[ignore = "builds the RPM (cargo vendor + release build): run with --ignored (CI does)"]
fn rpm_installs_a_static_binary_units_and_docs() {
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (rpm, srpm) = built_rpm();
    let root = std::env::temp_dir().join(format!("dp-rpm-root-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let (code, _, err) = sh(
        &format!("rpm2cpio '{}' | cpio -idm --quiet", rpm.display()),
        &root,
    );
    assert_eq!(code, 0, "{err}");

    // the file list
    for f in [
        "usr/bin/daos-preflight",
        "usr/lib/systemd/system/daos-preflight.service",
        "usr/lib/systemd/system/daos-preflight-textfile.service",
        "usr/lib/systemd/system/daos-preflight-textfile.timer",
        "usr/lib/systemd/system/daos_server.service.d/daos-preflight.conf",
        "usr/lib/systemd/system/daos_agent.service.d/daos-preflight.conf",
        "etc/sysconfig/daos-preflight",
        "usr/share/man/man1/daos-preflight.1.gz",
        "usr/share/bash-completion/completions/daos-preflight",
        "usr/share/zsh/site-functions/_daos-preflight",
        "usr/share/fish/vendor_completions.d/daos-preflight.fish",
        "usr/share/licenses/daos-preflight-0.1.0/LICENSE",
        "usr/share/doc/daos-preflight-0.1.0/README.md",
    ] {
        assert!(root.join(f).is_file(), "{f} missing from the RPM");
    }
    let (_, list, _) = sh(&format!("rpm -qpl '{}'", rpm.display()), top);
    assert!(list.lines().all(|l| !l.contains("/target/")), "{list}");
    let (_, cfg, _) = sh(&format!("rpm -qpc '{}'", rpm.display()), top);
    assert_eq!(
        cfg.trim(),
        "/etc/sysconfig/daos-preflight",
        "config(noreplace) files"
    );

    // static: no interpreter, no library requirement
    let bin = root.join("usr/bin/daos-preflight");
    let (_, file, _) = sh(&format!("file -b '{}'", bin.display()), top);
    assert!(file.contains("static"), "{file}");
    assert!(!file.contains("interpreter"), "{file}");
    let (_, reqs, _) = sh(&format!("rpm -qp --requires '{}'", rpm.display()), top);
    for r in reqs.lines() {
        assert!(
            !r.contains(".so") && !r.starts_with("rtld") && !r.starts_with("lib"),
            "library requirement {r:?} in\n{reqs}"
        );
    }

    // the packaged binary works from there, on a captured host tree
    let fixture = top.join("tests/fixtures/iommu-passthrough");
    let out = Command::new(&bin)
        .args(["check", "--format", "json", "--root"])
        .arg(&fixture)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["facts"]["numa"]["nodes"].as_array().unwrap().len(), 2);
    // the man page documents the exit codes, completions name the subcommands
    let (_, man, _) = sh(
        &format!(
            "zcat '{}'",
            root.join("usr/share/man/man1/daos-preflight.1.gz")
                .display()
        ),
        top,
    );
    assert!(
        man.contains("Exit codes") && man.contains(".TH daos-preflight 1"),
        "{man}"
    );
    let bash =
        std::fs::read_to_string(root.join("usr/share/bash-completion/completions/daos-preflight"))
            .unwrap();
    assert!(bash.contains("explain") && bash.contains("--only"));

    // systemd accepts every unit and drop-in (a stub daos_server/daos_agent stands in
    // for DAOS's own units); any diagnostic counts as a failure
    let units = root.join("usr/lib/systemd/system");
    for (name, user) in [
        ("daos_server.service", "daos_server"),
        ("daos_agent.service", "daos_agent"),
    ] {
        std::fs::write(
            units.join(name),
            format!("[Unit]\nDescription=stub\n[Service]\nUser={user}\nExecStart=/usr/bin/daos-preflight list\n"),
        )
        .unwrap();
    }
    let (code, _, _) = sh(
        "for d in /usr/lib/systemd/system /lib/systemd/system; do [ -d $d ] && break; done; \
         cp -n $d/*.target usr/lib/systemd/system/ 2>/dev/null; mkdir -p bin && cp /bin/sh bin/",
        &root,
    );
    assert_eq!(code, 0);
    for unit in [
        "daos-preflight.service",
        "daos_server.service",
        "daos_agent.service",
    ] {
        let (code, out, err) = sh(
            &format!(
                "systemd-analyze verify --root='{}' --man=no {unit}",
                root.display()
            ),
            top,
        );
        assert!(code == 0 && err.trim().is_empty(), "{unit}: {out}{err}");
    }

    // rpmlint: no errors (the filtered ones are explained in rpm/rpmlint.toml)
    let (_, lint, lint_err) = sh(
        &format!(
            "rpmlint -c rpm/rpmlint.toml '{}' '{}' 2>&1",
            rpm.display(),
            srpm.display()
        ),
        top,
    );
    assert!(lint.contains(" 0 errors"), "{lint}{lint_err}");
    let _ = std::fs::remove_dir_all(&root);
}
