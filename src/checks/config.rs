//! `config.server`, `config.agent`, `config.control`, `config.consistency`: the DAOS
//! files parsed as DAOS parses them (strictly) and judged by DAOS's validation rules,
//! each finding carrying DAOS's fault code where a DAOS rule is mirrored.

use std::collections::BTreeSet;

use super::{Check, Context, Finding};
use crate::daos::config::validate::{effective_access_points, hosts};
use crate::daos::config::{FileLoad, Issue, LoadedConfigs, Role, Severity};

/// Why a configuration check does not apply, or `None` when it does.
fn no_config(ctx: &Context) -> Option<Finding> {
    if ctx.config.is_none() {
        return Some(Finding::skip("no DAOS configuration was read"));
    }
    None
}

/// Turns the issues of a loaded file into a finding.
fn judge<T>(what: &str, load: &FileLoad<T>, version: &str) -> Finding {
    match load {
        FileLoad::Absent { path } => Finding::skip(format!("{path} not found")),
        FileLoad::Unreadable {
            path,
            error,
            permission_denied,
        } => {
            let f = Finding::error(format!("{what} can't be read: {error}")).detail("path", path);
            if *permission_denied {
                f.fix("run daos-preflight as root", &[], false)
            } else {
                f
            }
        }
        FileLoad::Invalid { path, error } => Finding::fail(format!(
            "{what} is not valid YAML: {error}; daos_server {version} would refuse to start"
        ))
        .detail("daos_stage", "parse")
        .detail("path", path)
        .detail("line", error.line)
        .detail("column", error.column)
        .detail("message", &error.message)
        .detail("hint", &error.hint)
        .fix(
            format!("fix {path} at line {} column {}", error.line, error.column),
            &[error.hint.clone().unwrap_or_else(|| error.message.clone())],
            false,
        ),
        FileLoad::Loaded { path, issues, .. } => judge_issues(what, path, issues, version),
    }
}

/// The issues in the order DAOS meets them: load (parse) first, then validation, then
/// what only the started daemon finds; file order within a stage. DAOS stops at the
/// first error, so the first one here is the one `daos_server` (or `daos_agent`, `dmg`)
/// would print; the others show up one by one as each is fixed.
fn daos_order(issues: &[Issue]) -> Vec<&Issue> {
    let mut v: Vec<&Issue> = issues.iter().collect();
    // stable: keeps the loader's file order inside each stage
    v.sort_by_key(|i| i.stage);
    v
}

/// The edit for one issue: its own fix line, else "edit KEY at FILE:LINE:COL".
fn fix_line(i: &Issue) -> String {
    let at = i
        .location
        .as_ref()
        .map(|l| format!("{l}: "))
        .unwrap_or_default();
    let by_code = match i.fault.as_deref() {
        // storage/config.go: control_metadata is the MD-on-SSD metadata store
        Some("code.BdevConfigControlMetadataNoRoles") => Some(
            "give the engine's nvme tiers bdev_roles (wal, meta, data) for MD-on-SSD, or remove control_metadata",
        ),
        _ => None,
    };
    match i.fix.as_deref().or(by_code) {
        Some(f) => format!("{at}{f}"),
        None if i.key.is_empty() => format!("{at}correct the file: {}", i.message),
        None => format!("{at}correct {}: {}", i.key, i.message),
    }
}

/// An issue line with the stage at which DAOS meets it.
fn issue_line(i: &Issue) -> String {
    format!("{i} (DAOS: {})", i.stage.as_str())
}

