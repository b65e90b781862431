//! Services: firewalld ports for DAOS, the `daos_server.service` memlock drop-in, and the
//! drop-ins that keep edits of the packaged DAOS units across updates or lift the unit's
//! own CPU/memory limits.

use super::files::push_file;
use super::{Action, FixInputs, MEMLOCK_DROPIN, Plan, Step, manual};
use crate::report::CheckResult;

/// Ports `firewall.ports` found closed (its `details.to_open`): opened permanently in
/// their zone, then one reload. Never a firewall disable.
pub(super) fn plan_firewall(p: &mut Plan, r: &CheckResult) {
    let Some(list) = r.details.get("to_open").and_then(|v| v.as_array()) else {
        return p.manual.push(manual(r, "nothing structured to open"));
    };
    let mut any = false;
    for o in list {
        let (Some(zone), Some(port)) = (
            o.get("zone").and_then(|v| v.as_str()),
            o.get("port").and_then(|v| v.as_str()),
        ) else {
            continue;
        };
        any = true;
        p.actions.push(Step {
            check: r.id.clone(),
            reason: format!("DAOS needs {port} open in firewalld zone {zone}"),
            action: Action::run(vec![
                "firewall-cmd".into(),
                "--permanent".into(),
                format!("--zone={zone}"),
                format!("--add-port={port}"),
            ]),
            reboot_required: false,
        });
    }
    if any {
        p.actions.push(Step {
            check: r.id.clone(),
            reason: "make the permanent configuration the running one".into(),
            action: Action::run(vec!["firewall-cmd".into(), "--reload".into()]),
            reboot_required: false,
        });
    }
}

/// The `LimitMEMLOCK=infinity` drop-in for `daos_server.service`, then a daemon-reload
/// where systemd runs.
pub(super) fn plan_memlock(p: &mut Plan, r: &CheckResult, inputs: &FixInputs) {
    let content = "# Written by daos-preflight fix: SPDK and VFIO must lock all hugepage memory.\n[Service]\nLimitMEMLOCK=infinity\n".to_string();
    if push_file(
        p,
        inputs,
        &r.id,
        "daos_server.service needs LimitMEMLOCK=infinity",
        MEMLOCK_DROPIN,
        content,
        false,
    ) && inputs.systemd
    {
        p.actions.push(Step {
            check: r.id.clone(),
            reason: "make systemd read the new drop-in".into(),
            action: Action::run(vec!["systemctl".into(), "daemon-reload".into()]),
            reboot_required: false,
        });
    }
}

/// The drop-ins a check asks for (its `details.dropins`: unit, path, content), then a
/// daemon-reload, and `then` as a manual step. `daos.unit`: the values someone wrote
/// into the packaged unit, now where an update does not undo them (nothing changes for
/// the service; restoring the packaged file is the package manager's job).
/// `limits.service`: the unit's own CPU/memory restrictions that stop the engines,
/// lifted (a parent slice's are never touched).
pub(super) fn plan_dropins(p: &mut Plan, r: &CheckResult, inputs: &FixInputs, then: Option<&str>) {
    let Some(list) = r.details.get("dropins").and_then(|v| v.as_array()) else {
        return p.manual.push(manual(r, "nothing structured to write"));
    };
    let mut any = false;
    for d in list {
        let (Some(unit), Some(path), Some(content)) = (
            d.get("unit").and_then(|v| v.as_str()),
            d.get("path").and_then(|v| v.as_str()),
            d.get("content").and_then(|v| v.as_str()),
        ) else {
            continue;
        };
        any |= push_file(
            p,
            inputs,
            &r.id,
            &format!("keep the edits of the packaged {unit} across package updates"),
            path,
            content.to_string(),
            false,
        );
    }
    if any && inputs.systemd {
        p.actions.push(Step {
            check: r.id.clone(),
            reason: "make systemd read the new drop-in".into(),
            action: Action::run(vec!["systemctl".into(), "daemon-reload".into()]),
            reboot_required: false,
        });
    }
    if let Some(then) = then.filter(|_| any) {
        p.manual.push(manual(r, then));
    }
    if !any && list.is_empty() {
        p.manual.push(manual(
            r,
            "the limit is not the unit's own: see the remediation",
        ));
    }
}
