//! Rule tests on reports written after the `daos` section contract, with the values of
//! the deployment guide's node0/node1/node2 files (corpus seed configs).

use serde_json::{Value, json};

use crate::checks::Status;
use crate::fleet::Merger;

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/corpus/daos-config/seed"
);

fn tls() -> Value {
    json!({"allow_insecure": true, "ca_cert": "/etc/daos/certs/daosCA.crt", "ca_sha256": null})
}

fn report(host: &str, addr: &str, daos: Value, at: &str) -> String {
    json!({"schema": "daos-preflight/report/v1", "tool": {"version": "0.1.0"},
        "host": {"hostname": host, "fqdn": format!("{host}.example.org"), "addresses": [addr]},
        "generated_at": at, "daos_version": "2.6", "checks": [],
        "facts": {"time": {"synchronized": true}}, "daos": daos})
    .to_string()
}

fn server(name: &str, aps: &[&str], provider: &str, transport: Value) -> Value {
    json!({"role": "server", "rules_version": "2.6", "installed_version": "2.6.0", "files": [],
        "server": {"name": name, "port": 10001, "access_points": aps, "access_points_key": "access_points",
            "provider": provider, "transport": transport,
            "engines": [{"index": 0, "fabric_iface": "enp0s8", "fabric_iface_port": 31416, "provider": provider, "numa_node": 0}]},
        "agent": null, "control": null})
}

fn client(name: &str, aps: &[&str], hostlist: &[&str]) -> Value {
    json!({"role": "client", "rules_version": "2.6", "installed_version": "2.6.0", "files": [], "server": null,
        "agent": {"name": name, "port": 10001, "access_points": aps, "transport": tls(),
            "fabric_ifaces": [{"numa_node": 0, "devices": [{"iface": "enp94s0f1", "domain": null}]}]},
        "control": {"name": name, "port": 10001, "hostlist": hostlist, "transport": tls()}})
}

const T: &str = "2026-12-02T10:00:00Z";
const P: &str = "ofi+tcp;ofi_rxm";

/// The guide's files, with access_points made odd (node0 only), as the single-host
/// checks demand.
fn guide() -> Vec<String> {
    vec![
        report(
            "node0",
            "198.51.100.10",
            server("daos_server", &["node0"], P, tls()),
            T,
        ),
        report(
            "node1",
            "198.51.100.11",
            server("daos_server", &["node0"], P, tls()),
            T,
        ),
        report(
            "node2",
            "198.51.100.12",
            client("daos_server", &["node0"], &["node0", "node1"]),
            T,
        ),
    ]
}

fn judge(reports: &[String]) -> super::SystemSection {
    let mut m = Merger::new(86400);
    m.feed("t", reports.join("\n").as_bytes()).unwrap();
    m.finish().system
}

fn status(s: &super::SystemSection, id: &str) -> (Status, String) {
    let f = s.findings.iter().find(|f| f.id == id).unwrap();
    (f.status, f.summary.clone())
}

#[test]
fn the_seed_files_say_what_the_fixtures_transcribe() {
    let server = std::fs::read_to_string(format!("{SEED}/daos_server.yml"))
        .expect("the corpus (../shared/corpus beside the checkout) holds the guide's seed files");
    assert!(server.contains("name: daos_server"));
    assert!(server.contains("provider: ofi+tcp;ofi_rxm"));
    assert!(server.contains("access_points: ['node0','node1']"));
}

#[test]
fn the_guide_deployment_passes() {
    let s = judge(&guide());
    // system.network is judged from probe reports; there are none here (skip)
    for (id, _) in super::RULES
        .iter()
        .filter(|(id, _)| *id != "system.network")
    {
        assert_eq!(status(&s, id).0, Status::Pass, "{id}: {:?}", status(&s, id));
    }
    assert_eq!(s.status, Status::Pass);
    assert!(s.missing_servers.is_empty());
}

#[test]
fn the_guide_as_written_has_an_even_access_point_list() {
    let aps = ["node0", "node1"];
    let s = judge(&[
        report(
            "node0",
            "198.51.100.10",
            server("daos_server", &aps, P, tls()),
            T,
        ),
        report(
            "node1",
            "198.51.100.11",
            server("daos_server", &aps, P, tls()),
            T,
        ),
    ]);
    let (st, sum) = status(&s, "system.access-points");
    assert_eq!(st, Status::Fail);
    assert!(sum.contains("odd"), "{sum}");
}