fn judge_issues(what: &str, path: &str, issues: &[Issue], version: &str) -> Finding {
    let ordered = daos_order(issues);
    let errors: Vec<&Issue> = ordered
        .iter()
        .copied()
        .filter(|i| i.severity == Severity::Error)
        .collect();
    let warnings: Vec<&Issue> = ordered
        .iter()
        .copied()
        .filter(|i| i.severity == Severity::Warning)
        .collect();
    let lines: Vec<String> = ordered.iter().map(|i| issue_line(i)).collect();
    let actions: Vec<String> = ordered.iter().map(|i| fix_line(i)).collect();
    let finding = if let Some(first) = errors.first() {
        let more = if errors.len() > 1 {
            format!(
                " (and {} more error(s) DAOS reports once this is fixed)",
                errors.len() - 1
            )
        } else {
            String::new()
        };
        let mut f = Finding::fail(format!("{first}{more} [{what}, DAOS {version} rules]"));
        // the code of the error DAOS reports (later ones show in the issue lines)
        if let Some(code) = first.fault.as_deref() {
            f = f.fault(code);
        }
        f.fix(format!("edit {path}"), &actions, false)
            .detail("daos_stage", first.stage.as_str())
            .detail("daos_reports_first", issue_line(first))
            .detail(
                "revealed_after_first_fix",
                errors[1..]
                    .iter()
                    .map(|i| issue_line(i))
                    .collect::<Vec<_>>(),
            )
    } else if let Some(first) = warnings.first() {
        let mut f = Finding::warn(format!(
            "{what} loads under DAOS {version} rules, but: {first}"
        ));
        if let Some(code) = warnings.iter().find_map(|i| i.fault.as_deref()) {
            f = f.fault(code);
        }
        f.fix(format!("edit {path}"), &actions, false)
            .detail("daos_stage", first.stage.as_str())
    } else {
        Finding::pass(format!(
            "{what} passes DAOS {version} parsing and validation rules"
        ))
    };
    finding
        .detail("path", path)
        .detail("errors", errors.len())
        .detail("warnings", warnings.len())
        .detail("issues", &lines)
}

/// `config.server`
pub struct Server;

impl Check for Server {
    fn id(&self) -> &'static str {
        "config.server"
    }
    fn title(&self) -> &'static str {
        "daos_server.yml parses and validates"
    }
    fn explain(&self) -> &'static str {
        "Parses /etc/daos/daos_server.yml (or --server-config) the way daos_server does: strictly \
(go-yaml UnmarshalStrict: an unknown key, a duplicate key or a wrong type is fatal), with the \
key set of the selected DAOS release, then applies DAOS's validation rules \
(src/control/server/config/server.go Validate and validateMultiEngineConfig, engine/config.go, \
storage/config.go): provider set, ports valid, access points (2.8: mgmt_svc_replicas) unique and \
odd in number, engines present with targets > 0, unique fabric iface+port, log_file, scm_mount \
and bdev_list per engine, equal targets and nr_xs_helpers, disable_hugepages with bdevs, \
system_ram_reserved > 0, scm_size ≥ 4 GiB, bdev_exclude vs bdev_list, first_core vs \
pinned_numa_node. Each problem is shown with file:line:column and DAOS's fault code.\n\
pass: DAOS would accept the file. warn: accepted with a notice (deprecated spelling, single \
access point, discovery mode). fail: daos_server would refuse to start. skip: not a server \
node, or no file. error: unreadable."
    }
    fn run(&self, ctx: &Context) -> Finding {
        if let Some(f) = no_config(ctx) {
            return f;
        }
        let Some(c) = ctx.config else {
            return Finding::skip("no DAOS configuration was read");
        };
        let v = c.version.to_string();
        match (&c.server, c.role) {
            (FileLoad::Absent { path }, Role::Server) => Finding::fail(format!(
                "{path} not found: daos_server can't start without its configuration"
            ))
            .fix(
                "install daos-server (it ships /etc/daos/daos_server.yml) and write the engines section",
                &[],
                false,
            ),
            (FileLoad::Absent { path }, Role::Agent) => Finding::skip(format!(
                "client node (daos_agent.yml only): no server configuration ({path} not found)"
            )),
            (FileLoad::Absent { path }, _) => Finding::skip(format!(
                "{path} not found and no daos_agent.yml either: not a DAOS node (use --server-config or --role)"
            )),
            (load, _) => judge("daos_server.yml", load, &v)
                .detail("daos_version", &v)
                .detail("daos_version_source", &c.version_source),
        }
    }
}

/// `config.agent`
pub struct Agent;

