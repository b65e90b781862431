//! The YAML layer against DAOS's own parser (go-yaml v2 inside the DAOS oracle,
//! ../shared/oracles/daos-config at v2.6.0 and v2.8.0): documents, aliases, YAML 1.1
//! scalars, nulls, duplicate keys. Each case goes through the oracle and through the
//! tool's parse + validate for its kind; the verdicts (loads / refuses) must agree, and
//! the cases where DAOS silently drops part of the file must carry the tool's warning.
//! No expected verdict is written here: the oracle is the reference.

mod common;

use std::path::{Path, PathBuf};

use common::daos_oracle::oracle_json;

use daos_preflight::daos::DaosVersion;
use daos_preflight::daos::config::validate::{validate_agent, validate_control, validate_server};
use daos_preflight::daos::config::{
    DaosStage, Issue, Severity, parse_agent, parse_control, parse_server,
};

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

fn corpus(rel: &str) -> String {
    std::fs::read_to_string(shared().join("corpus/daos-config").join(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

struct Oracle {
    ok: bool,
    cause: String,
}

fn oracle(rel: &str, kind: &str, file: &Path) -> Oracle {
    let v = oracle_json(rel, kind, file);
    Oracle {
        ok: v["ok"] == true,
        cause: v["cause"].as_str().unwrap_or("").to_string(),
    }
}

/// The tool's issues (parse + validate) or its one YAML error.
fn tool(kind: &str, text: &str, file: &str, v: DaosVersion) -> Result<Vec<Issue>, String> {
    let e = |e: daos_preflight::daos::config::ConfigError| e.to_string();
    Ok(match kind {
        "server" => {
            let p = parse_server(text, file, v).map_err(e)?;
            let mut is = p.issues;
            is.extend(validate_server(&p.config, v, file));
            is
        }
        "agent" => {
            let p = parse_agent(text, file, v).map_err(e)?;
            let mut is = p.issues;
            is.extend(validate_agent(&p.config, v, file));
            is
        }
        _ => {
            let p = parse_control(text, file, v).map_err(e)?;
            let mut is = p.issues;
            is.extend(validate_control(&p.config, v, file));
            is
        }
    })
}

/// An alias bomb: nine levels of nine aliases each (9^9 values when expanded).
fn alias_bomb(prefix: &str) -> String {
    let mut t = String::from(prefix);
    t.push_str("a0: &a0 [x,x,x,x,x,x,x,x,x]\n");
    for l in 1..9 {
        let p = l - 1;
        t.push_str(&format!(
            "a{l}: &a{l} [*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p}]\n"
        ));
    }
    t
}

/// (label, kind, text, a fragment the tool's warnings must contain when DAOS loads it).
fn cases() -> Vec<(String, &'static str, String, Option<&'static str>)> {
    let agent = corpus("seed/daos_agent.yml");
    let control = corpus("seed/daos_control.yml");
    let server = corpus("v2.6.0/examples/daos_server_tcp.yml");
    let indent_first = |t: &str| {
        let mut lines: Vec<String> = t.lines().map(String::from).collect();
        let i = lines
            .iter()
            .position(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .unwrap();
        lines[i] = format!("  {}", lines[i]);
        lines.join("\n") + "\n"
    };
    let mut v: Vec<(String, &'static str, String, Option<&'static str>)> = vec![
        // go-yaml reads only the first document: the rest is never parsed
        (
            "agent: first key indented".into(),
            "agent",
            indent_first(&agent),
            Some("ignores lines"),
        ),
        (
            "control: first key indented".into(),
            "control",
            indent_first(&control),
            Some("ignores lines"),
        ),
        (
            "server: first key indented".into(),
            "server",
            indent_first(&server),
            None,
        ),
        (
            "agent: second document, broken".into(),
            "agent",
            format!("{agent}---\naccess_points: [unclosed\n"),
            Some("a second YAML document"),
        ),
        (
            "server: second document".into(),
            "server",
            format!("{server}---\nname: other\n"),
            Some("a second YAML document"),
        ),
        (
            "agent: explicit end then comment".into(),
            "agent",
            format!("{agent}...\n# done\n"),
            None,
        ),
        // an error inside the first document is an error for both
        (
            "agent: over-indented second key".into(),
            "agent",
            "name: daos_server\n  port: 10001\n".into(),
            None,
        ),
        // empty and null documents
        ("agent: empty".into(), "agent", String::new(), None),
        (
            "agent: comments only".into(),
            "agent",
            "# nothing\n".into(),
            None,
        ),
        ("agent: dashes only".into(), "agent", "---\n".into(), None),
        ("agent: tilde".into(), "agent", "~\n".into(), None),
        ("control: null".into(), "control", "null\n".into(), None),
        // aliases
        (
            "agent: alias bomb".into(),
            "agent",
            alias_bomb("name: daos_server\n"),
            None,
        ),
        (
            "agent: anchor and alias".into(),
            "agent",
            "name: &n daos_server\naccess_points: [*n]\n".into(),
            None,
        ),
        (
            "agent: merge key".into(),
            "agent",
            "base: &b {port: 10001}\n<<: *b\nname: daos_server\n".into(),
            None,
        ),
        (
            "agent: duplicate key".into(),
            "agent",
            "name: a\nname: b\n".into(),
            None,
        ),
    ];
    // a map-typed field given a scalar, a list, nothing, or a map (2.8 credential_config)
    for m in [
        "x",
        "[a]",
        "{}",
        "",
        "{default: {user: nobody}, 1000: {user: ralph}}",
        // the users: a mapping of user/group/groups, or null
        "{default: 1}",
        "{default: x}",
        "{default: 99999999999999999999}",
        "{default: ~}",
        "{1000: {user: {a: nobody}}}",
        "{1000: {user: ['']}}",
        "{1000: {user: {}}}",
        "{1000: {user: 1000}}",
        "{1000: {user: ralph, log_mask: DEBUG}}",
        "{1000: {user: ralph, group: users, groups: [a, b]}}",
        "{1000: {groups: a}}",
        "{1000: {groups: [[a]]}}",
        // the uids: decimal below 2^32 - 1, or default
        "{4294967295: {user: x}}",
        "{4294967294: {user: x}}",
        "{4294967296: {user: x}}",
        "{-1: {user: x}}",
        "{0x10: {user: x}}",
        "{+5: {user: x}}",
        "{Default: {user: x}}",
        "{'': {user: x}}",
        "{1000: {user: x}, 0x10: {user: [y]}}",
    ] {
        v.push((
            format!("agent: client_user_map {m}"),
            "agent",
            format!("name: daos_server\naccess_points: ['node0']\ncredential_config:\n  client_user_map: {m}\n"),
            None,
        ));
    }
    // telemetry process patterns are pointers: null leaves them unset
    for (k, val) in [
        ("telemetry_disabled_procs", "~"),
        ("telemetry_disabled_procs", "''"),
        ("telemetry_disabled_procs", "dfuse"),
        ("telemetry_enabled_procs", "null"),
        ("telemetry_enabled_procs", "dfuse"),
    ] {
        v.push((
            format!("agent: {k}: {val} without telemetry_enabled"),
            "agent",
            format!("name: daos_server\naccess_points: ['node0']\n{k}: {val}\n"),
            None,
        ));
    }
    // YAML 1.1 scalars where DAOS wants an int or a bool
    for port in [
        "0x2711",
        "0o23421",
        "023421",
        "10_001",
        "+10001",
        "10001.0",
        "1e4",
        "'10001'",
        "~",
        "true",
        "0b10011100010001",
        "10001.9",
    ] {
        v.push((
            format!("agent: port {port}"),
            "agent",
            format!("name: daos_server\naccess_points: ['node0']\nport: {port}\n"),
            None,
        ));
    }
    // Go unsigned fields: go-yaml refuses a negative number and takes anything up to
    // 2^64 (a larger one resolves as a float, which it converts)
    for n in [
        "-1",
        "9223372036854775807",
        "9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
        "1.5",
        "-1.5",
        "1e30",
    ] {
        v.push((
            format!("agent: cache_expiration {n}"),
            "agent",
            format!("name: daos_server\naccess_points: ['node0']\ncache_expiration: {n}\n"),
            None,
        ));
        v.push((
            format!("server: pinned_numa_node {n}"),
            "server",
            server.replacen("pinned_numa_node: 1", &format!("pinned_numa_node: {n}"), 1),
            None,
        ));
    }
    // scm_size (GiB, Go uint): DAOS multiplies it by 1 GiB in uint64, so 2^34 wraps to
    // 0 B (refused as under 4 GiB) and 2^34 + 4 to 4 GiB (loads)
    let local = corpus("v2.6.0/examples/daos_server_local.yml");
    for n in [
        "3",
        "17179869184",
        "17179869188",
        "9223372036854775807",
        "9223372036854775808",
        "18446744073709551615",
    ] {
        v.push((
            format!("server: scm_size {n}"),
            "server",
            local.replacen("scm_size: 8", &format!("scm_size: {n}"), 1),
            None,
        ));
    }
    for b in [
        "yes", "on", "y", "Y", "TRUE", "1", "off", "NO", "'true'", "~",
    ] {
        v.push((
            format!("agent: disable_caching {b}"),
            "agent",
            format!("name: daos_server\naccess_points: ['node0']\ndisable_caching: {b}\n"),
            None,
        ));
    }
    v
}

#[test]
fn yaml_layer_agrees_with_go_yaml_in_daos() {
    let tmp = std::env::temp_dir().join(format!("daos-yaml-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut bad = Vec::new();
    let mut n = 0;
    for (rel, version) in [("2.6", DaosVersion::V2_6), ("2.8", DaosVersion::V2_8)] {
        for (i, (label, kind, text, warn)) in cases().into_iter().enumerate() {
            let f = tmp.join(format!("{rel}-{i}-daos_{kind}.yml"));
            std::fs::write(&f, &text).unwrap();
            let o = oracle(rel, kind, &f);
            let fname = f.display().to_string();
            n += 1;
            let t = tool(kind, &text, &fname, version);
            let errs: Vec<String> = match &t {
                Err(e) => vec![e.clone()],
                Ok(is) => is
                    .iter()
                    .filter(|i| i.severity == Severity::Error && i.stage != DaosStage::Start)
                    .map(|i| i.to_string())
                    .collect(),
            };
            match (o.ok, errs.is_empty()) {
                (true, false) => {
                    bad.push(format!("{rel} {label}: FALSE ALARM: {}", errs.join(" | ")))
                }
                (false, true) => bad.push(format!("{rel} {label}: FALSE READY: DAOS: {}", o.cause)),
                _ => {}
            }
            if let (true, Some(w), Ok(is)) = (o.ok, warn, &t)
                && !is
                    .iter()
                    .any(|i| i.severity == Severity::Warning && i.message.contains(w))
            {
                bad.push(format!(
                    "{rel} {label}: DAOS drops part of the file, the tool does not warn ({w:?})"
                ));
            }
            let _ = std::fs::remove_file(&f);
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    for b in &bad {
        eprintln!("{b}");
    }
    assert!(
        bad.is_empty(),
        "{} of {n} cases disagree with DAOS",
        bad.len()
    );
}
