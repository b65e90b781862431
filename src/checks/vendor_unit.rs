//! `daos.unit`: the packaged `daos_server.service` / `daos_agent.service` as the DAOS
//! packages ship them.
//!
//! The DAOS RPM installs both units into `%{_unitdir}` as plain files, not `%config`
//! (daos-stack/daos utils/rpms/daos.spec, v2.6.0), so `rpm` replaces an edited copy on
//! the next update without a `.rpmnew`: the deployment guide's workaround of editing
//! `/usr/lib/systemd/system/daos_server.service` to `User=root` silently reverts, and
//! the next start runs as `daos_server` again (needing the IOMMU and VFIO that the
//! edit worked around). The shipped values are those of utils/systemd/daos_server.service
//! and daos_agent.service at v2.6.0 and v2.8.0 (identical for these keys): `User=` and
//! `Group=` the service's own account, `LimitMEMLOCK=infinity`.

use super::{Check, Context, Finding};
use crate::facts::{ServiceUnit, UnitSettings};

/// Where `fix` makes an edit of the packaged daos_server.service durable (drop-ins apply
/// in name order; before daos-preflight's own `90-` memlock drop-in, so that one wins).
pub const SERVER_DROPIN: &str =
    "/etc/systemd/system/daos_server.service.d/50-daos-preflight-vendor-edits.conf";
/// The same for daos_agent.service.
pub const AGENT_DROPIN: &str =
    "/etc/systemd/system/daos_agent.service.d/50-daos-preflight-vendor-edits.conf";

fn dropin_path(unit: &str) -> &'static str {
    if unit.starts_with("daos_agent") {
        AGENT_DROPIN
    } else {
        SERVER_DROPIN
    }
}

/// The values the DAOS packages ship for a unit: (key, value).
fn shipped(account: &str) -> [(&'static str, String); 3] {
    [
        ("User", account.to_string()),
        ("Group", account.to_string()),
        ("LimitMEMLOCK", "infinity".to_string()),
    ]
}

fn get<'a>(s: &'a UnitSettings, key: &str) -> Option<&'a str> {
    match key {
        "User" => s.user.as_deref(),
        "Group" => s.group.as_deref(),
        _ => s.limit_memlock.as_deref(),
    }
}

/// One unit's edits: (lines, warnings, drop-in content when one is needed).
fn judge(name: &str, account: &str, u: &ServiceUnit) -> Option<(String, Vec<String>, String)> {
    let v = u.vendor.as_ref()?;
    let mut edits = Vec::new();
    let mut pending = Vec::new();
    let mut content = String::new();
    for (key, want) in shipped(account) {
        let have = get(&v.settings, key);
        if have == Some(want.as_str()) {
            continue;
        }
        let shown = have.map_or_else(|| format!("no {key}="), |h| format!("{key}={h}"));
        let durable = get(&u.from_dropins, key) == have && have.is_some();
        edits.push(format!("{shown} (shipped: {key}={want})"));
        if !durable {
            pending.push(shown.clone());
            // a memlock edit is not kept: the shipped infinity is what SPDK needs, and
            // limits.memlock judges (and fixes) the limit the edit gives
            if key != "LimitMEMLOCK" {
                content.push_str(&format!("{key}={}\n", have.unwrap_or("")));
            }
        }
    }
    if edits.is_empty() {
        return Some((format!("{}: as shipped", v.path), vec![], String::new()));
    }
    let root_note = match get(&v.settings, "User") {
        Some("root") | None => {
            " User=root spares daos_server the IOMMU/VFIO rule for NVMe (server_utils.go prepBdevStorage applies it to non-root users only), but then the control plane, every engine and SPDK run as root: an engine bug or a compromised engine owns the host."
        }
        _ => "",
    };
    let line = format!("{} edits the packaged {name}: {}", v.path, edits.join(", "));
    if pending.is_empty() {
        return Some((
            format!("{line}; a drop-in sets the same, so an update keeps it"),
            vec![],
            String::new(),
        ));
    }
    let warn = format!(
        "{line}: the next daos package update replaces the file (it is not %config) and {} silently revert{}.{root_note}",
        pending.join(", "),
        if pending.len() == 1 { "s" } else { "" }
    );
    let content = if content.is_empty() {
        content
    } else {
        format!(
            "# Written by daos-preflight fix: the edits once made to the packaged unit, kept across updates.\n[Service]\n{content}"
        )
    };
    Some((line, vec![warn], content))
}

/// `daos.unit`
pub struct VendorUnit;

impl Check for VendorUnit {
    fn id(&self) -> &'static str {
        "daos.unit"
    }
    fn title(&self) -> &'static str {
        "DAOS units as the package ships them"
    }
    fn explain(&self) -> &'static str {
        "Compares User=, Group= and LimitMEMLOCK= of the packaged daos_server.service and \
daos_agent.service (/usr/lib/systemd/system, else /lib/systemd/system) with what the DAOS \
package ships (daos-stack/daos utils/systemd/, v2.6.0 and v2.8.0: the service's own account, \
LimitMEMLOCK=infinity). The RPM installs the units as plain files (utils/rpms/daos.spec, not \
%config): an update replaces an edited file and the edit silently reverts, e.g. the \
deployment guide's User=root, after which daos_server runs as daos_server and needs the IOMMU \
and VFIO again. The durable way is a drop-in in /etc/systemd/system/<unit>.d/. User=root itself \
costs: no IOMMU needed for NVMe, but the whole control plane and every engine run as root.\n\
pass: as shipped, or every edit is repeated by a drop-in. warn: an edit that an update would \
revert (fix writes the drop-in that keeps it; `dnf reinstall daos-server` then restores the \
packaged file). skip: no packaged unit installed."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let s = &ctx.facts.services;
        let units = [
            ("daos_server.service", "daos_server", s.daos_server.as_ref()),
            ("daos_agent.service", "daos_agent", s.daos_agent.as_ref()),
        ];
        let (mut ok, mut warns, mut actions) = (vec![], vec![], vec![]);
        let mut dropins = Vec::new();
        for (name, account, unit) in units {
            let Some((line, w, content)) = unit.and_then(|u| judge(name, account, u)) else {
                continue;
            };
            if w.is_empty() {
                ok.push(line);
                continue;
            }
            warns.extend(w);
            if content.is_empty() {
                actions.push(format!(
                    "# {name}: only LimitMEMLOCK= was edited; an update restores the shipped infinity (see limits.memlock)"
                ));
                continue;
            }
            let path = dropin_path(name);
            actions.push(format!("mkdir -p /etc/systemd/system/{name}.d"));
            actions.push(format!(
                "printf '{}' > {path}",
                content.replace('\n', "\\n")
            ));
            let package = if account == "daos_server" {
                "daos-server"
            } else {
                "daos-client"
            };
            actions.push(format!(
                "dnf reinstall -y {package}   # puts the packaged {name} back"
            ));
            dropins.push(serde_json::json!({"unit": name, "path": path, "content": content}));
        }
        if ok.is_empty() && warns.is_empty() {
            return Finding::skip("no packaged DAOS unit installed (/usr/lib/systemd/system)");
        }
        if warns.is_empty() {
            return Finding::pass(ok.join("; ")).detail("dropins", &dropins);
        }
        actions.push("systemctl daemon-reload".into());
        Finding::warn(warns.join("; "))
            .fix(
                "keep the edit in a drop-in (it survives updates), then restore the packaged unit",
                &actions,
                false,
            )
            .detail("dropins", &dropins)
            .detail("as_shipped", &ok)
    }
}
