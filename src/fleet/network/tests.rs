//! The matrix from probe reports written as `probe` writes them.

use super::*;

fn probe(from: &str, results: &str) -> SlimProbe {
    let doc = format!(
        r#"{{"schema":"daos-preflight/probe/v1","from":{{"hostname":"{from}","addresses":["198.51.100.1{}"]}},"generated_at":"2026-12-02T10:00:00Z","results":[{results}]}}"#,
        &from[from.len() - 1..]
    );
    match crate::fleet::record::parse_doc(doc.as_bytes()).unwrap() {
        crate::fleet::record::Doc::Probe(p) => p,
        _ => panic!("not a probe"),
    }
}

fn path(peer: &str, port: u16, status: &str, off: Option<f64>, answered: &str) -> String {
    let off = off.map_or("null".into(), |o| o.to_string());
    format!(
        r#"{{"peer":"{peer}","address":"198.51.100.99","port":{port},"purpose":"control","required":true,"status":"{status}","rtt_ms":0.4,"clock_offset_ms":{off},"peer_hostname":{answered},"detail":null}}"#
    )
}

#[test]
fn matrix_failures_causes_and_skew() {
    let mut st = ProbeStore::default();
    st.add(
        "a:1",
        None,
        probe(
            "node2",
            &[
                path("node0", 10001, "ok", Some(2.0), "\"node0\""),
                path("node1", 10001, "timeout", None, "null"),
                path("node1", 31416, "refused", None, "null"),
                path("node3", 10001, "unresolved", None, "null"),
            ]
            .join(","),
        ),
    );
    st.add(
        "a:2",
        None,
        probe(
            "node0",
            &[
                path("node1", 10001, "ok", Some(-1500.0), "\"node1\""),
                path("198.51.100.12", 10001, "ok", Some(-2.0), "\"node2\""),
            ]
            .join(","),
        ),
    );
    let n = st.finish(&[]).unwrap();
    assert_eq!(n.sources, ["node0", "node2"]);
    // the address is node2's own (from its probe report)
    assert_eq!(n.destinations, ["node0", "node1", "node2", "node3"]);
    assert_eq!(n.matrix[1], ["ok", "timeout", "", "unresolved"]);
    assert_eq!(n.matrix[0], ["", "ok", "ok", ""]);
    assert_eq!(n.paths.failed_required, 3);
    let t = &n
        .failures
        .iter()
        .find(|f| f.status == PathStatus::Timeout)
        .unwrap();
    assert_eq!(
        (t.from.as_str(), t.to.as_str(), t.port),
        ("node2", "node1", 10001)
    );
    assert!(t.cause.contains("DROP"), "{}", t.cause);
    let u = n
        .failures
        .iter()
        .find(|f| f.status == PathStatus::Unresolved)
        .unwrap();
    assert!(u.cause.contains("/etc/hosts"), "{}", u.cause);
    let k = n.max_skew.unwrap();
    // node0 sees node1 1.5 s behind and node2 2 ms behind: node0 vs node1
    assert_eq!((k.ahead.as_str(), k.behind.as_str()), ("node0", "node1"));
    assert!((k.skew_ms - 1500.0).abs() < 1e-9);
}

#[test]
fn wrong_host_names_the_asked_name_and_the_clock_of_who_answered() {
    let mut st = ProbeStore::default();
    st.add(
        "a:1",
        Some("node2"),
        probe(
            "node2",
            &[
                path("node0", 10001, "ok", Some(1.0), "\"node0\""),
                path("node1", 10001, "wrong-host", Some(1.0), "\"node0\""),
            ]
            .join(","),
        ),
    );
    let n = st
        .finish(&[("node1", vec!["node1", "198.51.100.11"])])
        .unwrap();
    let w = &n.failures[0];
    assert_eq!((w.to.as_str(), w.status), ("node1", PathStatus::WrongHost));
    assert!(w.cause.contains("which is node0"), "{}", w.cause);
    assert!(n.clocks.iter().all(|c| c.to == "node0"), "{:?}", n.clocks);
    assert!(n.max_skew.is_some());
}

#[test]
fn newest_probe_report_of_a_host_wins_and_unknown_status_is_error() {
    let mut st = ProbeStore::default();
    st.add(
        "a:1",
        None,
        probe("node2", &path("node0", 1, "timeout", None, "null")),
    );
    let mut p = probe("node2", &path("node0", 1, "quantum", None, "null"));
    p.generated_at = Some("2026-12-02T11:00:00Z".into());
    st.add("b:1", None, p);
    assert_eq!(st.superseded, ["a:1"]);
    let n = st.finish(&[]).unwrap();
    assert_eq!(n.failures.len(), 1);
    assert_eq!(n.failures[0].status, PathStatus::Error);
}

#[test]
fn system_network_and_time_judge_the_matrix() {
    use crate::checks::Status;
    let mut st = ProbeStore::default();
    st.add(
        "a:1",
        None,
        probe(
            "node2",
            &[
                path("node0", 10001, "ok", Some(5200.0), "\"node0\""),
                path("node1", 10001, "timeout", None, "null"),
                path("node1", 10001, "ok", Some(30.0), "\"node1\""),
            ]
            .join(","),
        ),
    );
    let n = st.finish(&[]).unwrap();
    let sys = crate::fleet::system::judge_with(&[], Some(&n));
    let f = |id: &str| sys.findings.iter().find(|f| f.id == id).unwrap().clone();
    let net = f("system.network");
    assert_eq!(net.status, Status::Fail);
    assert!(
        net.summary
            .contains("node2 -> node1: 10001/control timeout"),
        "{}",
        net.summary
    );
    assert!(net.remediation.unwrap().contains("firewall"));
    let time = f("system.time");
    assert_eq!(time.status, Status::Fail, "{}", time.summary);
    // node0 5.2 s ahead of node2; node1 30 ms ahead: the pair is node0 / node2
    assert!(
        time.summary.starts_with("node0 is 5200 ms ahead of node2"),
        "{}",
        time.summary
    );
    assert_eq!(sys.status, Status::Fail);

    // no probe report: skip, and time judged by the reports alone
    let sys = crate::fleet::system::judge_with(&[], None);
    let net = sys
        .findings
        .iter()
        .find(|f| f.id == "system.network")
        .unwrap();
    assert_eq!(net.status, Status::Skip);
}