impl Check for Agent {
    fn id(&self) -> &'static str {
        "config.agent"
    }
    fn title(&self) -> &'static str {
        "daos_agent.yml parses and validates"
    }
    fn explain(&self) -> &'static str {
        "Parses /etc/daos/daos_agent.yml (or --agent-config) strictly as daos_agent does \
(src/control/cmd/daos_agent/config.go LoadConfig) with the key set of the selected release, and \
checks what the agent needs: a valid system name, telemetry_port when telemetry is enabled, \
non-empty access_points, and every fabric_ifaces[].devices[] entry naming an iface (a separate \
`- domain:` list item is a device without an interface).\n\
pass/warn/fail as for config.server. skip: a server node without an agent file, or no file."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let Some(c) = ctx.config else {
            return Finding::skip("no DAOS configuration was read");
        };
        match (&c.agent, c.role) {
            (FileLoad::Absent { path }, Role::Agent) => Finding::fail(format!(
                "{path} not found: daos_agent can't start without its configuration"
            )),
            (FileLoad::Absent { path }, Role::Server) => Finding::skip(format!(
                "server node: {path} not present (only needed where clients run daos_agent)"
            )),
            (FileLoad::Absent { path }, _) => Finding::skip(format!("{path} not found")),
            (load, _) => judge("daos_agent.yml", load, c.version.as_str()),
        }
    }
}

/// `config.control`
pub struct Control;

impl Check for Control {
    fn id(&self) -> &'static str {
        "config.control"
    }
    fn title(&self) -> &'static str {
        "daos_control.yml parses and validates"
    }
    fn explain(&self) -> &'static str {
        "Parses /etc/daos/daos_control.yml (or --control-config), the dmg configuration \
(src/control/lib/control/config.go LoadConfig), strictly, and checks the name, port and a \
non-empty hostlist.\n\
skip: no file (dmg is only needed where the system is administered)."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let Some(c) = ctx.config else {
            return Finding::skip("no DAOS configuration was read");
        };
        match &c.control {
            FileLoad::Absent { path } => {
                Finding::skip(format!("{path} not present (only needed where dmg is run)"))
            }
            load => judge("daos_control.yml", load, c.version.as_str()),
        }
    }
}

/// `config.consistency`
pub struct Consistency;

impl Check for Consistency {
    fn id(&self) -> &'static str {
        "config.consistency"
    }
    fn title(&self) -> &'static str {
        "System name, access points and host lists agree"
    }
    fn explain(&self) -> &'static str {
        "Compares the files that are present: `name` must be the same in daos_server.yml, \
daos_agent.yml and daos_control.yml (a mismatch is DAOS's code.ServerWrongSystem), the ports \
must agree, the agent's access_points must name the servers' management service replicas, and \
dmg's hostlist must include them.\n\
pass: they agree. warn: partial overlap. fail: a different system name or port, or no overlap at \
all. skip: fewer than two files loaded."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let Some(c) = ctx.config else {
            return Finding::skip("no DAOS configuration was read");
        };
        consistency(c)
    }
}

