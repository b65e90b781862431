//! `daos.user` and `daos.dirs`: the accounts the DAOS services run as, and the
//! directories they need, with owners matching those accounts.
//!
//! Sources: daos.spec (v2.6.0 `%pre server`: groups daos_metrics, daos_server,
//! daos_daemons, user daos_server in daos_metrics and daos_daemons; `%pre client`:
//! daos_agent in daos_daemons), utils/systemd/*.service (`User=`, `RuntimeDirectory=`),
//! server/drpc.go `checkSocketDir` (socket_dir must exist: "SocketDir should be created
//! during configuration management"), storage/mount/provider.go (scm_mount directories
//! are created and chowned by daos_server_helper), storage/metadata/provider.go
//! (`control_metadata.path` must exist: only its `daos_control` subdirectory is created),
//! and the log files, which daos_server/daos_agent open for append (the directory must
//! exist and be writable by the service user).

use super::nvme::path_fact;
use super::service::{ServiceUser, agent_user, is_runtime_dir, server_user};
use super::{Check, Context, Finding};
use crate::daos::config::{FileLoad, Role};
use crate::daos::requirements::{DEFAULT_AGENT_RUNTIME_DIR, DEFAULT_SOCKET_DIR, parent_dir};
use crate::facts::{Facts, PathFact, UserAccount};

fn account<'a>(f: &'a Facts, name: &str) -> Option<&'a UserAccount> {
    f.accounts.users.iter().find(|u| u.name == name)
}

/// The services this host runs, by role.
#[allow(clippy::result_large_err)] // the Err is the finding itself
fn services(ctx: &Context) -> Result<Vec<(&'static str, ServiceUser)>, Finding> {
    let Some(c) = ctx.config else {
        return Err(Finding::skip("no DAOS configuration was read"));
    };
    let f = ctx.facts;
    let mut out = Vec::new();
    match c.role {
        Role::Server => {
            out.push(("daos_server", server_user(f)));
            if c.agent.exists() {
                out.push(("daos_agent", agent_user(f)));
            }
        }
        Role::Agent => out.push(("daos_agent", agent_user(f))),
        Role::Unknown => {
            return Err(Finding::skip("no DAOS configuration found: role unknown"));
        }
    }
    Ok(out)
}

/// `daos.user`
pub struct User;

impl Check for User {
    fn id(&self) -> &'static str {
        "daos.user"
    }
    fn title(&self) -> &'static str {
        "DAOS service users and groups exist"
    }
    fn explain(&self) -> &'static str {
        "daos_server.service runs as User=daos_server and daos_agent.service as User=daos_agent \
(after drop-ins; without an installed unit the DAOS unit's user is assumed). The daos-server \
and daos-client RPMs create them: groups daos_server, daos_metrics, daos_daemons; user \
daos_server in daos_metrics and daos_daemons; user daos_agent in daos_daemons. A unit whose \
user is missing fails with status 217/USER.\n\
pass: the accounts exist. warn: a supplementary group is missing. fail: the user or its \
Group= is missing. skip: the services run as root, or no DAOS configuration. error: \
/etc/passwd unreadable."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let svcs = match services(ctx) {
            Ok(s) => s,
            Err(f) => return f,
        };
        let f = ctx.facts;
        if !f.accounts.passwd_readable {
            return Finding::error("/etc/passwd could not be read");
        }
        let (mut ok, mut warns, mut fails, mut actions) = (vec![], vec![], vec![], vec![]);
        let mut judged = 0;
        for (svc, u) in &svcs {
            if u.is_root() {
                ok.push(format!("{svc} runs as root ({})", u.origin));
                continue;
            }
            judged += 1;
            let group_exists = |g: &str| f.accounts.groups.iter().any(|x| x.name == g);
            let Some(acct) = account(f, &u.user) else {
                fails.push(format!(
                    "{svc} runs as {} ({}), which is not in /etc/passwd",
                    u.user, u.origin
                ));
                if !group_exists(&u.group) {
                    actions.push(format!("groupadd -r {}", u.group));
                }
                actions.push(if *svc == "daos_server" {
                    format!(
                        "useradd -s /sbin/nologin -r -g {} -G daos_metrics,daos_daemons {}",
                        u.group, u.user
                    )
                } else {
                    format!(
                        "useradd -s /sbin/nologin -r -g {} -G daos_daemons {}",
                        u.group, u.user
                    )
                });
                continue;
            };
            if !group_exists(&u.group) {
                fails.push(format!("{svc}'s Group={} is not in /etc/group", u.group));
                actions.push(format!("groupadd -r {}", u.group));
            }
            let wanted: &[&str] = if *svc == "daos_server" {
                &["daos_daemons", "daos_metrics"]
            } else {
                &["daos_daemons"]
            };
            for g in wanted {
                let member =
                    acct.groups.iter().any(|x| x == g) || acct.primary_group.as_deref() == Some(*g);
                if !group_exists(g) {
                    warns.push(format!(
                        "group {g} does not exist (the DAOS RPM creates it)"
                    ));
                    actions.push(format!("groupadd -r {g} && usermod -aG {g} {}", u.user));
                } else if !member {
                    warns.push(format!("{} is not in group {g}", u.user));
                    actions.push(format!("usermod -aG {g} {}", u.user));
                }
            }
            ok.push(format!(
                "{svc} runs as {} (uid {}, groups {})",
                u.user,
                acct.uid,
                acct.groups.join(",")
            ));
        }
        let base =
            |fd: Finding| fd.detail("services", svcs.iter().map(|(_, u)| u).collect::<Vec<_>>());
        if !fails.is_empty() {
            base(Finding::fail(fails.join("; ")).fix(
                "create the DAOS accounts as the DAOS RPM does",
                &actions,
                false,
            ))
        } else if !warns.is_empty() {
            base(Finding::warn(warns.join("; ")).fix(
                "add the DAOS groups as the DAOS RPM does",
                &actions,
                false,
            ))
        } else if judged == 0 {
            base(Finding::skip(format!(
                "{}: no service account needed",
                ok.join("; ")
            )))
        } else {
            base(Finding::pass(ok.join("; ")))
        }
    }
}