#[test]
fn a_renamed_system_names_the_host() {
    let mut r = guide();
    r[1] = report(
        "node1",
        "198.51.100.11",
        server("daos_test", &["node0"], P, tls()),
        T,
    );
    let (st, sum) = status(&judge(&r), "system.name");
    assert_eq!(st, Status::Fail);
    assert!(
        sum.contains("\"daos_test\" on node1") && sum.contains("node[0,2]"),
        "{sum}"
    );
}

#[test]
fn agent_pointing_at_a_client_or_a_missing_server() {
    let mut r = guide();
    r[2] = report(
        "node2",
        "198.51.100.12",
        client(
            "daos_server",
            &["node2.example.org"],
            &["node0", "node3:10001"],
        ),
        T,
    );
    let s = judge(&r);
    let (st, sum) = status(&s, "system.agents");
    assert_eq!(st, Status::Fail);
    assert!(sum.contains("not a server"), "{sum}");
    let (st, sum) = status(&s, "system.control");
    assert_eq!(st, Status::Warn);
    assert!(sum.contains("node3"), "{sum}");
    assert_eq!(s.missing_servers, vec!["node3".to_string()]);
}

#[test]
fn address_and_port_matching() {
    let mut r = guide();
    r[2] = report(
        "node2",
        "198.51.100.12",
        client(
            "daos_server",
            &["198.51.100.10:10002"],
            &["node[0-1]:10001"],
        ),
        T,
    );
    let s = judge(&r);
    let (st, sum) = status(&s, "system.agents");
    assert_eq!(st, Status::Fail);
    assert!(sum.contains("port 10002"), "{sum}");
    assert_eq!(status(&s, "system.control").0, Status::Pass);
}

#[test]
fn different_lists_mixed_providers_and_mixed_security() {
    let mut r = guide();
    let secure = json!({"allow_insecure": false, "ca_cert": "/etc/daos/certs/daosCA.crt", "ca_sha256": "ab"});
    r[1] = report(
        "node1",
        "198.51.100.11",
        server("daos_server", &["node1"], "ofi+verbs;ofi_rxm", secure),
        T,
    );
    let s = judge(&r);
    assert_eq!(status(&s, "system.access-points").0, Status::Fail);
    let (st, sum) = status(&s, "system.provider");
    assert_eq!(st, Status::Fail);
    assert!(sum.contains("ofi+verbs;ofi_rxm on node1"), "{sum}");
    let (st, sum) = status(&s, "system.security");
    assert_eq!(st, Status::Fail);
    assert!(sum.contains("CA ab on node1"), "{sum}");
}

#[test]
fn versions_clocks_and_old_reports() {
    let mut r = guide();
    r[0] = r[0].replace(
        "\"installed_version\":\"2.6.0\"",
        "\"installed_version\":\"2.6.1\"",
    );
    r[1] = r[1].replace("\"synchronized\":true", "\"synchronized\":false");
    r[2] = report(
        "node2",
        "198.51.100.12",
        client("daos_server", &["node0"], &["node0"]),
        "2026-12-02T10:00:05Z",
    );
    let s = judge(&r);
    assert_eq!(status(&s, "system.version").0, Status::Fail);
    let (st, sum) = status(&s, "system.time");
    assert_eq!(st, Status::Fail);
    assert!(sum.contains("node1"), "{sum}");
    // an older report without `daos`: unknown, no crash
    let old = r#"{"schema":"daos-preflight/report/v1","host":{"hostname":"node9"},"checks":[]}"#;
    let s = judge(&[old.to_string()]);
    assert_eq!(s.without_daos, vec!["node9".to_string()]);
    assert_eq!(status(&s, "system.name").0, Status::Skip);
}

#[test]
fn clocks_apart_in_one_window_warn() {
    let mut r = guide();
    r[2] = report(
        "node2",
        "198.51.100.12",
        client("daos_server", &["node0"], &["node0"]),
        "2026-12-02T10:00:05Z",
    );
    let (st, sum) = status(&judge(&r), "system.time");
    assert_eq!(st, Status::Warn);
    assert!(sum.contains("node2 at 5s"), "{sum}");
}