fn consistency(c: &LoadedConfigs) -> Finding {
    let server = c.server.config();
    let agent = c.agent.config();
    let control = c.control.config();
    let loaded = [server.is_some(), agent.is_some(), control.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if loaded < 2 {
        return Finding::skip(format!(
            "{loaded} of the 3 DAOS files loaded: nothing to compare"
        ));
    }
    let mut fails: Vec<String> = Vec::new();
    let mut warns: Vec<String> = Vec::new();
    let mut names: Vec<(String, &str)> = Vec::new();
    let mut ports: Vec<(String, i64)> = Vec::new();
    if let Some(s) = server {
        names.push(("daos_server.yml".into(), s.system_name()));
        ports.push(("daos_server.yml".into(), s.control_port()));
    }
    if let Some(a) = agent {
        names.push(("daos_agent.yml".into(), a.system_name()));
        ports.push(("daos_agent.yml".into(), a.port.unwrap_or(10001)));
    }
    if let Some(k) = control {
        names.push(("daos_control.yml".into(), k.system_name()));
        ports.push(("daos_control.yml".into(), k.port.unwrap_or(10001)));
    }
    let distinct: BTreeSet<&str> = names.iter().map(|(_, n)| *n).collect();
    if distinct.len() > 1 {
        let shown: Vec<String> = names.iter().map(|(f, n)| format!("{f} {n:?}")).collect();
        fails.push(format!("system names differ: {}", shown.join(", ")));
    }
    let distinct_ports: BTreeSet<i64> = ports.iter().map(|(_, p)| *p).collect();
    if distinct_ports.len() > 1 {
        let shown: Vec<String> = ports.iter().map(|(f, p)| format!("{f} {p}")).collect();
        fails.push(format!("control ports differ: {}", shown.join(", ")));
    }
    // The servers: the server file's MS replicas, else (client node) the agent's.
    let server_aps = server.map(|s| hosts(&effective_access_points(s, c.version)));
    let reference = server_aps
        .clone()
        .or_else(|| agent.map(|a| hosts(&a.access_points)));
    if let (Some(srv), Some(a)) = (&server_aps, agent) {
        let ap = hosts(&a.access_points);
        if ap.is_disjoint(srv) {
            fails.push(format!(
                "the agent's access_points {:?} name none of the server's access points {:?}",
                ap, srv
            ));
        } else if &ap != srv {
            warns.push(format!(
                "the agent's access_points {ap:?} differ from the server's {srv:?}"
            ));
        }
    }
    if let (Some(refs), Some(k)) = (&reference, control) {
        let hl = hosts(&k.hostlist);
        if hl.is_disjoint(refs) {
            fails.push(format!(
                "dmg's hostlist {hl:?} names none of the servers {refs:?}"
            ));
        } else if !refs.is_subset(&hl) {
            let missing: Vec<&String> = refs.difference(&hl).collect();
            warns.push(format!("dmg's hostlist lacks {missing:?}"));
        }
    }
    let finding = if !fails.is_empty() {
        let mut f = Finding::fail(fails.join("; "));
        if distinct.len() > 1 {
            f = f.fault("code.ServerWrongSystem");
        }
        f.fix(
            "use one system name and port in all three files, and list the access point servers in the agent's access_points and dmg's hostlist",
            &[],
            false,
        )
    } else if !warns.is_empty() {
        Finding::warn(warns.join("; ")).fix(
            "list the same servers in access_points (server and agent) and in dmg's hostlist",
            &[],
            false,
        )
    } else {
        Finding::pass(format!(
            "system {:?}, port {}: the {loaded} files agree",
            names.first().map(|(_, n)| *n).unwrap_or_default(),
            ports.first().map(|(_, p)| *p).unwrap_or(10001)
        ))
    };
    finding
        .detail(
            "names",
            names
                .iter()
                .map(|(f, n)| format!("{f}: {n}"))
                .collect::<Vec<_>>(),
        )
        .detail("servers", &reference)
}

/// The server configuration the requirement checks (hugepages, memory, cores) judge the
/// host against, or the skip finding that says why there is none.
#[allow(clippy::result_large_err)] // the Err is the finding itself, returned once per check
pub(crate) fn server_for_requirements<'a>(
    ctx: &Context<'a>,
) -> Result<&'a crate::daos::config::ServerConfig, Finding> {
    let Some(c) = ctx.config else {
        return Err(Finding::skip(
            "no DAOS server configuration evaluated: the requirement derives from daos_server.yml",
        ));
    };
    match (c.role, &c.server) {
        (Role::Agent, _) => Err(Finding::skip(
            "client node (daos_agent.yml only): no DAOS engines run here",
        )),
        (_, FileLoad::Loaded { config, .. }) if config.engines.is_empty() => Err(Finding::skip(
            "daos_server.yml has no engines (discovery mode): nothing to size",
        )),
        (_, FileLoad::Loaded { config, .. }) => Ok(config),
        (_, FileLoad::Absent { path }) => Err(Finding::skip(format!(
            "{path} not found: the requirement derives from the server configuration"
        ))),
        (_, _) => Err(Finding::skip(
            "daos_server.yml could not be read or parsed (see config.server)",
        )),
    }
}

pub(crate) use crate::daos::requirements::detected_numa_node;