/// Whether the service user can create files in `d` (owner/group/other write bits).
fn writable_by(d: &PathFact, u: &ServiceUser, acct: Option<&UserAccount>) -> bool {
    if u.is_root() {
        return true;
    }
    let mode = d
        .mode
        .as_deref()
        .and_then(|m| u32::from_str_radix(m, 8).ok())
        .unwrap_or(0);
    let is_owner = match (acct, d.uid) {
        (Some(a), Some(uid)) => a.uid == uid,
        _ => d.owner.as_deref() == Some(&u.user),
    };
    let in_group = match (acct, d.gid) {
        (Some(a), Some(gid)) => {
            a.gid == gid || d.group.as_ref().is_some_and(|g| a.groups.contains(g))
        }
        _ => d.group.as_deref() == Some(&u.group),
    };
    (is_owner && mode & 0o200 != 0) || (in_group && mode & 0o020 != 0) || mode & 0o002 != 0
}

fn owner_of(d: &PathFact) -> String {
    format!(
        "{}:{} {}",
        d.owner
            .clone()
            .or(d.uid.map(|u| u.to_string()))
            .unwrap_or_else(|| "?".into()),
        d.group
            .clone()
            .or(d.gid.map(|g| g.to_string()))
            .unwrap_or_else(|| "?".into()),
        d.mode.as_deref().unwrap_or("?")
    )
}

/// How a directory must be.
enum Need {
    /// Must exist and be writable by the service user (logs, sockets).
    Writable,
    /// Must exist (a parent DAOS creates a subdirectory in as root).
    Exists,
    /// DAOS (its privileged helper) creates it when missing.
    CreatedByDaos,
}

impl Need {
    /// How much the setting asks of the directory: one directory named by several
    /// settings must satisfy the most demanding of them.
    fn rank(&self) -> u8 {
        match self {
            Need::Writable => 2,
            Need::Exists => 1,
            Need::CreatedByDaos => 0,
        }
    }
}

/// One entry per directory, naming every setting that needs it (`control_log_file
/// directory, engine 0 log_file directory /var/log/daos`), so the report and `fix` say
/// each `mkdir`/`chown` once. The first setting's service user is kept: the items of one
/// host are all for one service (server, else agent).
fn merge_by_path(
    items: Vec<(ServiceUser, String, String, Need)>,
) -> Vec<(ServiceUser, String, String, Need)> {
    let mut out: Vec<(ServiceUser, String, String, Need)> = Vec::new();
    for (u, path, what, need) in items {
        let key = path.trim_end_matches('/');
        match out
            .iter_mut()
            .find(|(_, p, _, _)| p.trim_end_matches('/') == key)
        {
            Some(e) => {
                if !e.2.split(", ").any(|w| w == what) {
                    e.2 = format!("{}, {what}", e.2);
                }
                if need.rank() > e.3.rank() {
                    e.3 = need;
                }
            }
            None => out.push((u, path, what, need)),
        }
    }
    out
}

/// `daos.dirs`
pub struct Dirs;

