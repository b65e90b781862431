//! Parser tests of `daos_server.yml`.

use super::*;
use crate::daos::DaosVersion::V2_6;

fn errors(p: &Parsed<ServerConfig>) -> Vec<String> {
    p.issues
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .map(|i| i.to_string())
        .collect()
}

#[test]
fn unknown_key_names_position_and_suggestion() {
    let text = "name: daos_server\nenable_vmd: false\nengines: []\n";
    let p = parse_server(text, "daos_server.yml", V2_6).unwrap();
    let e = errors(&p);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("daos_server.yml:2:1: "), "{}", e[0]);
    assert!(e[0].contains("DAOS 2.0 only"), "{}", e[0]);
    assert!(e[0].contains("\"disable_vmd\""), "{}", e[0]);
    // understood anyway
    assert_eq!(p.config.disable_vmd, Some(true));
    // under 2.0 rules it is fine
    let p = parse_server(text, "daos_server.yml", V2_0).unwrap();
    assert!(errors(&p).is_empty());
}

#[test]
fn typo_gets_a_suggestion() {
    let p = parse_server("engines:\n- targest: 4\n", "f.yml", V2_6).unwrap();
    let e = errors(&p);
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("f.yml:2:3: unknown key \"targest\" in engines[0]"),
        "{}",
        e[0]
    );
    assert!(e[0].contains("did you mean \"targets\"?"), "{}", e[0]);
}

#[test]
fn access_points_renamed_both_ways() {
    let old = "access_points: [a, b, c]\n";
    let new = "mgmt_svc_replicas: [a, b, c]\n";
    // 2.8: old spelling is a warning, value understood
    let p = parse_server(old, "s.yml", V2_8).unwrap();
    assert!(errors(&p).is_empty());
    assert_eq!(p.issues.len(), 1);
    assert_eq!(p.issues[0].severity, Severity::Warning);
    assert_eq!(p.config.access_points, ["a", "b", "c"]);
    // 2.6: new spelling is refused by DAOS 2.6, value understood
    let p = parse_server(new, "s.yml", V2_6).unwrap();
    let e = errors(&p);
    assert_eq!(e.len(), 1);
    assert!(e[0].contains("spells it \"access_points\""), "{}", e[0]);
    assert_eq!(p.config.access_points, ["a", "b", "c"]);
    assert_eq!(
        p.config.access_points_key.as_deref(),
        Some("mgmt_svc_replicas")
    );
    // both under 2.8: fatal
    let p = parse_server(&format!("{old}{new}"), "s.yml", V2_8).unwrap();
    assert_eq!(errors(&p).len(), 1);
}

#[test]
fn wrong_types_and_duplicates() {
    let text = "port: ten\nport: 10001\nengines:\n- targets: [1]\n  storage:\n  - class: rma\n";
    let p = parse_server(text, "s.yml", V2_6).unwrap();
    let e = errors(&p);
    assert_eq!(e.len(), 4, "{e:#?}");
    assert!(e[0].starts_with("s.yml:1:7: port: expected a whole number, found \"ten\""));
    assert!(e[1].starts_with("s.yml:2:1: duplicate key \"port\""));
    assert!(e[2].starts_with("s.yml:4:12: engines[0].targets: expected a whole number"));
    assert!(e[3].contains("did you mean \"ram\"?"), "{}", e[3]);
}

#[test]
fn legacy_flat_storage_becomes_tiers() {
    let text = "engines:\n- targets: 2\n  scm_class: ram\n  scm_mount: /mnt/daos\n  scm_size: 8\n  bdev_class: nvme\n  bdev_list: [\"0000:81:00.0\"]\n";
    let p = parse_server(text, "s.yml", V2_0).unwrap();
    assert!(errors(&p).is_empty(), "{:?}", p.issues);
    let e = &p.config.engines[0];
    assert_eq!(e.storage.len(), 2);
    assert_eq!(e.storage[0].class, Some(StorageClass::Ram));
    assert!(e.has_real_nvme());
    // refused by 2.6, still modelled
    let p = parse_server(text, "s.yml", V2_6).unwrap();
    assert_eq!(errors(&p).len(), 5);
    assert_eq!(p.config.engines[0].storage.len(), 2);
}
