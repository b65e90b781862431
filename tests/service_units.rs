//! The DAOS systemd units as `daos_server` will meet them: `daos.unit` (the packaged unit
//! edited in place, as the deployment guide's `User=root` workaround does) on copies of
//! `tests/fixtures/daos-server-ib`, whose `daos_server.service` is DAOS's own v2.6.0
//! `utils/systemd/` file (`shared/corpus/daos-config/v2.6.0/systemd/`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use common::fixtree::{copy_fixture, run_env};

const SERVER_UNIT: &str = "usr/lib/systemd/system/daos_server.service";
const DROPIN: &str = "etc/systemd/system/daos_server.service.d/50-daos-preflight-vendor-edits.conf";

fn corpus_unit(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/daos-config/v2.6.0/systemd")
        .join(name)
}

fn check(root: &Path, id: &str) -> Value {
    let out = run_env(
        &[
            "check",
            "--format",
            "json",
            "--only",
            id,
            "--root",
            root.to_str().unwrap(),
        ],
        &[],
    );
    let r: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    r["checks"][0].clone()
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