impl Check for Dirs {
    fn id(&self) -> &'static str {
        "daos.dirs"
    }
    fn title(&self) -> &'static str {
        "DAOS directories exist with the right owner"
    }
    fn explain(&self) -> &'static str {
        "The directories daos_server and daos_agent need before they start: the directory of \
control_log_file and of each engine's log_file (opened for append by the service user), \
socket_dir (default /var/run/daos_server; drpc.go checkSocketDir refuses a missing one — \
systemd creates it when it is the unit's RuntimeDirectory=), control_metadata.path (DAOS only \
creates its daos_control subdirectory), the scm_mount parents (created by daos_server_helper, \
so only reported), and the agent's runtime_dir (default /var/run/daos_agent, created by \
systemd as RuntimeDirectory=daos_agent) and log directory. Writable means by the service's \
User= (owner, group or other write bit).\n\
pass: all there. warn: DAOS will create it. fail: missing, or not writable by the service \
user. skip: no DAOS configuration."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let svcs = match services(ctx) {
            Ok(s) => s,
            Err(f) => return f,
        };
        let Some(c) = ctx.config else {
            return Finding::skip("no DAOS configuration was read");
        };
        let f = ctx.facts;
        // (service user, path, what, need)
        let mut items: Vec<(ServiceUser, String, String, Need)> = Vec::new();
        for (svc, u) in &svcs {
            if *svc == "daos_server" {
                let FileLoad::Loaded { config: s, .. } = &c.server else {
                    continue;
                };
                if let Some(d) = s.control_log_file.as_deref().and_then(parent_dir) {
                    items.push((
                        u.clone(),
                        d,
                        "control_log_file directory".into(),
                        Need::Writable,
                    ));
                }
                for (i, e) in s.engines.iter().enumerate() {
                    if let Some(d) = e.log_file.as_deref().and_then(parent_dir) {
                        items.push((
                            u.clone(),
                            d,
                            format!("engine {i} log_file directory"),
                            Need::Writable,
                        ));
                    }
                    for t in e.scm_tiers() {
                        if let Some(m) = &t.scm_mount {
                            items.push((
                                u.clone(),
                                m.clone(),
                                format!("engine {i} scm_mount"),
                                Need::CreatedByDaos,
                            ));
                        }
                    }
                }
                items.push((
                    u.clone(),
                    s.socket_dir.clone().unwrap_or(DEFAULT_SOCKET_DIR.into()),
                    "socket_dir".into(),
                    Need::Writable,
                ));
                if let Some(md) = &s.control_metadata
                    && let Some(p) = &md.path
                {
                    let need = if md.device.is_some() {
                        Need::CreatedByDaos
                    } else {
                        Need::Exists
                    };
                    items.push((u.clone(), p.clone(), "control_metadata.path".into(), need));
                }
            } else if let Some(a) = c.agent.config() {
                items.push((
                    u.clone(),
                    a.runtime_dir
                        .clone()
                        .unwrap_or(DEFAULT_AGENT_RUNTIME_DIR.into()),
                    "agent runtime_dir".into(),
                    Need::Writable,
                ));
                if let Some(d) = a.log_file.as_deref().and_then(parent_dir) {
                    items.push((
                        u.clone(),
                        d,
                        "agent log_file directory".into(),
                        Need::Writable,
                    ));
                }
            }
        }
        let (mut ok, mut warns, mut fails, mut actions) = (vec![], vec![], vec![], vec![]);
        let items = merge_by_path(items);
        // structured for `fix`: {path, create, user?, group?}
        let mut repairs: Vec<serde_json::Value> = Vec::new();
        for (u, path, what, need) in &items {
            let acct = account(f, &u.user);
            let l = format!("{what} {path}");
            if is_runtime_dir(u, path) {
                ok.push(format!(
                    "{l}: created by systemd at start (RuntimeDirectory=, owned by {})",
                    u.user
                ));
                continue;
            }
            let Some(d) = path_fact(f, path) else {
                warns.push(format!("{l}: not examined"));
                continue;
            };
            match d.exists {
                Some(true) if d.kind.as_deref() != Some("directory") => {
                    fails.push(format!(
                        "{l}: is a {}, not a directory",
                        d.kind.as_deref().unwrap_or("?")
                    ));
                }
                Some(true) => match need {
                    Need::Writable if !writable_by(d, u, acct) => {
                        fails.push(format!(
                            "{l}: {} is not writable by {}",
                            owner_of(d),
                            u.user
                        ));
                        actions.push(format!("chown {}:{} {path}", u.user, u.group));
                        repairs.push(serde_json::json!({
                            "path": path, "create": false, "user": u.user, "group": u.group,
                        }));
                    }
                    _ => ok.push(format!("{l}: {}", owner_of(d))),
                },
                Some(false) => match need {
                    Need::CreatedByDaos => ok.push(format!("{l}: missing; daos_server creates it")),
                    _ => {
                        fails.push(format!("{l}: missing"));
                        actions.push(format!("mkdir -p {path}"));
                        let give = !u.is_root() && matches!(need, Need::Writable);
                        if give {
                            actions.push(format!("chown {}:{} {path}", u.user, u.group));
                        }
                        repairs.push(serde_json::json!({
                            "path": path, "create": true,
                            "user": if give { Some(&u.user) } else { None },
                            "group": if give { Some(&u.group) } else { None },
                        }));
                    }
                },
                None => fails.push(format!(
                    "{l}: can't be examined: {}",
                    d.error.as_deref().unwrap_or("unknown")
                )),
            }
        }
        actions.dedup();
        let f = if !fails.is_empty() {
            Finding::fail(fails.join("; ")).fix(
                "create the directories and give them to the service user",
                &actions,
                false,
            )
        } else if !warns.is_empty() {
            Finding::warn(warns.join("; "))
        } else if ok.is_empty() {
            Finding::skip("no directories to check")
        } else {
            Finding::pass(ok.join("; "))
        };
        f.detail(
            "checked",
            items
                .iter()
                .map(|(_, p, w, _)| format!("{w} {p}"))
                .collect::<Vec<_>>(),
        )
        .detail("repairs", &repairs)
    }
}