fn at(r: &str, when: &str) -> String {
    r.replace(T, when)
}

#[test]
fn report_times_are_held_to_the_hlc_tolerance_in_whole_seconds() {
    // 1 s apart in whole seconds may be 0.1 s: not provably beyond 1 s
    let mut r = guide();
    r[2] = at(&r[2], "2026-12-02T10:00:01Z");
    let (st, sum) = status(&judge(&r), "system.time");
    assert_eq!(st, Status::Pass, "{sum}");
    assert!(
        sum.contains("3 clock(s) synchronised") && sum.contains("at most 1 s"),
        "{sum}"
    );
    // 2 s apart: truly more than 1 s
    r[2] = at(&guide()[2], "2026-12-02T10:00:02Z");
    let (st, sum) = status(&judge(&r), "system.time");
    assert_eq!(st, Status::Warn, "{sum}");
    assert!(sum.contains("node2 at 2s after node0"), "{sum}");
    // a report of another day is another collection run, not a spread
    r[2] = at(&guide()[2], "2026-12-03T10:00:02Z");
    assert_eq!(status(&judge(&r), "system.time").0, Status::Pass);
}

#[test]
fn unknown_clock_state_is_not_synchronised() {
    let unknown = |r: &str| r.replace("{\"synchronized\":true}", "null");
    let all: Vec<String> = guide().iter().map(|r| unknown(r)).collect();
    assert!(all[0].contains("\"time\":null"), "{}", all[0]);
    let (st, sum) = status(&judge(&all), "system.time");
    assert_eq!(st, Status::Skip, "{sum}");
    assert!(
        sum.contains("unknown on every host (node[0-2])") && !sum.contains("synchronised on"),
        "{sum}"
    );
    let mut some = guide();
    some[1] = unknown(&some[1]);
    let (st, sum) = status(&judge(&some), "system.time");
    assert_eq!(st, Status::Warn, "{sum}");
    assert!(
        sum.contains("unknown on node1; synchronised on node[0,2]"),
        "{sum}"
    );
}

/// The guide's deployment with every server on `provider` and the agent's one device
/// written with `domain`.
fn on_provider(provider: &str, domain: Value) -> Vec<String> {
    guide()
        .iter()
        .map(|r| {
            r.replace(P, provider)
                .replace("\"domain\":null", &format!("\"domain\":{domain}"))
        })
        .collect()
}

#[test]
fn agents_fabric_ifaces_fit_the_servers_provider() {
    let verbs = "ofi+verbs;ofi_rxm";
    // the guide's agent device has no domain: fine for tcp, not for verbs
    let (st, sum) = status(&judge(&guide()), "system.provider");
    assert_eq!(st, Status::Pass, "{sum}");
    assert!(sum.contains("fabric_ifaces of 1 agent(s) fit"), "{sum}");
    let s = judge(&on_provider(verbs, Value::Null));
    let (st, sum) = status(&s, "system.provider");
    assert_eq!(st, Status::Fail, "{sum}");
    assert!(
        sum.contains("iface enp94s0f1 without a domain") && sum.contains("on node2"),
        "{sum}"
    );
    // the iface name as domain is what the agent hands out anyway: still no RDMA device
    let (st, _) = status(
        &judge(&on_provider(verbs, json!("enp94s0f1"))),
        "system.provider",
    );
    assert_eq!(st, Status::Fail);
    let (st, sum) = status(
        &judge(&on_provider(verbs, json!("mlx5_1"))),
        "system.provider",
    );
    assert_eq!(st, Status::Pass, "{sum}");
    // a device domain with tcp
    let (st, sum) = status(&judge(&on_provider(P, json!("mlx5_1"))), "system.provider");
    assert_eq!(st, Status::Fail, "{sum}");
    assert!(
        sum.contains("domain mlx5_1") && sum.contains("node2"),
        "{sum}"
    );
    // a provider whose domains this rule does not know: not judged
    let (st, sum) = status(
        &judge(&on_provider("ofi+shm", Value::Null)),
        "system.provider",
    );
    assert_eq!(st, Status::Pass, "{sum}");
    assert!(sum.contains("not judged"), "{sum}");
}
